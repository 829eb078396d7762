// Package river runs each page's checks on its cron schedule through River
// (riverqueue.com), a job queue in PostgreSQL: the scheduler of `skimguard
// serve` when the database is PostgreSQL, so that every serve process on
// it is equal and a page is checked once per period by one of them.
//
// Every process registers each page's schedule as a River periodic job;
// River's elected leader (one process at a time) enqueues a check job per
// page when its schedule comes due. The job's arguments are the page and
// the period it checks (the schedule's time it came due for), and a job is
// unique by its arguments, completed jobs included, so that a new leader,
// which enqueues each page's current period at once (RunOnStart), never
// doubles a check that was made. Every process works check jobs, up to its
// Workers at once. A job whose process died is rescued by the leader after
// RescueAfter and tried again by any process; a job started MaxAttempts
// times that never finished is given up: Runner.GiveUp records a failed scan
// and the failure alert goes out. Reload replaces the periodic jobs, as
// SIGHUP does, in the process that reloads: each process is sent its own.
//
// Periods: a schedule "@every D" runs on multiples of D since the zero
// time (so every process agrees where a period starts), not D after the
// process started as the single-process scheduler does; cron specs are
// absolute already.
//
// River's leader enqueues a period's jobs once, when the period starts: an
// enqueue that fails then (the database restarting at that moment) is not
// tried again, and nothing is enqueued while no process leads (a leader
// that stops hands over in a second or two, one that dies after River's
// leader TTL, about 15 seconds, and the next election). So every process
// also makes sure, every few seconds, that each page's current period has
// its job, inserting the ones missing (unique, so this never doubles a
// check): a period is lost only when the database is away for all of it.
// Periods more than a week old are left alone: completed jobs are kept
// for eight days, and a job cleaned up must not be taken for one missing.
// River moves a job scheduled for later (a jitter) to its queue every 5
// seconds, so a check starts up to 5 seconds after its jitter.
//
// SQLite keeps package schedule. River has a SQLite driver (riversqlite);
// it was tried on a temporary SQLite file through a restart and with four
// concurrent workers (TestSQLiteTrial): with one connection, as the driver's
// doc advises against "database is locked", it checked every period once,
// and the restart's current period was not doubled (a 2-second period that
// passed while it restarted went unchecked, as with any scheduler). It is
// not used because a SQLite database has one serve (its lock), so River
// would add its tables, a leader election, polling and a driver upstream
// calls early testing to what schedule does in memory, and serve's SQLite
// store would share its file with a second connection pool. One scheduling
// path would be worth that only if several serves could share a SQLite
// file, which they cannot.
//
// River's tables live in their own PostgreSQL schema, Schema, created by
// Migrate (rivermigrate) under an advisory lock, so that processes starting
// together migrate once.
package river

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/robfig/cron/v3"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/schedule"
)

// Schema is the PostgreSQL schema of River's tables, beside skimguard's own.
const Schema = "skimguard_river"

// queue is the River queue of the checks.
const queue = "checks"

// Defaults of a Runner.
const (
	DefaultMaxAttempts = 3
	// rescueMargin is at most what is added to the check timeout to make
	// RescueAfter's default (half the timeout when that is less): a check
	// that runs this long past its timeout has lost its process.
	rescueMargin = time.Minute
	// retention keeps completed jobs, and so their uniqueness, for longer
	// than the longest period PCI DSS 11.6.1 allows (a week), so that a
	// new leader never checks a weekly page twice in its week.
	retention = 8 * 24 * time.Hour
	// unknownPageWait is how long a job of a page this process does not
	// know is left to the others (a rolling reload) before it is cancelled.
	unknownPageWait = 2 * time.Minute
)

type pgxTx = pgx.Tx

// checkArgs is a check job: a page and the period it checks.
type checkArgs struct {
	Site   string    `json:"site"`
	Page   string    `json:"page"`
	Period time.Time `json:"period"`
}

// Kind names the check jobs in River's tables.
func (checkArgs) Kind() string { return "skimguard_check" }

// Runner runs the checks on their schedules through River. Set its fields
// before Run; it must not be copied once running.
type Runner struct {
	// Pool is the configuration of the connections to the PostgreSQL
	// database (postgres.DB.PoolConfig); the Runner opens a pool of its own.
	Pool *pgxpool.Config
	// Check runs one check of one page, as schedule.Scheduler's Check.
	Check func(ctx context.Context, p skimguard.Page)
	// GiveUp records a check that was started MaxAttempts times and never
	// finished (monitor.Monitor.Abandon): a failed scan and its alert.
	GiveUp func(ctx context.Context, p skimguard.Page, reason string)
	// Workers bounds the checks this process runs at once; 0 or less means
	// schedule.DefaultWorkers.
	Workers int
	// Jitter is the longest random delay of each job after its period
	// starts; 0 means schedule.DefaultJitter, negative none. It is at most
	// a quarter of the page's period.
	Jitter time.Duration
	// Timeout bounds each check; 0 or less means schedule.DefaultTimeout.
	Timeout time.Duration
	// Grace is how long the checks under way may go on once Run's ctx
	// ends; those still running then are stopped and their jobs put back
	// for another process (without counting an attempt).
	Grace time.Duration
	// CheckAtStart enqueues each page's current period when a process
	// becomes leader or a page is added: a page whose period was checked
	// already is not checked again (the job is unique).
	CheckAtStart bool
	// MaxAttempts is how many times a check job is started before it is
	// given up; 0 means DefaultMaxAttempts. Only a process that died
	// mid-check makes a second attempt: a check that fails is a failed
	// scan, not a failed job.
	MaxAttempts int
	// RescueAfter is how long a job may run before the leader takes it for
	// dead and puts it back; 0 means Timeout plus a minute, or plus half
	// of it when that is less. It must exceed
	// Timeout.
	RescueAfter time.Duration
	// Logger receives a line per check; none when nil. River's own log
	// goes to it at warn level and above.
	Logger *slog.Logger

	mu      sync.Mutex
	client  *rq.Client[pgxTx]
	jobs    map[string]entry
	running map[string]int
	// queued is, by page, the latest period known to have its job.
	queued map[string]time.Time
	// waiting is the queue's due check jobs at its last count.
	waiting atomic.Int64
}

// countEvery is how often Run counts the due jobs for Queue: a count a
// few seconds old is as good for a gauge, and scrapes and log lines then
// cost the database nothing.
const countEvery = 5 * time.Second

// catchUpEvery is how often each process makes sure that every page's
// current period has its job (see the package doc), and catchUpAfter how
// long into a period it waits first, so that the leader's enqueue, made
// at the period's start, is normally there already.
const (
	catchUpEvery = 5 * time.Second
	catchUpAfter = 2 * time.Second
	// catchUpWithin bounds the age of a period still caught up: less than
	// the retention of completed jobs, by a day.
	catchUpWithin = retention - 24*time.Hour
)

// entry is a page's job with its schedule.
type entry struct {
	job   schedule.Job
	sched cron.Schedule
}

func key(site, page string) string { return site + "/" + page }

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout <= 0 {
		return schedule.DefaultTimeout
	}
	return r.Timeout
}

// Migrate creates or updates River's tables in Schema, under an advisory
// lock so that processes starting together migrate once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	driver := riverpgxv5.New(pool)
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: Schema, Logger: cmp.Or(logger, slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("prepare the job queue's tables: %w", err)
	}
	// A lock of the session, not of a transaction: some of River's
	// migrations cannot run inside one (a new enum value used at once).
	c, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate the job queue's tables: %w", err)
	}
	defer c.Release()
	const lock = `hashtextextended('skimguard river migrate', 0)`
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		return fmt.Errorf("migrate the job queue's tables: %w", err)
	}
	defer func() {
		if _, err := c.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`); err != nil {
			c.Conn().Close(context.WithoutCancel(ctx)) // the lock goes with the session
		}
	}()
	if _, err := c.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+Schema); err != nil {
		return fmt.Errorf("create the job queue's schema %s: %w (the role needs CREATE on the database)", Schema, err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate the job queue's tables: %w", err)
	}
	return nil
}

// Run works check jobs and, while this process is River's leader, enqueues
// them on the jobs' schedules, until ctx is done; then it lets the checks
// under way go on for Grace, stops the rest (their jobs go back to the
// queue for another process) and returns nil. It fails at once when a spec
// is invalid, a page has two jobs, or the database cannot be reached.
func (r *Runner) Run(ctx context.Context, jobs []schedule.Job) error {
	if r.Check == nil || r.GiveUp == nil || r.Pool == nil {
		return errors.New("river: Runner.Check, GiveUp and Pool must be set")
	}
	entries, err := build(jobs)
	if err != nil {
		return err
	}
	timeout := r.timeout()
	rescue := cmp.Or(r.RescueAfter, timeout+min(rescueMargin, timeout/2))
	if rescue <= timeout {
		return fmt.Errorf("river: RescueAfter (%s) must exceed the check timeout (%s)", rescue, timeout)
	}
	workers := r.Workers
	if workers <= 0 {
		workers = schedule.DefaultWorkers
	}
	pc := r.Pool.Copy()
	// The checks' connections, River's listener, elector and
	// maintenance: the store keeps its own pool.
	pc.MaxConns = int32(workers + 6)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("job queue: connect: %w", err)
	}
	defer pool.Close()
	if err := Migrate(ctx, pool, r.Logger); err != nil {
		return err
	}
	ws := rq.NewWorkers()
	rq.AddWorker(ws, &worker{r: r})
	host, _ := os.Hostname()
	rlog := slog.New(minLevel{r.logger().Handler(), slog.LevelWarn})
	client, err := rq.NewClient(riverpgxv5.New(pool), &rq.Config{
		ID:                          fmt.Sprintf("skimguard_%s_%d_%d", host, os.Getpid(), time.Now().UnixNano()),
		Schema:                      Schema,
		Logger:                      rlog,
		Queues:                      map[string]rq.QueueConfig{queue: {MaxWorkers: workers}},
		Workers:                     ws,
		JobTimeout:                  timeout,
		RescueStuckJobsAfter:        rescue,
		MaxAttempts:                 cmp.Or(r.MaxAttempts, DefaultMaxAttempts),
		CompletedJobRetentionPeriod: retention,
		CancelledJobRetentionPeriod: retention,
		DiscardedJobRetentionPeriod: retention,
	})
	if err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	r.mu.Lock()
	if r.client != nil {
		r.mu.Unlock()
		return errors.New("river: the runner is already running")
	}
	r.client, r.jobs, r.running, r.queued = client, entries, map[string]int{}, map[string]time.Time{}
	r.skipCurrent(entries, nil)
	_, err = client.PeriodicJobs().AddManySafely(r.periodic(entries))
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.client = nil
		r.mu.Unlock()
	}()
	if err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	log := r.logger()
	// Started under a context that outlives ctx: the checks under way
	// get their grace period.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("job queue: start: %w", err)
	}
	log.Info("job queue started", "pages", len(entries), "workers", workers, "check_timeout", timeout, "rescue_after", rescue)
	go r.countWaiting(ctx, pool)
	go r.catchUp(ctx)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(r.Grace, 0))
	defer cancel()
	if r.Grace > 0 {
		log.Info("job queue stopping; checks under way may finish", "grace", r.Grace)
	}
	if err := client.Stop(sctx); err != nil {
		log.Warn("grace period over; stopping the checks still under way", "grace", r.Grace)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := client.StopAndCancel(cctx); err != nil {
			log.Error("job queue did not stop cleanly", "err", err)
		}
	}
	log.Info("job queue stopped")
	return nil
}

// Reload replaces the periodic jobs of this process, as on SIGHUP: a page
// added is enqueued for its current period at once (CheckAtStart), one
// removed is no longer enqueued, and its jobs already queued are left to
// the processes that know the page (a rolling reload) and cancelled after
// two minutes. An invalid spec or a page with two jobs changes nothing.
func (r *Runner) Reload(jobs []schedule.Job) error {
	entries, err := build(jobs)
	if err != nil {
		return fmt.Errorf("reload: %w; the previous schedules stay in force", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		return errors.New("river: reload: the runner is not running")
	}
	r.skipCurrent(entries, r.jobs)
	r.jobs = entries
	pj := r.client.PeriodicJobs()
	pj.Clear()
	if _, err := pj.AddManySafely(r.periodic(entries)); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	r.logger().Info("schedules reloaded", "pages", len(entries))
	return nil
}

// NextRun returns when the page's next period starts and whether this
// process is checking it; zero when it has no job or the runner is not
// running.
func (r *Runner) NextRun(site, page string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.jobs[key(site, page)]
	if r.client == nil || !ok {
		return time.Time{}, false
	}
	return e.sched.Next(time.Now()), r.running[key(site, page)] > 0
}

// periodic makes River's periodic jobs of entries.
func (r *Runner) periodic(entries map[string]entry) []*rq.PeriodicJob {
	out := make([]*rq.PeriodicJob, 0, len(entries))
	for _, e := range entries {
		out = append(out, rq.NewPeriodicJob(e.sched, func() (rq.JobArgs, *rq.InsertOpts) {
			now := time.Now()
			return r.job(e, PeriodOf(e.sched, now), now)
		}, &rq.PeriodicJobOpts{RunOnStart: r.CheckAtStart}))
	}
	return out
}

// job is the check job of e's period, enqueued at now. The period is in
// UTC: the job is unique by its arguments, and processes in other time
// zones must write the same ones.
func (r *Runner) job(e entry, period, now time.Time) (checkArgs, *rq.InsertOpts) {
	at := now
	if j := r.jitter(e.sched, period); j > 0 {
		at = at.Add(j)
	}
	return checkArgs{Site: e.job.Page.Site, Page: e.job.Page.Name, Period: period.UTC()}, &rq.InsertOpts{
		Queue:       queue,
		ScheduledAt: at,
		UniqueOpts:  rq.UniqueOpts{ByArgs: true},
	}
}

// skipCurrent marks the current period of the pages of entries that old
// does not have (with the same schedule) as queued when the current
// period is not to be checked (no CheckAtStart), so that catchUp leaves
// it alone. Called with r.mu held.
func (r *Runner) skipCurrent(entries, old map[string]entry) {
	if r.CheckAtStart {
		return
	}
	now := time.Now()
	for k, e := range entries {
		if o, ok := old[k]; !ok || o.job.Spec != e.job.Spec {
			r.queued[k] = PeriodOf(e.sched, now)
		}
	}
}

// catchUp inserts, every catchUpEvery until ctx ends, the jobs of the
// pages' current periods that are not known to be queued: an enqueue by
// the leader that failed, or no leader at the period's start (see the
// package doc). A job there already is skipped by River (unique by its
// arguments), so each process does this once per page and period.
func (r *Runner) catchUp(ctx context.Context) {
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(catchUpEvery):
		}
		err := r.queueMissing(ctx, time.Now())
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			r.logger().Warn("cannot make sure that the current periods' checks are queued; trying again every few seconds", "err", err)
		case err == nil && failing:
			r.logger().Info("the current periods' checks are queued again")
		}
		failing = err != nil
	}
}

// catchUpBatch bounds the jobs of one insert, so that thousands of pages
// due at once make inserts that each finish well within catchUpEvery.
const catchUpBatch = 500

// queueMissing inserts the jobs of the current periods at now that are not
// known to be queued, in batches; what a batch queued is remembered even
// when a later one fails.
func (r *Runner) queueMissing(ctx context.Context, now time.Time) error {
	var params []rq.InsertManyParams
	var keys []string
	r.mu.Lock()
	client := r.client
	for k, e := range r.jobs {
		period := PeriodOf(e.sched, now)
		if age := now.Sub(period); age < catchUpAfter || age > catchUpWithin || r.queued[k].Equal(period) {
			continue
		}
		args, opts := r.job(e, period, now)
		params = append(params, rq.InsertManyParams{Args: args, InsertOpts: opts})
		keys = append(keys, k)
	}
	r.mu.Unlock()
	if client == nil {
		return nil
	}
	for len(params) > 0 {
		n := min(len(params), catchUpBatch)
		ictx, cancel := context.WithTimeout(ctx, catchUpEvery)
		res, err := client.InsertMany(ictx, params[:n])
		cancel()
		if err != nil {
			return err
		}
		r.mu.Lock()
		for i, k := range keys[:n] {
			a := params[i].Args.(checkArgs)
			r.queued[k] = a.Period
			if !res[i].UniqueSkippedAsDuplicate {
				// Info: the check is made; a start whose leader is slow
				// to be elected shows this too.
				r.logger().Info("check queued late: its period's start was not enqueued (the database was away or no process led)",
					"site", a.Site, "page", a.Page, "period", a.Period)
			}
		}
		r.mu.Unlock()
		params, keys = params[n:], keys[n:]
	}
	return nil
}

// jitter is a random delay of a job, at most Jitter and a quarter of the
// period.
func (r *Runner) jitter(sched cron.Schedule, period time.Time) time.Duration {
	j := r.Jitter
	if j == 0 {
		j = schedule.DefaultJitter
	}
	if next := sched.Next(period); !next.IsZero() {
		j = min(j, next.Sub(period)/4)
	}
	if j <= 0 {
		return 0
	}
	return rand.N(j + 1)
}

// build parses the jobs' specs.
func build(jobs []schedule.Job) (map[string]entry, error) {
	out := map[string]entry{}
	var errs []error
	for _, j := range jobs {
		k := key(j.Page.Site, j.Page.Name)
		if _, dup := out[k]; dup {
			errs = append(errs, fmt.Errorf("page %s has two jobs: give it one", k))
			continue
		}
		s, err := config.ParseSchedule(j.Spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("page %s: bad schedule %q: %w", k, j.Spec, err))
			continue
		}
		out[k] = entry{job: j, sched: Aligned(s)}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("river: %w", errors.Join(errs...))
	}
	return out, nil
}

// page returns the page a job names, as this process's sites.yaml has it.
func (r *Runner) page(site, page string) (skimguard.Page, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.jobs[key(site, page)]
	return e.job.Page, ok
}

func (r *Runner) started(k string, d int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running[k] += d
}

// Queue says how many check jobs are due and not started, in the queue
// that every process shares (so every process says the same, counted at
// most countEvery ago), and how many of this process's checks run.
func (r *Runner) Queue() (waiting, running int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.running {
		running += n
	}
	return int(r.waiting.Load()), running
}

// countWaiting counts the due check jobs every countEvery until ctx ends.
// Due: available, or scheduled (a jitter, a retry) for a time that has
// come, which River makes available within seconds. A count that fails
// keeps the last one: the gauge is not worth an error in the log each
// time the database is away, which the store reports already.
func (r *Runner) countWaiting(ctx context.Context, pool *pgxpool.Pool) {
	q := `SELECT count(*) FROM ` + pgx.Identifier{Schema, "river_job"}.Sanitize() + `
		WHERE kind = $1 AND state IN ('available', 'scheduled', 'retryable') AND scheduled_at <= now()`
	kind := checkArgs{}.Kind()
	for {
		cctx, cancel := context.WithTimeout(ctx, countEvery)
		var n int64
		if err := pool.QueryRow(cctx, q, kind).Scan(&n); err == nil {
			r.waiting.Store(n)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(countEvery):
		}
	}
}

// worker works check jobs.
type worker struct {
	rq.WorkerDefaults[checkArgs]
	r *Runner
}

func (w *worker) Work(ctx context.Context, job *rq.Job[checkArgs]) error {
	a := job.Args
	log := w.r.logger().With("site", a.Site, "page", a.Page, "period", a.Period, "attempt", job.Attempt)
	p, ok := w.r.page(a.Site, a.Page)
	if !ok {
		// Another process may know it: one whose sites.yaml was reloaded
		// with the page first, in a rolling reload. Left to it for a
		// while, then cancelled (the page was removed).
		if time.Since(job.CreatedAt) < unknownPageWait {
			log.Info("check job of a page this process does not know; left to the others for now")
			return rq.JobSnooze(10 * time.Second)
		}
		log.Info("check job of a page this process does not know; cancelled (removed from sites.yaml?)")
		return rq.JobCancel(fmt.Errorf("page %s/%s is not in this process's sites.yaml", a.Site, a.Page))
	}
	k := key(a.Site, a.Page)
	w.r.started(k, 1)
	defer w.r.started(k, -1)
	if job.Attempt >= job.MaxAttempts && job.Attempt > 1 {
		reason := fmt.Sprintf("its check for the period from %s was started %d times and never finished: the process checking it died or was killed each time (a page that crashes the browser or the machine does this)",
			a.Period.UTC().Format(time.RFC3339), job.Attempt-1)
		log.Error("check given up", "reason", reason)
		w.r.GiveUp(ctx, p, reason)
		return nil
	}
	if job.Attempt > 1 {
		log.Warn("check started again: its process died before it finished")
	}
	start := time.Now()
	log.Info("check started")
	w.r.Check(ctx, p)
	if errors.Is(ctx.Err(), context.Canceled) {
		// Stopped by a shutdown: back to the queue for another process,
		// without counting an attempt.
		log.Info("check stopped; its job goes back to the queue")
		return rq.JobSnooze(0)
	}
	log.Info("check done", "took", time.Since(start))
	return nil
}

// PeriodOf returns the start of the period of sched that t falls in: the
// latest time sched came due at or before t (plus a second, as River fires
// a little early). A schedule that did not come due in the year before t
// gives t.
func PeriodOf(sched cron.Schedule, t time.Time) time.Time {
	t = t.Add(time.Second)
	for back := time.Minute; back <= 400*24*time.Hour; back *= 8 {
		p := sched.Next(t.Add(-back))
		if p.IsZero() || p.After(t) {
			continue
		}
		for {
			n := sched.Next(p)
			if n.IsZero() || n.After(t) {
				return p
			}
			p = n
		}
	}
	return t.Add(-time.Second)
}

// Aligned returns sched with an "@every D" schedule running on multiples of
// D since the zero time, so that every process agrees on its periods; other
// schedules are returned as they are.
func Aligned(sched cron.Schedule) cron.Schedule {
	if c, ok := sched.(cron.ConstantDelaySchedule); ok {
		return aligned{c.Delay}
	}
	return sched
}

type aligned struct{ d time.Duration }

func (a aligned) Next(t time.Time) time.Time { return t.Truncate(a.d).Add(a.d) }

// minLevel drops records below level: River's info lines are its own
// business.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.level} }
