package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

func page(name string) skimguard.Page {
	return skimguard.Page{Site: "shop", Name: name, URL: "https://shop.test/" + name}
}

func at(hhmmss string) time.Time {
	t, err := time.Parse(time.DateTime, "2026-11-23 "+hhmmss)
	if err != nil {
		panic(err)
	}
	return t
}

// started is one check as the check func saw it.
type started struct {
	page string
	at   time.Time
	ctx  context.Context
}

// checks records the checks run and counts how many run at once, in all
// and per page. A check blocks while block returns a channel, until it is
// closed or receives.
type checks struct {
	clk     *fakeClock
	started chan started
	block   func(page string, n int) chan struct{}

	mu      sync.Mutex
	runs    []started
	now     int
	maxNow  int
	perPage map[string]int
	maxPage int
}

func newChecks(clk *fakeClock) *checks {
	return &checks{clk: clk, started: make(chan started, 100), perPage: map[string]int{}}
}

func (c *checks) check(ctx context.Context, p skimguard.Page) {
	c.mu.Lock()
	st := started{page: p.Name, at: c.clk.Now(), ctx: ctx}
	c.runs = append(c.runs, st)
	n := 0
	for _, r := range c.runs {
		if r.page == p.Name {
			n++
		}
	}
	c.now++
	c.perPage[p.Name]++
	c.maxNow = max(c.maxNow, c.now)
	c.maxPage = max(c.maxPage, c.perPage[p.Name])
	block := c.block
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.now--
		c.perPage[p.Name]--
		c.mu.Unlock()
	}()
	c.started <- st
	if block != nil {
		if ch := block(p.Name, n); ch != nil {
			<-ch
		}
	}
}

// expect receives n started checks and returns them sorted by page.
func (c *checks) expect(t *testing.T, n int) []started {
	t.Helper()
	var out []started
	for range n {
		select {
		case s := <-c.started:
			out = append(out, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for check %d of %d; got %v", len(out)+1, n, out)
		}
	}
	slices.SortFunc(out, func(a, b started) int { return strings.Compare(a.page, b.page) })
	return out
}

// none fails when a check starts within a few milliseconds.
func (c *checks) none(t *testing.T, why string) {
	t.Helper()
	select {
	case s := <-c.started:
		t.Fatalf("%s, but %s started at %s", why, s.page, s.at.Format(time.TimeOnly))
	case <-time.After(20 * time.Millisecond):
	}
}

// start runs s until the test ends, failing it if Run fails.
func start(t *testing.T, s *Scheduler, jobs []Job) (stop context.CancelFunc, done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- s.Run(ctx, jobs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return cancel, done
}

// waitIdle waits until no run of s is under way.
func waitIdle(t *testing.T, s *Scheduler) {
	t.Helper()
	eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.running) == 0
	}, "the runs under way to end")
}

// step waits for the scheduler to plan a run at when, moves the clock there
// and returns the n checks that start.
func step(t *testing.T, clk *fakeClock, c *checks, when time.Time, n int) []started {
	t.Helper()
	clk.waitTimer(t, when)
	clk.set(when)
	return c.expect(t, n)
}

func TestRunsHappenAtTheCronTimes(t *testing.T) {
	clk := &fakeClock{now: at("09:59:00")}
	c := newChecks(clk)
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1}
	start(t, s, []Job{{page("checkout"), "*/15 * * * *"}, {page("cart"), "@hourly"}})

	want := []struct {
		at    string
		pages []string
	}{
		{"10:00:00", []string{"cart", "checkout"}},
		{"10:15:00", []string{"checkout"}},
		{"10:30:00", []string{"checkout"}},
		{"10:45:00", []string{"checkout"}},
		{"11:00:00", []string{"cart", "checkout"}},
	}
	for _, w := range want {
		got := step(t, clk, c, at(w.at), len(w.pages))
		for i, st := range got {
			if st.page != w.pages[i] || !st.at.Equal(at(w.at)) {
				t.Fatalf("at %s want %v, got %v", w.at, w.pages, got)
			}
		}
		waitIdle(t, s)
	}
	c.none(t, "nothing else was due")
}

func TestAtMostWorkersChecksRunAtOnce(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	release := make(chan struct{})
	c.block = func(string, int) chan struct{} { return release }
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, Workers: 2}
	var jobs []Job
	for i := range 5 {
		jobs = append(jobs, Job{page(fmt.Sprintf("p%d", i)), "* * * * *"})
	}
	start(t, s, jobs)

	step(t, clk, c, at("10:00:00"), 2)
	c.none(t, "two workers are busy")
	release <- struct{}{}
	c.expect(t, 1)
	c.none(t, "two workers are busy again")
	close(release)
	c.expect(t, 2)
	waitIdle(t, s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxNow != 2 || len(c.runs) != 5 {
		t.Fatalf("want 5 checks, at most 2 at once; got %d checks, %d at once", len(c.runs), c.maxNow)
	}
}

func TestAPageIsNeverCheckedTwiceAtOnce(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	release := make(chan struct{})
	c.block = func(_ string, n int) chan struct{} {
		if n == 1 {
			return release
		}
		return nil
	}
	var logs syncBuffer
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, Workers: 4, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	start(t, s, []Job{{page("checkout"), "* * * * *"}})

	step(t, clk, c, at("10:00:00"), 1)
	clk.waitTimer(t, at("10:01:00"))
	clk.set(at("10:01:00"))
	clk.waitTimer(t, at("10:02:00")) // the 10:01 run was handled
	c.none(t, "the 10:00 check still runs")
	if !strings.Contains(logs.String(), "run skipped") || !strings.Contains(logs.String(), "page=checkout") {
		t.Fatalf("the skipped run must be logged:\n%s", logs.String())
	}
	close(release)
	waitIdle(t, s)
	step(t, clk, c, at("10:02:00"), 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxPage != 1 || len(c.runs) != 2 {
		t.Fatalf("want 2 checks of the page, one at a time; got %d, %d at once", len(c.runs), c.maxPage)
	}
}

func TestReloadSwapsTheJobs(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	release := make(chan struct{})
	c.block = func(p string, _ int) chan struct{} {
		if p == "cart" {
			return release
		}
		return nil
	}
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1}
	hourly := Job{page("checkout"), "@every 1h"} // next 10:59:30, relative to when it was planned
	start(t, s, []Job{hourly, {page("cart"), "*/30 * * * *"}})

	cart := step(t, clk, c, at("10:00:00"), 1)[0]
	if cart.page != "cart" {
		t.Fatalf("want the cart at 10:00, got %v", cart)
	}

	t.Run("a bad spec is refused and the old jobs stay", func(t *testing.T) {
		err := s.Reload([]Job{hourly, {page("login"), "every tuesday"}})
		if err == nil || !strings.Contains(err.Error(), "shop/login") || !strings.Contains(err.Error(), "every tuesday") {
			t.Fatalf("want an error naming the page and spec, got %v", err)
		}
		err = s.Reload([]Job{hourly, hourly})
		if err == nil || !strings.Contains(err.Error(), "two jobs") {
			t.Fatalf("want a page with two jobs refused, got %v", err)
		}
		clk.waitTimer(t, at("10:30:00")) // the cart's next run is still planned
	})

	if err := s.Reload([]Job{hourly, {page("login"), "*/20 * * * *"}}); err != nil {
		t.Fatal(err)
	}
	clk.waitTimer(t, at("10:20:00"))
	if err := cart.ctx.Err(); err != nil {
		t.Fatalf("a check under way must not be interrupted by a reload: %v", err)
	}
	close(release)
	waitIdle(t, s)

	var got []string
	for _, w := range []string{"10:20:00", "10:40:00", "10:59:30", "11:00:00"} {
		st := step(t, clk, c, at(w), 1)[0]
		got = append(got, st.page+"@"+st.at.Format(time.TimeOnly))
		waitIdle(t, s)
	}
	want := []string{"login@10:20:00", "login@10:40:00", "checkout@10:59:30", "login@11:00:00"}
	if !slices.Equal(got, want) {
		t.Fatalf("after the reload want %v (the cart gone, the unchanged checkout at its old time), got %v", want, got)
	}
}

func TestReloadNeedsARunningScheduler(t *testing.T) {
	s := &Scheduler{Check: func(context.Context, skimguard.Page) {}}
	if err := s.Reload([]Job{{page("checkout"), "@hourly"}}); err == nil {
		t.Fatal("reload of a scheduler that is not running must fail")
	}
}

func TestRunRefusesBadJobs(t *testing.T) {
	check := func(context.Context, skimguard.Page) {}
	for name, tc := range map[string]struct {
		s    *Scheduler
		jobs []Job
		want string
	}{
		"a bad spec":           {&Scheduler{Check: check}, []Job{{page("checkout"), "0 25 * * *"}}, "shop/checkout: bad schedule"},
		"a page with two jobs": {&Scheduler{Check: check}, []Job{{page("checkout"), "@hourly"}, {page("checkout"), "@daily"}}, "two jobs"},
		"no check":             {&Scheduler{}, []Job{{page("checkout"), "@hourly"}}, "Check is not set"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.s.Run(context.Background(), tc.jobs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
}

func TestRunReturnsAfterCancelOnceChecksEnd(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	release := make(chan struct{})
	c.block = func(string, int) chan struct{} { return release }
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1}
	stop, done := start(t, s, []Job{{page("checkout"), "* * * * *"}})

	st := step(t, clk, c, at("10:00:00"), 1)[0]
	stop()
	<-st.ctx.Done()
	if !errors.Is(st.ctx.Err(), context.Canceled) {
		t.Fatalf("the check must see the cancel, got %v", st.ctx.Err())
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a check still ran", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return once the check ended")
	}
}

func TestAfterStopChecksUnderWayMayFinishWithinGrace(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	release := make(chan struct{})
	c.block = func(string, int) chan struct{} { return release }
	// One worker: the checkout's check runs, the cart's waits for it.
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, Workers: 1, Grace: 30 * time.Second}
	stop, done := start(t, s, []Job{{page("checkout"), "@hourly"}, {page("cart"), "@hourly"}})
	st := step(t, clk, c, at("10:00:00"), 1)[0]
	stop()
	clk.waitTimer(t, at("10:00:30")) // the grace period
	if err := st.ctx.Err(); err != nil {
		t.Fatalf("a check under way must not be stopped within the grace period: %v", err)
	}
	clk.set(at("10:00:20"))
	if err := st.ctx.Err(); err != nil {
		t.Fatalf("a check under way must not be stopped within the grace period: %v", err)
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return once the check under way finished")
	}
	c.none(t, "no check starts after the stop, not even one that was waiting for a worker")
}

func TestAfterTheGracePeriodTheChecksStillRunningAreStopped(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	stopped := make(chan error, 1)
	c.block = func(string, int) chan struct{} {
		c.mu.Lock()
		ctx := c.runs[0].ctx
		c.mu.Unlock()
		<-ctx.Done()
		stopped <- ctx.Err()
		return nil
	}
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, Grace: time.Minute}
	stop, _ := start(t, s, []Job{{page("checkout"), "@hourly"}})
	step(t, clk, c, at("10:00:00"), 1)
	stop()
	clk.waitTimer(t, at("10:01:00"))
	select {
	case err := <-stopped:
		t.Fatalf("the check was stopped before the grace period ended: %v", err)
	default:
	}
	clk.set(at("10:01:00"))
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want the check cancelled (context.Canceled), got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the check was not stopped when the grace period ended")
	}
}

func TestTimeoutCancelsAHungCheck(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	hung := make(chan error, 1)
	c.block = func(_ string, n int) chan struct{} {
		if n > 1 {
			return nil
		}
		c.mu.Lock()
		ctx := c.runs[0].ctx
		c.mu.Unlock()
		<-ctx.Done()
		hung <- ctx.Err()
		return nil
	}
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, Timeout: 2 * time.Minute}
	start(t, s, []Job{{page("checkout"), "*/10 * * * *"}})

	step(t, clk, c, at("10:00:00"), 1)
	clk.waitTimer(t, at("10:10:00")) // the next run is planned before time moves
	clk.waitTimer(t, at("10:02:00"))
	select {
	case err := <-hung:
		t.Fatalf("the check ended before its timeout: %v", err)
	default:
	}
	clk.set(at("10:02:00"))
	select {
	case err := <-hung:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hung check was not cancelled at its timeout")
	}
	waitIdle(t, s)
	step(t, clk, c, at("10:10:00"), 1)
}

func TestAPanickingCheckDoesNotStopTheScheduler(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	c.block = func(_ string, n int) chan struct{} {
		if n == 1 {
			panic("boom")
		}
		return nil
	}
	var logs syncBuffer
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	start(t, s, []Job{{page("checkout"), "*/10 * * * *"}, {page("cart"), "*/10 * * * *"}})

	step(t, clk, c, at("10:00:00"), 2)
	waitIdle(t, s)
	if strings.Count(logs.String(), "check panicked") != 2 {
		t.Fatalf("both panics must be logged:\n%s", logs.String())
	}
	step(t, clk, c, at("10:10:00"), 2)
}

func TestJitterDelaysEachRunWithinJitter(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: 10 * time.Minute}
	start(t, s, []Job{{page("checkout"), "*/15 * * * *"}})

	clk.waitTimer(t, at("10:00:00"))
	clk.set(at("10:00:00"))
	when := clk.waitTimerIn(t, at("10:00:00"), at("10:10:00"))
	c.none(t, "the run waits its jitter")
	clk.set(when)
	if st := c.expect(t, 1)[0]; !st.at.Equal(when) {
		t.Fatalf("want the check at %s, got %s", when, st.at)
	}
}

func TestCheckAtStartChecksEachPageOnceThenOnSchedule(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, CheckAtStart: true}
	start(t, s, []Job{{page("checkout"), "*/15 * * * *"}, {page("cart"), "@hourly"}})

	got := c.expect(t, 2)
	if got[0].page != "cart" || got[1].page != "checkout" || !got[0].at.Equal(at("09:59:30")) || !got[1].at.Equal(at("09:59:30")) {
		t.Fatalf("want both pages checked at start, got %v", got)
	}
	waitIdle(t, s)
	if got := step(t, clk, c, at("10:00:00"), 2); got[0].page != "cart" {
		t.Fatalf("then on schedule: %v", got)
	}
	waitIdle(t, s)
	if got := step(t, clk, c, at("10:15:00"), 1); got[0].page != "checkout" {
		t.Fatalf("then on schedule: %v", got)
	}
	waitIdle(t, s)

	t.Run("a page added by a reload is checked at once, the others are not", func(t *testing.T) {
		if err := s.Reload([]Job{{page("checkout"), "*/15 * * * *"}, {page("cart"), "@hourly"}, {page("login"), "@daily"}}); err != nil {
			t.Fatal(err)
		}
		if got := c.expect(t, 1); got[0].page != "login" || !got[0].at.Equal(at("10:15:00")) {
			t.Fatalf("want the new page checked at once, got %v", got)
		}
		c.none(t, "the other pages keep their schedule")
	})
}

func TestCheckAtStartWaitsEachPagesJitter(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: 10 * time.Minute, CheckAtStart: true}
	start(t, s, []Job{{page("checkout"), "@daily"}}) // no scheduled run within the jitter

	when := clk.waitTimerIn(t, at("09:59:30"), at("10:09:30"))
	c.none(t, "the first run waits its jitter too")
	clk.set(when)
	if st := c.expect(t, 1)[0]; !st.at.Equal(when) {
		t.Fatalf("want the check at %s, got %s", when, st.at)
	}
}

func TestNextRunSaysWhenEachPageIsCheckedNext(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	release := make(chan struct{})
	c.block = func(string, int) chan struct{} { return release }
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1}
	if next, _ := s.NextRun("shop", "checkout"); !next.IsZero() {
		t.Fatalf("a scheduler not running has no next run: %s", next)
	}
	start(t, s, []Job{{page("checkout"), "*/15 * * * *"}})
	clk.waitTimer(t, at("10:00:00"))
	if next, running := s.NextRun("shop", "checkout"); !next.Equal(at("10:00:00")) || running {
		t.Fatalf("NextRun = %s, %v; want 10:00:00, not running", next, running)
	}
	step(t, clk, c, at("10:00:00"), 1)
	if next, running := s.NextRun("shop", "checkout"); !next.Equal(at("10:15:00")) || !running {
		t.Fatalf("NextRun = %s, %v; want 10:15:00, running", next, running)
	}
	if next, _ := s.NextRun("shop", "cart"); !next.IsZero() {
		t.Fatalf("a page without a job has no next run: %s", next)
	}
	close(release)
}

func TestSlowerThanWeekly(t *testing.T) {
	jobs := []Job{
		{page("monthly"), "@monthly"},
		{page("first-of-month"), "0 0 1 * *"},
		{page("weekly"), "@weekly"},
		{page("hourly"), "@hourly"},
		{page("sundays"), "TZ=Europe/Berlin 0 3 * * 0"},
		{page("every-ten-days"), "@every 240h"},
	}
	got := SlowerThanWeekly(jobs)
	if len(got) != 3 {
		t.Fatalf("want 3 warnings, got %d: %q", len(got), got)
	}
	for i, name := range []string{"shop/monthly", "shop/first-of-month", "shop/every-ten-days"} {
		if !strings.HasPrefix(got[i], name+": ") || !strings.Contains(got[i], "PCI DSS 11.6.1") || !strings.Contains(got[i], "days between scans") {
			t.Errorf("warning %d: want it about %s and PCI DSS 11.6.1, got %q", i, name, got[i])
		}
	}
}

// TestTheTimeoutStartsAtAdmission: a check that waits for Admit (the
// machine short of room) is not timed out for the wait; its timeout runs
// from admission, its release comes when it ends, and Queue shows it
// waiting, then running.
func TestTheTimeoutStartsAtAdmission(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	room := make(chan struct{})
	released := make(chan struct{}, 1)
	type key struct{}
	admit := func(ctx context.Context) (context.Context, func(), error) {
		select {
		case <-room:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		return context.WithValue(ctx, key{}, "admitted"), func() { released <- struct{}{} }, nil
	}
	hold := make(chan struct{})
	c.block = func(string, int) chan struct{} { return hold }
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, Timeout: 2 * time.Minute, Admit: admit}
	start(t, s, []Job{{page("checkout"), "*/10 * * * *"}})

	clk.waitTimer(t, at("10:00:00"))
	clk.set(at("10:00:00"))
	eventually(t, func() bool { w, r := s.Queue(); return w == 1 && r == 0 }, "the check to wait for admission")
	clk.waitTimer(t, at("10:10:00"))
	// Five minutes of waiting, more than the timeout.
	clk.set(at("10:05:00"))
	c.none(t, "there is no room yet")
	close(room)
	st := c.expect(t, 1)[0]
	if st.ctx.Value(key{}) != "admitted" {
		t.Error("the check does not run under the admitted context")
	}
	if err := st.ctx.Err(); err != nil {
		t.Fatalf("the check's ctx ended as it started (the wait counted toward its timeout): %v", err)
	}
	if w, r := s.Queue(); w != 0 || r != 1 {
		t.Errorf("Queue while checking = %d waiting, %d running", w, r)
	}
	clk.waitTimer(t, at("10:07:00"))
	clk.set(at("10:07:00"))
	<-st.ctx.Done()
	if !errors.Is(st.ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("the check ended with %v at its timeout", st.ctx.Err())
	}
	close(hold)
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("the admission was not released when the check ended")
	}
	waitIdle(t, s)
	if w, r := s.Queue(); w != 0 || r != 0 {
		t.Errorf("Queue when idle = %d waiting, %d running", w, r)
	}
}

// TestAStopEndsTheWaitForAdmission: on shutdown a check waiting for
// admission never starts.
func TestAStopEndsTheWaitForAdmission(t *testing.T) {
	clk := &fakeClock{now: at("09:59:30")}
	c := newChecks(clk)
	s := &Scheduler{Check: c.check, Clock: clk, Jitter: -1, Admit: func(ctx context.Context) (context.Context, func(), error) {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}}
	stop, done := start(t, s, []Job{{page("checkout"), "*/10 * * * *"}})
	clk.waitTimer(t, at("10:00:00"))
	clk.set(at("10:00:00"))
	eventually(t, func() bool { w, _ := s.Queue(); return w == 1 }, "the check to wait for admission")
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		done <- nil // for start's cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return while a check waited for admission")
	}
	c.none(t, "the scheduler stopped")
}
