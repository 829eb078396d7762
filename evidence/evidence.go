// Package evidence builds what an auditor asks of a payment-page monitor for
// a period, from the store: the PCI DSS 6.4.3 script inventory with each
// script's justification and approval, and the 11.6.1 evidence (every scan
// and its result, every change detected, every alert and whether it was
// delivered, who decided what, and whether each page was checked at least
// weekly), as one HTML file, CSV or JSON.
package evidence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// Week is the longest interval PCI DSS 11.6.1 allows between checks.
const Week = 7 * 24 * time.Hour

// Report is the evidence for one period.
type Report struct {
	From      time.Time              `json:"from"`
	To        time.Time              `json:"to"`
	Generated time.Time              `json:"generated"`
	Inventory []Script               `json:"inventory"`
	Coverage  []Coverage             `json:"coverage"`
	Scans     []skimguard.Scan       `json:"scans"`
	Changes   []Change               `json:"changes"`
	Decisions []skimguard.AuditEntry `json:"decisions"`
	// Alerts are the alert deliveries of the period with their results.
	Alerts []skimguard.Delivery `json:"alerts"`
}

// Script is one approved script of a payment page (PCI DSS 6.4.3).
type Script struct {
	Site string `json:"site"`
	Page string `json:"page"`
	// Script names the script as it loaded when approved: its URL, with
	// that load's cache busters and session ids, or its place.
	Script string `json:"script"`
	// Identity is what checks recognise the script by from load to load
	// (baseline.Identity): its URL with volatile parts as "*", or its
	// place in the page or a frame.
	Identity string `json:"identity"`
	Kind     string `json:"kind"`
	Origin   string `json:"origin"`
	// SHA256 and SRI are those of the approved text; for a script matched
	// by structure, of one approved load of it.
	SHA256 string `json:"sha256"`
	SRI    string `json:"sri,omitempty"`
	// MatchedBy says how the newest check that showed the script matched
	// it: MatchedByHash (its text was an approved one, byte for byte) or
	// MatchedByStructure (its text varies per load, its structure is the
	// approved one); empty when no check of the period showed it.
	MatchedBy string `json:"matched_by,omitempty"`
	// Optional scripts (A/B variants, lazy widgets) need not run on every load.
	Optional  bool      `json:"optional,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	// LastVerified is the start of the newest check in the period that
	// verified the script: compared with a baseline version holding it
	// unchanged, the script ran as approved (see Inventory). Empty when no
	// check in the period did.
	LastVerified    *time.Time `json:"last_verified,omitempty"`
	Justification   string     `json:"justification"`
	ApprovedBy      string     `json:"approved_by"`
	ApprovedAt      time.Time  `json:"approved_at"`
	BaselineVersion int        `json:"baseline_version"`
	// CardAccess is what of the card the script is approved to see: the
	// card fields it listens to or reads, and how
	// (skimguard.CardAccessSummary); empty when it sees none. PCI DSS
	// 6.4.3 reviewers ask which scripts can see the card.
	CardAccess string `json:"card_access,omitempty"`
}

// How checks matched a script: Script.MatchedBy.
const (
	MatchedByHash      = "hash"
	MatchedByStructure = "structure"
)

// Matched says, for people, when the script is matched by structure
// rather than by its hash; "" otherwise.
func (s Script) Matched() string {
	if s.MatchedBy == MatchedByStructure {
		return "matched by structure: text varies per load"
	}
	return ""
}

// Coverage says how often a page was checked in the period (PCI DSS 11.6.1:
// at least weekly).
type Coverage struct {
	Site   string `json:"site"`
	Page   string `json:"page"`
	Scans  int    `json:"scans"`
	Failed int    `json:"failed"`
	// NotYetMonitored is the part of the period before the page was first
	// monitored (its first scan or first baseline, whichever came first),
	// when monitoring began after the period's start: a page onboarded
	// mid-period was not due for checks before then, so this is no gap. It
	// runs to the period's end when monitoring began after it.
	NotYetMonitored *Gap `json:"not_yet_monitored,omitempty"`
	// Gaps are the intervals longer than a week without a completed check,
	// counted from when the page was first monitored (from the period's
	// start for a page never monitored at all: it is configured, so due).
	Gaps []Gap `json:"gaps"`
	// Weekly is true when there are no gaps.
	Weekly bool `json:"weekly"`
	// Screenshot is the PNG of the page's newest completed scan in the
	// period, taken at ScreenshotAt; the HTML report embeds it.
	Screenshot   []byte     `json:"-"`
	ScreenshotAt *time.Time `json:"screenshot_at,omitempty"`
}

// Gap is an interval without a completed check.
type Gap struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Days is the gap's length in days, for people.
func (g Gap) Days() float64 { return g.To.Sub(g.From).Hours() / 24 }

// Change is a finding first seen in the period, with its review.
type Change struct {
	ID         int64      `json:"id"`
	Site       string     `json:"site"`
	Page       string     `json:"page"`
	Kind       string     `json:"kind"`
	Severity   string     `json:"severity"`
	Subject    string     `json:"subject"`
	Detail     string     `json:"detail"`
	FirstSeen  time.Time  `json:"first_seen"`
	LastSeen   time.Time  `json:"last_seen"`
	Status     string     `json:"status"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// Build gathers the evidence of [from, to) for the pages. now bounds the
// last gap of a period that has not ended yet.
func Build(ctx context.Context, store skimguard.Store, pages []skimguard.Page, from, to, now time.Time) (*Report, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("the period is empty: --from %s is not before --to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	r := &Report{From: from.UTC(), To: to.UTC(), Generated: now.UTC(),
		Inventory: []Script{}, Coverage: []Coverage{}, Scans: []skimguard.Scan{}, Changes: []Change{}, Decisions: []skimguard.AuditEntry{}, Alerts: []skimguard.Delivery{}}
	var sites []string
	for _, p := range pages {
		if !slices.Contains(sites, p.Site) {
			sites = append(sites, p.Site)
		}
	}
	scans, err := store.Scans(ctx, skimguard.ScanFilter{Sites: sites, From: from, To: to, Limit: -1})
	if err != nil {
		return nil, err
	}
	slices.Reverse(scans) // oldest first, as a log reads
	r.Scans = append(r.Scans, scans...)
	audit, err := store.Audit(ctx)
	if err != nil {
		return nil, err
	}

	end := to
	if now.Before(end) {
		end = now
	}
	for _, p := range pages {
		began, err := monitoredFrom(ctx, store, p, scans, audit, from)
		if err != nil {
			return nil, err
		}
		c := coverage(p, scans, from, end, began)
		if err := screenshot(ctx, store, &c, scans); err != nil {
			return nil, err
		}
		r.Coverage = append(r.Coverage, c)
	}

	baselines, err := store.Baselines(ctx, sites)
	if err != nil {
		return nil, err
	}
	findings, err := store.Findings(ctx, skimguard.FindingFilter{Sites: sites})
	if err != nil {
		return nil, err
	}
	if r.Inventory, err = inventory(ctx, store, baselines, scans, findings); err != nil {
		return nil, err
	}

	for _, f := range findings {
		if f.FirstSeen.Before(from) || !f.FirstSeen.Before(to) {
			continue
		}
		c := Change{ID: f.ID, Site: f.Site, Page: f.Page, Kind: string(f.Kind), Severity: string(f.Severity), Subject: f.Subject,
			Detail: f.Detail, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, Status: string(f.Status), ResolvedBy: f.ResolvedBy, Resolution: f.Resolution}
		if !f.ResolvedAt.IsZero() {
			at := f.ResolvedAt
			c.ResolvedAt = &at
		}
		r.Changes = append(r.Changes, c)
	}
	slices.SortStableFunc(r.Changes, func(a, b Change) int { return a.FirstSeen.Compare(b.FirstSeen) })

	for _, a := range audit {
		if !a.At.Before(from) && a.At.Before(to) && (a.Site == "" || slices.Contains(sites, a.Site)) {
			r.Decisions = append(r.Decisions, a)
		}
	}
	alerts, err := store.Deliveries(ctx, skimguard.DeliveryFilter{Sites: sites, From: from, To: to})
	if err != nil {
		return nil, err
	}
	r.Alerts = append(r.Alerts, alerts...)
	return r, nil
}

// monitoredFrom is when monitoring of p began, when that was within the
// period: its first scan (of any result: a failed one was an attempt) or
// its first baseline approval, whichever came first. It is from when the
// page was monitored before the period, or never (a configured page that
// was never scanned is due all the same). scans are the period's, oldest
// first; audit is the whole audit log, which records every baseline.
func monitoredFrom(ctx context.Context, store skimguard.Store, p skimguard.Page, scans []skimguard.Scan, audit []skimguard.AuditEntry, from time.Time) (time.Time, error) {
	before, err := store.Scans(ctx, skimguard.ScanFilter{Site: p.Site, Page: p.Name, To: from, Limit: 1})
	if err != nil {
		return time.Time{}, err
	}
	if len(before) > 0 {
		return from, nil
	}
	var began time.Time
	for _, s := range scans {
		if s.Site == p.Site && s.Page == p.Name {
			began = s.StartedAt
			break
		}
	}
	for _, a := range audit {
		if a.Action == auditBaseline && a.Site == p.Site && a.Page == p.Name {
			if began.IsZero() || a.At.Before(began) {
				began = a.At
			}
			break // the log is oldest first
		}
	}
	if began.IsZero() || began.Before(from) {
		return from, nil
	}
	return began, nil
}

// auditBaseline is the audit log's action for every new baseline version.
const auditBaseline = "baseline.approve"

// coverage finds the intervals longer than a week in [began, end) without
// a completed check of p: from when monitoring began (see monitoredFrom)
// to the first check, between checks, and from the last check to the end.
// A failed scan is not a check. The time from the period's start to began
// is not yet monitored, not a gap.
func coverage(p skimguard.Page, scans []skimguard.Scan, from, end, began time.Time) Coverage {
	c := Coverage{Site: p.Site, Page: p.Name, Gaps: []Gap{}}
	if began.After(from) {
		to := began
		if to.After(end) {
			to = end
		}
		c.NotYetMonitored = &Gap{From: from, To: to}
	}
	last := began
	for _, s := range scans {
		if s.Site != p.Site || s.Page != p.Name || s.Status == skimguard.ScanStopped {
			continue // a check stopped by a shutdown is neither a check nor a failure
		}
		c.Scans++
		if s.Status == skimguard.ScanFailed {
			c.Failed++
			continue
		}
		if s.StartedAt.Sub(last) > Week {
			c.Gaps = append(c.Gaps, Gap{From: last, To: s.StartedAt})
		}
		last = s.StartedAt
	}
	if end.Sub(last) > Week {
		c.Gaps = append(c.Gaps, Gap{From: last, To: end})
	}
	c.Weekly = len(c.Gaps) == 0
	return c
}

// screenshot attaches the newest screenshot of the page's completed scans,
// looking back past scans that took none.
func screenshot(ctx context.Context, store skimguard.Store, c *Coverage, scans []skimguard.Scan) error {
	for _, s := range slices.Backward(scans) {
		if s.Site != c.Site || s.Page != c.Page || s.Status == skimguard.ScanFailed {
			continue
		}
		png, err := store.Screenshot(ctx, s.ID)
		if errors.Is(err, skimguard.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		at := s.StartedAt
		c.Screenshot, c.ScreenshotAt = png, &at
		return nil
	}
	return nil
}
