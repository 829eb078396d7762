package web

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// check stores a check of the clean page started at `at`, compared with
// the current baseline as the monitor does.
func (f *fixture) check(t *testing.T, at time.Time) {
	t.Helper()
	ctx := context.Background()
	b, err := f.store.Baseline(ctx, "shop", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	o := observation(libV1, false)
	s := &skimguard.Scan{Site: "shop", Page: "checkout", URL: pageURL, StartedAt: at, Status: skimguard.ScanOK, BaselineVersion: b.Version,
		Observation: o, Findings: baseline.Compare(b, o)}
	if len(s.Findings) > 0 {
		t.Fatalf("the clean page has findings: %+v", s.Findings)
	}
	if err := f.store.SaveScan(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func TestInventoryShowsTheLastCheckThatVerifiedEachScript(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	f.login(t, c, "alice", password)
	last := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	for i := 5; i >= 0; i-- {
		f.check(t, last.Add(-time.Duration(i)*time.Minute))
	}
	want := last.Format("2006-01-02 15:04:05 UTC")

	_, doc := get(t, c, f.url("/pages/shop/checkout"))
	rows := doc.Find("table.inventory tbody tr")
	if rows.Length() != 1 {
		t.Fatalf("want the one approved script, got %d rows:\n%s", rows.Length(), doc.Find("table.inventory").Text())
	}
	if got := strings.TrimSpace(rows.Find("td.verified").Text()); got != want {
		t.Errorf("the page's inventory says last verified %q, want the newest check's %q", got, want)
	}

	resp, err := c.Get(f.url("/pages/shop/checkout/inventory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(recs) != 2 {
		t.Fatalf("inventory CSV: %v %q", err, recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	if got := recs[1][col["last_verified"]]; got != last.Format("2006-01-02 15:04 UTC") {
		t.Errorf("the CSV says last verified %q, want the newest check's time", got)
	}
}
