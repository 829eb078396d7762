package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

// reportStore opens a store that keeps shoppers' reports: every database
// store does.
func reportStore(t *testing.T, h Harness) (skimguard.Store, skimguard.ReportStore) {
	t.Helper()
	db := h.Open(t)
	rs, ok := db.(skimguard.ReportStore)
	if !ok {
		t.Fatalf("%T keeps no shoppers' reports: every database store must (skimguard.ReportStore)", db)
	}
	return db, rs
}

// Report makes one report of a thing on shop/checkout at `at` from the
// browser ua.
func Report(typ skimguard.ReportType, subject, hash string, at time.Time, ua string) skimguard.ShopperReport {
	return skimguard.ShopperReport{Site: "shop", Page: "checkout", Type: typ, Subject: subject, Hash: hash,
		Count: 1, FirstSeen: at, LastSeen: at, UserAgents: []string{ua}}
}

func testReports(t *testing.T, h Harness) {
	ctx := t.Context()
	_, db := reportStore(t, h)
	lib := "https://cdn.test/lib.js"

	t.Run("the first report of a thing makes its aggregate, unjudged", func(t *testing.T) {
		made, dropped, err := db.AddReports(ctx, []skimguard.ShopperReport{Report(skimguard.ReportScriptHash, lib, "sha256:aa", T0, "UA 1")})
		if err != nil || dropped != 0 || len(made) != 1 || made[0].ID == 0 || made[0].Count != 1 || made[0].Verdict != "" {
			t.Fatalf("AddReports = %+v, %d, %v", made, dropped, err)
		}
	})
	t.Run("more reports of it add to the count, move last seen, keep a few distinct agents", func(t *testing.T) {
		var rs []skimguard.ShopperReport
		for i := range 5 {
			rs = append(rs, Report(skimguard.ReportScriptHash, lib, "sha256:aa", T0.Add(time.Duration(i+1)*time.Minute), fmt.Sprintf("UA %d", i%4)))
		}
		// An older report, arriving late, widens the span backwards.
		rs = append(rs, Report(skimguard.ReportScriptHash, lib, "sha256:aa", T0.Add(-time.Hour), "UA 1"))
		made, _, err := db.AddReports(ctx, rs)
		if err != nil {
			t.Fatal(err)
		}
		// Still unjudged: it is handed back for judging, once.
		if len(made) != 1 || made[0].Count != 7 {
			t.Fatalf("handed back %+v, want the one unjudged aggregate, counting 7", made)
		}
		all, err := db.Reports(ctx, skimguard.ReportFilter{Site: "shop", Page: "checkout"})
		if err != nil || len(all) != 1 {
			t.Fatalf("Reports = %+v, %v", all, err)
		}
		r := all[0]
		if r.Count != 7 || !r.FirstSeen.Equal(T0.Add(-time.Hour)) || !r.LastSeen.Equal(T0.Add(5*time.Minute)) {
			t.Errorf("count %d, first %s, last %s; want 7, an hour before T0, 5 minutes after", r.Count, r.FirstSeen, r.LastSeen)
		}
		if !slices.Equal(r.UserAgents, []string{"UA 1", "UA 0", "UA 2"}) {
			t.Errorf("user agents %q, want the first %d distinct", r.UserAgents, skimguard.MaxUserAgents)
		}
	})
	t.Run("a judged aggregate is not handed back again, and keeps its verdict and finding", func(t *testing.T) {
		all, _ := db.Reports(ctx, skimguard.ReportFilter{})
		if err := db.JudgeReport(ctx, all[0].ID, skimguard.VerdictApproved, 0); err != nil {
			t.Fatal(err)
		}
		made, _, err := db.AddReports(ctx, []skimguard.ShopperReport{Report(skimguard.ReportScriptHash, lib, "sha256:aa", T0, "UA 9")})
		if err != nil || len(made) != 0 {
			t.Fatalf("AddReports = %+v, %v; want nothing to judge", made, err)
		}
		if err := db.JudgeReport(ctx, 9999, skimguard.VerdictApproved, 0); !errors.Is(err, skimguard.ErrNotFound) {
			t.Errorf("judging an unknown aggregate: %v", err)
		}
		got, _ := db.Reports(ctx, skimguard.ReportFilter{})
		if len(got) != 1 || got[0].Verdict != skimguard.VerdictApproved || got[0].FindingID != 0 || got[0].Count != 8 {
			t.Errorf("after judging: %+v; want approved, no finding, counting 8", got)
		}
	})
	t.Run("another hash, directive or page is another aggregate, and a long script URL is one", func(t *testing.T) {
		v := Report(skimguard.ReportViolation, "https://evil.test", "", T0, "UA")
		v.Directive = "connect-src"
		img := v
		img.Directive = "img-src"
		other := Report(skimguard.ReportScriptHash, lib, "sha256:aa", T0, "UA")
		other.Page = "cart"
		// Longer than a database index entry may be.
		long := Report(skimguard.ReportIntegrity, "https://cdn.test/x.js?"+strings.Repeat("q=1&", 2000), "", T0, "UA")
		made, _, err := db.AddReports(ctx, []skimguard.ShopperReport{Report(skimguard.ReportScriptHash, lib, "sha256:bb", T0, "UA"), v, img, other, long, long})
		if err != nil || len(made) != 5 {
			t.Fatalf("AddReports = %d aggregates, %v; want 5 new", len(made), err)
		}
		if i := slices.IndexFunc(made, func(r skimguard.ShopperReport) bool { return r.Subject == long.Subject }); i < 0 || made[i].Count != 2 {
			t.Errorf("the long URL's aggregate: %+v; want one, counting 2", made)
		}
		page, _ := db.Reports(ctx, skimguard.ReportFilter{Site: "shop", Page: "cart"})
		if len(page) != 1 || page[0].Page != "cart" {
			t.Errorf("Reports of shop/cart = %+v, want its one aggregate", page)
		}
	})
	t.Run("a page holds at most MaxReportAggregates; the rest is dropped and counted", func(t *testing.T) {
		have, _ := db.Reports(ctx, skimguard.ReportFilter{Site: "shop", Page: "checkout"})
		var rs []skimguard.ShopperReport
		for i := range skimguard.MaxReportAggregates - len(have) + 5 {
			rs = append(rs, Report(skimguard.ReportScriptHash, lib, fmt.Sprintf("sha256:%04d", i), T0, "UA"))
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
		made, dropped, err := db.AddReports(ctx, []skimguard.ShopperReport{Report(skimguard.ReportScriptHash, lib, "sha256:bb", T0, "UA")})
		if err != nil || dropped != 0 || len(made) != 1 || made[0].Count != 2 {
			t.Errorf("a report of a known aggregate at the cap: %+v, dropped %d, %v", made, dropped, err)
		}
	})
	t.Run("pruning removes what was last reported before the retention", func(t *testing.T) {
		late := Report(skimguard.ReportScriptHash, lib, "sha256:late", T0.Add(48*time.Hour), "UA")
		late.Page = "cart"
		if _, _, err := db.AddReports(ctx, []skimguard.ShopperReport{late}); err != nil {
			t.Fatal(err)
		}
		n, err := db.PruneReports(ctx, T0.Add(24*time.Hour))
		if err != nil || n != skimguard.MaxReportAggregates+1 {
			t.Fatalf("pruned %d, %v; want %d", n, err, skimguard.MaxReportAggregates+1)
		}
		all, _ := db.Reports(ctx, skimguard.ReportFilter{})
		if len(all) != 1 || all[0].Hash != "sha256:late" {
			t.Errorf("left %+v, want the late report only", all)
		}
	})
	t.Run("a report without a site, page or type is refused", func(t *testing.T) {
		bad := Report("", lib, "sha256:aa", T0, "UA")
		if _, _, err := db.AddReports(ctx, []skimguard.ShopperReport{bad}); err == nil {
			t.Error("AddReports took a report without a type")
		}
	})
}

func testReportedFindings(t *testing.T, h Harness) {
	ctx := t.Context()
	store, db := reportStore(t, h)
	p := skimguard.Page{Site: "shop", Name: "checkout", URL: "https://shop.test/checkout"}
	finding := func() []skimguard.Finding {
		return []skimguard.Finding{{Kind: skimguard.KindScriptChanged, Severity: skimguard.SeverityHigh, Subject: "https://cdn.test/lib.js",
			Detail: "reported", Fingerprint: "fp-1", Evidence: skimguard.Evidence{Source: skimguard.SourceShoppers, Reports: 1, FirstReported: T0},
			Item: skimguard.Item{Type: skimguard.ItemScript, Key: "external https://cdn.test/lib.js in top"}}}
	}
	fs := finding()
	if err := db.SaveReportedFindings(ctx, p, fs, T0); err != nil {
		t.Fatal(err)
	}
	if fs[0].ID == 0 || fs[0].ScanID != 0 || fs[0].Status != skimguard.StatusOpen || !fs[0].FirstSeen.Equal(T0) {
		t.Fatalf("saved %+v", fs[0])
	}
	again := finding()
	if err := db.SaveReportedFindings(ctx, p, again, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again[0].ID != fs[0].ID || !again[0].FirstSeen.Equal(T0) || !again[0].LastSeen.Equal(T0.Add(time.Hour)) {
		t.Fatalf("the same change again: %+v, want finding %d first seen at T0, last an hour later", again[0], fs[0].ID)
	}
	stored := MustFindings(t, store, skimguard.FindingFilter{IDs: []int64{fs[0].ID}})
	if len(stored) != 1 || stored[0].ScanID != 0 {
		t.Fatalf("Findings = %+v, want the one finding, without a scan", stored)
	}
	if ev := stored[0].Evidence; ev.Source != skimguard.SourceShoppers || ev.Reports != 1 || !ev.FirstReported.Equal(T0) {
		t.Errorf("evidence %+v, want the shoppers' marker, count and first report", ev)
	}
	if err := db.SaveReportedFindings(ctx, skimguard.Page{Site: "shop"}, finding(), T0); err == nil {
		t.Error("SaveReportedFindings took a page without a name")
	}

	t.Run("a scan that sees the same change later moves the finding to itself", func(t *testing.T) {
		scan := &skimguard.Scan{Site: "shop", Page: "checkout", StartedAt: T0.Add(2 * time.Hour), Status: skimguard.ScanFindings, Findings: finding()}
		MustSaveScan(t, store, scan)
		if scan.Findings[0].ID != fs[0].ID {
			t.Fatalf("the scan opened finding %d, want it to join %d", scan.Findings[0].ID, fs[0].ID)
		}
		// Reported again after the scan: the finding keeps the scan.
		if err := db.SaveReportedFindings(ctx, p, finding(), T0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got := MustFindings(t, store, skimguard.FindingFilter{IDs: []int64{fs[0].ID}})
		if got[0].ScanID != scan.ID || !got[0].LastSeen.Equal(T0.Add(3*time.Hour)) {
			t.Errorf("scan %d, last seen %s; want scan %d, three hours after T0", got[0].ScanID, got[0].LastSeen, scan.ID)
		}
	})
	t.Run("an aggregate's verdict links the finding it opened", func(t *testing.T) {
		made, _, err := db.AddReports(ctx, []skimguard.ShopperReport{Report(skimguard.ReportScriptHash, "https://cdn.test/lib.js", "sha256:cc", T0, "UA")})
		if err != nil || len(made) != 1 {
			t.Fatalf("AddReports = %+v, %v", made, err)
		}
		if err := db.JudgeReport(ctx, made[0].ID, skimguard.VerdictFinding, fs[0].ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.Reports(ctx, skimguard.ReportFilter{Site: "shop"})
		if err != nil || len(got) != 1 || got[0].Verdict != skimguard.VerdictFinding || got[0].FindingID != fs[0].ID {
			t.Errorf("Reports = %+v, %v; want the verdict finding, linking finding %d", got, err, fs[0].ID)
		}
	})
}

func testReportTokens(t *testing.T, h Harness) {
	ctx := t.Context()
	store, db := reportStore(t, h)
	if _, err := db.ReportToken(ctx, "shop"); !errors.Is(err, skimguard.ErrNotFound) {
		t.Fatalf("no token yet: %v", err)
	}
	for _, hash := range []string{"hash-1", "hash-2"} {
		if err := db.SetReportToken(ctx, "shop", hash, "alice"); err != nil {
			t.Fatal(err)
		}
		if got, err := db.ReportToken(ctx, "shop"); err != nil || got != hash {
			t.Fatalf("ReportToken = %q, %v; want %q", got, err, hash)
		}
	}
	if _, err := db.ReportToken(ctx, "blog"); !errors.Is(err, skimguard.ErrNotFound) {
		t.Errorf("another site's token: %v, want ErrNotFound", err)
	}
	var actions []string
	for _, e := range MustAudit(t, store) {
		if e.Site == "shop" && e.Actor == "alice" {
			actions = append(actions, e.Action)
		}
		if strings.Contains(e.Detail, "hash-") || strings.Contains(e.Reason, "hash-") {
			t.Errorf("the audit log holds a token hash: %+v", e)
		}
	}
	if !slices.Equal(actions, []string{"report_token.made", "report_token.rotated"}) {
		t.Errorf("audit actions %q", actions)
	}
}

func testConcurrentReports(t *testing.T, h Harness) {
	t.Run("reports added to one aggregate at once all count", func(t *testing.T) {
		_, db := reportStore(t, h)
		const workers, batches = 8, 15
		lib := "https://cdn.test/lib.js"
		errs := together(workers, func(w int) error {
			for i := range batches {
				at := T0.Add(time.Duration(w*batches+i) * time.Second)
				shared := Report(skimguard.ReportScriptHash, lib, "sha256:aa", at, fmt.Sprint("UA ", w))
				shared.Count = 2
				v := Report(skimguard.ReportViolation, "https://evil.test", "", at, "UA")
				v.Directive = "connect-src"
				// Half the writers list them the other way round.
				rs := []skimguard.ShopperReport{shared, v, shared}
				if w%2 == 1 {
					slices.Reverse(rs)
				}
				if _, _, err := db.AddReports(t.Context(), rs); err != nil {
					return err
				}
			}
			return nil
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("AddReports: %v", err)
			}
		}
		all, err := db.Reports(t.Context(), skimguard.ReportFilter{})
		if err != nil || len(all) != 2 {
			t.Fatalf("Reports = %+v, %v; want the two aggregates", all, err)
		}
		for _, r := range all {
			want := int64(workers * batches)
			if r.Type == skimguard.ReportScriptHash {
				want *= 4
			}
			last := T0.Add((workers*batches - 1) * time.Second)
			if r.Count != want || !r.FirstSeen.Equal(T0) || !r.LastSeen.Equal(last) {
				t.Errorf("%s: count %d, seen %s..%s; want %d, from the first report to the last", r.Type, r.Count, r.FirstSeen, r.LastSeen, want)
			}
			if len(r.UserAgents) == 0 || len(r.UserAgents) > skimguard.MaxUserAgents {
				t.Errorf("%s: user agents %q, want 1 to %d", r.Type, r.UserAgents, skimguard.MaxUserAgents)
			}
		}
	})

	t.Run("writers making new aggregates at once stop at the page's bound", func(t *testing.T) {
		_, db := reportStore(t, h)
		const room, workers, each = 20, 8, 10
		var fill []skimguard.ShopperReport
		for i := range skimguard.MaxReportAggregates - room {
			fill = append(fill, Report(skimguard.ReportScriptHash, "https://cdn.test/lib.js", fmt.Sprintf("sha256:fill%04d", i), T0, "UA"))
		}
		if _, dropped, err := db.AddReports(t.Context(), fill); err != nil || dropped != 0 {
			t.Fatalf("AddReports = dropped %d, %v", dropped, err)
		}
		dropped := make([]int, workers)
		errs := together(workers, func(w int) error {
			for i := range each {
				r := Report(skimguard.ReportScriptHash, "https://cdn.test/lib.js", fmt.Sprintf("sha256:w%d-%d", w, i), T0, "UA")
				_, n, err := db.AddReports(t.Context(), []skimguard.ShopperReport{r})
				if err != nil {
					return err
				}
				dropped[w] += n
			}
			return nil
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("AddReports: %v", err)
			}
		}
		all, err := db.Reports(t.Context(), skimguard.ReportFilter{Site: "shop", Page: "checkout"})
		total := 0
		for _, n := range dropped {
			total += n
		}
		if err != nil || len(all) != skimguard.MaxReportAggregates || total != workers*each-room {
			t.Errorf("%d aggregates (%v), %d dropped; want %d and %d", len(all), err, total, skimguard.MaxReportAggregates, workers*each-room)
		}
	})

	t.Run("a token made by two at once is made once and rotated once", func(t *testing.T) {
		store, db := reportStore(t, h)
		errs := together(2, func(i int) error { return db.SetReportToken(t.Context(), "shop", fmt.Sprint("hash-", i), "alice") })
		for _, err := range errs {
			if err != nil {
				t.Errorf("SetReportToken: %v", err)
			}
		}
		var actions []string
		for _, e := range MustAudit(t, store) {
			actions = append(actions, e.Action)
		}
		slices.Sort(actions)
		if !slices.Equal(actions, []string{"report_token.made", "report_token.rotated"}) {
			t.Errorf("audit log %v, want one made and one rotated", actions)
		}
	})
}
