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
	// NextCheck is when the daemon checks the page next; Checking, whether
	// a check of it is under way (see Options.NextCheck).
	NextCheck *time.Time `json:"next_check,omitempty"`
	Checking  bool       `json:"checking,omitempty"`
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
				if s.opts.NextCheck != nil {
					next, running := s.opts.NextCheck(pg.Site, pg.Name)
					if !next.IsZero() {
						p.NextCheck = &next
					}
					p.Checking = running
				}
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
	// SentBy names the code behind the finding's requests (the leaks of a
	// data.exfiltration, the requests of a connection.added), one per
	// initiator the crawler recorded; LoadedBy what brought in the script
	// of a script.added or script.changed.
	SentBy   []culprit `json:"sent_by,omitempty"`
	LoadedBy *culprit  `json:"loaded_by,omitempty"`
	// Scan is the latest scan that saw the finding.
	Scan *skimguard.Scan `json:"scan,omitempty"`
	// Screenshot is the address of that scan's screenshot, when it took one.
	Screenshot string `json:"screenshot,omitempty"`
	// Group is the findings one change caused with this one (see groupOf),
	// this one included, when there are others.
	Group []findingJSON `json:"group,omitempty"`
	// Incident says in one sentence what happened when the finding or one
	// of its group is critical: the page then leads with it and with what
	// to do.
	Incident string `json:"incident,omitempty"`
}

// RejectFirst reports whether the page makes rejection its main action:
// for incidents and for findings whose approval asks for confirmation.
func (d *findingDetail) RejectFirst() bool {
	return d.Incident != "" || asksConfirmation(d.Finding.Finding)
}

// OpenGroup counts the open findings of Group, this one included.
func (d *findingDetail) OpenGroup() int {
	n := 0
	for _, f := range d.Group {
		if f.Status == skimguard.StatusOpen {
			n++
		}
	}
	return n
}

// SentByName names the code behind a request's initiator, as SentBy does.
func (d *findingDetail) SentByName(initiator string) string {
	for _, c := range d.SentBy {
		if c.Initiator == initiator {
			return c.Name
		}
	}
	return initiator
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

	open, err := s.store.Findings(ctx, skimguard.FindingFilter{Sites: []string{f.Site}, Status: skimguard.StatusOpen})
	if err != nil {
		return nil, err
	}
	e, err := s.explain(ctx, f, open)
	if err != nil {
		return nil, err
	}
	d.Leaks, d.SentBy, d.LoadedBy, d.Senders = e.leaks, e.sentBy, e.loadedBy, senders(e.sentBy)
	if e.scan != nil {
		if _, err := s.store.Screenshot(ctx, e.scan.ID); err == nil {
			d.Screenshot = fmt.Sprintf("/scans/%d/screenshot.png", e.scan.ID)
		}
		scan := *e.scan
		scan.Observation, scan.Findings = nil, nil
		d.Scan = &scan
	}

	group := groupOf(f, open, e.culpritFindings())
	if len(group) > 1 {
		for _, g := range group {
			d.Group = append(d.Group, asJSON(g, false))
		}
	}
	if isIncident(group) {
		lead, le := group[0], e
		if lead.ID != f.ID && lead.Kind == skimguard.KindDataExfiltration {
			if le, err = s.explain(ctx, lead, open); err != nil {
				return nil, err
			}
		}
		sentBy := "a script the browser did not name"
		if len(le.sentBy) > 0 {
			sentBy = le.sentBy[0].Name
		}
		d.Incident = headline(lead, sentBy)
	}
	return d, nil
}

// explanation is what the latest scan that saw a finding tells about it.
type explanation struct {
	// scan is nil when the finding has none (or it is gone).
	scan     *skimguard.Scan
	leaks    []skimguard.Leak
	sentBy   []culprit
	loadedBy *culprit
}

// explain reads the latest scan that saw f and names the code behind f;
// open are the open findings of f's site.
func (s *Server) explain(ctx context.Context, f skimguard.Finding, open []skimguard.Finding) (*explanation, error) {
	e := &explanation{}
	if f.ScanID == 0 {
		return e, nil
	}
	scan, err := s.store.Scan(ctx, f.ScanID)
	if errors.Is(err, skimguard.ErrNotFound) {
		return e, nil
	}
	if err != nil {
		return nil, err
	}
	e.scan = scan
	o := scan.Observation
	if o == nil {
		return e, nil
	}
	x, err := s.scanScripts(ctx, scan, open)
	if err != nil {
		return nil, err
	}
	// What sent the requests: each with its call chain, when known, whose
	// culprit is named rather than the page's wrapper on top of it.
	type sent struct {
		initiator string
		chain     []skimguard.CallSite
	}
	var initiators []sent
	switch f.Kind {
	case skimguard.KindDataExfiltration:
		e.leaks = leaksTo(o, f.Subject)
		for _, l := range e.leaks {
			initiators = append(initiators, sent{l.Initiator, l.Chain})
		}
	case skimguard.KindConnectionAdded:
		for _, c := range o.Connections {
			if c.Origin != f.Subject {
				continue
			}
			if len(c.Chain) > 0 {
				initiators = append(initiators, sent{c.Chain[0].URL, c.Chain})
			}
			for _, in := range c.Initiators {
				initiators = append(initiators, sent{initiator: in})
			}
		}
	default:
		initiators = append(initiators, sent{initiator: f.Evidence.Initiator})
	}
	seen := map[string]bool{}
	for _, in := range initiators {
		if in.initiator != "" && !seen[in.initiator] {
			seen[in.initiator] = true
			e.sentBy = append(e.sentBy, x.chainCulprit(in.initiator, in.chain))
		}
	}
	if lb := f.Evidence.LoadedBy; (f.Kind == skimguard.KindScriptAdded || f.Kind == skimguard.KindScriptChanged) && lb != "" && lb != "parser" {
		c := x.culprit(lb)
		e.loadedBy = &c
	}
	return e, nil
}

// culpritFindings are the open findings about the scripts that did it:
// the same incident, though perhaps first seen by an earlier scan.
func (e *explanation) culpritFindings() []int64 {
	var ids []int64
	for _, c := range e.sentBy {
		for _, r := range append(c.Chain, c.Suspects...) {
			if r.Finding != 0 {
				ids = append(ids, r.Finding)
			}
		}
	}
	return ids
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

// leaksTo returns the observation's leaks to origin, all its leaks when
// none matches.
func leaksTo(o *skimguard.Observation, origin string) []skimguard.Leak {
	var leaks []skimguard.Leak
	for _, l := range o.Leaks {
		if l.Origin == origin {
			leaks = append(leaks, l)
		}
	}
	if len(leaks) == 0 {
		leaks = o.Leaks
	}
	return leaks
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
	slices.SortFunc(d.Open, func(a, b findingJSON) int { return byUrgency(a.Finding, b.Finding) })
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

// resolve approves or rejects findings for the request's user, as one
// change: one new baseline version per page. Single findings and bulk
// selections, forms and the API all come through here.
//
// Approving a critical or high finding needs confirmed: without it nothing
// changes and the error is an errConfirm naming those findings.
func (s *Server) resolve(ctx context.Context, id identity, ids []int64, action, reason string, confirmed bool) error {
	status := map[string]skimguard.FindingStatus{"approve": skimguard.StatusApproved, "reject": skimguard.StatusRejected}[action]
	if status == "" {
		return errBadRequest{fmt.Sprintf("unknown action %q: use approve or reject", action)}
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return errBadRequest{"no finding selected: tick the findings to " + action}
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errBadRequest{"a justification is required: say why this change is " + string(status)}
	}
	if status == skimguard.StatusApproved && !confirmed {
		fs, err := s.store.Findings(ctx, skimguard.FindingFilter{IDs: ids})
		if err != nil {
			return err
		}
		need := errConfirm{ids: ids, reason: reason}
		for _, f := range fs {
			if asksConfirmation(f) {
				need.findings = append(need.findings, f)
			}
		}
		// Unknown and closed findings are refused below, with nothing to
		// confirm.
		refused := len(fs) < len(ids) || slices.ContainsFunc(fs, func(f skimguard.Finding) bool { return f.Status != skimguard.StatusOpen })
		if len(need.findings) > 0 && !refused {
			slices.SortFunc(need.findings, byUrgency)
			return need
		}
	}
	err := s.opts.Resolve(ctx, ids, skimguard.Resolution{Status: status, By: id.user, Reason: reason, At: s.now()})
	if err != nil {
		return err
	}
	s.opts.Logger.Info("findings resolved", "findings", ids, "status", status, "by", id.user)
	return nil
}

// errConfirm is an approval of critical or high findings that was not
// confirmed: the form asks again, naming them.
type errConfirm struct {
	ids      []int64
	reason   string
	findings []skimguard.Finding
}

func (e errConfirm) Error() string {
	return fmt.Sprintf("approving %d critical or high finding(s) needs confirmation: they may be a skimmer", len(e.findings))
}

// errBadRequest is a request the user can fix; its text says how.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

// scanDetail is one scan: what it observed, without script texts, and the
// findings it was the latest scan to see.
type scanDetail struct {
	Scan     skimguard.Scan `json:"scan"`
	Findings []findingJSON  `json:"findings"`
	// Scripts are the observation's scripts (same order) as culprit
	// names them: each marked against the baseline version the scan was
	// compared with, linked to its open finding, its loader named.
	Scripts    []scriptRef `json:"scripts,omitempty"`
	Screenshot string      `json:"screenshot,omitempty"`
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
	slices.SortFunc(d.Findings, func(a, b findingJSON) int { return byUrgency(a.Finding, b.Finding) })
	scan.Findings = nil
	if o := scan.Observation; o != nil {
		open, err := s.store.Findings(ctx, skimguard.FindingFilter{Sites: []string{scan.Site}, Status: skimguard.StatusOpen})
		if err != nil {
			return nil, err
		}
		x, err := s.scanScripts(ctx, scan, open)
		if err != nil {
			return nil, err
		}
		d.Scripts = x.refs()
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
