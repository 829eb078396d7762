package web

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/sqlite"
)

// healthz fetches /healthz, as JSON when asJSON, and returns its status and
// body.
func healthz(t *testing.T, srv *httptest.Server, asJSON bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/healthz", nil)
	if asJSON {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealthzSaysWhenTheStoreCannotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sg.db")
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logs bytes.Buffer
	s, err := New(Options{Store: store, Resolve: (&monitor.Monitor{Store: store}).Resolve, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	if code, body := healthz(t, srv, false); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz of a store that writes: %d %q", code, body)
	}

	// Another process takes the write lock and keeps it.
	raw, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	code, body := healthz(t, srv, false)
	t.Logf("healthz while locked: %d %q", code, body)
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "unavailable (locked): ") {
		t.Errorf("healthz while locked: %d %q, want 503 saying it is locked", code, body)
	}
	code, body = healthz(t, srv, true)
	var h struct{ Status, Reason, Message string }
	if err := json.Unmarshal([]byte(body), &h); err != nil || code != http.StatusServiceUnavailable || h.Status != "unavailable" || h.Reason != "locked" || h.Message == "" {
		t.Errorf("healthz as JSON while locked: %d %s (%v)", code, body, err)
	}
	if strings.Contains(body, path) {
		t.Errorf("healthz, which needs no sign-in, names the database file: %s", body)
	}
	if n := strings.Count(logs.String(), "the store cannot take writes"); n != 1 || !strings.Contains(logs.String(), "fuser") {
		t.Errorf("want the store's error logged once, with what to do; logs:\n%s", logs.String())
	}

	tx.Rollback()
	if code, body := healthz(t, srv, true); code != http.StatusOK || strings.TrimSpace(body) != `{
  "status": "ok"
}` {
		t.Errorf("healthz once the lock is let go: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), "takes writes again") {
		t.Errorf("the recovery is not logged:\n%s", logs.String())
	}
}
