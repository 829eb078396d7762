package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
)

// Redelivery: an open finding that a channel was never told about, because
// every delivery of it there failed, is tried again RetryFirst after the
// first failed attempt, then after twice as long each time, at most RetryMax
// apart, until a delivery succeeds. The waits are derived from the attempts
// recorded in the store, so they survive restarts. (Each attempt is the
// sink's own quick retries: Webhook.Retries.)
const (
	RetryFirst = time.Minute
	RetryMax   = time.Hour
)

// retryWait is how long after its failed attempts a pending delivery waits.
func retryWait(failed int) time.Duration {
	if failed <= 0 {
		return 0
	}
	if failed > 16 {
		return RetryMax // and no shift overflows
	}
	return min(RetryFirst<<(failed-1), RetryMax)
}

// told sums up the deliveries of one finding to one sink.
type told struct {
	// ok: a delivery succeeded.
	ok bool
	// failed counts the failed attempts.
	failed int
	// last is when the latest attempt, failed or not, was recorded.
	last time.Time
}

type toldKey struct {
	sink    string
	finding int64
}

// history reads from the store what each sink was told about the findings.
// Sinks are matched by name, so that it holds across restarts.
func (m *Monitor) history(ctx context.Context, sinks []alerts.Sink, fs []skimguard.Finding) (map[toldKey]told, error) {
	ids := make([]int64, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	ds, err := m.Store.Deliveries(ctx, skimguard.DeliveryFilter{Findings: ids, Sinks: alerts.Names(sinks)})
	if err != nil {
		return nil, err
	}
	h := map[toldKey]told{}
	for _, d := range ds {
		for _, id := range d.Findings {
			k := toldKey{d.Sink, id}
			t := h[k]
			if d.OK {
				t.ok = true
			} else {
				t.failed++
			}
			if d.At.After(t.last) {
				t.last = d.At
			}
			h[k] = t
		}
	}
	return h, nil
}

// tell sends each sink, in one alert, the open findings of page p it was
// never told about, when due, and the findings of seen (the check's, nil
// for the sweep) it was last told about RemindAfter ago, as reminders.
// scan is the check's scan, nil for the sweep. It fails only when the
// store cannot say what was told.
func (m *Monitor) tell(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, scan *skimguard.Scan, open, seen []skimguard.Finding) error {
	if len(sinks) == 0 || len(open) == 0 {
		return nil
	}
	h, err := m.history(ctx, sinks, open)
	if err != nil {
		return err
	}
	still := map[int64]bool{}
	for _, f := range seen {
		still[f.ID] = true
	}
	now := m.now()
	after := m.remindAfter()
	for _, sink := range sinks {
		var fs []skimguard.Finding
		for _, f := range open {
			t := h[toldKey{sink.Name(), f.ID}]
			switch {
			case !t.ok && now.Sub(t.last) >= retryWait(t.failed):
				fs = append(fs, f)
			case t.ok && after >= 0 && still[f.ID] && now.Sub(t.last) >= after:
				f.Detail = fmt.Sprintf(ReminderPrefix+"still open since %s: %s", f.FirstSeen.UTC().Format(time.RFC3339), f.Detail)
				fs = append(fs, f)
			}
		}
		if len(fs) > 0 {
			fs = m.claimed(ctx, sink, p, h, fs)
		}
		if len(fs) > 0 {
			m.send(ctx, sink, p, scan, fs)
		}
	}
	return nil
}

// alertFindings tells the sinks about the open findings of scan's page
// after a successful check (see Check for the policy).
func (m *Monitor) alertFindings(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, scan *skimguard.Scan) {
	if len(sinks) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	mu := m.pageLock(p)
	mu.Lock()
	defer mu.Unlock()
	open, err := m.openFindings(ctx, []skimguard.Page{p})
	if err == nil {
		err = m.tell(ctx, sinks, p, scan, open[pageKey(p)], scan.Findings)
	}
	if err != nil {
		// Better a repeated alert than a silent one: the findings this
		// check opened go out to every sink.
		m.logger().Error("cannot read open findings or past alerts; alerting only the findings this check opened",
			"site", p.Site, "page", p.Name, "err", err)
		var opened []skimguard.Finding
		for _, f := range scan.Findings {
			if f.FirstSeen.Equal(f.LastSeen) {
				opened = append(opened, f)
			}
		}
		if len(opened) > 0 {
			m.alert(ctx, sinks, p, scan, opened)
		}
	}
}

// Redeliver tells the sinks about the open findings of the pages that they
// were never told about, when due: findings opened while a sink did not
// exist, and findings whose every delivery to a sink failed, tried again
// under the backoff of RetryFirst. The daemon calls it every minute, at
// start and after a reload, so that a channel that appears or comes back
// is told without waiting for the page's next check. A page whose check
// is delivering at the moment is left to that check. It returns early
// when ctx ends, and fails only when the store does.
func (m *Monitor) Redeliver(ctx context.Context, pages []skimguard.Page) error {
	sinks := m.Sinks()
	if len(sinks) == 0 || len(pages) == 0 {
		return nil
	}
	open, err := m.openFindings(ctx, pages)
	if err != nil {
		return fmt.Errorf("redeliver alerts: %w", err)
	}
	var errs []error
	for _, p := range pages {
		fs := open[pageKey(p)]
		if len(fs) == 0 {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		mu := m.pageLock(p)
		if !mu.TryLock() {
			continue
		}
		err := m.tell(ctx, sinks, p, nil, fs, nil)
		mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("redeliver alerts of %s/%s: %w", p.Site, p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// pageKey names a page in maps.
func pageKey(p skimguard.Page) string { return p.Site + "/" + p.Name }

// openFindings reads the open findings of the pages, by page key.
func (m *Monitor) openFindings(ctx context.Context, pages []skimguard.Page) (map[string][]skimguard.Finding, error) {
	want := map[string]bool{}
	var sites []string
	for _, p := range pages {
		want[pageKey(p)] = true
		if !slices.Contains(sites, p.Site) {
			sites = append(sites, p.Site)
		}
	}
	fs, err := m.Store.Findings(ctx, skimguard.FindingFilter{Sites: sites, Status: skimguard.StatusOpen})
	if err != nil {
		return nil, err
	}
	out := map[string][]skimguard.Finding{}
	for _, f := range fs {
		k := pageKey(skimguard.Page{Site: f.Site, Name: f.Page})
		if want[k] {
			out[k] = append(out[k], f)
		}
	}
	return out, nil
}

// pageLock returns the lock that makes deciding and sending a page's
// deliveries one step, so that a check and the sweep never send one
// finding twice.
func (m *Monitor) pageLock(p skimguard.Page) *sync.Mutex {
	mu, _ := m.delivering.LoadOrStore(pageKey(p), &sync.Mutex{})
	return mu.(*sync.Mutex)
}
