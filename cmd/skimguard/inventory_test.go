package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/sqlite"
)

// checkoutLoad is load n of a checkout page: app.js with a cache buster,
// which listens to the pay button's clicks (and so sees the card form),
// and an inline configuration with a per-load token.
func checkoutLoad(n int) *skimguard.Observation {
	const page = "https://shop.test/checkout"
	script := func(kind skimguard.ScriptKind, url, src string) skimguard.Script {
		sum := sha256.Sum256([]byte(src))
		return skimguard.Script{Kind: kind, URL: url, Frame: page, Ordinal: 1, SHA256: hex.EncodeToString(sum[:]), Size: len(src), Source: src, LoadedBy: "parser"}
	}
	return &skimguard.Observation{Site: "shop", Page: "checkout", URL: page, FinalURL: page, Status: 200, Scripts: []skimguard.Script{
		script(skimguard.ScriptExternal, fmt.Sprintf("https://shop.test/app.js?cb=%d", 1732271234+n), `document.getElementById("pay").addEventListener("click",function(){checkout.submit()});`),
		script(skimguard.ScriptInline, "", fmt.Sprintf(`window.cfg={"csrf":"%x"};`, sha256.Sum256([]byte{byte(n)}))),
	}, CardAccess: []skimguard.CardAccess{{Script: 0, Field: skimguard.FieldNumber, How: skimguard.AccessListens + "click", Frame: page}}}
}

func TestInventoryShowsEachScriptsIdentityAndLastVerification(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	last := time.Now().Add(-time.Hour).Truncate(time.Minute)
	b, err := baseline.Learn([]*skimguard.Observation{checkoutLoad(1), checkoutLoad(2)}, "alice", "onboarding", last.Add(-12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "checkout", "https://shop.test/checkout"
	if err := store.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	for i := 11; i >= 0; i-- {
		o := checkoutLoad(100 + i)
		s := &skimguard.Scan{Site: "shop", Page: "checkout", URL: o.URL, StartedAt: last.Add(-time.Duration(i) * time.Hour), Status: skimguard.ScanOK,
			BaselineVersion: b.Version, Observation: o, Findings: baseline.Compare(b, o)}
		if err := store.SaveScan(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := cli(t, "inventory", "--config", filepath.Join(dir, "sites.yaml"), "--db", db)
	if code != exitOK {
		t.Fatalf("inventory: exit %d\n%s%s", code, out, errOut)
	}
	want := last.Local().Format("2006-01-02 15:04")
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	app, ok := rows["https://shop.test/app.js?cb=*"]
	if !ok || !strings.Contains(app, want) {
		t.Fatalf("app.js is not listed by its identity with the newest of 12 matching checks (%s) as last verified:\n%s", want, out)
	}
	if !strings.Contains(out, "SEES THE CARD") || !strings.HasSuffix(strings.TrimSpace(app), "number (listens to click)") || !strings.HasSuffix(strings.TrimSpace(rows["inline"]), " -") {
		t.Errorf("the inventory does not say which scripts see the card:\n%s", out)
	}
	if inline := rows["inline"]; !strings.Contains(inline, "inline #1 in the page") || !strings.Contains(inline, "by structure") || !strings.Contains(out, "matched by structure: text varies per load") {
		t.Fatalf("the inline configuration is not shown as matched by structure:\n%s", out)
	}
}
