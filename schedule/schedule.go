// Package schedule runs each page's checks on its cron schedule until
// stopped: the heart of `skimguard serve`.
//
// A Scheduler starts each page's check when its schedule comes due, after a
// random jitter so that pages do not all start at once, with at most
// Workers checks at a time and a timeout on each, which starts once the
// check is admitted (Admit: the browser has room for it), not while it
// waits. It never runs two checks
// of the same page at once: a run that comes due while the page's previous
// one still runs is skipped. A check that fails or panics is logged, and
// the page's next run comes as scheduled. Reload swaps in a new set of jobs
// while running, as on SIGHUP. With CheckAtStart, each page is also checked
// once when it is first scheduled.
package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/config"
)

// Job is one page and when to check it.
type Job struct {
	Page skimguard.Page
	// Spec is the page's site's schedule as sites.yaml writes it: "@hourly",
	// "@every 15m" or a 5-field cron spec, read with config.ParseSchedule.
	Spec string
}

// Defaults of a Scheduler.
const (
	DefaultWorkers = 2
	DefaultJitter  = 30 * time.Second
	DefaultTimeout = 5 * time.Minute
)

// Scheduler runs checks on their schedules. Set its fields before Run; it
// must not be copied once running.
type Scheduler struct {
	// Check runs one check of one page. The daemon passes a func that calls
	// Monitor.Check on that page and logs what it returns. ctx ends at the
	// Timeout or when Run's ctx does.
	Check func(ctx context.Context, p skimguard.Page)
	// Workers bounds the checks running at once; 0 or less means
	// DefaultWorkers. The daemon sets it to --workers, as it does the
	// crawler's cap, so that neither caps the other.
	Workers int
	// Jitter is the longest random wait before each run, so that pages on
	// the same schedule do not start together; 0 means DefaultJitter and a
	// negative value means no wait.
	Jitter time.Duration
	// Timeout bounds each check, its waits for a worker and for Admit not
	// included: the check's ctx then ends with context.DeadlineExceeded. 0
	// or less means DefaultTimeout.
	Timeout time.Duration
	// Admit, when set, is waited for once a check has a worker and before
	// its Timeout starts; the check runs under the context it returns
	// (derived from the one given) and release is called when the check
	// ends. The daemon passes the crawler's Admit, so that a check that
	// waits for the machine to have room is not timed out for it.
	Admit func(ctx context.Context) (admitted context.Context, release func(), err error)
	// Grace is how long the checks under way may go on once Run's ctx
	// ends: no check starts after that, and the checks still running when
	// Grace has passed see their ctx cancelled (context.Canceled). 0 or
	// less cancels them at once.
	Grace time.Duration
	// CheckAtStart checks each page once as soon as Run starts, and a page
	// that Reload adds as soon as it is added, after its jitter like any
	// run, then on its schedule: a new install or page is not left unchecked
	// until its schedule first comes due.
	CheckAtStart bool
	// Clock is the time source; nil means RealClock.
	Clock Clock
	// Logger receives a line per run, skip and failure; none when nil.
	Logger *slog.Logger

	mu     sync.Mutex
	active bool
	jobs   []*entry
	// running holds the pages (by key) with a run under way, from its
	// jitter wait to the end of its check; it outlives reloads, so that a
	// page's old and new jobs never run at once.
	running map[string]bool
	wake    chan struct{}

	// waiting counts the runs past their jitter that wait for a worker or
	// for Admit; checking those checking.
	waiting, checking atomic.Int64
}

// Queue returns how many checks wait for a worker or for admission, past
// their jitter, and how many run.
func (s *Scheduler) Queue() (waiting, running int) {
	return int(s.waiting.Load()), int(s.checking.Load())
}

// entry is a job with its parsed schedule and next run time.
type entry struct {
	job   Job
	key   string
	sched cron.Schedule
	next  time.Time
}

func key(p skimguard.Page) string { return p.Site + "/" + p.Name }

func (s *Scheduler) clock() Clock {
	if s.Clock != nil {
		return s.Clock
	}
	return RealClock{}
}

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run checks the jobs' pages on their schedules until ctx is done, then
// starts no more, gives the checks under way up to Grace to finish, cancels
// those still running, waits for them and returns nil.
// It fails at once when Check is not set, a spec is invalid or a page has
// two jobs, and when the Scheduler is already running.
func (s *Scheduler) Run(ctx context.Context, jobs []Job) error {
	if s.Check == nil {
		return errors.New("schedule: Scheduler.Check is not set")
	}
	clock := s.clock()
	entries, err := build(jobs, clock.Now(), nil, s.CheckAtStart)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.active {
		s.mu.Unlock()
		return errors.New("schedule: the scheduler is already running")
	}
	s.active, s.jobs, s.running, s.wake = true, entries, map[string]bool{}, make(chan struct{}, 1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active = false
		s.mu.Unlock()
	}()

	workers := s.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	// Checks run under checkCtx, which outlives ctx by the grace period, so
	// that a shutdown does not cut them short at once.
	checkCtx, stopChecks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopChecks()
	log := s.logger()
	log.Info("scheduler started", "pages", len(jobs), "workers", workers)
	for {
		now := clock.Now()
		next := s.startDue(ctx, checkCtx, now, sem, &wg)
		var fire <-chan time.Time
		var t Timer
		if !next.IsZero() {
			// From the time now, not from before startDue: the timer
			// then fires at next even when the clock moved meanwhile.
			t = clock.NewTimer(next.Sub(clock.Now()))
			fire = t.C()
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			s.drain(clock, &wg, stopChecks)
			log.Info("scheduler stopped")
			return nil
		case <-fire:
		case <-s.wake:
			if t != nil {
				t.Stop()
			}
		}
	}
}

// drain waits for the runs under way, for up to Grace before it stops
// their checks.
func (s *Scheduler) drain(clock Clock, wg *sync.WaitGroup, stopChecks func()) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	log := s.logger()
	if s.Grace > 0 {
		log.Info("scheduler stopping; checks under way may finish", "grace", s.Grace)
		t := clock.NewTimer(s.Grace)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-t.C():
			log.Warn("grace period over; stopping the checks still under way", "grace", s.Grace)
		}
	} else {
		log.Info("scheduler stopping; stopping the checks under way")
	}
	stopChecks()
	<-done
}

// startDue starts the runs due at now and returns when the next one is due
// (zero when none ever is). Runs wait for their jitter and a worker under
// ctx, and check under checkCtx.
func (s *Scheduler) startDue(ctx, checkCtx context.Context, now time.Time, sem chan struct{}, wg *sync.WaitGroup) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var earliest time.Time
	for _, e := range s.jobs {
		if e.next.IsZero() {
			continue
		}
		if !e.next.After(now) {
			if s.running[e.key] {
				s.logger().Warn("run skipped: the previous check of this page is still running",
					"site", e.job.Page.Site, "page", e.job.Page.Name, "due", e.next)
			} else {
				s.running[e.key] = true
				wg.Add(1)
				go s.run(ctx, checkCtx, e.job, e.key, sem, wg)
			}
			// From now, not from the missed time: a scheduler that was
			// held up runs once, not once per missed slot.
			e.next = e.sched.Next(now)
			if e.next.IsZero() {
				continue
			}
		}
		if earliest.IsZero() || e.next.Before(earliest) {
			earliest = e.next
		}
	}
	return earliest
}

// run waits its jitter and a worker, unless ctx ends first, then checks
// the page under checkCtx.
func (s *Scheduler) run(ctx, checkCtx context.Context, job Job, key string, sem chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
	}()
	log := s.logger().With("site", job.Page.Site, "page", job.Page.Name)
	clock := s.clock()
	if !s.sleep(ctx, clock, s.jitter()) {
		return
	}
	s.waiting.Add(1)
	waiting := true
	stopWaiting := func() {
		if waiting {
			s.waiting.Add(-1)
			waiting = false
		}
	}
	defer stopWaiting()
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		return
	}
	if ctx.Err() != nil {
		return
	}
	runCtx := checkCtx
	if s.Admit != nil {
		// The wait ends with ctx, but the admitted check runs under
		// checkCtx, which outlives ctx by the grace period.
		wctx, cancelWait := context.WithCancel(checkCtx)
		defer cancelWait()
		unhook := context.AfterFunc(ctx, cancelWait)
		admitted, release, err := s.Admit(wctx)
		if !unhook() || err != nil {
			if err == nil {
				release()
			} else if ctx.Err() == nil {
				log.Error("check not started: admission failed", "err", err)
			}
			return
		}
		defer release()
		runCtx = admitted
	}
	stopWaiting()
	s.checking.Add(1)
	defer s.checking.Add(-1)
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, stop := withClockTimeout(runCtx, clock, timeout)
	defer stop()
	start := clock.Now()
	log.Info("check started")
	defer func() {
		if r := recover(); r != nil {
			log.Error("check panicked; the scheduler goes on", "panic", r, "stack", string(debug.Stack()))
			return
		}
		if errors.Is(cctx.Err(), context.DeadlineExceeded) {
			log.Warn("check timed out", "timeout", timeout)
		}
		log.Info("check done", "took", clock.Now().Sub(start))
	}()
	s.Check(cctx, job.Page)
}

func (s *Scheduler) jitter() time.Duration {
	j := s.Jitter
	if j == 0 {
		j = DefaultJitter
	}
	if j < 0 {
		return 0
	}
	return rand.N(j + 1)
}

// sleep waits d on clock; it reports false when ctx ended first.
func (s *Scheduler) sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// NextRun returns when the page's next run is due, zero when it has no
// job, its schedule never comes due again or the scheduler is not running;
// the check starts up to Jitter later. running says whether a run of the
// page is under way: waiting its jitter or a worker, or checking.
func (s *Scheduler) NextRun(site, page string) (next time.Time, running bool) {
	k := key(skimguard.Page{Site: site, Name: page})
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return time.Time{}, false
	}
	for _, e := range s.jobs {
		if e.key == k {
			next = e.next
		}
	}
	return next, s.running[k]
}

// Reload replaces the running scheduler's jobs in one step, as on SIGHUP.
// When a spec is invalid or a page has two jobs it returns the error and
// the old jobs keep running. Checks under way are not interrupted, and a
// page whose spec did not change keeps its next run time (its Page, URL
// included, is updated for later runs); a new or changed spec runs next
// when it comes due from now.
func (s *Scheduler) Reload(jobs []Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return errors.New("schedule: reload: the scheduler is not running")
	}
	entries, err := build(jobs, s.clock().Now(), s.jobs, s.CheckAtStart)
	if err != nil {
		return fmt.Errorf("reload: %w; the previous schedules stay in force", err)
	}
	s.jobs = entries
	select {
	case s.wake <- struct{}{}:
	default:
	}
	s.logger().Info("schedules reloaded", "pages", len(entries))
	return nil
}

// build parses jobs into entries due from now, keeping the next run time
// of a page in old whose spec did not change; with atOnce, a page not in old
// is due now.
func build(jobs []Job, now time.Time, old []*entry, atOnce bool) ([]*entry, error) {
	prev := map[string]*entry{}
	for _, e := range old {
		prev[e.key] = e
	}
	seen := map[string]bool{}
	var errs []error
	entries := make([]*entry, 0, len(jobs))
	for _, j := range jobs {
		k := key(j.Page)
		if seen[k] {
			errs = append(errs, fmt.Errorf("page %s has two jobs: give it one", k))
			continue
		}
		seen[k] = true
		sched, err := config.ParseSchedule(j.Spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("page %s: bad schedule %q: %w", k, j.Spec, err))
			continue
		}
		e := &entry{job: j, key: k, sched: sched, next: sched.Next(now)}
		p, known := prev[k]
		switch {
		case known && p.job.Spec == j.Spec:
			e.next = p.next
		case !known && atOnce:
			e.next = now
		}
		entries = append(entries, e)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("schedule: %w", errors.Join(errs...))
	}
	return entries, nil
}

// weekly is the longest gap PCI DSS 11.6.1 allows between scans, plus an
// hour of slack for a daylight saving change in a "TZ=" spec.
const weekly = 7*24*time.Hour + time.Hour

// SlowerThanWeekly returns one warning per page whose schedule can leave
// more than a week between two scans: PCI DSS 11.6.1 asks for change and
// tamper detection at least weekly. A spec that cannot be parsed gets a
// warning too. Pages are in the order of jobs.
func SlowerThanWeekly(jobs []Job) []string {
	var out []string
	// UTC, so that a spec without TZ= sees no daylight saving change.
	from := time.Now().UTC()
	for _, j := range jobs {
		sched, err := config.ParseSchedule(j.Spec)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: schedule %q cannot be read (%v), so the page may never be scanned; PCI DSS 11.6.1 asks for at least weekly scans", key(j.Page), j.Spec, err))
			continue
		}
		// Eight weeks see a monthly gap whole; a yearly schedule gives
		// the tail of the horizon, long enough to flag.
		gap := config.LongestGap(sched, from, 8*7*24*time.Hour)
		if gap > weekly {
			out = append(out, fmt.Sprintf("%s: schedule %q leaves up to %s between scans; PCI DSS 11.6.1 asks for at least weekly scans of payment pages", key(j.Page), j.Spec, days(gap)))
		}
	}
	return out
}

func days(d time.Duration) string {
	n := int((d + 12*time.Hour) / (24 * time.Hour))
	return fmt.Sprintf("%d days", cmp.Or(n, 1))
}
