package monitor

import (
	"context"
	"fmt"
	"slices"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
)

// Defaults of the alert policy.
const (
	// DefaultFailureAlertAfter is Monitor.FailureAlertAfter when not set:
	// one failed load is often a network blip, two in a row rarely are.
	DefaultFailureAlertAfter = 2
	// DefaultRemindAfter is Monitor.RemindAfter when not set.
	DefaultRemindAfter = 24 * time.Hour
)

// RecoveredPrefix starts the detail of the finding a recovery alert carries.
//
// A recovery alert is an alerts.Alert with one finding of kind scan.failed,
// severity low, subject the page's URL and a detail starting with this
// prefix. The alert payload has no field of its own for it, so receivers
// tell a recovery from a failure by severity and prefix. Like failure
// notices, it is not stored as a finding (its id is 0).
const RecoveredPrefix = "recovered: "

// ReminderPrefix starts the detail of a finding alerted again as a
// reminder; the finding keeps its id.
const ReminderPrefix = "reminder: "

func (m *Monitor) failureAlertAfter() int {
	if m.FailureAlertAfter <= 0 {
		return DefaultFailureAlertAfter
	}
	return m.FailureAlertAfter
}

func (m *Monitor) remindAfter() time.Duration {
	if m.RemindAfter == 0 {
		return DefaultRemindAfter
	}
	return m.RemindAfter
}

// alertFailure alerts f, the failure of scan (already stored), when the page
// has now failed FailureAlertAfter scans in a row, to each sink that was not
// told of this run of failures yet. Deciding from the stored deliveries
// rather than from the count alone means an alert lost to a crash, withheld
// at shutdown or failed on every retry goes out with the next failure, and
// a channel added meanwhile hears of it too.
func (m *Monitor) alertFailure(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, scan *skimguard.Scan, f skimguard.Finding) {
	log := m.logger().With("site", p.Site, "page", p.Name)
	ctx = context.WithoutCancel(ctx)
	n := m.failureAlertAfter()
	streak, after, err := m.failedInARow(ctx, p, 0)
	if err != nil {
		// Better a repeated alert than a silent failure.
		log.Error("cannot count failed scans; alerting this failure", "err", err)
		m.alert(ctx, sinks, p, scan, []skimguard.Finding{f})
		return
	}
	if len(streak) < n {
		log.Info("scan failed; not alerted yet", "failed_in_a_row", len(streak), "alert_after", n)
		return
	}
	told, tried, err := m.failureAlerted(ctx, p, streak)
	if err != nil {
		log.Error("cannot read past alerts; alerting this failure", "err", err)
	}
	sinks = slices.DeleteFunc(slices.Clone(sinks), func(s alerts.Sink) bool { return told[s.Name()] })
	// Another process that checked the page at the same time (a `check`
	// beside serve) decides from the same run and attempts: one of them
	// sends. The run is named by the success it follows, which both have
	// stored alike (they may not yet see each other's failures). A
	// channel whose delivery failed is claimed afresh for its retry.
	sinks = m.claimedSinks(ctx, p, sinks, func(s alerts.Sink) string {
		return fmt.Sprintf("failure/%s/%s/%d/%s/%d", p.Site, p.Name, after, s.Name(), tried[s.Name()])
	})
	if len(sinks) == 0 {
		log.Info("page still failing; already alerted", "failed_in_a_row", len(streak))
		return
	}
	since := streak[len(streak)-1].StartedAt
	f.Detail = fmt.Sprintf("the page could not be checked %d times in a row since %s: %s",
		len(streak), since.UTC().Format(time.RFC3339), scan.Error)
	if len(streak) == 1 {
		f.Detail = fmt.Sprintf("the page could not be checked at %s: %s", since.UTC().Format(time.RFC3339), scan.Error)
	}
	m.alert(ctx, sinks, p, scan, []skimguard.Finding{f})
}

// alertRecovery sends one recovery alert when scan, a successful scan
// already stored, ends a run of failures that was alerted, to each sink a
// failure alert was sent (or tried) to.
func (m *Monitor) alertRecovery(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, scan *skimguard.Scan) {
	ctx = context.WithoutCancel(ctx)
	log := m.logger().With("site", p.Site, "page", p.Name)
	streak, after, err := m.failedInARow(ctx, p, scan.ID)
	if err != nil {
		log.Error("cannot count failed scans before this one; no recovery alert", "err", err)
		return
	}
	if len(streak) == 0 {
		return
	}
	_, tried, err := m.failureAlerted(ctx, p, streak)
	if err != nil {
		log.Error("cannot read past alerts; no recovery alert", "err", err)
		return
	}
	sinks = slices.DeleteFunc(slices.Clone(sinks), func(s alerts.Sink) bool { return tried[s.Name()] == 0 })
	sinks = m.claimedSinks(ctx, p, sinks, func(s alerts.Sink) string {
		return fmt.Sprintf("recovery/%s/%s/%d/%s", p.Site, p.Name, after, s.Name())
	})
	if len(sinks) == 0 {
		return
	}
	since := streak[len(streak)-1].StartedAt
	m.alert(ctx, sinks, p, scan, []skimguard.Finding{{
		Kind: skimguard.KindScanFailed, Severity: skimguard.SeverityLow,
		Site: p.Site, Page: p.Name, Subject: p.URL,
		Detail: fmt.Sprintf(RecoveredPrefix+"the page was checked again after %d failed scans (failing since %s)",
			len(streak), since.UTC().Format(time.RFC3339)),
	}})
}

// failedInARow returns the page's latest failed scans in a row, newest
// first, among those stored before the scan with id before (0: all), and
// the id of the scan that did not fail before them (0 when none did).
// Stopped scans say nothing about the page: they neither count nor end a
// run. A success's own run is the one before it, not after: of two
// processes whose checks of a failing page succeed at once (a `check`
// beside serve), the first stored sees the run and the other its success.
func (m *Monitor) failedInARow(ctx context.Context, p skimguard.Page, before int64) (streak []skimguard.Scan, after int64, err error) {
	// Most runs end within a few scans: read a few, then more. Reading
	// the newest again with a larger limit, rather than paging by time,
	// cannot miss scans that started at the same instant.
	limit := m.failureAlertAfter() + 2
	for {
		scans, err := m.Store.Scans(ctx, skimguard.ScanFilter{Site: p.Site, Page: p.Name, Limit: limit})
		if err != nil {
			return nil, 0, err
		}
		streak, after = nil, 0
		ended := limit < 0 || len(scans) < limit
		for _, s := range scans {
			if (before != 0 && s.ID >= before) || s.Status == skimguard.ScanStopped {
				continue
			}
			if s.Status != skimguard.ScanFailed {
				ended, after = true, s.ID
				break
			}
			streak = append(streak, s)
		}
		if ended {
			return streak, after, nil
		}
		if limit >= 1<<15 {
			limit = -1 // all
		} else {
			limit *= 8
		}
	}
}

// failureAlerted returns the sinks, by name, that a scan.failed notice for
// one of the scans of streak was delivered to, and how many times it was
// tried on each.
func (m *Monitor) failureAlerted(ctx context.Context, p skimguard.Page, streak []skimguard.Scan) (told map[string]bool, tried map[string]int, err error) {
	ids := make([]int64, len(streak))
	for i, s := range streak {
		ids[i] = s.ID
	}
	ds, err := m.Store.Deliveries(ctx, skimguard.DeliveryFilter{Sites: []string{p.Site}, From: streak[len(streak)-1].StartedAt, Findings: []int64{0}})
	if err != nil {
		return nil, nil, err
	}
	told, tried = map[string]bool{}, map[string]int{}
	for _, d := range ds {
		if d.Page == p.Name && slices.Contains(ids, d.ScanID) {
			tried[d.Sink]++
			told[d.Sink] = told[d.Sink] || d.OK
		}
	}
	return told, tried, nil
}

// alertNoBaseline tells each sink once that page p has no baseline, so
// that it is not checked; f says so. The notice is recorded as a delivery
// of finding 0 with no scan (none was made), and "once" is read from those:
// a sink that was told is told again only after the page was checked
// against a baseline since, that is, after it had a baseline and lost it.
// The page's newest scan stands for that (a scan compared with a baseline
// records its version): simple, and a restart changes nothing.
func (m *Monitor) alertNoBaseline(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, f skimguard.Finding) {
	if len(sinks) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	log := m.logger().With("site", p.Site, "page", p.Name)
	told, err := m.toldNoBaseline(ctx, sinks, p)
	if err != nil {
		log.Error("cannot read past alerts; alerting the missing baseline", "err", err)
	}
	sinks = slices.DeleteFunc(slices.Clone(sinks), func(s alerts.Sink) bool { return told[s.Name()] })
	if len(sinks) > 0 {
		m.alert(ctx, sinks, p, nil, []skimguard.Finding{f})
	}
}

// toldNoBaseline returns the sinks, by name, that were told that p has no
// baseline since it last had one.
func (m *Monitor) toldNoBaseline(ctx context.Context, sinks []alerts.Sink, p skimguard.Page) (map[string]bool, error) {
	var since time.Time
	scans, err := m.Store.Scans(ctx, skimguard.ScanFilter{Site: p.Site, Page: p.Name, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(scans) == 1 && scans[0].BaselineVersion > 0 {
		since = scans[0].StartedAt
	}
	ds, err := m.Store.Deliveries(ctx, skimguard.DeliveryFilter{Sites: []string{p.Site}, From: since, Findings: []int64{0}, Sinks: alerts.Names(sinks)})
	if err != nil {
		return nil, err
	}
	told := map[string]bool{}
	for _, d := range ds {
		if d.Page == p.Name && d.ScanID == 0 && d.OK {
			told[d.Sink] = true
		}
	}
	return told, nil
}
