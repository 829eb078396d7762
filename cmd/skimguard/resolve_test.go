package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

// seedFindings stores a check of shop/checkout that found a critical
// script and a medium header change, as `skimguard check` would, without a
// browser, and returns their IDs.
func seedFindings(t *testing.T, db string) (critical, medium string) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scan := &skimguard.Scan{Site: "shop", Page: "checkout", URL: "https://shop.test/checkout", StartedAt: time.Now().UTC(),
		Status: skimguard.ScanFindings, BaselineVersion: 1, Findings: []skimguard.Finding{
			{Kind: skimguard.KindScriptAdded, Severity: skimguard.SeverityCritical, Site: "shop", Page: "checkout",
				Subject: "https://cdn.test/new.js", Detail: "a script not in the baseline ran", Fingerprint: "new.js",
				Item: skimguard.Item{Type: skimguard.ItemScript, Key: "external https://cdn.test/new.js in top", Subject: "https://cdn.test/new.js",
					Origin: "https://cdn.test", SHA256: strings.Repeat("cd", 32), Attrs: map[string]string{"kind": "external"}}},
			{Kind: skimguard.KindHeaderChanged, Severity: skimguard.SeverityMedium, Site: "shop", Page: "checkout",
				Subject: "x-frame-options", Detail: "a security header changed", Fingerprint: "xfo",
				Item: skimguard.Item{Type: skimguard.ItemHeader, Key: "x-frame-options", Subject: "x-frame-options", Values: []string{"SAMEORIGIN"}}},
		}}
	if err := store.SaveScan(context.Background(), scan); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(scan.Findings[0].ID, 10), strconv.FormatInt(scan.Findings[1].ID, 10)
}

// baselineVersion is the current baseline version of shop/checkout.
func baselineVersion(t *testing.T, db string) *skimguard.Baseline {
	t.Helper()
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b, err := store.Baseline(context.Background(), "shop", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The CLI obeys the two-person rule too: --by names the reviewer.
func TestApproveObeysTheTwoPersonRule(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	seedBaseline(t, db)
	critical, medium := seedFindings(t, db)
	cfg := writeConfig(t, dir, "https://shop.test/checkout")
	appendFile(t, cfg, "approvals: two-person\n")
	approve := func(id, by string) (int, string, string) {
		t.Helper()
		return cli(t, "approve", id, "--by", by, "--reason", "reviewed by "+by, "--config", cfg, "--db", db)
	}

	t.Run("one reviewer cannot approve a critical finding alone", func(t *testing.T) {
		code, out, errOut := approve(critical, "alice")
		if code != exitOK || !strings.Contains(out, "finding "+critical+" (critical) approved by alice, waiting for a second reviewer") {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		if v := baselineVersion(t, db).Version; v != 1 {
			t.Fatalf("one approval made baseline version %d", v)
		}
		if _, out, _ := cli(t, "findings", "--config", cfg, "--db", db); !strings.Contains(out, "https://cdn.test/new.js") {
			t.Fatalf("the finding is no longer open:\n%s", out)
		}
	})
	t.Run("the same reviewer twice is refused", func(t *testing.T) {
		code, out, errOut := approve(critical, "alice")
		if code != exitError || !strings.Contains(errOut, "second reviewer") || !strings.Contains(errOut, "nothing was changed") {
			t.Fatalf("exit %d, want 2 saying a second reviewer must confirm: %s%s", code, out, errOut)
		}
	})
	t.Run("a second reviewer completes it and the baseline gains a version", func(t *testing.T) {
		code, out, errOut := approve(critical, "bob")
		if code != exitOK || out != "approved 1 finding(s) as bob\n" {
			t.Fatalf("exit %d: %q %s", code, out, errOut)
		}
		if b := baselineVersion(t, db); b.Version != 2 || b.ApprovedBy != "alice and bob" {
			t.Fatalf("baseline version %d approved by %q, want 2 by alice and bob", b.Version, b.ApprovedBy)
		}
	})
	t.Run("a medium finding needs one reviewer", func(t *testing.T) {
		if code, out, errOut := approve(medium, "alice"); code != exitOK || out != "approved 1 finding(s) as alice\n" {
			t.Fatalf("exit %d: %q %s", code, out, errOut)
		}
		if v := baselineVersion(t, db).Version; v != 3 {
			t.Fatalf("baseline version %d, want 3", v)
		}
	})
}

// Without sites.yaml approve cannot know the rule, so it applies the
// stricter one rather than become a way around it.
func TestApproveWithoutSitesYAMLAppliesTheTwoPersonRule(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	seedBaseline(t, db)
	critical, _ := seedFindings(t, db)
	code, out, errOut := cli(t, "approve", critical, "--by", "alice", "--reason", "fine", "--config", filepath.Join(dir, "none.yaml"), "--db", db)
	if code != exitOK || !strings.Contains(out, "waiting for a second reviewer") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if v := baselineVersion(t, db).Version; v != 1 {
		t.Fatalf("one approval without sites.yaml made baseline version %d", v)
	}
}
