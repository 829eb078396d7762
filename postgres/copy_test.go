package postgres

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/storetest"
	"github.com/skimguard/skimguard/sqlite"
)

// sqliteHistory makes a SQLite database holding storetest.History.
func sqliteHistory(t *testing.T) *sqlite.DB {
	t.Helper()
	src, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "skimguard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	storetest.History(t, src)
	return src
}

// copyAll copies src into db and checks that every table is whole,
// returning how each went.
func copyAll(t *testing.T, db *DB, src Source) map[string]TableCopy {
	t.Helper()
	tables, err := db.Copy(t.Context(), src, nil)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	out := map[string]TableCopy{}
	for _, tc := range tables {
		if tc.Source != tc.Target || tc.Source == 0 {
			t.Errorf("%s: %d rows in the source, %d copied; want as many, and some", tc.Table, tc.Source, tc.Target)
		}
		out[tc.Table] = tc
	}
	if len(out) != len(CopyTables()) {
		t.Errorf("copied %d tables, want %d", len(out), len(CopyTables()))
	}
	return out
}

// failing is a Source that fails after giving n rows of one table.
type failing struct {
	Source
	table string
	n     int
}

var errCut = errors.New("the copy was cut short")

func (f *failing) ExportTable(ctx context.Context, table string, cols []string, fn func(row []any) error) error {
	return f.Source.ExportTable(ctx, table, cols, func(row []any) error {
		if table == f.table {
			if f.n == 0 {
				return errCut
			}
			f.n--
		}
		return fn(row)
	})
}

func TestCopy(t *testing.T) {
	t.Run("a history is copied whole, ids and times kept, and copying it again changes nothing", func(t *testing.T) {
		src := sqliteHistory(t)
		db, _ := openTest(t)
		first := copyAll(t, db, src)
		for _, tc := range first {
			// The deliveries' trigger makes delivery_findings as they come.
			if want := tc.Source; (tc.Copied != want && tc.Table != "delivery_findings") || tc.Updated != 0 {
				t.Errorf("%s: %d of %d rows copied, %d updated", tc.Table, tc.Copied, tc.Source, tc.Updated)
			}
		}
		storetest.Same(t, src, db)
		for _, tc := range copyAll(t, db, src) {
			if tc.Copied != 0 || tc.Updated != 0 {
				t.Errorf("copying again: %s: %d rows copied, %d updated; want none", tc.Table, tc.Copied, tc.Updated)
			}
		}
		storetest.Same(t, src, db)
	})

	t.Run("a copy cut short is finished by the next", func(t *testing.T) {
		src := sqliteHistory(t)
		db, _ := openTest(t)
		done, err := db.Copy(t.Context(), &failing{Source: src, table: "findings", n: 3}, nil)
		if !errors.Is(err, errCut) || len(done) != 5 {
			t.Fatalf("Copy cut short = %d tables, %v; want 5 done, then errCut", len(done), err)
		}
		for _, tc := range copyAll(t, db, src) {
			if done := slices.ContainsFunc(done, func(d TableCopy) bool { return d.Table == tc.Table }); done && tc.Copied != 0 {
				t.Errorf("%s was copied whole, and the next run copied %d of its rows again", tc.Table, tc.Copied)
			}
		}
		storetest.Same(t, src, db)
	})

	t.Run("what the source changed since the copy is copied", func(t *testing.T) {
		src := sqliteHistory(t)
		db, _ := openTest(t)
		copyAll(t, db, src)
		open := storetest.MustFindings(t, src, skimguard.FindingFilter{Status: skimguard.StatusOpen})
		res := skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "late review", At: storetest.T0.Add(900 * time.Hour)}
		if err := src.ResolveFindings(t.Context(), []int64{open[0].ID}, res, nil); err != nil {
			t.Fatal(err)
		}
		again := copyAll(t, db, src)
		if again["findings"].Updated != 1 || again["audit"].Copied != 1 {
			t.Errorf("copying again after a rejection: findings %+v, audit %+v; want 1 updated, 1 new", again["findings"], again["audit"])
		}
		storetest.Same(t, src, db)

		// Shoppers went on reporting: a known script again, a new one,
		// and the token was rotated.
		rs, err := src.Reports(t.Context(), skimguard.ReportFilter{Site: "shop", Page: "checkout"})
		if err != nil || len(rs) == 0 {
			t.Fatalf("the source's reports: %+v, %v", rs, err)
		}
		known := rs[0]
		known.ID, known.Count, known.UserAgents = 0, 5, []string{"Safari 3"}
		known.FirstSeen, known.LastSeen = storetest.T0.Add(900*time.Hour), storetest.T0.Add(900*time.Hour)
		fresh := storetest.Report(skimguard.ReportScriptHash, "https://cdn.test/new.js", "sha256:44", storetest.T0.Add(900*time.Hour), "Safari 3")
		if _, _, err := src.AddReports(t.Context(), []skimguard.ShopperReport{known, fresh}); err != nil {
			t.Fatal(err)
		}
		if err := src.SetReportToken(t.Context(), "shop", "token-hash-3", "carol"); err != nil {
			t.Fatal(err)
		}
		again = copyAll(t, db, src)
		if r, tok := again["shopper_reports"], again["report_tokens"]; r.Updated != 1 || r.Copied != 1 || tok.Updated != 1 {
			t.Errorf("copying again after more reports: shopper_reports %+v, report_tokens %+v; want 1 updated and 1 new, 1 updated", r, tok)
		}
		storetest.Same(t, src, db)
	})

	t.Run("the copy goes on where the source left off: new ids follow the copied ones", func(t *testing.T) {
		src := sqliteHistory(t)
		db, _ := openTest(t)
		copyAll(t, db, src)
		scans, err := src.Scans(t.Context(), skimguard.ScanFilter{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		open := storetest.MustFindings(t, db, skimguard.FindingFilter{Status: skimguard.StatusOpen})
		var seenAgain skimguard.Finding
		for _, f := range open {
			if f.Site == "shop" && f.Page == "cart" {
				seenAgain = f
			}
		}
		next := storetest.ScanOf("shop", "cart", storetest.T0.Add(1000*time.Hour), seenAgain, storetest.Finding("", "", "brand-new"))
		storetest.MustSaveScan(t, db, next)
		maxID := int64(0)
		for _, s := range scans {
			maxID = max(maxID, s.ID)
		}
		if next.ID != maxID+1 {
			t.Errorf("the first scan after the copy got id %d, want %d", next.ID, maxID+1)
		}
		if next.Findings[0].ID != seenAgain.ID || next.Findings[1].ID <= seenAgain.ID {
			t.Errorf("findings after the copy: %d and %d; want the open %d seen again, and a new id", next.Findings[0].ID, next.Findings[1].ID, seenAgain.ID)
		}
		if err := db.AppendAudit(t.Context(), skimguard.AuditEntry{Action: "test"}); err != nil {
			t.Errorf("AppendAudit after the copy: %v", err)
		}
		if err := db.SaveDelivery(t.Context(), &skimguard.Delivery{Sink: "console", Site: "shop", Page: "cart"}); err != nil {
			t.Errorf("SaveDelivery after the copy: %v", err)
		}
		copied, err := src.Reports(t.Context(), skimguard.ReportFilter{})
		if err != nil || len(copied) == 0 {
			t.Fatalf("the source's reports: %+v, %v", copied, err)
		}
		made, _, err := db.AddReports(t.Context(), []skimguard.ShopperReport{
			storetest.Report(skimguard.ReportScriptHash, "https://cdn.test/new.js", "sha256:55", storetest.T0.Add(1000*time.Hour), "UA")})
		if err != nil || len(made) != 1 || slices.ContainsFunc(copied, func(r skimguard.ShopperReport) bool { return r.ID >= made[0].ID }) {
			t.Errorf("the first aggregate after the copy: %+v, %v; want an id past the copied ones", made, err)
		}
	})

	t.Run("a database holding another history is refused", func(t *testing.T) {
		src := sqliteHistory(t)
		db, _ := openTest(t)
		storetest.MustSaveScan(t, db, storetest.ScanOf("other", "page", storetest.T0))
		_, err := db.Copy(t.Context(), src, nil)
		if err == nil || !strings.Contains(err.Error(), "another history") || !strings.Contains(err.Error(), "new, empty database") {
			t.Fatalf("Copy = %v, want a refusal", err)
		}
	})
}
