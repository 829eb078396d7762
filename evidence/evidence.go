// Package evidence builds what an auditor asks of a payment-page monitor for
// a period, from the store: the PCI DSS 6.4.3 script inventory with each
// script's justification and approval, and the 11.6.1 evidence (every scan
// and its result, every change detected, every alert and whether it was
// delivered, who decided what, and whether each page was checked at least
// weekly), as one HTML file, CSV or JSON.
package evidence

import (
	"cmp"
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
	Site   string `json:"site"`
	Page   string `json:"page"`
	Script string `json:"script"`
	Kind   string `json:"kind"`
	Origin string `json:"origin"`
	SHA256 string `json:"sha256"`
	SRI    string `json:"sri,omitempty"`
	// Optional scripts (A/B variants, lazy widgets) need not run on every load.
	Optional  bool      `json:"optional,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	// LastVerified is the last scan in the period that matched the page's
	// baseline after the script's approval: the script ran as approved.
	LastVerified    *time.Time `json:"last_verified,omitempty"`
	Justification   string     `json:"justification"`
	ApprovedBy      string     `json:"approved_by"`
	ApprovedAt      time.Time  `json:"approved_at"`
	BaselineVersion int        `json:"baseline_version"`
}

// Coverage says how often a page was checked in the period (PCI DSS 11.6.1:
// at least weekly).
type Coverage struct {
	Site   string `json:"site"`
	Page   string `json:"page"`
	Scans  int    `json:"scans"`
	Failed int    `json:"failed"`
	// Gaps are the intervals longer than a week without a completed check.
	Gaps   []Gap `json:"gaps"`
	Weekly bool  `json:"weekly"`
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

	end := to
	if now.Before(end) {
		end = now
	}
	for _, p := range pages {
		c := coverage(p, scans, from, end)
		if err := screenshot(ctx, store, &c, scans); err != nil {
			return nil, err
		}
		r.Coverage = append(r.Coverage, c)
	}

	baselines, err := store.Baselines(ctx, sites)
	if err != nil {
		return nil, err
	}
	for _, b := range baselines {
		for _, it := range b.Items {
			if it.Type != skimguard.ItemScript {
				continue
			}
			s := Script{Site: b.Site, Page: b.Page, Script: it.Subject, Kind: it.ScriptKind(), Origin: it.Origin, SHA256: it.SHA256, SRI: it.SRI,
				Optional: it.Optional, FirstSeen: it.FirstSeen, Justification: it.Reason, ApprovedBy: it.ApprovedBy, ApprovedAt: it.ApprovedAt,
				BaselineVersion: b.Version}
			if !it.Optional {
				s.LastVerified = lastMatch(scans, b.Site, b.Page, it.ApprovedAt)
			}
			r.Inventory = append(r.Inventory, s)
		}
	}

	findings, err := store.Findings(ctx, skimguard.FindingFilter{Sites: sites})
	if err != nil {
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

	audit, err := store.Audit(ctx)
	if err != nil {
		return nil, err
	}
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
	slices.SortFunc(r.Inventory, func(a, b Script) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Page, b.Page), cmp.Compare(a.Script, b.Script))
	})
	return r, nil
}

// coverage finds the intervals longer than a week in [from, end) without a
// completed check of p: from the period's start to the first check, between
// checks, and from the last check to the end. A failed scan is not a check.
func coverage(p skimguard.Page, scans []skimguard.Scan, from, end time.Time) Coverage {
	c := Coverage{Site: p.Site, Page: p.Name, Gaps: []Gap{}}
	last := from
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

// lastMatch is the start of the newest scan of the page that matched its
// baseline, at or after since; nil when none did.
func lastMatch(scans []skimguard.Scan, site, page string, since time.Time) *time.Time {
	for _, s := range slices.Backward(scans) {
		if s.Site == site && s.Page == page && s.Status == skimguard.ScanOK && !s.StartedAt.Before(since) {
			at := s.StartedAt
			return &at
		}
	}
	return nil
}
