package river

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/internal/pgtest"
	"github.com/skimguard/skimguard/postgres"
	"github.com/skimguard/skimguard/schedule"
)

var pg = &pgtest.Shared{Prepare: func(ctx context.Context, url string) error {
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	pool, err := pgxpool.NewWithConfig(ctx, db.PoolConfig())
	if err != nil {
		return err
	}
	defer pool.Close()
	return Migrate(ctx, pool, nil)
}}

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// poolConfig opens a new migrated database and returns its pool's
// configuration, as serve passes it.
func poolConfig(t *testing.T) *pgxpool.Config {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pg.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// checks records the checks made, by page, with the runner that made them.
type checks struct {
	mu  sync.Mutex
	got map[string][]check
}

type check struct {
	by string
	at time.Time
}

func (c *checks) fn(by string, took time.Duration) func(context.Context, skimguard.Page) {
	return func(ctx context.Context, p skimguard.Page) {
		c.mu.Lock()
		if c.got == nil {
			c.got = map[string][]check{}
		}
		c.got[p.Name] = append(c.got[p.Name], check{by, time.Now()})
		c.mu.Unlock()
		select {
		case <-time.After(took):
		case <-ctx.Done():
		}
	}
}

func (c *checks) of(page string) []check {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]check(nil), c.got[page]...)
}

func jobs(spec string, names ...string) []schedule.Job {
	var out []schedule.Job
	for _, n := range names {
		out = append(out, schedule.Job{Page: skimguard.Page{Site: "shop", Name: n, URL: "http://127.0.0.1/" + n}, Spec: spec})
	}
	return out
}

// start runs r on js until the test ends.
func start(t *testing.T, r *Runner, js []schedule.Job) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, js) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func giveUpInto(c *checks, by string) func(context.Context, skimguard.Page, string) {
	return func(ctx context.Context, p skimguard.Page, reason string) {
		c.fn(by+" gave up", 0)(ctx, p)
	}
}

// Two processes on one database check each page once per period between
// them: none doubled, none missing. The periods come from River's jobs,
// whose arguments name them; the checks from the workers.
func TestTwoProcessesCheckEachPeriodOnce(t *testing.T) {
	cfg := poolConfig(t)
	var c checks
	names := []string{"a", "b", "c", "d", "e", "f"}
	// Five seconds: a change of leader takes a second or two (more on a
	// loaded machine), and a period that begins and ends while no process
	// leads may end before a catch-up sees it (see the package doc).
	js := jobs("@every 5s", names...)
	// The first to start is the leader; it stops midway, so that another
	// becomes leader and enqueues each page's current period again (its
	// RunOnStart), which must not double a check.
	ctx, cancel := context.WithCancel(context.Background())
	first, stopFirst := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(ctx context.Context, by string) {
		r := &Runner{Pool: cfg, Check: c.fn(by, 300*time.Millisecond), GiveUp: giveUpInto(&c, by),
			Workers: 2, Jitter: time.Second, Timeout: 10 * time.Second, Grace: 10 * time.Second, CheckAtStart: true}
		wg.Go(func() {
			if err := r.Run(ctx, js); err != nil {
				t.Error(err)
			}
		})
	}
	run(first, "one")
	time.Sleep(2 * time.Second)
	run(ctx, "two")
	time.Sleep(12 * time.Second)
	stopFirst()
	run(ctx, "three")
	time.Sleep(20 * time.Second)
	cancel()
	wg.Wait()
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(t.Context(), `SELECT args->>'page', (args->>'period')::timestamptz, count(*)
		FROM `+Schema+`.river_job WHERE state = 'completed' GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	done := map[string][]time.Time{}
	for rows.Next() {
		var page string
		var period time.Time
		var n int
		if err := rows.Scan(&page, &period, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("page %s period %s has %d completed jobs, want one", page, period, n)
		}
		done[page] = append(done[page], period)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	byWhom := map[string]int{}
	for _, n := range names {
		got := c.of(n)
		for _, ch := range got {
			byWhom[ch.by]++
		}
		ps := done[n]
		if len(got) != len(ps) {
			t.Errorf("page %s: %d checks for %d periods completed (%v)", n, len(got), len(ps), ps)
		}
		if len(ps) < 6 {
			t.Errorf("page %s: %d periods completed in 34 seconds of a 5-second schedule", n, len(ps))
		}
		for i := 1; i < len(ps); i++ {
			if d := ps[i].Sub(ps[i-1]); d != 5*time.Second {
				t.Errorf("page %s: %s between the periods of %s and %s, want 5s: a period missing", n, d, ps[i-1], ps[i])
			}
		}
	}
	if byWhom["one"] == 0 || byWhom["two"] == 0 || byWhom["three"] == 0 {
		t.Errorf("checks by process: %v; want both to work", byWhom)
	}
}

// A job whose process hangs (as one killed mid-check: it never finishes)
// is rescued and finished by the other; on its last attempt it is given up
// (GiveUp: a failed scan and its alert) rather than checked again.
func TestStuckCheckIsRescuedByTheOtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer, which runs every 30 seconds")
	}
	for _, tc := range []struct {
		name        string
		maxAttempts int
		want        string
	}{
		{"attempts left: the other process checks it", 3, "other"},
		{"the last attempt: the other process gives it up", 2, "other gave up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := poolConfig(t)
			var c checks
			hung := make(chan struct{})
			entered := make(chan struct{}, 10)
			defer close(hung)
			js := jobs("@every 1h", "stuck")
			hang := func(ctx context.Context, p skimguard.Page) {
				c.fn("hung", 0)(ctx, p)
				entered <- struct{}{}
				<-hung // ignores ctx, as a process that froze
			}
			run := func(by string, check func(context.Context, skimguard.Page)) {
				start(t, &Runner{Pool: cfg, Check: check, GiveUp: giveUpInto(&c, by), Workers: 1, Jitter: -1,
					Timeout: 2 * time.Second, RescueAfter: 3 * time.Second, MaxAttempts: tc.maxAttempts, CheckAtStart: true}, js)
			}
			run("hung", hang)
			select {
			case <-entered:
			case <-time.After(time.Minute):
				t.Fatal("the first process never started the check")
			}
			run("other", c.fn("other", 0))
			deadline := time.Now().Add(2 * time.Minute)
			for time.Now().Before(deadline) && len(c.of("stuck")) < 2 {
				time.Sleep(time.Second)
			}
			got := c.of("stuck")
			if len(got) != 2 || got[0].by != "hung" || got[1].by != tc.want {
				t.Fatalf("checks of the stuck page: %v; want the hung one, then %q", got, tc.want)
			}
		})
	}
}

// A reload adds and removes pages in the process that reloads.
func TestReload(t *testing.T) {
	cfg := poolConfig(t)
	var c checks
	r := &Runner{Pool: cfg, Check: c.fn("one", 0), GiveUp: giveUpInto(&c, "one"), Workers: 2, Jitter: -1, CheckAtStart: true}
	start(t, r, jobs("@every 1s", "old"))
	waitFor(t, func() bool { return len(c.of("old")) > 0 }, "the old page to be checked")
	if err := r.Reload(jobs("@every 1s", "new")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(c.of("new")) > 0 }, "the added page to be checked")
	time.Sleep(2 * time.Second) // a job of the old page may be under way
	n := len(c.of("old"))
	time.Sleep(3 * time.Second)
	if m := len(c.of("old")); m != n {
		t.Errorf("the removed page was checked %d more times after the reload", m-n)
	}
	if err := r.Reload(jobs("bad spec", "new")); err == nil {
		t.Error("a reload with a bad spec was taken")
	}
	if next, _ := r.NextRun("shop", "new"); next.IsZero() {
		t.Error("NextRun of the page kept after a refused reload is zero")
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPeriodOf(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct{ spec, now, want string }{
		{"@every 20s", "2026-01-01T10:00:31Z", "2026-01-01T10:00:20Z"},
		{"@every 20s", "2026-01-01T10:00:39.5Z", "2026-01-01T10:00:40Z"}, // fired a little early
		{"@hourly", "2026-01-01T10:59:00Z", "2026-01-01T10:00:00Z"},
		{"0 3 * * 1", "2026-01-08T12:00:00Z", "2026-01-05T03:00:00Z"},
	} {
		s, err := config.ParseSchedule(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := PeriodOf(Aligned(s), at(tc.now)); !got.Equal(at(tc.want)) {
			t.Errorf("PeriodOf(%s, %s) = %s, want %s", tc.spec, tc.now, got, tc.want)
		}
	}
}

// The queue's due checks are counted for skimguard_checks_waiting: with one
// worker and four pages due at once, one runs and three wait, and the wait
// empties as they are done.
func TestQueueCountsTheDueChecksThatWait(t *testing.T) {
	cfg := poolConfig(t)
	var c checks
	release := make(chan struct{})
	check := func(ctx context.Context, p skimguard.Page) {
		c.fn("one", 0)(ctx, p)
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	r := &Runner{Pool: cfg, Check: check, GiveUp: giveUpInto(&c, "one"), Workers: 1, Jitter: -1, CheckAtStart: true}
	start(t, r, jobs("@every 1h", "a", "b", "c", "d"))
	waitFor(t, func() bool { w, running := r.Queue(); return w == 3 && running == 1 }, "3 checks waiting and 1 running")
	close(release)
	waitFor(t, func() bool { w, running := r.Queue(); return w == 0 && running == 0 }, "the wait to empty")
	for _, p := range []string{"a", "b", "c", "d"} {
		if n := len(c.of(p)); n != 1 {
			t.Errorf("page %s checked %d times, want once", p, n)
		}
	}
}

// River's leader enqueues a period's job once, when the period starts: when
// that insert fails (the database restarting at that moment), the period
// is checked all the same, as each process makes sure that the current
// period has its job.
func TestAPeriodWhoseEnqueueFailedIsStillChecked(t *testing.T) {
	cfg := poolConfig(t)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The first insert of a job fails: a sequence is not rolled back with
	// the insert it failed, so the next insert passes.
	if _, err := pool.Exec(t.Context(), `
		CREATE SEQUENCE inserts;
		CREATE FUNCTION fail_the_first() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('inserts') = 1 THEN
				RAISE EXCEPTION 'the database is restarting';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER fail_the_first BEFORE INSERT ON `+Schema+`.river_job
			FOR EACH ROW EXECUTE FUNCTION fail_the_first()`); err != nil {
		t.Fatal(err)
	}
	var c checks
	sched, _ := config.ParseSchedule("@every 10s")
	sched = Aligned(sched)
	// Not at start: the first insert is the leader's, at a period's start.
	start(t, &Runner{Pool: cfg, Check: c.fn("one", 0), GiveUp: giveUpInto(&c, "one"), Workers: 1, Jitter: -1}, jobs("@every 10s", "a"))
	var failedAt time.Time
	waitFor(t, func() bool {
		var called bool
		if err := pool.QueryRow(t.Context(), `SELECT is_called FROM inserts`).Scan(&called); err != nil {
			t.Fatal(err)
		}
		if called {
			failedAt = time.Now()
		}
		return called
	}, "the first enqueue")
	failed := PeriodOf(sched, failedAt)
	time.Sleep(time.Until(sched.Next(failed).Add(time.Second)))
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM `+Schema+`.river_job
		WHERE state = 'completed' AND (args->>'period')::timestamptz = $1`, failed).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the period from %s, whose enqueue failed, has %d completed checks, want one (checks made: %v)", failed.Format(time.TimeOnly), n, c.of("a"))
	}
	// Nor is a period caught up that was not to be checked: without
	// CheckAtStart, the one under way at start.
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM `+Schema+`.river_job
		WHERE (args->>'period')::timestamptz < $1`, failed).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d jobs of periods before the first one after start, want none without CheckAtStart", n)
	}
}

// Without CheckAtStart the period under way at start is not checked: the
// catch-up (see the package doc) leaves it alone too.
func TestWithoutCheckAtStartThePeriodUnderWayIsLeftAlone(t *testing.T) {
	cfg := poolConfig(t)
	var c checks
	start(t, &Runner{Pool: cfg, Check: c.fn("one", 0), GiveUp: giveUpInto(&c, "one"), Workers: 1, Jitter: -1}, jobs("@every 1h", "a"))
	time.Sleep(catchUpEvery + 3*time.Second)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM `+Schema+`.river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 || len(c.of("a")) != 0 {
		t.Errorf("%d jobs and %d checks in the hour under way at start, want none", n, len(c.of("a")))
	}
}

// The catch-up queues thousands of pages in batches, each period once.
func TestCatchUpQueuesManyPagesInBatches(t *testing.T) {
	cfg := poolConfig(t)
	var c checks
	names := make([]string, 2*catchUpBatch+1)
	for i := range names {
		names[i] = fmt.Sprintf("p%04d", i)
	}
	r := &Runner{Pool: cfg, Check: c.fn("one", 0), GiveUp: giveUpInto(&c, "one"), Workers: 1, Jitter: -1}
	start(t, r, jobs("@every 1h", names...))
	waitFor(t, func() bool { next, _ := r.NextRun("shop", names[0]); return !next.IsZero() }, "the runner to start")
	// The next hour, as the catch-up sees it a few seconds in: its jobs
	// are due then, so none runs in this test.
	next := time.Now().Truncate(time.Hour).Add(time.Hour)
	for range 2 {
		if err := r.queueMissing(t.Context(), next.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n, distinct int
	if err := pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT args->>'page') FROM `+Schema+`.river_job
		WHERE (args->>'period')::timestamptz = $1`, next).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != len(names) || distinct != len(names) {
		t.Errorf("%d jobs of %d pages queued for the next hour, want one for each of %d", n, distinct, len(names))
	}
}
