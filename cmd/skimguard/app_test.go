package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

// seedBaseline stores an approved baseline of shop/checkout with one script,
// as `skimguard baseline` would, without a browser.
func seedBaseline(t *testing.T, db string) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := &skimguard.Baseline{Site: "shop", Page: "checkout", URL: "https://shop.test/checkout", Samples: 1,
		ApprovedBy: "alice", Reason: "onboarding", CreatedAt: at,
		Items: []skimguard.Item{{Type: skimguard.ItemScript, Key: "external https://shop.test/app.js in top", Subject: "https://shop.test/app.js",
			Origin: "https://shop.test", SHA256: strings.Repeat("ab", 32), Attrs: map[string]string{"kind": "external"},
			FirstSeen: at, ApprovedBy: "alice", Reason: "onboarding", ApprovedAt: at}}}
	if err := store.SaveBaseline(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// Reviewing needs only the database: a command that uses just the store
// runs with --db and no sites.yaml; a command that loads pages needs it.
func TestStoreCommandsNeedOnlyTheDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	seedBaseline(t, db)
	noConfig := filepath.Join(dir, "sites.yaml")
	base := []string{"--config", noConfig, "--db", db}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"findings"}, "no open findings"},
		{[]string{"inventory"}, "https://shop.test/app.js"},
		{[]string{"baseline", "export", "--out", filepath.Join(dir, "lock.json")}, ""},
		{[]string{"baseline", "import", filepath.Join(dir, "lock.json"), "--reason", "PR #1"}, "baseline version 2 imported"},
		{[]string{"report", "--format", "csv"}, "app.js"},
		{[]string{"user", "list"}, "no users yet"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := cli(t, append(tc.args, base...)...)
			if code != exitOK || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 0 with %q:\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
	t.Run("--site is refused without sites.yaml to check it against", func(t *testing.T) {
		code, out, errOut := cli(t, append([]string{"findings", "--site", "shop"}, base...)...)
		if code != exitError || !strings.Contains(errOut, "--site shop") || !strings.Contains(errOut, noConfig) {
			t.Fatalf("exit %d, want 2 naming --site and the missing file:\n%s%s", code, out, errOut)
		}
	})
	for _, cmd := range []string{"scan", "baseline", "check"} {
		t.Run(cmd+" needs sites.yaml", func(t *testing.T) {
			args := append([]string{cmd}, base...)
			if cmd == "baseline" {
				args = append(args, "--reason", "x")
			}
			code, out, errOut := cli(t, args...)
			if code != exitError || !strings.Contains(errOut, noConfig) {
				t.Fatalf("exit %d, want 2 naming the missing sites.yaml:\n%s%s", code, out, errOut)
			}
		})
	}
}

// Only what sends alerts builds the alert channels: reviewing in a shell
// without the webhook's secret works, while check still refuses to run
// without it rather than check silently.
func TestOnlyAlertingCommandsNeedTheAlertSecrets(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	seedBaseline(t, db)
	cfg := writeConfig(t, dir, "http://127.0.0.1:9/checkout")
	appendFile(t, cfg, `alerts:
  - type: webhook
    url: https://hooks.example/skimguard
    secret_env: SKIMGUARD_WEBHOOK_SECRET
`)
	base := []string{"--config", cfg, "--db", db}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"findings"}, "no open findings"},
		{[]string{"inventory"}, "https://shop.test/app.js"},
		{[]string{"user", "list"}, "no users yet"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := cli(t, append(tc.args, base...)...)
			if code != exitOK || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 0 with %q:\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
	// scan alerts nothing: it gets as far as looking for the browser.
	t.Run("scan", func(t *testing.T) {
		code, out, errOut := cli(t, append([]string{"scan", "--chromium", "/nonexistent/chromium"}, base...)...)
		if code != exitError || strings.Contains(errOut, "SKIMGUARD_WEBHOOK_SECRET") || !strings.Contains(errOut, "chromium") {
			t.Fatalf("exit %d, want 2 for the missing browser, not the secret:\n%s%s", code, out, errOut)
		}
	})
	t.Run("check refuses without the secret", func(t *testing.T) {
		code, out, errOut := cli(t, append([]string{"check", "--chromium", "/nonexistent/chromium"}, base...)...)
		if code != exitError || !strings.Contains(errOut, "SKIMGUARD_WEBHOOK_SECRET") {
			t.Fatalf("exit %d, want 2 naming the unset secret:\n%s%s", code, out, errOut)
		}
	})
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
