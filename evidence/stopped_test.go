package evidence

import (
	"context"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// A check stopped by a shutdown is not a check of the page: it closes no
// gap in weekly checking, and it is no failure either.
func TestAStoppedScanIsNotACheck(t *testing.T) {
	store, pages := fixture(t)
	ctx := context.Background()
	stopped := &skimguard.Scan{Site: "shop", Page: "checkout", URL: pages[0].URL, StartedAt: t0.Add(14 * 24 * time.Hour), Status: skimguard.ScanStopped,
		Error: "stopped before it completed: context canceled", BaselineVersion: 1}
	if err := store.SaveScan(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	r, err := Build(ctx, store, pages, t0, t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	c := r.Coverage[0]
	if c.Scans != 13 || c.Failed != 1 || len(c.Gaps) != 2 || c.Gaps[0].Days() != 11 {
		t.Fatalf("coverage = %+v; want the fixture's 13 scans, 1 failed and its gap of 11 days from day 9 to day 20", c)
	}
}
