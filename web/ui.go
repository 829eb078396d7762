package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/evidence"
	"github.com/skimguard/skimguard/scriptdiff"
)

// view is what every page template gets: who is signed in, the session's
// CSRF token for its forms, and the page's own data.
type view struct {
	User  string
	Role  skimguard.Role
	CSRF  string
	Title string
	Data  any
}

// CanReview reports whether the user may approve and reject findings.
func (v view) CanReview() bool { return v.Role.Allows(skimguard.RoleReviewer) }

var funcs = template.FuncMap{
	"when": formatTime,
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return formatTime(*t)
	},
	"took": func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() },
	"short": func(h string) string {
		h = strings.TrimPrefix(h, skimguard.ScriptHashPrefix)
		if len(h) > 16 {
			return h[:16]
		}
		return h
	},
	"severities": func() []skimguard.Severity {
		return []skimguard.Severity{skimguard.SeverityCritical, skimguard.SeverityHigh, skimguard.SeverityMedium, skimguard.SeverityLow}
	},
	"op": func(o scriptdiff.Op) string {
		switch o {
		case scriptdiff.Insert:
			return "ins"
		case scriptdiff.Delete:
			return "del"
		}
		return "eq"
	},
	"sign": func(o scriptdiff.Op) string {
		switch o {
		case scriptdiff.Insert:
			return "+"
		case scriptdiff.Delete:
			return "-"
		}
		return " "
	},
	"lineno": func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprint(n)
	},
	"join":   strings.Join,
	"reveal": reveal,
	"list":   func(v ...string) []string { return v },
}

// reveal escapes text taken from a page (script text, subjects, details,
// URLs) for HTML, and shows each character a reader could not see there
// (scriptdiff.Hidden: bidirectional controls, zero-width and other format
// characters...) as a marked ⟨U+XXXX⟩ instead, so that the page shows the
// code that runs. Every template shows such text through it.
func reveal(text string) template.HTML {
	var b strings.Builder
	plain := 0
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if !scriptdiff.Hidden(r) {
			i += n
			continue
		}
		b.WriteString(template.HTMLEscapeString(text[plain:i]))
		fmt.Fprintf(&b, `<span class="hidden-char" title="a character that shows nothing or turns text around: U+%04X">⟨U+%04X⟩</span>`, r, r)
		i += n
		plain = i
	}
	b.WriteString(template.HTMLEscapeString(text[plain:]))
	return template.HTML(b.String())
}

func parseTemplates() (map[string]*template.Template, error) {
	pages, err := files.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := strings.TrimSuffix(p.Name(), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+p.Name())
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", p.Name(), err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page. It renders into a buffer first, so that a template
// error gives a clean error page, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	id := identityOf(r)
	v := view{User: id.user, Role: id.role, CSRF: id.csrf, Data: data}
	var b bytes.Buffer
	if err := s.tmpl[name].Execute(&b, v); err != nil {
		s.opts.Logger.Error("page not rendered", "page", name, "err", err)
		http.Error(w, "internal error; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// The loaders below read what a page shows; the API serves the same as JSON.

// dashboardData is every page with its state, the open findings and where
// alerts go.
type dashboardData struct {
	Pages []pageSummary              `json:"pages"`
	Open  map[skimguard.Severity]int `json:"open_findings"`
	// Channels name the alert channels; null when unknown (see
	// Options.Channels), empty when there are none.
	Channels []string `json:"alert_channels"`
}

// Unheard reports whether findings go to no alert channel at all.
func (d dashboardData) Unheard() bool { return d.Channels != nil && len(d.Channels) == 0 }

func (s *Server) loadDashboard(ctx context.Context, r *http.Request) (any, error) {
	pages, err := s.overview(ctx, "", "")
	if err != nil {
		return nil, err
	}
	d := dashboardData{Pages: pages, Open: map[skimguard.Severity]int{}}
	if s.opts.Channels != nil {
		d.Channels = append([]string{}, s.opts.Channels()...)
	}
	if d.Pages == nil {
		d.Pages = []pageSummary{}
	}
	for _, p := range pages {
		for sev, n := range p.Open {
			d.Open[sev] += n
		}
	}
	return d, nil
}

// findingsData is a list of findings; for the page, with its filter and
// the filter's choices.
type findingsData struct {
	Findings []findingJSON    `json:"findings"`
	Filter   listFilter       `json:"-"`
	Sites    []string         `json:"-"`
	Pages    []string         `json:"-"`
	Kinds    []skimguard.Kind `json:"-"`
}

// loadFindings lists findings newest first, without script texts, as
// listFilter reads the query.
func (s *Server) loadFindings(ctx context.Context, r *http.Request) (any, error) {
	d, err := s.findingList(ctx, r)
	if err != nil {
		return nil, err
	}
	slices.Reverse(d.Findings)
	return d, nil
}

// loadFindingList is the findings page: the findings most urgent first,
// with the filter and its choices.
func (s *Server) loadFindingList(ctx context.Context, r *http.Request) (any, error) {
	d, err := s.findingList(ctx, r)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(d.Findings, func(a, b findingJSON) int { return byUrgency(a.Finding, b.Finding) })
	pages, err := s.overview(ctx, "", "")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		d.Sites = append(d.Sites, p.Site)
		d.Pages = append(d.Pages, p.Page)
	}
	slices.Sort(d.Pages)
	d.Sites, d.Pages, d.Kinds = slices.Compact(d.Sites), slices.Compact(d.Pages), skimguard.Kinds
	return d, nil
}

// findingList reads the findings the query asks for, oldest first.
func (s *Server) findingList(ctx context.Context, r *http.Request) (findingsData, error) {
	lf, err := parseListFilter(r.URL.Query())
	if err != nil {
		return findingsData{}, err
	}
	fs, err := s.store.Findings(ctx, lf.storeFilter())
	if err != nil {
		return findingsData{}, err
	}
	d := findingsData{Findings: make([]findingJSON, 0, len(fs)), Filter: lf}
	for _, f := range fs {
		if lf.match(f) {
			d.Findings = append(d.Findings, asJSON(f, false))
		}
	}
	return d, nil
}

// listFilter is what a list of findings shows, from the query parameters
// status (open, the default, approved, rejected or all), site, page and
// kind.
type listFilter struct {
	Status, Site, Page, Kind string
}

func parseListFilter(q url.Values) (listFilter, error) {
	lf := listFilter{Status: q.Get("status"), Site: q.Get("site"), Page: q.Get("page"), Kind: q.Get("kind")}
	switch lf.Status {
	case "", "open", "approved", "rejected", "all":
	default:
		return lf, errBadRequest{fmt.Sprintf("unknown status %q: use open, approved, rejected or all", lf.Status)}
	}
	if lf.Kind != "" && !slices.Contains(skimguard.Kinds, skimguard.Kind(lf.Kind)) {
		return lf, errBadRequest{fmt.Sprintf("unknown kind %q: use one of the kinds the README lists, such as data.exfiltration", lf.Kind)}
	}
	return lf, nil
}

// storeFilter is the part of the filter the store applies.
func (lf listFilter) storeFilter() skimguard.FindingFilter {
	var f skimguard.FindingFilter
	switch lf.Status {
	case "", "open":
		f.Status = skimguard.StatusOpen
	case "all":
	default:
		f.Status = skimguard.FindingStatus(lf.Status)
	}
	if lf.Site != "" {
		f.Sites = []string{lf.Site}
	}
	return f
}

// match applies the rest.
func (lf listFilter) match(f skimguard.Finding) bool {
	return (lf.Page == "" || f.Page == lf.Page) && (lf.Kind == "" || string(f.Kind) == lf.Kind)
}

// Query is the filter as a query string, without "?"; "" when it shows
// the default.
func (lf listFilter) Query() string {
	q := url.Values{}
	for k, v := range map[string]string{"status": lf.Status, "site": lf.Site, "page": lf.Page, "kind": lf.Kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q.Encode()
}

func (s *Server) loadFinding(ctx context.Context, r *http.Request) (any, error) {
	id, err := pathID(r, "finding")
	if err != nil {
		return nil, err
	}
	return s.findingDetail(ctx, id)
}

// resolveForm approves or rejects one finding from its page's form:
// reason and csrf fields; confirm=yes once the reviewer confirmed the
// approval of a critical or high finding.
func (s *Server) resolveForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "finding")
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	ctx, cancel := timeout(r)
	defer cancel()
	back := fmt.Sprintf("/findings/%d", id)
	err = s.resolve(ctx, identityOf(r), []int64{id}, r.PathValue("action"), r.PostFormValue("reason"), r.PostFormValue("confirm") == "yes")
	if s.confirm(w, r, err, confirmData{Approve: back + "/approve", Reject: back + "/reject", Back: back}) {
		return
	}
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// resolveBulk approves or rejects the findings ticked in a list: id
// fields, one reason, the csrf field, and confirm=yes once the reviewer
// confirmed an approval of critical or high findings. It goes back to the
// list as the filter field says it was, or to the finding the finding
// field names.
func (s *Server) resolveBulk(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "the form could not be read: "+err.Error())
		return
	}
	var ids []int64
	for _, v := range r.PostForm["id"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("%q is no finding id", v))
			return
		}
		ids = append(ids, id)
	}
	// Only the filter's own parameters go back into the address.
	lf, err := parseListFilter(parseQuery(r.PostFormValue("filter")))
	if err != nil {
		lf = listFilter{}
	}
	back := "/findings"
	if q := lf.Query(); q != "" {
		back += "?" + q
	}
	// A finding's page sends its incident's findings and expects to come
	// back to it.
	if id, err := strconv.ParseInt(r.PostFormValue("finding"), 10, 64); err == nil && id > 0 {
		back = fmt.Sprintf("/findings/%d", id)
	}
	ctx, cancel := timeout(r)
	defer cancel()
	err = s.resolve(ctx, identityOf(r), ids, r.PathValue("action"), r.PostFormValue("reason"), r.PostFormValue("confirm") == "yes")
	if s.confirm(w, r, err, confirmData{Approve: "/findings/approve", Reject: "/findings/reject", Back: back, IDs: ids, Filter: lf.Query(),
		Finding: r.PostFormValue("finding")}) {
		return
	}
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// parseQuery parses a query string, ignoring what does not parse.
func parseQuery(q string) url.Values {
	v, _ := url.ParseQuery(q)
	return v
}

// confirmData is the second step of approving critical or high findings,
// which takes no script: a page that asks again, the justification
// carried over.
type confirmData struct {
	// Approve and Reject are where the page's form posts; Back is where
	// the reviewer came from.
	Approve, Reject, Back string
	// IDs are the findings of a bulk approval, posted again as id fields
	// (a single finding's ID is in Approve's path); Filter is the list's
	// query and Finding the finding page a bulk form was on, posted again
	// so that the reviewer comes back to where they were.
	IDs     []int64
	Filter  string
	Finding string
	Reason  string
	// Findings are the critical and high findings the approval covers;
	// Total is how many findings it covers in all.
	Findings []findingJSON
	Total    int
}

// confirm shows the confirmation page when err asks for one, and reports
// whether it did.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request, err error, d confirmData) bool {
	var need errConfirm
	if !errors.As(err, &need) {
		return false
	}
	d.Reason, d.Total = need.reason, len(need.ids)
	for _, f := range need.findings {
		d.Findings = append(d.Findings, asJSON(f, false))
	}
	s.render(w, r, "confirm", d)
	return true
}

func (s *Server) loadPage(ctx context.Context, r *http.Request) (any, error) {
	return s.pageDetail(ctx, r.PathValue("site"), r.PathValue("page"))
}

// inventoryCSV downloads the PCI DSS 6.4.3 script inventory of one page,
// or of every page, as the evidence report builds it for the last 30 days.
func (s *Server) inventoryCSV(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := timeout(r)
	defer cancel()
	inv, name, err := s.inventory(ctx, r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	var b bytes.Buffer
	if err := evidence.InventoryCSV(&b, inv); err != nil {
		s.failErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Write(b.Bytes())
}

// inventory is the script inventory of the request's site and page (every
// page when neither is given), with the checks of the last
// evidence.Lookback that verified each script, and a file name for it.
func (s *Server) inventory(ctx context.Context, r *http.Request) ([]evidence.Script, string, error) {
	site, page := r.PathValue("site"), r.PathValue("page")
	if site == "" {
		site = r.URL.Query().Get("site")
	}
	pages, err := s.overview(ctx, site, page)
	if err != nil {
		return nil, "", err
	}
	if len(pages) == 0 && (site != "" || page != "") {
		return nil, "", fmt.Errorf("no page %s %s: %w", site, page, skimguard.ErrNotFound)
	}
	var sites []string
	if site != "" {
		sites = []string{site}
	}
	all, err := s.store.Baselines(ctx, sites)
	if err != nil {
		return nil, "", err
	}
	var bs []skimguard.Baseline
	for _, b := range all {
		if page == "" || b.Page == page {
			bs = append(bs, b)
		}
	}
	now := s.now()
	inv, err := evidence.Inventory(ctx, s.store, bs, now.Add(-evidence.Lookback), now.Add(time.Second))
	if err != nil {
		return nil, "", err
	}
	name := "skimguard-inventory"
	for _, part := range []string{site, page} {
		if part != "" {
			name += "-" + part
		}
	}
	return inv, name + ".csv", nil
}

type scansData struct {
	Scans []skimguard.Scan `json:"scans"`
	Site  string           `json:"-"`
	Page  string           `json:"-"`
}

// loadScans lists scans newest first: ?site=, ?page=, ?limit= (default
// 100).
func (s *Server) loadScans(ctx context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			return nil, errBadRequest{"limit must be a number from 1 to 10000"}
		}
		limit = n
	}
	scans, err := s.store.Scans(ctx, skimguard.ScanFilter{Site: q.Get("site"), Page: q.Get("page"), Limit: limit})
	if err != nil {
		return nil, err
	}
	if scans == nil {
		scans = []skimguard.Scan{}
	}
	return scansData{Scans: scans, Site: q.Get("site"), Page: q.Get("page")}, nil
}

func (s *Server) loadScan(ctx context.Context, r *http.Request) (any, error) {
	id, err := pathID(r, "scan")
	if err != nil {
		return nil, err
	}
	return s.scanDetail(ctx, id)
}

func (s *Server) screenshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := timeout(r)
	defer cancel()
	id, err := pathID(r, "scan")
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	png, err := s.store.Screenshot(ctx, id)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	// Cache-Control stays no-store, as for every page: the screenshot of a
	// payment page is no less sensitive than the page that shows it.
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}

type auditData struct {
	Audit []skimguard.AuditEntry `json:"audit"`
}

// loadAudit lists the audit log newest first.
func (s *Server) loadAudit(ctx context.Context, r *http.Request) (any, error) {
	entries, err := s.store.Audit(ctx)
	if err != nil {
		return nil, err
	}
	slices.Reverse(entries)
	if entries == nil {
		entries = []skimguard.AuditEntry{}
	}
	return auditData{Audit: entries}, nil
}
