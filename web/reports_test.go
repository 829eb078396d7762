package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/sqlite"
)

const (
	shopPage = "https://shop.test/checkout"
	shopLib  = "https://shop.test/lib.min.js"
	agent    = "Mozilla/5.0 TestBrowser/1.0"
)

// counts is a ReportCounter that remembers what it was told.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) add(k string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k] += n
}
func (c *counts) Received(site, typ string, n int) { c.add("received "+site+" "+typ, n) }
func (c *counts) Filtered(site, why string, n int) { c.add("filtered "+site+" "+why, n) }
func (c *counts) Rejected(why string)              { c.add("rejected "+why, 1) }
func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.n)
}
func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// lockedBuffer is an alert console safe to read while the server writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// collectorFixture is a server with the collector on a real store that
// holds the shop's baseline and one check of it, the site's token, and
// an alert console.
type collectorFixture struct {
	dir     string
	store   *sqlite.DB
	srv     *httptest.Server
	token   string
	counted *counts
	alerted *lockedBuffer
}

func shopObservation() *skimguard.Observation {
	o := observation(libV1, false)
	o.URL, o.FinalURL = shopPage, shopPage
	o.Scripts[0].URL, o.Scripts[0].Frame = shopLib, shopPage
	o.Connections = []skimguard.Connection{{Origin: "https://shop.test", Types: []string{"Document", "Script"}, Count: 2}}
	return o
}

func newCollectorFixture(t *testing.T) *collectorFixture {
	t.Helper()
	ctx := context.Background()
	f := &collectorFixture{dir: t.TempDir(), counted: &counts{}, alerted: &lockedBuffer{}}
	store, err := sqlite.Open(ctx, filepath.Join(f.dir, "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store = store
	clean := shopObservation()
	b, err := baseline.Learn([]*skimguard.Observation{clean}, "alice", "onboarding", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "checkout", shopPage
	if err := store.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	scan := &skimguard.Scan{Site: "shop", Page: "checkout", URL: shopPage, StartedAt: time.Now().Add(-time.Minute), Status: skimguard.ScanOK,
		BaselineVersion: b.Version, Observation: clean}
	if err := store.SaveScan(ctx, scan); err != nil {
		t.Fatal(err)
	}
	token, hash := NewReportToken()
	if err := store.SetReportToken(ctx, "shop", hash, "alice"); err != nil {
		t.Fatal(err)
	}
	f.token = token
	mon := &monitor.Monitor{Store: store}
	mon.SetSinks([]alerts.Sink{alerts.Console{W: f.alerted}})
	s, err := New(Options{
		Store: store, Resolve: mon.Resolve, Token: apiToken,
		Pages:  func() []skimguard.Page { return []skimguard.Page{{Site: "shop", Name: "checkout", URL: shopPage}} },
		Logger: slog.New(slog.DiscardHandler),
		Collector: &Collector{Reports: store, Collect: (&monitor.Shoppers{Monitor: mon, Store: store}).Collect,
			Rate: 60, Counter: f.counted},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// from is a client whose connections come from the loopback address ip,
// so that each test has a rate limit of its own.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// post sends body to path as contentType and returns the status.
func (f *collectorFixture) post(t *testing.T, c *http.Client, path, contentType string, body []byte, headers ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// reports is a Reporting API batch.
func reports(rs ...map[string]any) []byte {
	for _, r := range rs {
		r["user_agent"] = agent
		r["url"] = shopPage + "?order=1"
	}
	b, _ := json.Marshal(rs)
	return b
}

func cspHash(scriptURL, src string) map[string]any {
	h := sha256.Sum256([]byte(src))
	return map[string]any{"type": "csp-hash", "body": map[string]any{"destination": "script", "documentURL": shopPage + "?order=1",
		"hash": "sha256-" + base64.StdEncoding.EncodeToString(h[:]), "subresourceURL": scriptURL, "type": "subresource"}}
}

func violation(doc, blocked, directive string, more ...string) map[string]any {
	body := map[string]any{"documentURL": doc, "blockedURL": blocked, "effectiveDirective": directive, "disposition": "report"}
	for i := 0; i+1 < len(more); i += 2 {
		body[more[i]] = more[i+1]
	}
	return map[string]any{"type": "csp-violation", "body": body}
}

func (f *collectorFixture) aggregates(t *testing.T) []skimguard.ShopperReport {
	t.Helper()
	rs, err := f.store.Reports(context.Background(), skimguard.ReportFilter{Site: "shop", Page: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestCollectorTakesWhatShoppersBrowsersReport(t *testing.T) {
	f := newCollectorFixture(t)
	path := ReportPath("shop", f.token)
	// Each subtest posts from an address of its own: the rate limit is
	// per address.
	addrs := []string{"127.0.0.9"}
	next := func() *http.Client {
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d", 20+len(addrs)))
		return from(addrs[len(addrs)-1])
	}
	c := from(addrs[0])

	t.Run("the CORS preflight is answered", func(t *testing.T) {
		req, _ := http.NewRequest("OPTIONS", f.srv.URL+path, nil)
		req.Header.Set("Origin", "https://shop.test")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
			h.Get("Access-Control-Allow-Methods") != "POST" || !strings.EqualFold(h.Get("Access-Control-Allow-Headers"), "content-type") {
			t.Fatalf("%d %v", resp.StatusCode, h)
		}
	})
	t.Run("a browser's cross-site report of the approved script is kept without sign-in", func(t *testing.T) {
		resp := f.post(t, c, path, "application/reports+json", reports(cspHash(shopLib, libV1)),
			"Origin", "https://shop.test", "Sec-Fetch-Site", "cross-site")
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		rs := f.aggregates(t)
		if len(rs) != 1 || rs[0].Verdict != skimguard.VerdictApproved || rs[0].Subject != shopLib || rs[0].UserAgents[0] != agent {
			t.Fatalf("aggregates %+v", rs)
		}
		if f.counted.get("received shop csp-hash") != 1 {
			t.Errorf("counted %v", f.counted)
		}
	})
	t.Run("a wrong token and an unknown site are 404 and change nothing", func(t *testing.T) {
		for _, p := range []string{ReportPath("shop", f.token+"0"), ReportPath("shop", strings.Repeat("0", 64)), ReportPath("other", f.token)} {
			if resp := f.post(t, c, p, "application/reports+json", reports(cspHash(shopLib, "x"))); resp.StatusCode != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", p, resp.StatusCode)
			}
		}
		if n := len(f.aggregates(t)); n != 1 || f.counted.get("rejected token") != 3 {
			t.Errorf("%d aggregates, %d counted; want 1 and 3", n, f.counted.get("rejected token"))
		}
	})
	t.Run("a body over 64 KB is 413", func(t *testing.T) {
		c := next()
		big := reports(violation(shopPage, "inline", "script-src-elem", "sample", strings.Repeat("x", MaxReportBody)))
		if resp := f.post(t, c, path, "application/reports+json", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%d, want 413", resp.StatusCode)
		}
	})
	t.Run("another media type is 415, a malformed body 400", func(t *testing.T) {
		c := next()
		if resp := f.post(t, c, path, "text/plain", []byte("hello")); resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d, want 415", resp.StatusCode)
		}
		if resp := f.post(t, c, path, "application/reports+json", []byte(`{"not":"an array"`)); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("malformed: %d, want 400", resp.StatusCode)
		}
	})
	t.Run("extensions' reports and other pages' are filtered and counted", func(t *testing.T) {
		c := next()
		resp := f.post(t, c, path, "application/reports+json", reports(
			violation(shopPage, "chrome-extension://abcdefgh/inject.js", "script-src-elem"),
			violation(shopPage, "inline", "script-src-elem", "sourceFile", "moz-extension://1234/content.js"),
			violation(shopPage, "inline", "script-src-elem", "sample", `(function(){var s="safari-web-extension://x/`),
			violation("about:blank", "https://evil.test/x", "connect-src"),
			violation("https://shop.test/account", "https://evil.test/x", "connect-src"),
		))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%d", resp.StatusCode)
		}
		for k, want := range map[string]int{"filtered shop extension": 3, "filtered shop browser": 1, "filtered shop not_a_page": 1} {
			if got := f.counted.get(k); got != want {
				t.Errorf("%s: %d, want %d", k, got, want)
			}
		}
		if n := len(f.aggregates(t)); n != 1 {
			t.Errorf("%d aggregates after filtered reports, want 1", n)
		}
	})
	t.Run("a hash the baseline has not, forged or not, opens one finding from shoppers, alerted once", func(t *testing.T) {
		c := next()
		for range 2 {
			if resp := f.post(t, c, path, "application/reports+json", reports(cspHash(shopLib, libV2))); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("%d", resp.StatusCode)
			}
		}
		open, _ := f.store.Findings(context.Background(), skimguard.FindingFilter{Status: skimguard.StatusOpen})
		if len(open) != 1 || open[0].Kind != skimguard.KindScriptChanged || open[0].Evidence.Source != skimguard.SourceShoppers {
			t.Fatalf("open findings %+v", open)
		}
		if n := strings.Count(f.alerted.String(), "script.changed"); n != 1 {
			t.Errorf("alerted %d times:\n%s", n, f.alerted.String())
		}
	})
	t.Run("a legacy report is read; only the blocked URL's origin is kept", func(t *testing.T) {
		c := next()
		body := []byte(`{"csp-report":{"document-uri":"` + shopPage + `","blocked-uri":"https://evil.test/c.gif?cc=4111111111111111",` +
			`"violated-directive":"img-src 'self'","effective-directive":"img-src","original-policy":"img-src 'self'"}}`)
		if resp := f.post(t, c, path, "application/csp-report", body); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%d", resp.StatusCode)
		}
		found := false
		for _, r := range f.aggregates(t) {
			if r.Type == skimguard.ReportViolation && r.Subject == "https://evil.test" && r.Directive == "img-src" && r.Verdict == skimguard.VerdictFinding {
				found = true
			}
		}
		if !found {
			t.Errorf("no connection finding from the legacy report: %+v", f.aggregates(t))
		}
	})
	t.Run("one address past its rate gets 429", func(t *testing.T) {
		flood := next()
		codes := map[int]int{}
		for range 15 {
			codes[f.post(t, flood, path, "application/reports+json", reports(cspHash(shopLib, libV1))).StatusCode]++
		}
		if codes[http.StatusTooManyRequests] == 0 || codes[http.StatusNoContent] != 10 {
			t.Errorf("statuses %v, want 10 accepted (the burst at 60 a minute) and the rest 429", codes)
		}
		// Another address is not held up.
		if resp := f.post(t, next(), path, "application/reports+json", reports(cspHash(shopLib, libV1))); resp.StatusCode != http.StatusNoContent {
			t.Errorf("another address: %d", resp.StatusCode)
		}
	})
	t.Run("the store holds no shopper's address and no card number", func(t *testing.T) {
		if err := f.store.Close(); err != nil { // checkpoints the log into the file
			t.Fatal(err)
		}
		var all []byte
		files, _ := filepath.Glob(filepath.Join(f.dir, "sg.db*"))
		for _, p := range files {
			b, _ := os.ReadFile(p)
			all = append(all, b...)
		}
		if !bytes.Contains(all, []byte(agent)) {
			t.Fatal("the reports' user agent is not in the store: this test reads the wrong files")
		}
		for _, s := range append(addrs, "4111111111111111", "order=1") {
			if bytes.Contains(all, []byte(s)) {
				t.Errorf("the store holds %q", s)
			}
		}
	})
}

func TestReportsViewComparesWithTheBaselineAndTheLastScan(t *testing.T) {
	f := newCollectorFixture(t)
	path := ReportPath("shop", f.token)
	c := from("127.0.0.12")
	resp := f.post(t, c, path, "application/reports+json", reports(cspHash(shopLib, libV1), cspHash(shopLib, libV2),
		violation(shopPage, "https://evil.test/x", "connect-src")))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%d", resp.StatusCode)
	}
	t.Run("it needs sign-in", func(t *testing.T) {
		hc := (&fixture{srv: f.srv}).client(t)
		for p, want := range map[string]int{"/api/v1/pages/shop/checkout/reports": http.StatusUnauthorized, "/pages/shop/checkout/reports": http.StatusSeeOther} {
			r, err := hc.Get(f.srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != want {
				t.Errorf("GET %s without sign-in: %d, want %d", p, r.StatusCode, want)
			}
		}
	})
	api := func(t *testing.T, p string) (int, []byte) {
		req, _ := http.NewRequest("GET", f.srv.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, b
	}
	t.Run("the API lists each aggregate with the baseline's and the last scan's view", func(t *testing.T) {
		code, body := api(t, "/api/v1/pages/shop/checkout/reports")
		var d struct {
			BaselineVersion int             `json:"baseline_version"`
			LastScan        *skimguard.Scan `json:"last_scan"`
			Reports         []struct {
				Type        string `json:"type"`
				Subject     string `json:"subject"`
				Hash        string `json:"hash"`
				Count       int    `json:"count"`
				Verdict     string `json:"verdict"`
				FindingID   int64  `json:"finding_id"`
				BaselineNow string `json:"baseline_now"`
				LastScan    string `json:"last_scan"`
			} `json:"reports"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &d) != nil {
			t.Fatalf("%d %s", code, body)
		}
		if d.BaselineVersion != 1 || d.LastScan == nil || len(d.Reports) != 3 {
			t.Fatalf("%s", body)
		}
		h := func(src string) string {
			s := sha256.Sum256([]byte(src))
			return skimguard.ScriptHash(hex.EncodeToString(s[:]))
		}
		want := map[string]string{
			"csp-hash " + h(libV1):            "approved same",
			"csp-hash " + h(libV2):            "finding other version",
			"csp-violation https://evil.test": "finding not seen",
		}
		for _, r := range d.Reports {
			k := r.Type + " " + r.Hash
			if r.Type == "csp-violation" {
				k = r.Type + " " + r.Subject
			}
			if got := r.BaselineNow + " " + r.LastScan; got != want[k] {
				t.Errorf("%s: %q, want %q", k, got, want[k])
			}
			if r.BaselineNow == "finding" && r.FindingID == 0 {
				t.Errorf("%s opened no finding", k)
			}
		}
	})
	t.Run("the page shows them, linked to their findings", func(t *testing.T) {
		jar := &fixture{srv: f.srv}
		hc := jar.client(t)
		if err := f.store.SaveUser(context.Background(), &skimguard.User{Name: "bob", PasswordHash: mustHash(t), Role: skimguard.RoleViewer}, "test"); err != nil {
			t.Fatal(err)
		}
		if _, csrf := jar.login(t, hc, "bob", password); csrf == "" {
			t.Fatal("not signed in")
		}
		_, doc := get(t, hc, f.srv.URL+"/pages/shop/checkout/reports")
		text := doc.Find("table.reports").Text()
		for _, want := range []string{shopLib, "in the baseline", "not in the baseline", "https://evil.test", "other version", "TestBrowser"} {
			if !strings.Contains(text, want) {
				t.Errorf("the table has no %q:\n%s", want, text)
			}
		}
		if n := doc.Find(`table.reports a[href^="/findings/"]`).Length(); n != 2 {
			t.Errorf("%d links to findings, want 2", n)
		}
		_, page := get(t, hc, f.srv.URL+"/pages/shop/checkout")
		if page.Find(`a[href="/pages/shop/checkout/reports"]`).Length() != 1 {
			t.Errorf("the page does not link to its reports")
		}
	})
	t.Run("a page it does not know is 404", func(t *testing.T) {
		if code, _ := api(t, "/api/v1/pages/shop/nowhere/reports"); code != http.StatusNotFound {
			t.Errorf("%d", code)
		}
	})
}

func mustHash(t *testing.T) []byte {
	t.Helper()
	h, err := HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
