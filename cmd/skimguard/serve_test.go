package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

// serve runs on a schedule until stopped, storing every check, and stops
// cleanly: the daemon's contract, against the demo shop in real Chromium.
func TestServeChecksOnScheduleAndStopsCleanly(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`sites:
  - name: shop
    schedule: "@every 2s"
    pages:
      - name: checkout
        url: %s
        wait: 1s
  - name: archive
    schedule: "@monthly"
    pages:
      - name: old
        url: %s
        wait: 1s
`, shop.CheckoutURL(), shop.CheckoutURL())), 0o600)
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--site", "shop", "--samples", "3", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"serve", "--config", cfg, "--db", db, "--site", "shop", "--site", "archive", "--jitter", "0"},
		env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	if code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, errb.String())
	}
	logs := errb.String()
	if !strings.Contains(logs, "at least weekly") || !strings.Contains(logs, "archive/old") {
		t.Errorf("no warning for the monthly page:\n%s", logs)
	}
	if !strings.Contains(logs, "stopped") {
		t.Errorf("serve did not say it stopped:\n%s", logs)
	}

	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scans, _ := store.Scans(context.Background(), skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: -1})
	checks := 0
	for _, s := range scans {
		if s.Status == skimguard.ScanOK {
			checks++
		}
	}
	// One baseline sample, then the daemon's checks every 2 s for ~15 s.
	if checks < 2 {
		t.Fatalf("the daemon stored %d passing checks in 15 s on a 2 s schedule; scans: %+v\nlogs:\n%s", checks, scans, logs)
	}
}

func TestServeRefusesABadConfigAtStart(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte("sites:\n  - name: shop\n    schedule: \"every hour\"\n    pages:\n      - name: c\n        url: http://127.0.0.1:9/\n"), 0o600)
	code, out, errOut := cli(t, "serve", "--config", cfg, "--db", filepath.Join(dir, "sg.db"))
	if code != exitError || !strings.Contains(out+errOut, "sites.yaml:3") {
		t.Fatalf("exit %d, want 2 naming the line:\n%s%s", code, out, errOut)
	}
}
