package metrics

import (
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// A check stopped by a shutdown says nothing about its page: it is counted
// under its own status, not as a failure, and is no successful scan.
func TestAStoppedScanIsNeitherAFailureNorASuccess(t *testing.T) {
	m := New(&fakeStore{}, nil)
	ok := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK, StartedAt: ok})
	m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanStopped, StartedAt: ok.Add(time.Hour)})

	fams := scrape(t, m)
	if got := value(t, fams, "skimguard_scans_total", map[string]string{"site": "shop", "status": "stopped"}); got != 1 {
		t.Errorf("stopped scans = %v, want 1", got)
	}
	if got := value(t, fams, "skimguard_scan_failures_total", map[string]string{"site": "shop"}); got != 0 {
		t.Errorf("failures = %v, want 0", got)
	}
	if got := value(t, fams, "skimguard_last_successful_scan_timestamp_seconds", map[string]string{"site": "shop", "page": "checkout"}); got != float64(ok.Unix()) {
		t.Errorf("last successful scan = %v, want %v (the ok scan, not the stopped one)", got, ok.Unix())
	}
}
