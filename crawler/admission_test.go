package crawler

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// current returns the browser new scans go to, starting one if the last
// was retired.
func (c *Crawler) current() *instance {
	b, err := c.acquire(context.Background())
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	b.active-- // not a scan
	b.scans--
	c.mu.Unlock()
	return b
}

// roomy is a machine with room for any number of pages.
func roomy() hostState { return hostState{memAvailable: 64 << 30, cpuPressure: 0} }

// newTestCrawler starts a crawler of its own for a test.
func newTestCrawler(t *testing.T, opts Options) *Crawler {
	t.Helper()
	needBrowser(t)
	opts.LoadTimeout = testLoadTimeout
	if opts.probe == nil {
		opts.probe = roomy
	}
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// windowPage serves a plain page to scan.
func windowPage(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/p", func(w http.ResponseWriter, r *http.Request) { html(w, `<script>var ok = 1;</script>`) })
	return serveOn(t, "127.0.0.1", mux).URL + "/p"
}

// overlap is the most observations whose [StartedAt, +Duration] overlap.
func overlap(obs []*skimguard.Observation) int {
	most := 0
	for _, a := range obs {
		n := 0
		for _, b := range obs {
			if !b.StartedAt.After(a.StartedAt) && b.StartedAt.Add(b.Duration).After(a.StartedAt) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func scanAll(t *testing.T, c *Crawler, p skimguard.Page, n int) []*skimguard.Observation {
	t.Helper()
	obs := make([]*skimguard.Observation, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o, err := c.Scan(context.Background(), p)
			if err != nil {
				t.Error(err)
				return
			}
			obs[i] = o
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return obs
}

// TestConcurrencyFollowsMaxConcurrent: as many scans run at once as asked,
// more than the old fixed 4, and no more; those that waited say so in
// Queued, outside their StartedAt and Duration.
func TestConcurrencyFollowsMaxConcurrent(t *testing.T) {
	p := skimguard.Page{URL: windowPage(t), Wait: 2 * time.Second}
	t.Run("six at once", func(t *testing.T) {
		c := newTestCrawler(t, Options{MaxConcurrent: 6})
		obs := scanAll(t, c, p, 6)
		if n := overlap(obs); n != 6 {
			t.Errorf("%d scans ran at once, want 6", n)
		}
	})
	t.Run("two at once", func(t *testing.T) {
		c := newTestCrawler(t, Options{MaxConcurrent: 2})
		obs := scanAll(t, c, p, 4)
		if n := overlap(obs); n > 2 {
			t.Errorf("%d scans ran at once, want at most 2", n)
		}
		queued := 0
		for _, o := range obs {
			if o.Queued >= time.Second {
				queued++
			}
			if o.Duration > 10*time.Second {
				t.Errorf("a scan's duration %s includes its wait %s", o.Duration, o.Queued)
			}
		}
		if queued < 2 {
			t.Errorf("%d scans say they waited a second or more, want 2", queued)
		}
	})
}

func TestDefaultConcurrency(t *testing.T) {
	n := DefaultConcurrency()
	if n < 1 || n > maxDefaultConcurrency {
		t.Fatalf("DefaultConcurrency() = %d", n)
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil && n < 2 {
		t.Errorf("DefaultConcurrency() = %d on a machine with /proc/meminfo", n)
	}
}

// TestScansWaitWhileTheMachineIsShort: while memory or CPU runs short, a
// second scan waits rather than fails, and starts once there is room; the
// first one is never held back.
func TestScansWaitWhileTheMachineIsShort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		short hostState
	}{
		{"memory", hostState{memAvailable: 100 << 20, cpuPressure: 0}},
		{"CPU pressure", hostState{memAvailable: 64 << 30, cpuPressure: 95}},
		{"load without pressure information", hostState{memAvailable: 64 << 30, cpuPressure: -1, loadPerCPU: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var isShort atomic.Bool
			isShort.Store(true)
			probe := func() hostState {
				if isShort.Load() {
					return tc.short
				}
				return roomy()
			}
			c := newTestCrawler(t, Options{MaxConcurrent: 4, probe: probe})
			url := windowPage(t)
			first := make(chan error, 1)
			go func() {
				_, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: 4 * time.Second})
				first <- err
			}()
			waitFor(t, func() bool { _, running := c.Queue(); return running == 1 })
			second := make(chan *skimguard.Observation, 1)
			go func() {
				o, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: 100 * time.Millisecond})
				if err != nil {
					t.Error(err)
				}
				second <- o
			}()
			waitFor(t, func() bool { w, _ := c.Queue(); return w == 1 })
			time.Sleep(1500 * time.Millisecond)
			if w, r := c.Queue(); w != 1 || r != 1 {
				t.Fatalf("while short: %d waiting, %d running; want 1 and 1", w, r)
			}
			isShort.Store(false)
			o := <-second
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if o == nil {
				t.FailNow()
			}
			if o.Queued < 1500*time.Millisecond {
				t.Errorf("the second scan queued %s, want at least 1.5 s", o.Queued)
			}
		})
	}
}

// TestAdmitThenScan: a scan under an admission from Admit starts at once,
// so a time limit set after Admit leaves the wait out; the admission is
// used once, and release frees an unused one.
func TestAdmitThenScan(t *testing.T) {
	c := newTestCrawler(t, Options{MaxConcurrent: 1})
	url := windowPage(t)
	busy := make(chan error, 1)
	go func() {
		_, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: 3 * time.Second})
		busy <- err
	}()
	waitFor(t, func() bool { _, r := c.Queue(); return r == 1 })
	actx, release, err := c.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	// Two seconds would not cover the wait above and this scan.
	sctx, cancel := context.WithTimeout(actx, 20*time.Second)
	defer cancel()
	o, err := c.Scan(sctx, skimguard.Page{URL: url, Wait: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if o.Queued < time.Second {
		t.Errorf("Queued = %s, want the wait in Admit", o.Queued)
	}
	if _, r := c.Queue(); r != 0 {
		t.Errorf("%d running after the admitted scan returned", r)
	}

	// An admission not used is freed by release.
	_, rel, err := c.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	rel()
	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if _, err := c.Scan(ctx, skimguard.Page{URL: url, Wait: time.Millisecond}); err != nil {
		t.Fatal(err)
	}

	// A waiting Admit ends with its ctx.
	_, r2, err := c.Admit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r2()
	wctx, cancel3 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel3()
	if _, _, err := c.Admit(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Admit with no room and a short ctx: %v", err)
	}
}

// TestRecycleAfterScans: after RecycleAfter scans the next scan goes to a
// new browser while the old one finishes the scan it still runs, then
// closes.
func TestRecycleAfterScans(t *testing.T) {
	c := newTestCrawler(t, Options{MaxConcurrent: 4, RecycleAfter: 2, RecycleMemory: -1})
	url := windowPage(t)
	old := c.current()
	long := make(chan error, 1)
	go func() {
		_, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: 10 * time.Second})
		long <- err
	}()
	waitFor(t, func() bool { _, r := c.Queue(); return r == 1 })
	mustScan(t, c, skimguard.Page{URL: url, Wait: 100 * time.Millisecond})
	// Two scans started on old: the next goes to a new browser.
	o := mustScan(t, c, skimguard.Page{URL: url, Wait: 100 * time.Millisecond})
	if o.Queued > time.Second {
		t.Errorf("the scan after recycling waited %s", o.Queued)
	}
	nb := c.current()
	if nb == old || nb.pid == old.pid {
		t.Fatal("no new browser after RecycleAfter scans")
	}
	select {
	case err := <-long:
		t.Fatalf("the long scan ended before the check (%v): the machine is too slow for this test", err)
	default:
	}
	if old.ctx.Err() != nil {
		t.Fatalf("the old browser closed before its last scan ended: %v", context.Cause(old.ctx))
	}
	if err := <-long; err != nil {
		t.Fatalf("the scan on the recycled browser: %v", err)
	}
	waitFor(t, func() bool {
		_, err := os.Stat(old.profileDir)
		return old.ctx.Err() != nil && !alive(old.pid) && os.IsNotExist(err)
	})
}

// TestRecycleOnMemory: a browser whose processes hold more than
// RecycleMemory is replaced between scans.
func TestRecycleOnMemory(t *testing.T) {
	var held atomic.Int64
	held.Store(100 << 20)
	c := newTestCrawler(t, Options{MaxConcurrent: 2, RecycleMemory: 1 << 30, memory: func(int) (int64, bool) { return held.Load(), true }})
	url := windowPage(t)
	old := c.current()
	mustScan(t, c, skimguard.Page{URL: url, Wait: time.Millisecond})
	if c.current() != old {
		t.Fatal("recycled under the bound")
	}
	c.mu.Lock()
	old.memAt = time.Time{}
	c.mu.Unlock()
	held.Store(2 << 30)
	mustScan(t, c, skimguard.Page{URL: url, Wait: time.Millisecond})
	waitFor(t, func() bool { return !alive(old.pid) })
	if c.current() == old {
		t.Fatal("not recycled over the bound")
	}
	mustScan(t, c, skimguard.Page{URL: url, Wait: time.Millisecond})
}

// TestBrowserMemoryIsMeasured: the real measure of a running browser is
// that of a browser, not of nothing.
func TestBrowserMemoryIsMeasured(t *testing.T) {
	c := needBrowser(t)
	mem, ok := c.browserMemory(c.current())
	if !ok || mem < 20<<20 {
		t.Errorf("browser memory %d MB (%v)", mem>>20, ok)
	}
}

func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// A zombie waits for its parent to reap it: it is gone.
	for i := len(data) - 1; i > 0; i-- {
		if data[i] == ')' {
			return i+2 < len(data) && data[i+2] != 'Z'
		}
	}
	return true
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
