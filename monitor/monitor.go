// Package monitor runs skimguard's jobs on a set of pages: observe them, learn
// their baselines, check them against their baselines and store and alert
// what changed, and resolve findings. The CLI and the daemon both call it.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/baseline"
)

// Scanner loads a page and returns what it observed; *crawler.Crawler is one.
type Scanner interface {
	Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error)
}

// Monitor ties a scanner, a store and alert sinks together.
type Monitor struct {
	Scanner Scanner
	Store   skimguard.Store
	// Sinks receive what a check has to tell, under the alert policy below
	// (see Check); each attempt is recorded in the Store with its result.
	Sinks  []alerts.Sink
	Logger *slog.Logger
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
	// Link, when set, gives the address in the web interface where an
	// alert's findings can be reviewed.
	Link func(alerts.Alert) string

	// FailureAlertAfter is how many scans of a page in a row must fail
	// before one scan.failed alert goes out; 0 or less means
	// DefaultFailureAlertAfter. No further failure alert follows while the
	// page keeps failing, and its next successful scan sends one recovery
	// alert. Failures are counted from the stored scans, so the count
	// survives restarts.
	FailureAlertAfter int
	// RemindAfter is how long an open finding that is still seen may go
	// without an alert before it is alerted again as a reminder. 0 means
	// DefaultRemindAfter (the zero Monitor reminds daily); a negative value
	// turns reminders off. The last alert is read from the stored
	// deliveries, so reminders survive restarts.
	RemindAfter time.Duration
}

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
func (m *Monitor) save(ctx context.Context, scan *skimguard.Scan) error {
	if err := m.Store.SaveScan(context.WithoutCancel(ctx), scan); err != nil {
		return err
	}
	if m.Scanned != nil {
		m.Scanned(*scan)
	}
	return nil
}

// observe scans one page and records the scan's timing.
func (m *Monitor) observe(ctx context.Context, p skimguard.Page) (*skimguard.Scan, error) {
	m.progress(p, "loading and watching (window %s)", p.Wait)
	scan := &skimguard.Scan{Site: p.Site, Page: p.Name, URL: p.URL, StartedAt: m.now()}
	if err := ctx.Err(); err != nil {
		scan.Status, scan.Error = skimguard.ScanFailed, err.Error()
		return scan, err
	}
	obs, err := m.Scanner.Scan(ctx, p)
	scan.Duration = m.now().Sub(scan.StartedAt)
	if err != nil {
		// A failed scan keeps what the page showed, when it showed
		// anything (a journey's failed step: its screenshot).
		scan.Observation = obs
		scan.Status, scan.Error = skimguard.ScanFailed, err.Error()
		m.logger().Warn("scan failed", "site", p.Site, "page", p.Name, "err", err)
		m.progress(p, "failed: %v", err)
		return scan, err
	}
	scan.Observation = obs
	scan.Status = skimguard.ScanObserved
	m.progress(p, "observed %d scripts, %d destinations in %s", len(obs.Scripts), len(obs.Connections), scan.Duration.Round(time.Millisecond))
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
			if scan.Status == skimguard.ScanFailed {
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
		if err := m.Store.SaveBaseline(ctx, b); err != nil {
			return out, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
		}
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}

// Check scans each page, compares it with its approved baseline, stores the
// scan and its findings and alerts the sinks. A page that cannot be checked
// is reported with status failed and a scan.failed finding every time;
// Check itself fails only when the store does.
//
// What is alerted follows a policy meant for a daemon that checks every
// page again and again:
//   - newly opened findings, once;
//   - open findings still seen RemindAfter after the last alert about them,
//     again as reminders (see RemindAfter);
//   - a page that failed FailureAlertAfter scans in a row, once, and once
//     more when it is next checked successfully (see FailureAlertAfter).
func (m *Monitor) Check(ctx context.Context, pages []skimguard.Page) (skimguard.CheckResult, error) {
	res := skimguard.CheckResult{Pages: make([]skimguard.PageResult, len(pages))}
	errs := make([]error, len(pages))
	m.each(ctx, len(pages), func(ctx context.Context, i int) {
		res.Pages[i], errs[i] = m.checkPage(ctx, pages[i])
	})
	return res, errors.Join(errs...)
}

func (m *Monitor) checkPage(ctx context.Context, p skimguard.Page) (skimguard.PageResult, error) {
	pr := skimguard.PageResult{Page: p}
	b, err := m.Store.Baseline(ctx, p.Site, p.Name)
	if err != nil {
		if !errors.Is(err, skimguard.ErrNoBaseline) {
			return pr, err
		}
		pr.Status = skimguard.CheckFailed
		pr.Error = fmt.Sprintf("no approved baseline: take one with `skimguard baseline --site %s`", p.Site)
		pr.Findings = []skimguard.Finding{failure(p, pr.Error)}
		return pr, nil
	}
	scan, scanErr := m.observe(ctx, p)
	scan.BaselineVersion = b.Version
	if scan.Observation != nil {
		pr.FinalURL = scan.Observation.FinalURL
	}
	var opened []skimguard.Finding
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
	if err := m.save(ctx, scan); err != nil {
		return pr, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
	}
	if scanErr != nil {
		pr.Status, pr.Error = skimguard.CheckFailed, scanErr.Error()
		f := failure(p, pr.Error)
		m.alertFailure(ctx, p, scan, f)
		pr.Findings = []skimguard.Finding{f}
		return pr, nil
	}
	m.alertRecovery(ctx, p, scan)
	pr.Status = skimguard.CheckOK
	if len(scan.Findings) > 0 {
		pr.Status = skimguard.CheckFindings
	}
	for _, f := range scan.Findings {
		if f.FirstSeen.Equal(f.LastSeen) {
			opened = append(opened, f)
		}
	}
	m.alert(ctx, p, scan, append(opened, m.reminders(ctx, p, scan)...))
	pr.Findings = scan.Findings
	return pr, nil
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

func (m *Monitor) alert(ctx context.Context, p skimguard.Page, scan *skimguard.Scan, fs []skimguard.Finding) {
	if len(fs) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	s := *scan
	s.Observation, s.Findings = nil, nil
	a := alerts.Alert{Site: p.Site, Page: p.Name, URL: p.URL, Scan: s, Findings: fs}
	if m.Link != nil {
		a.Link = m.Link(a)
	}
	var ids []int64
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	for _, sink := range m.Sinks {
		err := sink.Send(ctx, a)
		d := &skimguard.Delivery{At: m.now(), Sink: sink.Name(), Site: p.Site, Page: p.Name, ScanID: scan.ID, Findings: ids, OK: err == nil}
		if err != nil {
			d.Error = err.Error()
			m.logger().Error("alert not delivered", "site", p.Site, "page", p.Name, "sink", sink.Name(), "err", err)
		}
		if err := m.Store.SaveDelivery(ctx, d); err != nil {
			m.logger().Error("alert delivery not recorded", "site", p.Site, "page", p.Name, "sink", sink.Name(), "err", err)
		}
		if m.Delivered != nil {
			m.Delivered(*d)
		}
	}
}

// Resolve approves or rejects open findings. Approval makes a new baseline
// version of each page concerned; the store records who and why.
func (m *Monitor) Resolve(ctx context.Context, ids []int64, res skimguard.Resolution) error {
	if res.Reason == "" {
		return errors.New("a reason is required: say why with --reason")
	}
	if res.At.IsZero() {
		res.At = m.now()
	}
	return m.Store.ResolveFindings(ctx, ids, res, baseline.Apply)
}
