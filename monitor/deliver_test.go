package monitor

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
)

// flaky is a webhook receiver that answers 500 while down.
type flaky struct {
	receiver
	down atomic.Bool
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		http.Error(w, "receiver down", http.StatusInternalServerError)
		return
	}
	f.receiver.ServeHTTP(w, r)
}

// hook is a signed webhook sink to url that gives up quickly, so that
// tests see its failed attempts at once.
func hook(url string) *alerts.Webhook {
	return &alerts.Webhook{URL: url, Secret: []byte("s3cret"), Retries: 2, Backoff: time.Millisecond}
}

// delivered counts, per finding id, the deliveries to the sink that
// succeeded and those that failed.
func delivered(t *testing.T, m *Monitor, sink alerts.Sink) (ok, failed map[int64]int) {
	t.Helper()
	ds, err := m.Store.Deliveries(context.Background(), skimguard.DeliveryFilter{Sinks: []string{sink.Name()}})
	if err != nil {
		t.Fatal(err)
	}
	ok, failed = map[int64]int{}, map[int64]int{}
	for _, d := range ds {
		for _, id := range d.Findings {
			if d.OK {
				ok[id]++
			} else {
				failed[id]++
			}
		}
	}
	return ok, failed
}

// wantToldOnce fails unless every open finding was delivered to sink
// exactly once.
func wantToldOnce(t *testing.T, m *Monitor, sink alerts.Sink) {
	t.Helper()
	open, err := m.Store.Findings(context.Background(), skimguard.FindingFilter{Status: skimguard.StatusOpen})
	if err != nil || len(open) == 0 {
		t.Fatalf("open findings: %d, %v", len(open), err)
	}
	ok, _ := delivered(t, m, sink)
	for _, f := range open {
		if ok[f.ID] != 1 {
			t.Errorf("finding %d (%s) was delivered to %s %d times, want once", f.ID, f.Kind, sink.Name(), ok[f.ID])
		}
	}
}

func redeliverAt(t *testing.T, m *Monitor, clk *clock, d time.Duration, pages []skimguard.Page) {
	t.Helper()
	clk.advance(d)
	if err := m.Redeliver(context.Background(), pages); err != nil {
		t.Fatal(err)
	}
}

// openWithoutChannels opens findings on the checkout while no channel
// exists, and returns the channel that then appears, with its receiver.
func openWithoutChannels(t *testing.T) (*Monitor, *clock, []skimguard.Page, alerts.Sink, *receiver) {
	t.Helper()
	m, sc, rcv, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	sink := m.Sinks()[0]
	m.SetSinks(nil)
	m.Learn(context.Background(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())
	checkAt(t, m, clk, time.Hour, pages)
	if ds, _ := m.Store.Deliveries(context.Background(), skimguard.DeliveryFilter{}); len(ds) != 0 {
		t.Fatalf("no channel, no delivery: %+v", ds)
	}
	return m, clk, pages, sink, rcv
}

func TestAFindingOpenedWithoutAChannelIsToldWhenOneAppears(t *testing.T) {
	t.Run("by a reload", func(t *testing.T) {
		m, clk, pages, sink, rcv := openWithoutChannels(t)
		m.SetSinks([]alerts.Sink{sink})
		redeliverAt(t, m, clk, time.Second, pages)
		if rcv.count() != 1 {
			t.Fatalf("the channel that appeared must be told at once; alerts: %d", rcv.count())
		}
		redeliverAt(t, m, clk, time.Hour, pages)
		checkAt(t, m, clk, time.Hour, pages)
		if rcv.count() != 1 {
			t.Fatalf("told once, then not again before the reminder; alerts: %d", rcv.count())
		}
		wantToldOnce(t, m, sink)
	})
	t.Run("by a restart", func(t *testing.T) {
		m, clk, pages, sink, rcv := openWithoutChannels(t)
		m = restarted(m)
		m.SetSinks([]alerts.Sink{sink})
		checkAt(t, m, clk, time.Hour, pages)
		if rcv.count() != 1 || len(rcv.payload(0).Findings) == 0 {
			t.Fatalf("the first check after a restart with the channel must tell it; alerts: %+v", rcv.bodies)
		}
		m = restarted(m)
		redeliverAt(t, m, clk, time.Hour, pages)
		checkAt(t, m, clk, time.Hour, pages)
		if rcv.count() != 1 {
			t.Fatalf("told once, restart or not; alerts: %d", rcv.count())
		}
		wantToldOnce(t, m, sink)
	})
}

func TestAFailedDeliveryIsRetriedWithBackoffUntilItSucceeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		// start serves h and returns the receiver's URL and funcs that take
		// it down and bring it back.
		start func(t *testing.T, h http.Handler) (url string, down, up func())
	}{
		{"the receiver answers 500", func(t *testing.T, h http.Handler) (string, func(), func()) {
			var down atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if down.Load() {
					http.Error(w, "receiver down", http.StatusInternalServerError)
					return
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			return srv.URL, func() { down.Store(true) }, func() { down.Store(false) }
		}},
		{"the receiver's listener is closed", func(t *testing.T, h http.Handler) (string, func(), func()) {
			srv := httptest.NewServer(h)
			addr := srv.Listener.Addr().String()
			return srv.URL, srv.Close, func() {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					t.Fatalf("listen again on %s: %v", addr, err)
				}
				back := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
				back.Start()
				t.Cleanup(back.Close)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, sc, _, pages := setup(t)
			clk := &clock{t: t0}
			m.Now = clk.Now
			rcv := &receiver{}
			url, down, up := tc.start(t, rcv)
			sink := hook(url)
			m.SetSinks([]alerts.Sink{sink})
			m.Learn(context.Background(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
			down()
			sc.set("checkout", planted())
			checkAt(t, m, clk, time.Hour, pages)
			attempts := func() int {
				_, failed := delivered(t, m, sink)
				n := 0
				for _, c := range failed {
					n = max(n, c)
				}
				return n
			}
			if attempts() != 1 {
				t.Fatalf("the failed delivery must be recorded; failed attempts: %d", attempts())
			}
			redeliverAt(t, m, clk, 59*time.Second, pages)
			if attempts() != 1 {
				t.Fatalf("no retry before %s; failed attempts: %d", RetryFirst, attempts())
			}
			redeliverAt(t, m, clk, time.Second, pages)
			if attempts() != 2 {
				t.Fatalf("a retry %s after the first failure; failed attempts: %d", RetryFirst, attempts())
			}
			checkAt(t, m, clk, 119*time.Second, pages)
			if attempts() != 2 {
				t.Fatalf("the wait doubles, checks included; failed attempts: %d", attempts())
			}
			up()
			redeliverAt(t, m, clk, time.Second, pages)
			if rcv.count() != 1 {
				t.Fatalf("the receiver back must be told; alerts: %d", rcv.count())
			}
			redeliverAt(t, m, clk, time.Hour, pages)
			checkAt(t, m, clk, time.Hour, pages)
			if rcv.count() != 1 {
				t.Fatalf("told once, then not again; alerts: %d", rcv.count())
			}
			wantToldOnce(t, m, sink)
			if _, failed := delivered(t, m, sink); len(failed) == 0 || attempts() != 2 {
				t.Fatalf("both failed attempts must stay recorded: %v", failed)
			}
		})
	}
}

func TestTheWaitBetweenRetriesDoublesUpToRetryMax(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 9; n++ {
		got = append(got, retryWait(n))
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour, time.Hour}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits after 1..9 failures: %v, want %v", got, want)
		}
	}
	if retryWait(1000) != RetryMax || retryWait(0) != 0 {
		t.Fatalf("retryWait(1000) = %s, retryWait(0) = %s", retryWait(1000), retryWait(0))
	}
}

func TestWhenOneOfTwoChannelsFailsOnlyItIsSentAgain(t *testing.T) {
	m, sc, good, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	bad := &flaky{}
	bad.down.Store(true)
	srv := httptest.NewServer(bad)
	defer srv.Close()
	m.SetSinks(append(m.Sinks(), hook(srv.URL)))
	m.Learn(context.Background(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())
	checkAt(t, m, clk, time.Hour, pages)
	for range 5 {
		redeliverAt(t, m, clk, 10*time.Minute, pages)
		checkAt(t, m, clk, time.Second, pages)
	}
	bad.down.Store(false)
	redeliverAt(t, m, clk, time.Hour, pages)
	if good.count() != 1 || bad.count() != 1 {
		t.Fatalf("each channel told once: the working one %d times, the one that came back %d", good.count(), bad.count())
	}
	for _, s := range m.Sinks() {
		wantToldOnce(t, m, s)
	}
}

func TestAFailureNoticeThatWasNotDeliveredIsSentAtTheNextFailure(t *testing.T) {
	m, sc, good, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	bad := &flaky{}
	bad.down.Store(true)
	srv := httptest.NewServer(bad)
	defer srv.Close()
	m.SetSinks(append(m.Sinks(), hook(srv.URL)))
	m.Learn(context.Background(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.fail("cart", errors.New("HTTP 503"))
	checkAt(t, m, clk, time.Hour, pages)
	checkAt(t, m, clk, time.Hour, pages)
	if good.count() != 1 || bad.count() != 0 {
		t.Fatalf("the second failure is alerted: %d and %d", good.count(), bad.count())
	}
	bad.down.Store(false)
	checkAt(t, m, clk, time.Hour, pages)
	if good.count() != 1 || bad.count() != 1 || !strings.Contains(bad.payload(0).Findings[0].Detail, "3 times in a row") {
		t.Fatalf("the next failure tells the channel that missed it, and only it: %d and %+v", good.count(), bad.bodies)
	}
	sc.fail("cart", nil)
	checkAt(t, m, clk, time.Hour, pages)
	if good.count() != 2 || bad.count() != 2 || !strings.HasPrefix(bad.payload(1).Findings[0].Detail, RecoveredPrefix) {
		t.Fatalf("both hear of the recovery: %d and %+v", good.count(), bad.bodies)
	}
}
