package monitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// Shoppers takes in what shoppers' browsers report under a page's policy
// (package csp): it adds their reports to the store's aggregates and
// judges each aggregate new to the store against the page's approved
// baseline. A script hash or a blocked destination the baseline does not
// have opens a finding the way a check does (same kinds, same fingerprints,
// alerted once through Monitor's sinks, approved or rejected the same way),
// marked as reported by shoppers in its evidence. Hashes of scripts the
// baseline knows by structure, scripts without integrity and blocked inline
// code are information, never findings.
type Shoppers struct {
	// Monitor stores findings' alerts, and gives the clock, logger and
	// the baselines' store.
	Monitor *Monitor
	// Store keeps the aggregates.
	Store skimguard.ReportStore
}

// Collected says what one Collect did.
type Collected struct {
	// Dropped counts reports the store would not keep: their page has as
	// many aggregates as it may.
	Dropped int
	// Judged counts the aggregates judged; Opened the findings opened.
	Judged, Opened int
}

// shopperObservations is how many stored loads tell a script whose text
// varies per load (baseline.LearntByStructure) when a reported hash is not
// approved.
const shopperObservations = 12

// Collect adds reports of page p (csp.Aggregate makes them) to the store,
// then judges the aggregates the store hands back as unjudged: it opens
// and alerts the findings they raise, and records every verdict.
func (s *Shoppers) Collect(ctx context.Context, p skimguard.Page, reports []skimguard.ShopperReport) (Collected, error) {
	m := s.Monitor
	log := m.logger().With("site", p.Site, "page", p.Name)
	unjudged, dropped, err := s.Store.AddReports(ctx, reports)
	c := Collected{Dropped: dropped}
	if err != nil {
		return c, fmt.Errorf("%s/%s: store shoppers' reports: %w", p.Site, p.Name, err)
	}
	if dropped > 0 {
		log.Warn("shoppers' reports dropped: the page has as many aggregates as it may", "dropped", dropped, "max", skimguard.MaxReportAggregates)
	}
	if len(unjudged) == 0 {
		return c, nil
	}
	b, err := m.Store.Baseline(ctx, p.Site, p.Name)
	if errors.Is(err, skimguard.ErrNoBaseline) {
		for _, r := range unjudged {
			if err := s.Store.JudgeReport(ctx, r.ID, skimguard.VerdictUnjudged, 0); err != nil {
				return c, err
			}
		}
		c.Judged = len(unjudged)
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("%s/%s: read the baseline to judge shoppers' reports by: %w", p.Site, p.Name, err)
	}

	// Which scripts vary per load is read from stored loads only when a
	// reported hash is not approved.
	var volatile []bool
	var obsErr error
	isVolatile := func(i int) bool {
		if volatile == nil && obsErr == nil {
			var obs []*skimguard.Observation
			if obs, obsErr = RecentObservations(ctx, m.Store, p.Site, p.Name, shopperObservations); obsErr == nil {
				volatile = baseline.LearntByStructure(b, obs)
			}
		}
		return volatile != nil && volatile[i]
	}
	verdicts := make([]skimguard.ReportVerdict, len(unjudged))
	var fs []skimguard.Finding
	var from []int // the aggregate of each finding
	for i, r := range unjudged {
		var f *skimguard.Finding
		switch r.Type {
		case skimguard.ReportScriptHash:
			verdicts[i], f = baseline.JudgeReportedScript(b, r.Subject, r.Hash, isVolatile)
		case skimguard.ReportViolation:
			verdicts[i], f = baseline.JudgeReportedDestination(b, r.Subject, r.Directive)
		default:
			verdicts[i] = skimguard.VerdictInformation
		}
		if f != nil {
			fs = append(fs, reported(*f, r))
			from = append(from, i)
		}
	}
	if obsErr != nil {
		// Better a finding a reviewer closes than a skimmer let through.
		log.Error("cannot read stored loads to tell varying scripts; shoppers' hashes judged as if stable", "err", obsErr)
	}

	now := m.now()
	if len(fs) > 0 {
		// One try: the browser that sent the reports waits for the answer,
		// and an aggregate left unjudged is judged at its next report.
		err := m.persist(ctx, log, "findings reported by shoppers", false, func(ctx context.Context) error {
			return s.Store.SaveReportedFindings(ctx, p, fs, now)
		})
		if err != nil {
			return c, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
		}
	}
	ids := make([]int64, len(unjudged))
	var opened []skimguard.Finding
	for k, f := range fs {
		ids[from[k]] = f.ID
		if f.FirstSeen.Equal(f.LastSeen) {
			opened = append(opened, f)
		}
	}
	for i, r := range unjudged {
		if err := s.Store.JudgeReport(ctx, r.ID, verdicts[i], ids[i]); err != nil {
			return c, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
		}
	}
	c.Judged, c.Opened = len(unjudged), len(opened)
	if len(opened) > 0 {
		log.Warn("shoppers' browsers reported what the baseline does not have", "findings", len(opened))
		// No scan saw these: the alert names none. A channel that misses
		// them is told by the next Redeliver, as for any open finding.
		m.alert(ctx, m.Sinks(), p, nil, opened)
	}
	return c, nil
}

// reported marks a finding as reported by shoppers, with how many reports
// and since when, in its evidence and detail.
func reported(f skimguard.Finding, r skimguard.ShopperReport) skimguard.Finding {
	f.Evidence.Source = skimguard.SourceShoppers
	f.Evidence.Reports = r.Count
	f.Evidence.FirstReported = r.FirstSeen
	var from string
	if len(r.UserAgents) > 0 {
		from = ", from " + strings.Join(r.UserAgents, "; ")
	}
	f.Detail = fmt.Sprintf("reported by shoppers' browsers, not seen by a check (%d report(s) since %s%s): %s",
		r.Count, r.FirstSeen.UTC().Format(time.RFC3339), from, f.Detail)
	return f
}
