package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/sqlite"
)

// checkoutLoad is a load of a checkout page with one external script.
func checkoutLoad() *skimguard.Observation {
	src := `document.getElementById("pay").addEventListener("click",function(){checkout.submit()});`
	sum := sha256.Sum256([]byte(src))
	return &skimguard.Observation{Site: "shop", Page: "checkout", URL: "https://shop.test/checkout", FinalURL: "https://shop.test/checkout",
		Status: 200, Scripts: []skimguard.Script{{Kind: skimguard.ScriptExternal, URL: "https://shop.test/app.js", Frame: "https://shop.test/checkout",
			Ordinal: 1, SHA256: hex.EncodeToString(sum[:]), Size: len(src), Source: src, LoadedBy: "parser"}}}
}

func TestInventoryShowsTheLastCheckThatVerifiedEachScript(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	last := time.Now().Add(-time.Hour).Truncate(time.Minute)
	b, err := baseline.Learn([]*skimguard.Observation{checkoutLoad()}, "alice", "onboarding", last.Add(-12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "checkout", "https://shop.test/checkout"
	if err := store.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	for i := 11; i >= 0; i-- {
		o := checkoutLoad()
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
	var row string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "https://shop.test/app.js") {
			row = line
		}
	}
	if !strings.Contains(out, "LAST VERIFIED") || !strings.Contains(row, want) {
		t.Fatalf("the inventory does not show the newest of 12 matching checks (%s) as last verified:\n%s", want, out)
	}
}
