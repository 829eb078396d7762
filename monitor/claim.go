package monitor

import (
	"context"
	"fmt"
	"slices"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
)

// AlertClaimer is a Store that several processes share (postgres.DB, and
// sqlite.DB, which one serve holds but a `skimguard check` may open beside
// it): the monitor claims each alert there before it sends it, so that two
// processes that decide at once to tell a channel about a finding (two
// sweeps, or a sweep and a check) send it once. A store of one process
// (lockfile.Store) needs none: the monitor's per-page lock decides alone.
type AlertClaimer interface {
	// ClaimAlert reports true to the first caller for key, in any process,
	// and again once lease has passed (the claimer died before it
	// recorded the delivery).
	ClaimAlert(ctx context.Context, key string, lease time.Duration) (bool, error)
}

// claimLease is how long a claimed alert is left to its claimer to send
// and record: a webhook's retries take under a minute.
const claimLease = 5 * time.Minute

// claimed returns the findings of fs that this process may tell sink
// about, given what h says the sink was told: all of them when the store
// is not shared. The claim names the history the decision was made from
// (how many deliveries of the finding the sink has), so that a process
// that read the history before another recorded its delivery finds the
// claim taken.
func (m *Monitor) claimed(ctx context.Context, sink alerts.Sink, p skimguard.Page, h map[toldKey]told, fs []skimguard.Finding) []skimguard.Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f skimguard.Finding) bool {
		t := h[toldKey{sink.Name(), f.ID}]
		return !m.claim(ctx, p, sink, fmt.Sprintf("finding/%d/%s/%d/%d", f.ID, sink.Name(), t.failed, t.last.UnixNano()))
	})
}

// claimedSinks returns the sinks of ss that this process may send an
// alert to, key naming the alert to each (a page's run of failures, or its
// recovery, by the success the run follows): all of them when the store is
// not shared.
func (m *Monitor) claimedSinks(ctx context.Context, p skimguard.Page, ss []alerts.Sink, key func(alerts.Sink) string) []alerts.Sink {
	return slices.DeleteFunc(slices.Clone(ss), func(s alerts.Sink) bool { return !m.claim(ctx, p, s, key(s)) })
}

// claim reports whether this process may send the alert key names to
// sink: always when the store is not shared. When the store cannot be
// asked, it may: better a repeated alert than a silent one.
func (m *Monitor) claim(ctx context.Context, p skimguard.Page, sink alerts.Sink, key string) bool {
	c, ok := m.Store.(AlertClaimer)
	if !ok {
		return true
	}
	ok, err := c.ClaimAlert(ctx, key, claimLease)
	if err != nil {
		m.logger().Error("cannot claim an alert for this process; sending it anyway", "site", p.Site, "page", p.Name, "sink", sink.Name(), "alert", key, "err", err)
		return true
	}
	return ok
}
