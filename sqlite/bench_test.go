package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/storetest"
)

// BenchmarkSaveScan saves scans of a checkout page with 200 external scripts
// (about 1.6 MB of script text) of which two change every scan, 30
// connections, and three findings, one of them new each time.
func BenchmarkSaveScan(b *testing.B) {
	db, _ := openTest(b)
	ctx := b.Context()
	base := storetest.Observation("shop", "checkout", storetest.T0, 200, 0, "")
	storetest.MustSaveScan(b, db, &skimguard.Scan{Site: "shop", Page: "checkout", StartedAt: storetest.T0, Observation: base})
	var size int
	for _, s := range base.Scripts {
		size += len(s.Source)
	}
	for i := 0; b.Loop(); i++ {
		at := storetest.T0.Add(time.Duration(i+1) * time.Minute)
		o := *base
		o.StartedAt = at
		o.Scripts = append([]skimguard.Script(nil), base.Scripts...)
		for j := range 2 {
			o.Scripts[j].Source += fmt.Sprint("// build ", i)
		}
		s := storetest.ScanOf("shop", "checkout", at,
			storetest.Finding("", "", "steady-1"), storetest.Finding("", "", "steady-2"), storetest.Finding("", "", fmt.Sprint("new-", i)))
		s.Observation = &o
		if err := db.SaveScan(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB-script-text/scan")
}
