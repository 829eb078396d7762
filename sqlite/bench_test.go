package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

// BenchmarkSaveScan saves scans of a checkout page with 200 external scripts
// (about 1.6 MB of script text) of which two change every scan, 30
// connections, and three findings, one of them new each time.
func BenchmarkSaveScan(b *testing.B) {
	db, _ := openTest(b)
	ctx := b.Context()
	base := observation("shop", "checkout", t0, 200, 0, "")
	mustSaveScan(b, db, &skimguard.Scan{Site: "shop", Page: "checkout", StartedAt: t0, Observation: base})
	var size int
	for _, s := range base.Scripts {
		size += len(s.Source)
	}
	for i := 0; b.Loop(); i++ {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		o := *base
		o.StartedAt = at
		o.Scripts = append([]skimguard.Script(nil), base.Scripts...)
		for j := range 2 {
			o.Scripts[j].Source += fmt.Sprint("// build ", i)
		}
		s := scanOf("shop", "checkout", at,
			finding("", "", "steady-1"), finding("", "", "steady-2"), finding("", "", fmt.Sprint("new-", i)))
		s.Observation = &o
		if err := db.SaveScan(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB-script-text/scan")
}
