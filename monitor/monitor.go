// Package monitor runs skimguard's jobs on a set of pages: observe them, learn
// their baselines, check them against their baselines and store and alert
// what changed, and resolve findings. The CLI and the daemon both call it.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/baseline"
)

// Scanner loads a page and returns what it observed; *crawler.Crawler is one.
type Scanner interface {
	Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error)
}

// queuer is a Scanner that tells how many scans wait for it and run
// (*crawler.Crawler does), for the progress lines.
type queuer interface {
	Queue() (waiting, running int)
}

// Monitor ties a scanner, a store and alert sinks together. It must not be
// copied once used.
type Monitor struct {
	Scanner Scanner
	Store   skimguard.Store
	Logger  *slog.Logger
	// Concurrency bounds the page loads in flight; 0 means 4.
	Concurrency int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is told each step of each page as it happens,
	// from several goroutines at once.
	Progress func(p skimguard.Page, step string)
	// Observed, when set, receives every observation a check made, from
	// several goroutines at once: an Observations' Add collects them for
	// ProposeBaselines (check --write-lock).
	Observed func(skimguard.Page, *skimguard.Observation)
	// Scanned, when set, is told of every scan once it is stored, and
	// Delivered of every alert delivery attempt once it is recorded, from
	// several goroutines at once (the daemon's metrics count them).
	Scanned   func(skimguard.Scan)
	Delivered func(skimguard.Delivery)
	// SaveFailed, when set, is told of every scan, alert delivery or
	// baseline that could not be stored, retries spent, from several
	// goroutines at once (the daemon's metrics count them).
	SaveFailed func(error)
	// SaveRetry is how long a save that fails because the store is locked,
	// full or unavailable is tried again, with backoff, before it is given up and
	// reported; 0 means DefaultSaveRetry, a negative value one try only.
	SaveRetry time.Duration
	// Link, when set, gives the address in the web interface where an
	// alert's findings can be reviewed.
	Link func(alerts.Alert) string
	// Approvals, when set, gives the approval rule Resolve applies (sites.yaml's
	// approvals:), read at each call so that a reloaded sites.yaml applies at
	// once; nil means skimguard.ApprovalsOnePerson.
	Approvals func() skimguard.Approvals

	// FailureAlertAfter is how many scans of a page in a row must fail
	// before one scan.failed alert goes out; 0 or less means
	// DefaultFailureAlertAfter. No further failure alert follows while the
	// page keeps failing, except to a channel that was not told yet (its
	// delivery failed, or it was added since), and its next successful scan
	// sends one recovery alert. Failures are counted from the stored scans,
	// so the count survives restarts.
	FailureAlertAfter int
	// RemindAfter is how long an open finding that is still seen may go
	// without an alert to a channel before it is alerted there again as a
	// reminder. 0 means DefaultRemindAfter (the zero Monitor reminds daily);
	// a negative value turns reminders off. The last alert is read from the
	// stored deliveries, so reminders survive restarts.
	RemindAfter time.Duration

	// sinks receive what a check has to tell, under the alert policy (see
	// Check); each attempt is recorded in the Store with its result. It is
	// swapped whole by SetSinks (the daemon's reload) while checks run.
	sinks atomic.Pointer[[]alerts.Sink]
	// delivering holds a *sync.Mutex per page key (see pageLock).
	delivering sync.Map
}

// SetSinks makes sinks the alert channels of the checks that start from
// now on. Checks under way finish with the channels they started with, so
// that one check never alerts half through the old channels and half
// through the new.
func (m *Monitor) SetSinks(sinks []alerts.Sink) {
	sinks = slices.Clone(sinks)
	m.sinks.Store(&sinks)
}

// Sinks returns the alert channels a check starting now would use; none
// until SetSinks.
func (m *Monitor) Sinks() []alerts.Sink {
	if p := m.sinks.Load(); p != nil {
		return *p
	}
	return nil
}

// DefaultSaveRetry is Monitor.SaveRetry when not set: long enough to
// outlast another process's long write (a backup, a VACUUM), short enough
// that a store that stays broken is reported while it matters.
const DefaultSaveRetry = 2 * time.Minute

// NotStoredPrefix starts the detail of each finding alerted from a scan that
// could not be stored. The alert is then the findings' only record, and
// whether they were alerted before cannot be told, so all are sent.
const NotStoredPrefix = "not stored: "

// saveTimeout bounds one attempt to store something: a save takes
// milliseconds, and the store's wait for another process's lock seconds.
const saveTimeout = time.Minute

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Monitor) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// each runs fn for every index in [0,n) with at most m.Concurrency at once.
func (m *Monitor) each(ctx context.Context, n int, fn func(ctx context.Context, i int)) {
	limit := m.Concurrency
	if limit <= 0 {
		limit = 4
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				fn(ctx, i)
			case <-ctx.Done():
				fn(ctx, i) // lets fn record the cancellation for page i
			}
		}()
	}
	wg.Wait()
}

func (m *Monitor) progress(p skimguard.Page, format string, a ...any) {
	if m.Progress != nil {
		m.Progress(p, fmt.Sprintf(format, a...))
	}
}

// save stores a scan, even when ctx was cancelled: the scan is evidence.
// The time it took becomes the observation's Store phase (in memory: the
// stored copy was written before it was known).
func (m *Monitor) save(ctx context.Context, scan *skimguard.Scan) error {
	log := m.logger().With("site", scan.Site, "page", scan.Page)
	start := time.Now()
	err := m.persist(ctx, log, "scan", true, func(ctx context.Context) error { return m.Store.SaveScan(ctx, scan) })
	if err != nil {
		return err
	}
	if o := scan.Observation; o != nil {
		o.Phases.Store = time.Since(start)
		m.progress(skimguard.Page{Site: scan.Site, Name: scan.Page}, "stored in %s", o.Phases.Store.Round(time.Millisecond))
	}
	if m.Scanned != nil {
		m.Scanned(*scan)
	}
	return nil
}

// persist runs save, which stores what (a scan, an alert delivery, a
// baseline), even when ctx was cancelled. While it fails because the store
// is locked, full or unavailable (a database server restarting) and retry
// is true, it is tried again after 1 s, then twice as long each time up to
// 15 s, until SaveRetry has passed; once ctx is done (a stopping daemon)
// no further try is made. A save that fails for good is logged at error
// level, told to SaveFailed and returned.
func (m *Monitor) persist(ctx context.Context, log *slog.Logger, what string, retry bool, save func(context.Context) error) error {
	bound := m.SaveRetry
	if bound == 0 {
		bound = DefaultSaveRetry
	}
	if !retry {
		bound = -1
	}
	start := time.Now()
	wait := time.Second
	for tries := 1; ; tries++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		err := save(actx)
		cancel()
		if err == nil {
			return nil
		}
		passing := errors.Is(err, skimguard.ErrStoreLocked) || errors.Is(err, skimguard.ErrStoreFull) || errors.Is(err, skimguard.ErrStoreUnavailable)
		left := bound - time.Since(start)
		if passing && left > 0 && ctx.Err() == nil {
			wait = min(wait, left)
			log.Warn(what+" not stored yet; trying again", "in", wait, "err", err)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				wait = min(2*wait, 15*time.Second)
				continue
			case <-ctx.Done():
				t.Stop()
			}
		}
		if tries > 1 {
			err = fmt.Errorf("not stored after %d tries in %s: %w", tries, time.Since(start).Round(time.Second), err)
		}
		log.Error(what+" could not be stored", "err", err)
		if m.SaveFailed != nil {
			m.SaveFailed(err)
		}
		return err
	}
}

// observe scans one page and records the scan's timing: from its
// admission by the scanner, the wait for it left out (the observation keeps
// it as Queued). A scan whose ctx was cancelled (not timed out) is stopped,
// not failed.
func (m *Monitor) observe(ctx context.Context, p skimguard.Page) (*skimguard.Scan, error) {
	if q, ok := m.Scanner.(queuer); ok {
		waiting, running := q.Queue()
		m.progress(p, "loading and watching (window %s) once the browser has room: %d scans running, %d waiting", p.Wait, running, waiting)
	} else {
		m.progress(p, "loading and watching (window %s)", p.Wait)
	}
	scan := &skimguard.Scan{Site: p.Site, Page: p.Name, URL: p.URL, StartedAt: m.now()}
	err := ctx.Err()
	var obs *skimguard.Observation
	if err == nil {
		obs, err = m.Scanner.Scan(ctx, p)
		end := m.now()
		// The wait is left out when it happened inside Scan (its
		// observation began that much later); a caller that admitted the
		// check first (serve's scheduler) called observe after the wait.
		if obs != nil && obs.Queued > 0 && obs.StartedAt.Sub(scan.StartedAt) >= obs.Queued {
			scan.StartedAt = scan.StartedAt.Add(obs.Queued)
		}
		scan.Duration = end.Sub(scan.StartedAt)
	}
	// A failed scan keeps what the page showed, when it showed anything
	// (a journey's failed step: its screenshot).
	scan.Observation = obs
	switch {
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		scan.Status, scan.Error = skimguard.ScanStopped, "stopped before it completed: "+err.Error()
		m.logger().Info("scan stopped before it completed", "site", p.Site, "page", p.Name, "err", err)
		m.progress(p, "stopped: %v", err)
		return scan, err
	case err != nil:
		scan.Status, scan.Error = skimguard.ScanFailed, err.Error()
		m.logger().Warn("scan failed", "site", p.Site, "page", p.Name, "err", err)
		m.progress(p, "failed: %v", err)
		return scan, err
	}
	scan.Status = skimguard.ScanObserved
	m.progress(p, "observed %d scripts, %d destinations in %s after %s queued (%s)", len(obs.Scripts), len(obs.Connections),
		scan.Duration.Round(time.Millisecond), obs.Queued.Round(time.Millisecond), obs.Phases)
	return scan, nil
}

// Observe scans the pages and stores what each showed, without comparing.
func (m *Monitor) Observe(ctx context.Context, pages []skimguard.Page) ([]*skimguard.Scan, error) {
	scans := make([]*skimguard.Scan, len(pages))
	errs := make([]error, len(pages))
	m.each(ctx, len(pages), func(ctx context.Context, i int) {
		scan, err := m.observe(ctx, pages[i])
		scans[i] = scan
		if serr := m.save(ctx, scan); serr != nil {
			err = errors.Join(err, serr)
		}
		if err != nil {
			errs[i] = fmt.Errorf("%s/%s: %w", pages[i].Site, pages[i].Name, err)
		}
	})
	return scans, errors.Join(errs...)
}

// LearnOptions says how to take baselines.
type LearnOptions struct {
	// Samples is how many loads of each page to learn from; 0 means 3.
	Samples int
	By      string
	Reason  string
}

// Learn loads each page several times and approves what it saw as the
// page's new baseline, learnt again from its current one when it has one
// (baseline.Relearn): what did not change keeps its first-seen time and
// approval, so re-learning an unchanged page changes nothing. A page whose
// samples fail gets no baseline, and its error is returned with the
// others.
func (m *Monitor) Learn(ctx context.Context, pages []skimguard.Page, opts LearnOptions) ([]*skimguard.Baseline, error) {
	n := opts.Samples
	if n <= 0 {
		n = 3
	}
	scans := make([]*skimguard.Scan, len(pages)*n)
	m.each(ctx, len(scans), func(ctx context.Context, i int) {
		scans[i], _ = m.observe(ctx, pages[i/n])
	})
	var out []*skimguard.Baseline
	var errs []error
	for pi, p := range pages {
		samples := make([]*skimguard.Observation, 0, n)
		var failed error
		for _, scan := range scans[pi*n : (pi+1)*n] {
			if err := m.save(ctx, scan); err != nil {
				return out, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
			}
			if !scan.Status.Completed() {
				failed = errors.New(scan.Error)
				continue
			}
			samples = append(samples, scan.Observation)
		}
		if failed != nil {
			errs = append(errs, fmt.Errorf("%s/%s: no baseline taken, a sample failed: %w", p.Site, p.Name, failed))
			continue
		}
		current, err := m.Store.Baseline(ctx, p.Site, p.Name)
		if errors.Is(err, skimguard.ErrNoBaseline) {
			current = nil
		} else if err != nil {
			return out, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
		}
		b, err := baseline.Relearn(current, samples, opts.By, opts.Reason, m.now())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err))
			continue
		}
		b.Site, b.Page, b.URL = p.Site, p.Name, p.URL
		log := m.logger().With("site", p.Site, "page", p.Name)
		if err := m.persist(ctx, log, "baseline", true, func(ctx context.Context) error { return m.Store.SaveBaseline(ctx, b) }); err != nil {
			return out, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
		}
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}

// Check scans each page, compares it with its approved baseline, stores the
// scan and its findings and alerts the sinks. A page that cannot be checked
// is reported with status failed and a scan.failed finding every time.
//
// Check fails only when the store does. A scan that cannot be stored, even
// after retrying for SaveRetry, is not thrown away: its page's result keeps
// what the check observed, with StoreError saying why it was not stored, its
// findings are alerted (see NotStoredPrefix), and Check returns the error as
// well as the results.
//
// What is alerted follows a policy meant for a daemon that checks every
// page again and again. It holds for each alert channel (sink) on its own,
// and is decided from the stored deliveries, so that it survives restarts:
//   - every open finding of the page the channel was never told about, until
//     a delivery succeeds: findings opened by this check, and those opened
//     while the channel did not exist or whose every delivery failed (those
//     when due: see RetryFirst; Redeliver does the same between checks);
//   - open findings still seen RemindAfter after the channel was last told
//     about them, again as reminders (see RemindAfter);
//   - a page that failed FailureAlertAfter scans in a row, once (again at
//     the next failure to a channel whose delivery failed), and once more
//     when it is next checked successfully (see FailureAlertAfter).
func (m *Monitor) Check(ctx context.Context, pages []skimguard.Page) (skimguard.CheckResult, error) {
	res := skimguard.CheckResult{Pages: make([]skimguard.PageResult, len(pages))}
	errs := make([]error, len(pages))
	// Read once: a reload during the check does not change whom it tells.
	sinks := m.Sinks()
	m.each(ctx, len(pages), func(ctx context.Context, i int) {
		res.Pages[i], errs[i] = m.checkPage(ctx, sinks, pages[i])
	})
	return res, errors.Join(errs...)
}

func (m *Monitor) checkPage(ctx context.Context, sinks []alerts.Sink, p skimguard.Page) (skimguard.PageResult, error) {
	pr := skimguard.PageResult{Page: p}
	b, err := m.Store.Baseline(ctx, p.Site, p.Name)
	if err != nil {
		if !errors.Is(err, skimguard.ErrNoBaseline) {
			pr.Status, pr.Error = skimguard.CheckFailed, "cannot read its baseline: "+err.Error()
			pr.Findings = []skimguard.Finding{failure(p, pr.Error)}
			return pr, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
		}
		pr.Status = skimguard.CheckFailed
		pr.Error = NoBaseline(p)
		pr.Findings = []skimguard.Finding{failure(p, pr.Error)}
		m.alertNoBaseline(ctx, sinks, p, pr.Findings[0])
		return pr, nil
	}
	scan, scanErr := m.observe(ctx, p)
	scan.BaselineVersion = b.Version
	if scan.Observation != nil {
		pr.FinalURL = scan.Observation.FinalURL
	}
	if scanErr == nil {
		if m.Observed != nil {
			m.Observed(p, scan.Observation)
		}
		scan.Findings = baseline.Compare(b, scan.Observation)
		scan.Status = skimguard.ScanOK
		if len(scan.Findings) > 0 {
			scan.Status = skimguard.ScanFindings
		}
	}
	var storeErr error
	if err := m.save(ctx, scan); err != nil {
		pr.StoreError = err.Error()
		storeErr = fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
	}
	if scanErr != nil {
		pr.Status, pr.Error = skimguard.CheckFailed, scan.Error
		f := failure(p, pr.Error)
		// A stopped check is no failure of the page: nothing to alert, and
		// failedInARow does not count it.
		if scan.Status != skimguard.ScanStopped {
			m.alertFailure(ctx, sinks, p, scan, f)
		}
		pr.Findings = []skimguard.Finding{f}
		return pr, storeErr
	}
	pr.Status = skimguard.CheckOK
	if len(scan.Findings) > 0 {
		pr.Status = skimguard.CheckFindings
	}
	pr.Findings = scan.Findings
	if storeErr != nil {
		// Which findings are new cannot be told from a scan not stored:
		// alert them all rather than none.
		fs := slices.Clone(scan.Findings)
		for i := range fs {
			fs[i].Detail = NotStoredPrefix + fs[i].Detail
		}
		m.alert(ctx, sinks, p, scan, fs)
		return pr, storeErr
	}
	m.alertRecovery(ctx, sinks, p, scan)
	m.alertFindings(ctx, sinks, p, scan)
	return pr, nil
}

// NoBaseline says that page p has no approved baseline yet, so that it
// cannot be checked, and how to take one.
func NoBaseline(p skimguard.Page) string {
	return fmt.Sprintf("no approved baseline yet: take one with `skimguard baseline --site %s --reason TEXT`", p.Site)
}

// failure is the finding that says a page could not be checked: a skimmer
// can block scanners too, so it is never silent. It is reported every time
// and alerted under the failure policy (see Monitor.FailureAlertAfter), not
// stored as an open finding: there is nothing to approve.
func failure(p skimguard.Page, msg string) skimguard.Finding {
	return skimguard.Finding{
		Kind: skimguard.KindScanFailed, Severity: skimguard.SeverityHigh,
		Site: p.Site, Page: p.Name, Subject: p.URL,
		Detail: "the page could not be checked: " + msg,
		Status: skimguard.StatusOpen,
	}
}

// alert sends each sink what it takes of fs, found by scan, and records
// each attempt.
func (m *Monitor) alert(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, scan *skimguard.Scan, fs []skimguard.Finding) {
	for _, sink := range sinks {
		m.send(ctx, sink, p, scan, fs)
	}
}

// send delivers to one sink what its route takes of fs, found by scan, and
// records the attempt in the store. A nil scan stands for the latest scan
// that saw the findings (the sweep has none at hand). It delivers even when
// ctx was cancelled: what was found must be told.
func (m *Monitor) send(ctx context.Context, sink alerts.Sink, p skimguard.Page, scan *skimguard.Scan, fs []skimguard.Finding) {
	ctx = context.WithoutCancel(ctx)
	a := alerts.Routed(sink, alerts.Alert{Site: p.Site, Page: p.Name, URL: p.URL, Findings: fs})
	if len(a.Findings) == 0 {
		return
	}
	if scan != nil {
		a.Scan = *scan
		a.Scan.Observation, a.Scan.Findings = nil, nil
	} else {
		// Each finding's ScanID is the latest scan that saw it, at LastSeen.
		a.Scan = skimguard.Scan{Site: p.Site, Page: p.Name, URL: p.URL}
		for _, f := range a.Findings {
			if f.LastSeen.After(a.Scan.StartedAt) {
				a.Scan.ID, a.Scan.StartedAt = f.ScanID, f.LastSeen
			}
		}
	}
	if m.Link != nil {
		a.Link = m.Link(a)
	}
	ids := make([]int64, len(a.Findings))
	for i, f := range a.Findings {
		ids[i] = f.ID
	}
	err := sink.Send(ctx, a)
	d := &skimguard.Delivery{At: m.now(), Sink: sink.Name(), Site: p.Site, Page: p.Name, ScanID: a.Scan.ID, Findings: ids, OK: err == nil}
	if err != nil {
		d.Error = err.Error()
		m.logger().Error("alert not delivered", "site", p.Site, "page", p.Name, "sink", sink.Name(), "err", err)
	}
	// A scan that could not be stored says the store is failing: one try,
	// so that the next sink is not held up.
	log := m.logger().With("site", p.Site, "page", p.Name, "sink", sink.Name())
	m.persist(ctx, log, "alert delivery", a.Scan.ID != 0, func(ctx context.Context) error { return m.Store.SaveDelivery(ctx, d) })
	if m.Delivered != nil {
		m.Delivered(*d)
	}
}

// Resolve approves or rejects open findings. Approval makes a new baseline
// version of each page concerned; the store records who and why. Under the
// two-person rule (m.Approvals), approving a critical or high finding
// takes two different reviewers: the first approval leaves it open.
func (m *Monitor) Resolve(ctx context.Context, ids []int64, res skimguard.Resolution) error {
	if res.Reason == "" {
		return errors.New("a reason is required: say why with --reason")
	}
	if n := utf8.RuneCountInString(res.Reason); n > skimguard.MaxReason {
		return fmt.Errorf("%w: %d characters, at most %d are kept: shorten it and link a ticket for the details",
			skimguard.ErrReasonTooLong, n, skimguard.MaxReason)
	}
	if res.At.IsZero() {
		res.At = m.now()
	}
	res.Approvals = skimguard.ApprovalsOnePerson
	if m.Approvals != nil {
		res.Approvals = m.Approvals()
	}
	return m.Store.ResolveFindings(ctx, ids, res, baseline.Apply)
}
