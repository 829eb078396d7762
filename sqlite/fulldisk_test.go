package sqlite_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/metrics"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/sqlite"
	"github.com/skimguard/skimguard/web"
)

// skimmed is a Scanner that finds a skimmer on every page.
type skimmed struct{}

func (skimmed) Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error) {
	return &skimguard.Observation{Site: p.Site, Page: p.Name, URL: p.URL, FinalURL: p.URL, Status: 200, StartedAt: time.Now(),
		Scripts: []skimguard.Script{{Kind: skimguard.ScriptExternal, URL: "https://evil.test/skim.js", Frame: p.URL, Ordinal: 1,
			SHA256: "ee", Source: "steal()", LoadedBy: "parser"}}}, nil
}

// sink keeps the alerts it is sent.
type sink struct {
	mu   sync.Mutex
	sent []alerts.Alert
}

func (s *sink) Name() string { return "test" }
func (s *sink) Send(ctx context.Context, a alerts.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, a)
	return nil
}

func (s *sink) alerts() []alerts.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]alerts.Alert(nil), s.sent...)
}

// The reported case, on a real full disk: 44 scans failed to save while
// /healthz said ok. Now the save is tried again, then the check reports
// and alerts what it found, the failure is counted, and /healthz says the
// store cannot write until a save succeeds after space was freed.
func TestACheckOnAFullDiskIsReportedAlertedCountedAndShownByHealthz(t *testing.T) {
	ctx := t.Context()
	db, _, free := sqlite.OnFullDisk(t)
	met := metrics.New(db, nil)
	out := &sink{}
	m := &monitor.Monitor{Scanner: skimmed{}, Store: db, SaveFailed: met.SaveFailed, SaveRetry: 2 * time.Second}
	m.SetSinks([]alerts.Sink{out})
	ui, err := web.New(web.Options{Store: db, Resolve: m.Resolve})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	defer srv.Close()
	pages := []skimguard.Page{{Site: "shop", Name: "checkout", URL: "https://shop.test/checkout"}}
	healthz := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	failures := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		met.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(line, `skimguard_store_save_failures_total{reason="full"} `) {
				return strings.TrimPrefix(line, `skimguard_store_save_failures_total{reason="full"} `)
			}
		}
		t.Fatalf("no full series in:\n%s", rec.Body.String())
		return ""
	}

	// Only a write that needs room shows a full disk.
	if code, body := healthz(); code != http.StatusOK {
		t.Fatalf("healthz before any save: %d %q", code, body)
	}
	res, err := m.Check(ctx, pages)
	t.Logf("Check: %v", err)
	if !errors.Is(err, skimguard.ErrStoreFull) || !strings.Contains(err.Error(), "not stored after") {
		t.Fatalf("Check = %v, want the full disk, after trying again", err)
	}
	pr := res.Pages[0]
	if len(pr.Findings) == 0 || !strings.Contains(pr.StoreError, "is full: free space") {
		t.Fatalf("page result %+v, want its findings and why they were not stored", pr)
	}
	if sent := out.alerts(); len(sent) != 1 || len(sent[0].Findings) != len(pr.Findings) {
		t.Fatalf("alerts %+v, want the %d findings alerted once", sent, len(pr.Findings))
	}
	if got := failures(); got != "1" {
		t.Errorf("skimguard_store_save_failures_total{reason=\"full\"} = %s, want 1", got)
	}
	if code, body := healthz(); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "unavailable (full): ") {
		t.Errorf("healthz on a full disk: %d %q", code, body)
	}

	free()
	if code, body := healthz(); code != http.StatusServiceUnavailable {
		t.Errorf("healthz after freeing space, before a save: %d %q; it cannot know yet", code, body)
	}
	res, err = m.Check(ctx, pages)
	if err != nil || res.Pages[0].StoreError != "" || res.Pages[0].Findings[0].ID == 0 {
		t.Fatalf("Check after freeing space: %v, %+v", err, res.Pages[0])
	}
	if code, body := healthz(); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz after a save succeeded: %d %q", code, body)
	}
	if got := failures(); got != "1" {
		t.Errorf("skimguard_store_save_failures_total{reason=\"full\"} = %s, want still 1", got)
	}
}
