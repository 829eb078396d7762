package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/sqlite"
)

// clock is a settable Monitor.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func (r *receiver) payload(i int) alerts.Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[i]
}

func (s *scripted) fail(page string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err[page] = err
}

// checkAt advances the clock by d and checks the pages, failing the test on
// a store error.
func checkAt(t *testing.T, m *Monitor, clk *clock, d time.Duration, pages []skimguard.Page) skimguard.CheckResult {
	t.Helper()
	clk.advance(d)
	res, err := m.Check(context.Background(), pages)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// restarted is a new Monitor on the same store, scanner and sinks, as after
// a restart of the daemon: it knows only what the store holds.
func restarted(m *Monitor) *Monitor {
	n := &Monitor{Scanner: m.Scanner, Store: m.Store, Now: m.Now, FailureAlertAfter: m.FailureAlertAfter, RemindAfter: m.RemindAfter}
	n.SetSinks(m.Sinks())
	return n
}

func TestAPageFailingInARowAlertsOnceThenOnceWhenItRecovers(t *testing.T) {
	ctx := context.Background()
	m, sc, rcv, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	if _, err := m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"}); err != nil {
		t.Fatal(err)
	}
	sc.fail("cart", errors.New("net::ERR_CONNECTION_REFUSED"))

	res := checkAt(t, m, clk, time.Hour, pages)
	firstFailure := clk.Now()
	if rcv.count() != 0 {
		t.Fatalf("one failure must not alert with the default FailureAlertAfter %d; alerts: %d", DefaultFailureAlertAfter, rcv.count())
	}
	if res.Pages[1].Status != skimguard.CheckFailed || len(res.Findings()) != 1 || res.Findings()[0].Kind != skimguard.KindScanFailed {
		t.Fatalf("every failure must be in the report: %+v %+v", res.Pages, res.Findings())
	}

	checkAt(t, m, clk, time.Hour, pages)
	if rcv.count() != 1 {
		t.Fatalf("the second failure in a row must alert once; alerts: %d", rcv.count())
	}
	a := rcv.payload(0)
	wantSince := "2 times in a row since " + firstFailure.Format(time.RFC3339)
	if a.Page != "cart" || len(a.Findings) != 1 || a.Findings[0].Kind != skimguard.KindScanFailed ||
		a.Findings[0].Severity != skimguard.SeverityHigh || !strings.Contains(a.Findings[0].Detail, wantSince) ||
		!strings.Contains(a.Findings[0].Detail, "ERR_CONNECTION_REFUSED") {
		t.Fatalf("want a high scan.failed alert on the cart saying %q and why, got %+v", wantSince, a)
	}

	res = checkAt(t, m, clk, time.Hour, pages)
	if rcv.count() != 1 {
		t.Fatalf("a page that keeps failing must not alert again; alerts: %d", rcv.count())
	}
	if len(res.Findings()) != 1 || res.Findings()[0].Kind != skimguard.KindScanFailed {
		t.Fatalf("the report must still show the failure: %+v", res.Findings())
	}
	m = restarted(m)
	checkAt(t, m, clk, time.Hour, pages)
	if rcv.count() != 1 {
		t.Fatalf("after a restart a page that keeps failing must not alert again; alerts: %d", rcv.count())
	}

	sc.fail("cart", nil)
	res = checkAt(t, m, clk, time.Hour, pages)
	if len(res.Findings()) != 0 {
		t.Fatalf("the recovery is no finding of the check: %+v", res.Findings())
	}
	if rcv.count() != 2 {
		t.Fatalf("the first success after an alerted failure must alert once; alerts: %d", rcv.count())
	}
	a = rcv.payload(1)
	wantRecovered := RecoveredPrefix + "the page was checked again after 4 failed scans (failing since " + firstFailure.Format(time.RFC3339)
	if a.Page != "cart" || len(a.Findings) != 1 || a.Findings[0].Kind != skimguard.KindScanFailed ||
		a.Findings[0].Severity != skimguard.SeverityLow || a.Findings[0].ID != 0 ||
		!strings.HasPrefix(a.Findings[0].Detail, wantRecovered) || a.Findings[0].Subject != pages[1].URL {
		t.Fatalf("want one low scan.failed finding starting %q, got %+v", wantRecovered, a)
	}
	checkAt(t, m, clk, time.Hour, pages)
	if rcv.count() != 2 {
		t.Fatalf("a recovered page must alert its recovery once; alerts: %d", rcv.count())
	}

	ds, err := m.Store.Deliveries(ctx, skimguard.DeliveryFilter{})
	if err != nil || len(ds) != 2 || ds[0].Page != "cart" || !ds[0].OK || ds[1].ScanID == ds[0].ScanID {
		t.Fatalf("both alerts must be recorded as deliveries: %+v, %v", ds, err)
	}
}

func TestFailuresInARowAreCountedFromTheStore(t *testing.T) {
	m, sc, rcv, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	m.Learn(context.Background(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sinks := m.Sinks()
	m.SetSinks(nil) // failures seen by a run without alerts, such as skimguard check
	sc.fail("cart", errors.New("HTTP 503"))
	checkAt(t, m, clk, time.Hour, pages)
	checkAt(t, m, clk, time.Hour, pages)

	m = restarted(m)
	m.SetSinks(sinks)
	checkAt(t, m, clk, time.Hour, pages)
	if rcv.count() != 1 || !strings.Contains(rcv.payload(0).Findings[0].Detail, "3 times in a row") {
		t.Fatalf("a page failing 3 times in a row, never alerted, must alert now and say 3 times: %d alerts %+v", rcv.count(), rcv.bodies)
	}
	checkAt(t, m, clk, time.Hour, pages)
	if rcv.count() != 1 {
		t.Fatalf("alerted once; alerts: %d", rcv.count())
	}
}

func TestFailureAlertAfterOneAlertsTheFirstFailure(t *testing.T) {
	m, sc, rcv, pages := setup(t)
	m.FailureAlertAfter = 1
	m.Learn(context.Background(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.fail("checkout", errors.New("HTTP 503"))
	if _, err := m.Check(context.Background(), pages); err != nil {
		t.Fatal(err)
	}
	if rcv.count() != 1 || rcv.payload(0).Page != "checkout" || !strings.Contains(rcv.payload(0).Findings[0].Detail, "HTTP 503") {
		t.Fatalf("want one alert for the checkout's first failure: %+v", rcv.bodies)
	}
}

// stopping is a Scanner whose scan is stopped from outside while it runs,
// as at shutdown.
type stopping struct{ stop context.CancelFunc }

func (s stopping) Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error) {
	s.stop()
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestAStoppedCheckIsReportedButNotAlertedAsAFailure(t *testing.T) {
	m, sc, rcv, pages := setup(t)
	m.FailureAlertAfter = 1
	m.Learn(context.Background(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.Scanner = stopping{stop: cancel}
	res, err := m.Check(ctx, pages[:1])
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages[0].Status != skimguard.CheckFailed || rcv.count() != 0 {
		t.Fatalf("a stopped check is reported failed and not alerted: %+v, %d alerts", res.Pages, rcv.count())
	}
	m.Scanner = sc
	sc.fail("checkout", errors.New("HTTP 503"))
	if _, err := m.Check(context.Background(), pages[:1]); err != nil {
		t.Fatal(err)
	}
	if rcv.count() != 1 {
		t.Fatalf("the next real failure must alert; alerts: %d", rcv.count())
	}
}

func TestAStillOpenFindingIsRemindedAfterRemindAfter(t *testing.T) {
	ctx := context.Background()
	m, sc, rcv, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())

	res := checkAt(t, m, clk, 0, pages)
	if rcv.count() != 1 || len(res.Findings()) == 0 {
		t.Fatalf("want the new findings alerted once: %d alerts, %d findings", rcv.count(), len(res.Findings()))
	}
	opened := rcv.payload(0).Findings

	checkAt(t, m, clk, 23*time.Hour, pages)
	if rcv.count() != 1 {
		t.Fatalf("no reminder before %s; alerts: %d", DefaultRemindAfter, rcv.count())
	}
	res = checkAt(t, m, clk, time.Hour, pages)
	if rcv.count() != 2 {
		t.Fatalf("want a reminder %s after the alert; alerts: %d", DefaultRemindAfter, rcv.count())
	}
	reminder := rcv.payload(1).Findings
	if len(reminder) != len(opened) {
		t.Fatalf("want every still open finding reminded: %+v", reminder)
	}
	for i, f := range reminder {
		want := ReminderPrefix + "still open since " + t0.Format(time.RFC3339) + ": " + opened[i].Detail
		if f.ID != opened[i].ID || f.Detail != want {
			t.Fatalf("reminder %d: want id %d and detail %q, got %d %q", i, opened[i].ID, want, f.ID, f.Detail)
		}
	}
	for _, f := range res.Findings() {
		if strings.HasPrefix(f.Detail, ReminderPrefix) {
			t.Fatalf("the report must keep the finding's own detail: %q", f.Detail)
		}
	}

	checkAt(t, m, clk, time.Hour, pages)
	m = restarted(m)
	checkAt(t, m, clk, 22*time.Hour, pages)
	if rcv.count() != 2 {
		t.Fatalf("no second reminder before %s, restart or not; alerts: %d", DefaultRemindAfter, rcv.count())
	}
	checkAt(t, m, clk, time.Hour, pages)
	if rcv.count() != 3 {
		t.Fatalf("after a restart the next reminder must come %s after the last; alerts: %d", DefaultRemindAfter, rcv.count())
	}
	ds, _ := m.Store.Deliveries(ctx, skimguard.DeliveryFilter{})
	if len(ds) != 3 || len(ds[2].Findings) != len(opened) || ds[2].Findings[0] != opened[0].ID {
		t.Fatalf("the reminder must be recorded with its finding ids: %+v", ds)
	}

	m.RemindAfter = -1
	checkAt(t, m, clk, 72*time.Hour, pages)
	if rcv.count() != 3 {
		t.Fatalf("a negative RemindAfter must turn reminders off; alerts: %d", rcv.count())
	}
}

func TestRemindAfterCountsFromTheLastAlertToTheChannel(t *testing.T) {
	ctx := context.Background()
	m, sc, rcv, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	m.RemindAfter = time.Hour
	m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())
	sinks := m.Sinks()
	m.SetSinks(nil)
	checkAt(t, m, clk, 0, pages) // opened, not alerted: no sinks
	m.SetSinks(sinks)
	checkAt(t, m, clk, 50*time.Minute, pages)
	if rcv.count() != 1 || strings.HasPrefix(rcv.payload(0).Findings[0].Detail, ReminderPrefix) {
		t.Fatalf("a finding the channel was never told about is told at the next check, not as a reminder: %+v", rcv.bodies)
	}
	checkAt(t, m, clk, 30*time.Minute, pages)
	if rcv.count() != 1 {
		t.Fatalf("no reminder RemindAfter after first seen: it counts from the alert; alerts: %d", rcv.count())
	}
	checkAt(t, m, clk, 30*time.Minute, pages)
	if rcv.count() != 2 || !strings.HasPrefix(rcv.payload(1).Findings[0].Detail, ReminderPrefix) {
		t.Fatalf("a reminder RemindAfter after the alert: %+v", rcv.bodies)
	}
	checkAt(t, m, clk, 59*time.Minute, pages)
	if rcv.count() != 2 {
		t.Fatalf("the next reminder counts from the last one; alerts: %d", rcv.count())
	}
}

// forgetful is a store that can lose its baselines, as a page that had one
// and lost it would.
type forgetful struct {
	skimguard.Store
	forget atomic.Bool
}

func (f *forgetful) Baseline(ctx context.Context, site, page string) (*skimguard.Baseline, error) {
	if f.forget.Load() {
		return nil, fmt.Errorf("%s/%s: %w", site, page, skimguard.ErrNoBaseline)
	}
	return f.Store.Baseline(ctx, site, page)
}

func TestAPageWithoutABaselineIsAlertedOnce(t *testing.T) {
	ctx := context.Background()
	m, _, rcv, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	store := &forgetful{Store: m.Store}
	m.Store = store
	cart := pages[1:]

	res := checkAt(t, m, clk, time.Hour, cart)
	if res.Pages[0].Status != skimguard.CheckFailed || !strings.Contains(res.Pages[0].Error, "skimguard baseline --site shop --reason") {
		t.Fatalf("the report must say how to take a baseline: %+v", res.Pages[0])
	}
	if rcv.count() != 1 {
		t.Fatalf("want one alert that the cart has no baseline; alerts: %d", rcv.count())
	}
	f := rcv.payload(0).Findings[0]
	if rcv.payload(0).Page != "cart" || f.Kind != skimguard.KindScanFailed || f.Severity != skimguard.SeverityHigh || f.ID != 0 ||
		!strings.Contains(f.Detail, "no approved baseline yet") || !strings.Contains(f.Detail, "skimguard baseline --site shop --reason") {
		t.Fatalf("the alert must say the cart has no baseline and how to take one: %+v", rcv.payload(0))
	}
	checkAt(t, m, clk, time.Hour, cart)
	m = restarted(m)
	checkAt(t, m, clk, time.Hour, cart)
	if rcv.count() != 1 {
		t.Fatalf("alerted once, restart or not; alerts: %d", rcv.count())
	}

	t.Run("a channel added later is told once too", func(t *testing.T) {
		other := &receiver{}
		srv := httptest.NewServer(other)
		defer srv.Close()
		m.SetSinks(append(m.Sinks(), hook(srv.URL)))
		checkAt(t, m, clk, time.Hour, cart)
		checkAt(t, m, clk, time.Hour, cart)
		if rcv.count() != 1 || other.count() != 1 {
			t.Fatalf("want the new channel told once and the old one not again: %d and %d", rcv.count(), other.count())
		}
	})

	t.Run("again only after the page had a baseline and lost it", func(t *testing.T) {
		before := rcv.count()
		if _, err := m.Learn(ctx, cart, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"}); err != nil {
			t.Fatal(err)
		}
		checkAt(t, m, clk, time.Hour, cart)
		store.forget.Store(true)
		checkAt(t, m, clk, time.Hour, cart)
		checkAt(t, m, clk, time.Hour, cart)
		if rcv.count() != before+1 || !strings.Contains(rcv.payload(before).Findings[0].Detail, "no approved baseline yet") {
			t.Fatalf("want one more alert once the baseline is lost: %+v", rcv.bodies[before:])
		}
	})
}

func TestAStoppedCheckIsStoredAsStoppedAndNeverCountsAsAFailure(t *testing.T) {
	m, sc, rcv, pages := setup(t)
	clk := &clock{t: t0}
	m.Now = clk.Now
	m.Learn(context.Background(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	stop := func() {
		clk.advance(time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		m.Scanner = stopping{stop: cancel}
		if _, err := m.Check(ctx, pages[:1]); err != nil {
			t.Fatal(err)
		}
		m.Scanner = sc
	}
	stop()
	stop()
	scans, _ := m.Store.Scans(context.Background(), skimguard.ScanFilter{Page: "checkout", Limit: 2})
	for _, s := range scans {
		if s.Status != skimguard.ScanStopped || !strings.Contains(s.Error, "stopped before it completed") {
			t.Fatalf("a check cut short must be stored as stopped: %+v", s)
		}
	}
	sc.fail("checkout", errors.New("HTTP 503"))
	checkAt(t, m, clk, time.Hour, pages[:1])
	if rcv.count() != 0 {
		t.Fatalf("one failure after two stopped checks is one failure in a row, not three; alerts: %+v", rcv.bodies)
	}
	stop()
	checkAt(t, m, clk, time.Hour, pages[:1])
	if rcv.count() != 1 || !strings.Contains(rcv.payload(0).Findings[0].Detail, "2 times in a row") {
		t.Fatalf("a stopped check between two failures does not end the run: %+v", rcv.bodies)
	}
}

// A `skimguard check` run beside serve on one database: both check a
// failing page at the same moments, and each channel hears of the failure
// once, and of the recovery once.
func TestTwoProcessesCheckingAFailingPageAlertItOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sg.db")
	m, sc, rcv, pages := setupAt(t, path)
	if _, err := m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"}); err != nil {
		t.Fatal(err)
	}
	other, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	n := &Monitor{Scanner: sc, Store: other}
	n.SetSinks(m.Sinks())
	m.FailureAlertAfter, n.FailureAlertAfter = 1, 1
	cart := pages[1:]
	both := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, mon := range []*Monitor{m, n} {
			wg.Go(func() {
				if _, err := mon.Check(ctx, cart); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	kinds := func() (failures, recoveries int) {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		for _, b := range rcv.bodies {
			for _, f := range b.Findings {
				switch {
				case f.Kind != skimguard.KindScanFailed:
					t.Errorf("unexpected alert: %+v", f)
				case strings.HasPrefix(f.Detail, RecoveredPrefix):
					recoveries++
				default:
					failures++
				}
			}
		}
		return failures, recoveries
	}
	sc.fail("cart", errors.New("net::ERR_CONNECTION_REFUSED"))
	for range 5 {
		both()
	}
	if f, r := kinds(); f != 1 || r != 0 {
		t.Fatalf("after 5 rounds of failing checks from both: %d failure and %d recovery alerts, want 1 and 0", f, r)
	}
	sc.fail("cart", nil)
	for range 3 {
		both()
	}
	if f, r := kinds(); f != 1 || r != 1 {
		t.Fatalf("after the page recovered: %d failure and %d recovery alerts, want 1 and 1", f, r)
	}
}
