package web

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

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
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
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
	"join": strings.Join,
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

// dashboardData is every page with its state, and the open findings.
type dashboardData struct {
	Pages []pageSummary              `json:"pages"`
	Open  map[skimguard.Severity]int `json:"open_findings"`
}

func (s *Server) loadDashboard(ctx context.Context, r *http.Request) (any, error) {
	pages, err := s.overview(ctx, "", "")
	if err != nil {
		return nil, err
	}
	d := dashboardData{Pages: pages, Open: map[skimguard.Severity]int{}}
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

type findingsData struct {
	Findings []findingJSON `json:"findings"`
}

// loadFindings lists findings newest first, without script texts:
// ?status=open (default), approved, rejected or all; ?site= and ?page=.
func (s *Server) loadFindings(ctx context.Context, r *http.Request) (any, error) {
	f, err := findingFilter(r)
	if err != nil {
		return nil, err
	}
	fs, err := s.store.Findings(ctx, f)
	if err != nil {
		return nil, err
	}
	d := findingsData{Findings: make([]findingJSON, 0, len(fs))}
	for i := len(fs) - 1; i >= 0; i-- {
		if p := r.URL.Query().Get("page"); p == "" || fs[i].Page == p {
			d.Findings = append(d.Findings, asJSON(fs[i], false))
		}
	}
	return d, nil
}

// findingFilter reads ?status= (open by default, or all) and ?site=.
func findingFilter(r *http.Request) (skimguard.FindingFilter, error) {
	var f skimguard.FindingFilter
	switch st := r.URL.Query().Get("status"); st {
	case "", "open":
		f.Status = skimguard.StatusOpen
	case "all":
	case "approved", "rejected":
		f.Status = skimguard.FindingStatus(st)
	default:
		return f, errBadRequest{fmt.Sprintf("unknown status %q: use open, approved, rejected or all", st)}
	}
	if site := r.URL.Query().Get("site"); site != "" {
		f.Sites = []string{site}
	}
	return f, nil
}

func (s *Server) loadFinding(ctx context.Context, r *http.Request) (any, error) {
	id, err := pathID(r, "finding")
	if err != nil {
		return nil, err
	}
	return s.findingDetail(ctx, id)
}

func (s *Server) resolveForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "finding")
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	ctx, cancel := timeout(r)
	defer cancel()
	if err := s.resolve(ctx, identityOf(r), id, r.PathValue("action"), r.PostFormValue("reason")); err != nil {
		s.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/findings/%d", id), http.StatusSeeOther)
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
