package crawler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// shared is the one Crawler of the package's tests; nil when no Chromium
// is installed.
var shared *Crawler

const testLoadTimeout = 5 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(sandboxHelperEnv) != "" {
		// This binary was started again by a sandbox test, to scan under
		// a seccomp filter: it must not start the shared browser first.
		os.Exit(sandboxHelper())
	}
	var logger *slog.Logger
	if os.Getenv("CRAWLER_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(context.Background(), Options{
		Logger: logger, LoadTimeout: testLoadTimeout, DefaultWait: time.Second, MaxConcurrent: 2,
		// The crawler's tests look for a card they know; the e2e tests
		// prove the fresh card of every scan.
		Card: carddata.Test,
	})
	switch {
	case errors.Is(err, ErrNoBrowser):
		fmt.Fprintln(os.Stderr, "crawler tests: no Chromium found; browser tests are skipped:", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "crawler tests: starting Chromium:", err)
		os.Exit(1)
	default:
		shared = c
	}
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// needBrowser skips a test when no Chromium is installed.
func needBrowser(t testing.TB) *Crawler {
	t.Helper()
	if shared == nil {
		t.Skip("no Chromium found (install it with `apt-get install -y chromium`): skipping a real-browser test")
	}
	return shared
}

// serveOn serves h on a loopback address such as "127.0.0.2"; other
// addresses are other origins.
func serveOn(t testing.TB, ip string, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listening on %s: %v", ip, err)
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// hits counts requests by path, for checks made on the server side.
type hits struct {
	mu   sync.Mutex
	n    map[string]int
	vals map[string][]string
}

func (h *hits) add(path, v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n, h.vals = map[string]int{}, map[string][]string{}
	}
	h.n[path]++
	h.vals[path] = append(h.vals[path], v)
}

// bodies is a handler that keeps each request's body under its path.
func (h *hits) bodies(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.add(r.URL.Path, string(b))
}

func (h *hits) count(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[path]
}

func (h *hits) values(path string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.vals[path]...)
}

func html(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, body)
}

func js(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/javascript")
	fmt.Fprint(w, body)
}

func mustScan(t *testing.T, c *Crawler, p skimguard.Page) *skimguard.Observation {
	t.Helper()
	if p.Wait == 0 {
		p.Wait = 800 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	obs, err := c.Scan(ctx, p)
	if err != nil {
		t.Fatalf("Scan(%s): %v", p.URL, err)
	}
	return obs
}

func scriptsOf(obs *skimguard.Observation, kind skimguard.ScriptKind) []skimguard.Script {
	var out []skimguard.Script
	for _, s := range obs.Scripts {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

func connTo(obs *skimguard.Observation, origin string) *skimguard.Connection {
	for i := range obs.Connections {
		if obs.Connections[i].Origin == origin {
			return &obs.Connections[i]
		}
	}
	return nil
}

func dumpScripts(t *testing.T, obs *skimguard.Observation) {
	t.Helper()
	for _, s := range obs.Scripts {
		t.Logf("  %-14s ord=%d url=%q loc=%q frame=%q by=%q src=%.60q", s.Kind, s.Ordinal, s.URL, s.Location, s.Frame, s.LoadedBy, s.Source)
	}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
