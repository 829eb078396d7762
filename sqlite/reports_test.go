package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

// t0 is the reports' clock: a fixed time, so that spans compare exactly.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func report(typ skimguard.ReportType, subject, hash string, at time.Time, ua string) skimguard.ShopperReport {
	return skimguard.ShopperReport{Site: "shop", Page: "checkout", Type: typ, Subject: subject, Hash: hash,
		Count: 1, FirstSeen: at, LastSeen: at, UserAgents: []string{ua}}
}

func TestReportsAreAggregatedAndBounded(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	lib := "https://cdn.test/lib.js"

	t.Run("the first report of a thing makes its aggregate, unjudged", func(t *testing.T) {
		made, dropped, err := db.AddReports(ctx, []skimguard.ShopperReport{report(skimguard.ReportScriptHash, lib, "sha256:aa", t0, "UA 1")})
		if err != nil || dropped != 0 || len(made) != 1 || made[0].ID == 0 || made[0].Count != 1 || made[0].Verdict != "" {
			t.Fatalf("AddReports = %+v, %d, %v", made, dropped, err)
		}
	})
	t.Run("more reports of it add to the count, move last seen, keep a few distinct agents", func(t *testing.T) {
		var rs []skimguard.ShopperReport
		for i := range 5 {
			rs = append(rs, report(skimguard.ReportScriptHash, lib, "sha256:aa", t0.Add(time.Duration(i+1)*time.Minute), fmt.Sprintf("UA %d", i%4)))
		}
		// An older report, arriving late, widens the span backwards.
		rs = append(rs, report(skimguard.ReportScriptHash, lib, "sha256:aa", t0.Add(-time.Hour), "UA 1"))
		made, _, err := db.AddReports(ctx, rs)
		if err != nil {
			t.Fatal(err)
		}
		// Still unjudged: it is handed back for judging, once.
		if len(made) != 1 {
			t.Fatalf("handed back %d aggregates, want the one unjudged", len(made))
		}
		all, err := db.Reports(ctx, skimguard.ReportFilter{Site: "shop", Page: "checkout"})
		if err != nil || len(all) != 1 {
			t.Fatalf("Reports = %+v, %v", all, err)
		}
		r := all[0]
		if r.Count != 7 || !r.FirstSeen.Equal(t0.Add(-time.Hour)) || !r.LastSeen.Equal(t0.Add(5*time.Minute)) {
			t.Errorf("count %d, first %s, last %s; want 7, an hour before t0, 5 minutes after", r.Count, r.FirstSeen, r.LastSeen)
		}
		if !slices.Equal(r.UserAgents, []string{"UA 1", "UA 0", "UA 2"}) {
			t.Errorf("user agents %q, want the first %d distinct", r.UserAgents, skimguard.MaxUserAgents)
		}
	})
	t.Run("a judged aggregate is not handed back again", func(t *testing.T) {
		all, _ := db.Reports(ctx, skimguard.ReportFilter{})
		if err := db.JudgeReport(ctx, all[0].ID, skimguard.VerdictApproved, 0); err != nil {
			t.Fatal(err)
		}
		made, _, err := db.AddReports(ctx, []skimguard.ShopperReport{report(skimguard.ReportScriptHash, lib, "sha256:aa", t0, "UA 9")})
		if err != nil || len(made) != 0 {
			t.Fatalf("AddReports = %+v, %v; want nothing to judge", made, err)
		}
		if err := db.JudgeReport(ctx, 9999, skimguard.VerdictApproved, 0); !errors.Is(err, skimguard.ErrNotFound) {
			t.Errorf("judging an unknown aggregate: %v", err)
		}
	})
	t.Run("another hash, directive or page is another aggregate", func(t *testing.T) {
		v := report(skimguard.ReportViolation, "https://evil.test", "", t0, "UA")
		v.Directive = "connect-src"
		img := v
		img.Directive = "img-src"
		other := report(skimguard.ReportScriptHash, lib, "sha256:aa", t0, "UA")
		other.Page = "cart"
		made, _, err := db.AddReports(ctx, []skimguard.ShopperReport{report(skimguard.ReportScriptHash, lib, "sha256:bb", t0, "UA"), v, img, other})
		if err != nil || len(made) != 4 {
			t.Fatalf("AddReports = %d aggregates, %v; want 4 new", len(made), err)
		}
	})
	t.Run("a page holds at most MaxReportAggregates; the rest is dropped and counted", func(t *testing.T) {
		have, _ := db.Reports(ctx, skimguard.ReportFilter{Site: "shop", Page: "checkout"})
		var rs []skimguard.ShopperReport
		for i := range skimguard.MaxReportAggregates - len(have) + 5 {
			rs = append(rs, report(skimguard.ReportScriptHash, lib, fmt.Sprintf("sha256:%04d", i), t0, "UA"))
		}
		_, dropped, err := db.AddReports(ctx, rs)
		if err != nil || dropped != 5 {
			t.Fatalf("dropped %d, %v; want 5", dropped, err)
		}
		all, _ := db.Reports(ctx, skimguard.ReportFilter{Site: "shop", Page: "checkout"})
		if len(all) != skimguard.MaxReportAggregates {
			t.Errorf("%d aggregates, want %d", len(all), skimguard.MaxReportAggregates)
		}
		// Known aggregates still count.
		made, dropped, err := db.AddReports(ctx, []skimguard.ShopperReport{report(skimguard.ReportScriptHash, lib, "sha256:bb", t0, "UA")})
		if err != nil || dropped != 0 || len(made) != 1 || made[0].Count != 2 {
			t.Errorf("a report of a known aggregate at the cap: %+v, dropped %d, %v", made, dropped, err)
		}
	})
	t.Run("pruning removes what was last reported before the retention", func(t *testing.T) {
		late := report(skimguard.ReportScriptHash, lib, "sha256:late", t0.Add(48*time.Hour), "UA")
		late.Page = "cart"
		if _, _, err := db.AddReports(ctx, []skimguard.ShopperReport{late}); err != nil {
			t.Fatal(err)
		}
		n, err := db.PruneReports(ctx, t0.Add(24*time.Hour))
		if err != nil || n != skimguard.MaxReportAggregates+1 {
			t.Fatalf("pruned %d, %v; want %d", n, err, skimguard.MaxReportAggregates+1)
		}
		all, _ := db.Reports(ctx, skimguard.ReportFilter{})
		if len(all) != 1 || all[0].Hash != "sha256:late" {
			t.Errorf("left %+v, want the late report only", all)
		}
	})
}

func TestReportedFindingsOpenOnceWithoutAScan(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	p := skimguard.Page{Site: "shop", Name: "checkout", URL: "https://shop.test/checkout"}
	finding := func() []skimguard.Finding {
		return []skimguard.Finding{{Kind: skimguard.KindScriptChanged, Severity: skimguard.SeverityHigh, Subject: "https://cdn.test/lib.js",
			Detail: "reported", Fingerprint: "fp-1", Evidence: skimguard.Evidence{Source: skimguard.SourceShoppers, Reports: 1, FirstReported: t0},
			Item: skimguard.Item{Type: skimguard.ItemScript, Key: "external https://cdn.test/lib.js in top"}}}
	}
	fs := finding()
	if err := db.SaveReportedFindings(ctx, p, fs, t0); err != nil {
		t.Fatal(err)
	}
	if fs[0].ID == 0 || fs[0].ScanID != 0 || fs[0].Status != skimguard.StatusOpen || !fs[0].FirstSeen.Equal(t0) {
		t.Fatalf("saved %+v", fs[0])
	}
	again := finding()
	if err := db.SaveReportedFindings(ctx, p, again, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again[0].ID != fs[0].ID || !again[0].FirstSeen.Equal(t0) || !again[0].LastSeen.Equal(t0.Add(time.Hour)) {
		t.Fatalf("the same change again: %+v, want finding %d first seen at t0, last an hour later", again[0], fs[0].ID)
	}
	stored, err := db.Findings(ctx, skimguard.FindingFilter{IDs: []int64{fs[0].ID}})
	if err != nil || len(stored) != 1 {
		t.Fatalf("Findings = %+v, %v", stored, err)
	}
	if ev := stored[0].Evidence; ev.Source != skimguard.SourceShoppers || ev.Reports != 1 || !ev.FirstReported.Equal(t0) {
		t.Errorf("evidence %+v, want the shoppers' marker, count and first report", ev)
	}

	t.Run("a scan that sees the same change later moves the finding to itself", func(t *testing.T) {
		scan := &skimguard.Scan{Site: "shop", Page: "checkout", StartedAt: t0.Add(2 * time.Hour), Status: skimguard.ScanFindings, Findings: finding()}
		if err := db.SaveScan(ctx, scan); err != nil {
			t.Fatal(err)
		}
		if scan.Findings[0].ID != fs[0].ID {
			t.Fatalf("the scan opened finding %d, want it to join %d", scan.Findings[0].ID, fs[0].ID)
		}
		// Reported again after the scan: the finding keeps the scan.
		if err := db.SaveReportedFindings(ctx, p, finding(), t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ := db.Findings(ctx, skimguard.FindingFilter{IDs: []int64{fs[0].ID}})
		if got[0].ScanID != scan.ID || !got[0].LastSeen.Equal(t0.Add(3*time.Hour)) {
			t.Errorf("scan %d, last seen %s; want scan %d, three hours after t0", got[0].ScanID, got[0].LastSeen, scan.ID)
		}
	})
}

func TestReportTokensAreStoredHashedAndAudited(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	if _, err := db.ReportToken(ctx, "shop"); !errors.Is(err, skimguard.ErrNotFound) {
		t.Fatalf("no token yet: %v", err)
	}
	for _, h := range []string{"hash-1", "hash-2"} {
		if err := db.SetReportToken(ctx, "shop", h, "alice"); err != nil {
			t.Fatal(err)
		}
		if got, err := db.ReportToken(ctx, "shop"); err != nil || got != h {
			t.Fatalf("ReportToken = %q, %v; want %q", got, err, h)
		}
	}
	log, _ := db.Audit(ctx)
	var actions []string
	for _, e := range log {
		if e.Site == "shop" && e.Actor == "alice" {
			actions = append(actions, e.Action)
		}
		if e.Detail != "" && (e.Detail == "hash-1" || e.Detail == "hash-2") {
			t.Errorf("the audit log holds a token hash: %+v", e)
		}
	}
	if !slices.Equal(actions, []string{"report_token.made", "report_token.rotated"}) {
		t.Errorf("audit actions %q", actions)
	}
}
