package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/csp"
	"github.com/skimguard/skimguard/monitor"
)

// The collector: POST /reports/{site}/{token} takes what shoppers'
// browsers report under the policy `skimguard csp` prints. Browsers send
// no credentials, so it needs no sign-in; what guards it is the site's
// random token in the path (stored hashed; any other gives 404), a body
// limit, a rate limit per client address and the checks that each report
// is about one of the site's pages and not a browser extension's doing.
// Its answer says nothing of what the reports held.

// Defaults of Collector.
const (
	// DefaultReportRetention is how long an aggregate is kept after its
	// last report.
	DefaultReportRetention = 30 * 24 * time.Hour
	// DefaultReportRate is how many requests a minute one client address
	// may send. A page load sends a few; behind a proxy every browser
	// shares the proxy's address, so raise it there.
	DefaultReportRate = 600
	// MaxReportBody is the largest request body read; past it, 413.
	MaxReportBody = 64 << 10
)

// ReportCounter is told what the collector did with what it was sent; the
// daemon's metrics are one. Its methods may be called from several
// goroutines at once.
type ReportCounter interface {
	// Received counts n reports of a site kept, by report type.
	Received(site, typ string, n int)
	// Filtered counts n reports of a site not kept, by why: csp.Noise's
	// reasons, "not_a_page" (about no page of the site) or "unread" (of
	// a type skimguard does not read, or missing what it needs).
	Filtered(site, why string, n int)
	// Rejected counts a request refused whole, by why: "token",
	// "too_large", "rate_limited", "media_type", "malformed" or "store".
	// No site is named: a refused request's site is the sender's word.
	Rejected(why string)
}

// Collector configures the report collector; Options.Collector nil
// serves none.
type Collector struct {
	// Reports keeps the aggregates and each site's token hash.
	Reports skimguard.ReportStore
	// Collect adds a page's reports and judges them:
	// (*monitor.Shoppers).Collect.
	Collect func(ctx context.Context, p skimguard.Page, rs []skimguard.ShopperReport) (monitor.Collected, error)
	// Retention is how long an aggregate is kept after its last report;
	// 0 means DefaultReportRetention.
	Retention time.Duration
	// Rate is how many requests a minute one client address may send; 0
	// means DefaultReportRate.
	Rate int
	// Counter, when set, is told what came in and what became of it.
	Counter ReportCounter
}

// NewReportToken makes a site's report token and the hash to store: the
// token goes in the collector's URL and is shown once.
func NewReportToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	token = hex.EncodeToString(b)
	return token, ReportTokenHash(token)
}

// ReportTokenHash is the stored form of a report token.
func ReportTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ReportPath is the collector's path for a site's token.
func ReportPath(site, token string) string {
	return "/reports/" + site + "/" + token
}

// reportRoutes registers the collector, outside the sign-in and exempt
// from cross-origin refusal (shoppers' browsers post from the shop's
// origin), and the signed-in view of what it received.
func (s *Server) reportRoutes(root, app *http.ServeMux, cop *http.CrossOriginProtection) {
	app.HandleFunc("GET /pages/{site}/{page}/reports", s.show("reports", s.loadReports))
	app.HandleFunc("GET /api/v1/pages/{site}/{page}/reports", s.show("", s.loadReports))
	if s.opts.Collector == nil {
		return
	}
	// A copy with the defaults filled in: the caller's stays as it was.
	c := *s.opts.Collector
	s.opts.Collector = &c
	if c.Retention <= 0 {
		c.Retention = DefaultReportRetention
	}
	if c.Rate <= 0 {
		c.Rate = DefaultReportRate
	}
	s.limits = newLimiter(c.Rate)
	const collect = "/reports/{site}/{token}"
	root.HandleFunc("OPTIONS "+collect, s.preflight)
	root.HandleFunc("POST "+collect, s.collect)
	cop.AddInsecureBypassPattern("POST " + collect)
}

// cors lets any origin post reports: the shop's pages are on the
// merchant's origins, and the token, not the origin, says who may.
func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
}

// preflight answers the CORS preflight browsers send before posting
// reports (application/reports+json is no simple content type).
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	if !s.limits.allow(s.clientAddr(r), s.now()) {
		s.refuse(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this address; try again in a minute")
		return
	}
	cors(w)
	w.WriteHeader(http.StatusNoContent)
}

// refuse answers a request the collector will not take, and counts it.
func (s *Server) refuse(w http.ResponseWriter, code int, reason, msg string) {
	if c := s.opts.Collector.Counter; c != nil {
		c.Rejected(reason)
	}
	cors(w)
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	http.Error(w, msg, code)
}

func (s *Server) collect(w http.ResponseWriter, r *http.Request) {
	c := s.opts.Collector
	if !s.limits.allow(s.clientAddr(r), s.now()) {
		s.refuse(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this address; try again in a minute")
		return
	}
	ctx, cancel := timeout(r)
	defer cancel()
	site := r.PathValue("site")
	pages, ok, err := s.reportingSite(ctx, site, r.PathValue("token"))
	if err != nil {
		s.opts.Logger.Error("report token not checked: the store does not answer", "site", site, "err", err)
		s.refuse(w, http.StatusServiceUnavailable, "store", "try again later")
		return
	}
	if !ok {
		// The same answer for an unknown site and a wrong token.
		s.refuse(w, http.StatusNotFound, "token", "no such collector")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReportBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.refuse(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", MaxReportBody))
			return
		}
		s.refuse(w, http.StatusBadRequest, "malformed", "the body could not be read")
		return
	}
	reports, unread, err := csp.Parse(r.Header.Get("Content-Type"), body)
	if errors.Is(err, csp.ErrMediaType) {
		s.refuse(w, http.StatusUnsupportedMediaType, "media_type", err.Error())
		return
	}
	if err != nil {
		s.refuse(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	filtered := func(why string, n int) {
		if c.Counter != nil && n > 0 {
			c.Counter.Filtered(site, why, n)
		}
	}
	filtered("unread", unread)
	now := s.now()
	byPage := map[string][]skimguard.ShopperReport{}
	var order []skimguard.Page
	for _, rep := range reports {
		if why := csp.Noise(rep); why != "" {
			filtered(why, 1)
			continue
		}
		p, ok := pageOf(pages, rep.DocumentURL)
		if !ok {
			filtered("not_a_page", 1)
			continue
		}
		agg, ok := csp.Aggregate(p, rep, now)
		if !ok {
			filtered("unread", 1)
			continue
		}
		if _, seen := byPage[p.Name]; !seen {
			order = append(order, p)
		}
		byPage[p.Name] = append(byPage[p.Name], agg)
		if c.Counter != nil {
			c.Counter.Received(site, string(rep.Type), 1)
		}
	}
	for _, p := range order {
		if _, err := c.Collect(ctx, p, byPage[p.Name]); err != nil {
			s.opts.Logger.Error("shoppers' reports not stored", "site", p.Site, "page", p.Name, "err", err)
			s.refuse(w, http.StatusServiceUnavailable, "store", "try again later")
			return
		}
	}
	s.prune(ctx, now)
	cors(w)
	w.WriteHeader(http.StatusNoContent)
}

// reportingSite returns the site's pages when token is its report token.
func (s *Server) reportingSite(ctx context.Context, site, token string) ([]skimguard.Page, bool, error) {
	var pages []skimguard.Page
	if s.opts.Pages != nil {
		for _, p := range s.opts.Pages() {
			if p.Site == site {
				pages = append(pages, p)
			}
		}
	} else {
		bs, err := s.store.Baselines(ctx, []string{site})
		if err != nil {
			return nil, false, err
		}
		for _, b := range bs {
			pages = append(pages, skimguard.Page{Site: b.Site, Name: b.Page, URL: b.URL})
		}
	}
	if len(pages) == 0 {
		return nil, false, nil
	}
	want, err := s.opts.Collector.Reports.ReportToken(ctx, site)
	if errors.Is(err, skimguard.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	got := ReportTokenHash(token)
	return pages, subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, nil
}

// pageOf finds the page a report's document URL is.
func pageOf(pages []skimguard.Page, documentURL string) (skimguard.Page, bool) {
	for _, p := range pages {
		if csp.SamePage(p.URL, documentURL) {
			return p, true
		}
	}
	return skimguard.Page{}, false
}

// pruneEvery is how often the collector removes aggregates past their
// retention.
const pruneEvery = time.Hour

// prune removes, at most once per pruneEvery, the aggregates last reported
// longer ago than the retention.
func (s *Server) prune(ctx context.Context, now time.Time) {
	s.pruneMu.Lock()
	due := now.Sub(s.pruned) >= pruneEvery
	if due {
		s.pruned = now
	}
	s.pruneMu.Unlock()
	if !due {
		return
	}
	c := s.opts.Collector
	n, err := c.Reports.PruneReports(ctx, now.Add(-c.Retention))
	if err != nil {
		s.opts.Logger.Error("old shoppers' reports not removed", "err", err)
		return
	}
	if n > 0 {
		s.opts.Logger.Info("old shoppers' reports removed", "aggregates", n, "retention", c.Retention)
	}
}

// limiter is a token bucket per client address: rate requests a minute,
// in bursts of up to a tenth of a minute's worth. Addresses live in
// memory only, never in the store.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // per second
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxAddresses bounds the addresses a limiter tracks.
const maxAddresses = 10000

func newLimiter(perMinute int) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: max(float64(perMinute)/10, 10), buckets: map[string]*bucket{}}
}

// allow reports whether addr may make a request now, and counts it.
func (l *limiter) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= maxAddresses {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets the addresses whose bucket is full again: they are as if
// never seen. If none is, every address is forgotten rather than memory
// grown.
func (l *limiter) sweep(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) >= maxAddresses {
		clear(l.buckets)
	}
}

// reportsData is what shoppers' browsers reported about one page.
type reportsData struct {
	Site string `json:"site"`
	Page string `json:"page"`
	URL  string `json:"url"`
	// Retention is how long an aggregate is kept after its last report.
	Retention string `json:"retention"`
	// BaselineVersion is the baseline the reports are compared with now,
	// 0 when the page has none.
	BaselineVersion int `json:"baseline_version"`
	// LastScan is the newest scan that observed the page, which Reports
	// are compared with.
	LastScan *skimguard.Scan `json:"last_scan,omitempty"`
	Reports  []reportRow     `json:"reports"`
}

// reportRow is one aggregate, compared with the current baseline and the
// last scan.
type reportRow struct {
	skimguard.ShopperReport
	// InBaseline is what the current baseline makes of it now (the
	// Verdict was made when it was first reported): approved, finding
	// (the baseline has it not), volatile, information or unjudged.
	InBaseline skimguard.ReportVerdict `json:"baseline_now"`
	// LastScan says how the last scan compares: "same" (it ran that
	// script with that hash, or contacted that origin), "other version"
	// (it ran that script with another hash), "not seen", or "" when
	// there is no scan or nothing to compare.
	LastScan string `json:"last_scan"`
}

// Judged says for people what the current baseline makes of the row.
func (r reportRow) Judged() string {
	switch r.InBaseline {
	case skimguard.VerdictApproved:
		return "in the baseline"
	case skimguard.VerdictFinding:
		return "not in the baseline"
	case skimguard.VerdictVolatile:
		return "varies per load: information"
	case skimguard.VerdictInformation:
		return "information"
	}
	return "no baseline to judge by"
}

// lastScanObservations is how many stored loads tell, for the view,
// which scripts vary per load.
const lastScanObservations = 12

func (s *Server) loadReports(ctx context.Context, r *http.Request) (any, error) {
	site, page := r.PathValue("site"), r.PathValue("page")
	one, err := s.overview(ctx, site, page)
	if err != nil {
		return nil, err
	}
	if len(one) != 1 {
		return nil, fmt.Errorf("page %s/%s: %w", site, page, skimguard.ErrNotFound)
	}
	c := s.opts.Collector
	if c == nil {
		return nil, fmt.Errorf("shoppers' reports of %s/%s: no collector runs here (skimguard serve runs it): %w", site, page, skimguard.ErrNotFound)
	}
	rs, err := c.Reports.Reports(ctx, skimguard.ReportFilter{Site: site, Page: page})
	if err != nil {
		return nil, err
	}
	d := &reportsData{Site: site, Page: page, URL: one[0].URL, Retention: days(c.Retention), Reports: []reportRow{}}
	obs, err := monitor.RecentObservations(ctx, s.store, site, page, lastScanObservations)
	if err != nil {
		return nil, err
	}
	var last *skimguard.Observation
	if len(obs) > 0 {
		last = obs[0]
		scans, err := s.store.Scans(ctx, skimguard.ScanFilter{Site: site, Page: page, Limit: 2 * lastScanObservations})
		if err != nil {
			return nil, err
		}
		for i := range scans {
			if scans[i].Status != skimguard.ScanFailed {
				d.LastScan = &scans[i]
				break
			}
		}
	}
	b, err := s.store.Baseline(ctx, site, page)
	if err != nil && !errors.Is(err, skimguard.ErrNoBaseline) {
		return nil, err
	}
	var volatile []bool
	if b != nil {
		d.BaselineVersion = b.Version
		volatile = baseline.LearntByStructure(b, obs)
	}
	for _, rep := range rs {
		row := reportRow{ShopperReport: rep, InBaseline: skimguard.VerdictUnjudged}
		switch {
		case b == nil:
		case rep.Type == skimguard.ReportScriptHash:
			row.InBaseline, _ = baseline.JudgeReportedScript(b, rep.Subject, rep.Hash, func(i int) bool { return volatile[i] })
		case rep.Type == skimguard.ReportViolation:
			row.InBaseline, _ = baseline.JudgeReportedDestination(b, rep.Subject, rep.Directive)
		default:
			row.InBaseline = skimguard.VerdictInformation
		}
		row.LastScan = compareScan(last, rep)
		d.Reports = append(d.Reports, row)
	}
	return d, nil
}

// compareScan says how an observation compares with an aggregate.
func compareScan(o *skimguard.Observation, rep skimguard.ShopperReport) string {
	if o == nil {
		return ""
	}
	switch rep.Type {
	case skimguard.ReportScriptHash, skimguard.ReportIntegrity:
		found := false
		for _, sc := range o.Scripts {
			if sc.URL == "" || !csp.SamePage(rep.Subject, sc.URL) {
				continue
			}
			if rep.Type == skimguard.ReportIntegrity || skimguard.ScriptHash(strings.ToLower(sc.SHA256)) == rep.Hash {
				return "same"
			}
			found = true
		}
		if found {
			return "other version"
		}
		return "not seen"
	case skimguard.ReportViolation:
		if !strings.Contains(rep.Subject, "://") {
			return ""
		}
		for _, cn := range o.Connections {
			if strings.EqualFold(cn.Origin, rep.Subject) {
				return "same"
			}
		}
		return "not seen"
	}
	return ""
}

// days says a retention for people.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	}
	return d.String()
}
