package monitor

import (
	"context"
	"errors"
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
// has now failed FailureAlertAfter scans in a row and no failure alert was
// sent for this run of failures yet. Deciding from the stored deliveries
// rather than from the count alone means an alert lost to a crash or
// withheld at shutdown goes out with the next failure.
func (m *Monitor) alertFailure(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, scan *skimguard.Scan, f skimguard.Finding) {
	log := m.logger().With("site", p.Site, "page", p.Name)
	if errors.Is(ctx.Err(), context.Canceled) {
		// The check was stopped (shutdown, Ctrl-C): the page did not fail.
		log.Info("check stopped; no failure alert", "err", ctx.Err())
		return
	}
	ctx = context.WithoutCancel(ctx)
	n := m.failureAlertAfter()
	streak, err := m.failedInARow(ctx, p, 0)
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
	sent, err := m.failureAlerted(ctx, p, streak)
	if err != nil {
		log.Error("cannot read past alerts; alerting this failure", "err", err)
	} else if sent {
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
// already stored, ends a run of failures that was alerted.
func (m *Monitor) alertRecovery(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, scan *skimguard.Scan) {
	ctx = context.WithoutCancel(ctx)
	log := m.logger().With("site", p.Site, "page", p.Name)
	streak, err := m.failedInARow(ctx, p, scan.ID)
	if err != nil {
		log.Error("cannot count failed scans before this one; no recovery alert", "err", err)
		return
	}
	if len(streak) == 0 {
		return
	}
	sent, err := m.failureAlerted(ctx, p, streak)
	if err != nil {
		log.Error("cannot read past alerts; no recovery alert", "err", err)
		return
	}
	if !sent {
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
// first, leaving out the scan with id skip (0 skips none).
func (m *Monitor) failedInARow(ctx context.Context, p skimguard.Page, skip int64) ([]skimguard.Scan, error) {
	// Most runs end within a few scans: read a few, then more. Reading
	// the newest again with a larger limit, rather than paging by time,
	// cannot miss scans that started at the same instant.
	limit := m.failureAlertAfter() + 2
	for {
		scans, err := m.Store.Scans(ctx, skimguard.ScanFilter{Site: p.Site, Page: p.Name, Limit: limit})
		if err != nil {
			return nil, err
		}
		var streak []skimguard.Scan
		ended := limit < 0 || len(scans) < limit
		for _, s := range scans {
			if s.ID == skip {
				continue
			}
			if s.Status != skimguard.ScanFailed {
				ended = true
				break
			}
			streak = append(streak, s)
		}
		if ended {
			return streak, nil
		}
		if limit >= 1<<15 {
			limit = -1 // all
		} else {
			limit *= 8
		}
	}
}

// failureAlerted reports whether a scan.failed notice was sent (or tried)
// for one of the scans of streak.
func (m *Monitor) failureAlerted(ctx context.Context, p skimguard.Page, streak []skimguard.Scan) (bool, error) {
	ids := make([]int64, len(streak))
	for i, s := range streak {
		ids[i] = s.ID
	}
	ds, err := m.Store.Deliveries(ctx, skimguard.DeliveryFilter{Sites: []string{p.Site}, From: streak[len(streak)-1].StartedAt})
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.Page == p.Name && slices.Contains(d.Findings, 0) && slices.Contains(ids, d.ScanID) {
			return true, nil
		}
	}
	return false, nil
}

// reminders returns the findings of scan, already stored, that were open
// before it and got no alert for RemindAfter, with their detail marked as a
// reminder. A finding never alerted (no sinks then) counts from when it was
// first seen. A delivery that failed still counts as an alert: it is
// recorded with its error, and retrying is the sink's job, so that a broken
// sink does not make every check alert the working ones again.
func (m *Monitor) reminders(ctx context.Context, sinks []alerts.Sink, p skimguard.Page, scan *skimguard.Scan) []skimguard.Finding {
	after := m.remindAfter()
	if after < 0 || len(sinks) == 0 {
		return nil
	}
	var still []skimguard.Finding
	for _, f := range scan.Findings {
		if f.ID != 0 && !f.FirstSeen.Equal(f.LastSeen) {
			still = append(still, f)
		}
	}
	if len(still) == 0 {
		return nil
	}
	since := m.now().Add(-after)
	ds, err := m.Store.Deliveries(context.WithoutCancel(ctx), skimguard.DeliveryFilter{Sites: []string{p.Site}, From: since})
	if err != nil {
		m.logger().Error("cannot read past alerts; no reminders this time", "site", p.Site, "page", p.Name, "err", err)
		return nil
	}
	recent := map[int64]bool{}
	for _, d := range ds {
		if d.Page == p.Name && d.At.After(since) {
			for _, id := range d.Findings {
				recent[id] = true
			}
		}
	}
	var out []skimguard.Finding
	for _, f := range still {
		if recent[f.ID] || f.FirstSeen.After(since) {
			continue
		}
		f.Detail = fmt.Sprintf(ReminderPrefix+"still open since %s: %s", f.FirstSeen.UTC().Format(time.RFC3339), f.Detail)
		out = append(out, f)
	}
	return out
}
