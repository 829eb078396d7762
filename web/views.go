package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/evidence"
	"github.com/skimguard/skimguard/scriptdiff"
)

// What the interface shows is gathered here once and rendered twice: as
// HTML for people and as JSON for the API.

// pageSummary is one page on the dashboard.
type pageSummary struct {
	Site string `json:"site"`
	Page string `json:"page"`
	URL  string `json:"url"`
	// Configured: the page is in sites.yaml (else it is only in the store).
	Configured bool `json:"configured"`
	// BaselineVersion is the current baseline's version, 0 when none.
	BaselineVersion int             `json:"baseline_version"`
	LastScan        *skimguard.Scan `json:"last_scan,omitempty"`
	// Open counts the open findings by severity.
	Open map[skimguard.Severity]int `json:"open_findings"`
}

// OpenTotal is the number of open findings.
func (p pageSummary) OpenTotal() int {
	n := 0
	for _, c := range p.Open {
		n += c
	}
	return n
}

// overview summarises every configured page and every page with a
// baseline, or only those of site and page when they are not empty.
func (s *Server) overview(ctx context.Context, site, page string) ([]pageSummary, error) {
	byKey := map[[2]string]*pageSummary{}
	var out []*pageSummary
	// add returns the page's summary, made on first sight; nil for a page
	// not asked for.
	add := func(st, pg, url string) *pageSummary {
		if (site != "" && st != site) || (page != "" && pg != page) {
			return nil
		}
		k := [2]string{st, pg}
		if p := byKey[k]; p != nil {
			return p
		}
		p := &pageSummary{Site: st, Page: pg, URL: url, Open: map[skimguard.Severity]int{}}
		byKey[k] = p
		out = append(out, p)
		return p
	}
	if s.opts.Pages != nil {
		for _, pg := range s.opts.Pages() {
			if p := add(pg.Site, pg.Name, pg.URL); p != nil {
				p.Configured = true
			}
		}
	}
	var sites []string
	if site != "" {
		sites = []string{site}
	}
	bs, err := s.store.Baselines(ctx, sites)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if p := add(b.Site, b.Page, b.URL); p != nil {
			p.BaselineVersion = b.Version
		}
	}
	open, err := s.store.Findings(ctx, skimguard.FindingFilter{Sites: sites, Status: skimguard.StatusOpen})
	if err != nil {
		return nil, err
	}
	for _, f := range open {
		if p := add(f.Site, f.Page, ""); p != nil {
			p.Open[f.Severity]++
		}
	}
	for _, p := range out {
		scans, err := s.store.Scans(ctx, skimguard.ScanFilter{Site: p.Site, Page: p.Page, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(scans) > 0 {
			p.LastScan = &scans[0]
			if p.URL == "" {
				p.URL = scans[0].URL
			}
		}
	}
	slices.SortFunc(out, func(a, b *pageSummary) int {
		return cmp.Or(strings.Compare(a.Site, b.Site), strings.Compare(a.Page, b.Page))
	})
	res := make([]pageSummary, len(out))
	for i, p := range out {
		res[i] = *p
	}
	return res, nil
}

// findingJSON is a finding with its review state, as the API shows it.
type findingJSON struct {
	skimguard.Finding
	Status     skimguard.FindingStatus `json:"status"`
	ScanID     int64                   `json:"scan_id"`
	FirstSeen  time.Time               `json:"first_seen"`
	LastSeen   time.Time               `json:"last_seen"`
	ResolvedBy string                  `json:"resolved_by,omitempty"`
	Resolution string                  `json:"resolution,omitempty"`
	ResolvedAt *time.Time              `json:"resolved_at,omitempty"`
	// FirstApproval is the approval that, under the two-person rule,
	// waits for a second reviewer (or that the second confirmed).
	FirstApproval *skimguard.Approval `json:"first_approval,omitempty"`
}

// asJSON shows f; without sources, for lists, it leaves out the script
// texts, which can be megabytes each.
func asJSON(f skimguard.Finding, sources bool) findingJSON {
	if !sources {
		f.Evidence.BeforeSource, f.Evidence.AfterSource = "", ""
	}
	j := findingJSON{Finding: f, Status: f.Status, ScanID: f.ScanID, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen,
		ResolvedBy: f.ResolvedBy, Resolution: f.Resolution, FirstApproval: f.FirstApproval}
	if !f.ResolvedAt.IsZero() {
		t := f.ResolvedAt
		j.ResolvedAt = &t
	}
	return j
}

// findingDetail is everything the interface shows about one finding.
type findingDetail struct {
	Finding findingJSON `json:"finding"`
	// Diff is a changed script's two versions compared line by line,
	// pretty-printed when minified.
	Diff        *scriptdiff.Result `json:"-"`
	UnifiedDiff string             `json:"diff,omitempty"`
	// Source is an added or removed script's text, pretty-printed when
	// minified.
	Source string `json:"-"`
	// Leaks are the requests of the finding's scan that carried the test
	// card data to the finding's origin (card data masked), and Senders
	// the scripts that may have sent them.
	Leaks   []skimguard.Leak   `json:"leaks,omitempty"`
	Senders []skimguard.Script `json:"senders,omitempty"`
	// Scan is the latest scan that saw the finding.
	Scan *skimguard.Scan `json:"scan,omitempty"`
	// Screenshot is the address of that scan's screenshot, when it took one.
	Screenshot string `json:"screenshot,omitempty"`
}

func (s *Server) findingDetail(ctx context.Context, id int64) (*findingDetail, error) {
	fs, err := s.store.Findings(ctx, skimguard.FindingFilter{IDs: []int64{id}})
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("finding %d: %w", id, skimguard.ErrNotFound)
	}
	f := fs[0]
	d := &findingDetail{Finding: asJSON(f, true)}
	ev := f.Evidence
	switch {
	case f.Kind == skimguard.KindScriptChanged && (ev.BeforeSource != "" || ev.AfterSource != ""):
		r := scriptdiff.Diff(ev.BeforeSource, ev.AfterSource)
		d.Diff = &r
		d.UnifiedDiff = r.Unified("approved "+ev.Before, "observed "+ev.After)
	case ev.AfterSource != "":
		d.Source = readable(ev.AfterSource)
	case ev.BeforeSource != "":
		d.Source = readable(ev.BeforeSource)
	}
	if f.ScanID == 0 {
		return d, nil
	}
	scan, err := s.store.Scan(ctx, f.ScanID)
	if errors.Is(err, skimguard.ErrNotFound) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Screenshot(ctx, scan.ID); err == nil {
		d.Screenshot = fmt.Sprintf("/scans/%d/screenshot.png", scan.ID)
	}
	if f.Kind == skimguard.KindDataExfiltration && scan.Observation != nil {
		d.Leaks, d.Senders = leaksTo(scan.Observation, f.Subject)
	}
	scan.Observation, scan.Findings = nil, nil
	d.Scan = scan
	return d, nil
}

// maxShown caps a script text shown on a page; the API has it whole.
const maxShown = 1 << 20

// readable pretty-prints minified code and leaves the rest as it is,
// cut at maxShown: a hostile page can serve scripts of any size.
func readable(src string) string {
	cut := len(src) > maxShown
	if cut {
		src = strings.ToValidUTF8(src[:maxShown], "")
	}
	if scriptdiff.Minified(src) {
		src = scriptdiff.Pretty(src)
	}
	if cut {
		src += "\n/* … cut by skimguard: the script is longer than 1 MiB; the API has it whole */"
	}
	return src
}

// leaksTo returns the observation's leaks to origin (all its leaks when
// none matches) and the scripts that sent them: the external script of
// the initiator's URL, else the inline and dynamic code of the document
// at that URL, where the sending script then hides.
func leaksTo(o *skimguard.Observation, origin string) ([]skimguard.Leak, []skimguard.Script) {
	var leaks []skimguard.Leak
	for _, l := range o.Leaks {
		if l.Origin == origin {
			leaks = append(leaks, l)
		}
	}
	if len(leaks) == 0 {
		leaks = o.Leaks
	}
	var senders []skimguard.Script
	seen := map[string]bool{}
	for _, l := range leaks {
		if l.Initiator == "" || seen[l.Initiator] {
			continue
		}
		seen[l.Initiator] = true
		var inDoc []skimguard.Script
		found := false
		for _, sc := range o.Scripts {
			switch {
			case sc.URL == l.Initiator:
				senders = append(senders, sc)
				found = true
			case sc.URL == "" && sc.Frame == l.Initiator:
				inDoc = append(inDoc, sc)
			}
		}
		if !found {
			senders = append(senders, inDoc...)
		}
	}
	for i := range senders {
		senders[i].Source = readable(senders[i].Source)
	}
	return leaks, senders
}

// version is one baseline version with what changed from the one before.
type version struct {
	Version    int       `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	ApprovedBy string    `json:"approved_by"`
	Reason     string    `json:"reason"`
	Samples    int       `json:"samples"`
	Items      int       `json:"items"`
	// Added, Removed and Changed name the items (type and subject) that
	// differ from the previous version.
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}

// history lists a page's baseline versions, newest first, each with what
// changed from the one before it.
func history(bs []skimguard.Baseline) []version {
	out := make([]version, len(bs))
	for i, b := range bs {
		v := version{Version: b.Version, CreatedAt: b.CreatedAt, ApprovedBy: b.ApprovedBy, Reason: b.Reason,
			Samples: b.Samples, Items: len(b.Items), Added: []string{}, Removed: []string{}, Changed: []string{}}
		if i+1 < len(bs) {
			v.Added, v.Removed, v.Changed = baseline.Diff(bs[i+1].Items, b.Items)
		}
		out[i] = v
	}
	return out
}

// pageDetail is everything the interface shows about one page.
type pageDetail struct {
	Summary  pageSummary         `json:"page"`
	Open     []findingJSON       `json:"open_findings"`
	Baseline *skimguard.Baseline `json:"-"`
	// Inventory is the current baseline's scripts with the checks of the
	// last evidence.Lookback that verified them.
	Inventory []evidence.Script `json:"-"`
	History   []version         `json:"baselines"`
	Scans     []skimguard.Scan  `json:"scans"`
}

func (s *Server) pageDetail(ctx context.Context, site, page string) (*pageDetail, error) {
	one, err := s.overview(ctx, site, page)
	if err != nil {
		return nil, err
	}
	if len(one) != 1 {
		return nil, fmt.Errorf("page %s/%s: %w", site, page, skimguard.ErrNotFound)
	}
	d := &pageDetail{Summary: one[0], Open: []findingJSON{}, History: []version{}}
	open, err := s.store.Findings(ctx, skimguard.FindingFilter{Sites: []string{site}, Status: skimguard.StatusOpen})
	if err != nil {
		return nil, err
	}
	for _, f := range open {
		if f.Page == page {
			d.Open = append(d.Open, asJSON(f, false))
		}
	}
	slices.SortStableFunc(d.Open, func(a, b findingJSON) int { return b.Severity.Rank() - a.Severity.Rank() })
	bs, err := s.store.BaselineVersions(ctx, site, page)
	switch {
	case errors.Is(err, skimguard.ErrNoBaseline):
	case err != nil:
		return nil, err
	default:
		d.Baseline = &bs[0]
		d.History = history(bs)
		now := s.now()
		if d.Inventory, err = evidence.Inventory(ctx, s.store, bs[:1], now.Add(-evidence.Lookback), now.Add(time.Second)); err != nil {
			return nil, err
		}
	}
	if d.Scans, err = s.store.Scans(ctx, skimguard.ScanFilter{Site: site, Page: page, Limit: 50}); err != nil {
		return nil, err
	}
	return d, nil
}

// resolve approves or rejects one finding for the request's user.
func (s *Server) resolve(ctx context.Context, id identity, findingID int64, action, reason string) error {
	status := map[string]skimguard.FindingStatus{"approve": skimguard.StatusApproved, "reject": skimguard.StatusRejected}[action]
	if status == "" {
		return errBadRequest{fmt.Sprintf("unknown action %q: use approve or reject", action)}
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errBadRequest{"a justification is required: say why this change is " + string(status)}
	}
	err := s.opts.Resolve(ctx, []int64{findingID}, skimguard.Resolution{Status: status, By: id.user, Reason: reason, At: s.now()})
	if err != nil {
		return err
	}
	s.opts.Logger.Info("finding resolved", "finding", findingID, "status", status, "by", id.user)
	return nil
}

// errBadRequest is a request the user can fix; its text says how.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

// scanDetail is one scan: what it observed, without script texts, and the
// findings it was the latest scan to see.
type scanDetail struct {
	Scan       skimguard.Scan `json:"scan"`
	Findings   []findingJSON  `json:"findings"`
	Screenshot string         `json:"screenshot,omitempty"`
}

func (s *Server) scanDetail(ctx context.Context, id int64) (*scanDetail, error) {
	scan, err := s.store.Scan(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &scanDetail{Findings: []findingJSON{}}
	for _, f := range scan.Findings {
		d.Findings = append(d.Findings, asJSON(f, false))
	}
	scan.Findings = nil
	if o := scan.Observation; o != nil {
		obs := *o
		obs.Scripts = slices.Clone(o.Scripts)
		for i := range obs.Scripts {
			obs.Scripts[i].Source = ""
		}
		scan.Observation = &obs
	}
	d.Scan = *scan
	if _, err := s.store.Screenshot(ctx, id); err == nil {
		d.Screenshot = fmt.Sprintf("/scans/%d/screenshot.png", id)
	}
	return d, nil
}
