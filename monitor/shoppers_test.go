package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

func hashOf(src string) string {
	h := sha256.Sum256([]byte(src))
	return skimguard.ScriptHash(hex.EncodeToString(h[:]))
}

// shopperReport is one report of the checkout page as csp.Aggregate makes
// it.
func shopperReport(typ skimguard.ReportType, subject, hash, directive string) skimguard.ShopperReport {
	at := time.Now().UTC()
	return skimguard.ShopperReport{Site: "shop", Page: "checkout", Type: typ, Subject: subject, Hash: hash, Directive: directive,
		Count: 1, FirstSeen: at, LastSeen: at, UserAgents: []string{"Mozilla/5.0 test"}}
}

func verdicts(t *testing.T, store skimguard.ReportStore) map[string]skimguard.ShopperReport {
	t.Helper()
	rs, err := store.Reports(context.Background(), skimguard.ReportFilter{Site: "shop", Page: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]skimguard.ShopperReport{}
	for _, r := range rs {
		out[string(r.Type)+" "+r.Subject+" "+r.Hash+" "+r.Directive] = r
	}
	return out
}

func TestShoppersReportsAreJudgedByTheBaseline(t *testing.T) {
	ctx := context.Background()
	m, sc, rcv, pages := setup(t)
	checkout := pages[0]
	app := "https://shop.test/app.js"
	clean := cleanObservation()
	clean.Scripts[0].SHA256 = ""
	// A per-load build stamp in a second script: the baseline knows it
	// by structure once two loads differ.
	stamped := func(n string) *skimguard.Observation {
		o := cleanObservation()
		o.Scripts[0].SHA256 = ""
		o.Scripts = append(o.Scripts, skimguard.Script{Kind: skimguard.ScriptExternal, URL: "https://tags.test/tag.js", Frame: "https://shop.test/checkout",
			Ordinal: 2, Source: `var build = "` + n + `"; tag();`, LoadedBy: "parser"})
		return o
	}
	sc.set("checkout", stamped("2026-01-01T10:00:00.000Z"))
	if _, err := m.Learn(ctx, pages[:1], LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"}); err != nil {
		t.Fatal(err)
	}
	sc.set("checkout", stamped("2026-01-01T11:00:00.000Z"))
	if res, err := m.Check(ctx, pages[:1]); err != nil || len(res.Findings()) != 0 {
		t.Fatalf("a load with another build stamp: %v, findings %+v", err, res.Findings())
	}
	store := m.Store.(*sqlite.DB)
	sh := &Shoppers{Monitor: m, Store: store}

	collect := func(rs ...skimguard.ShopperReport) Collected {
		t.Helper()
		c, err := sh.Collect(ctx, checkout, rs)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("what the baseline has is approved, and nothing is alerted", func(t *testing.T) {
		c := collect(shopperReport(skimguard.ReportScriptHash, app, hashOf("init();"), ""),
			shopperReport(skimguard.ReportViolation, "https://shop.test", "", "connect-src"))
		if c.Judged != 2 || c.Opened != 0 || rcv.count() != 0 {
			t.Fatalf("%+v, alerts %d", c, rcv.count())
		}
		for k, r := range verdicts(t, store) {
			if r.Verdict != skimguard.VerdictApproved {
				t.Errorf("%s: %s", k, r.Verdict)
			}
		}
	})

	var changed skimguard.ShopperReport
	t.Run("a hash the baseline has not opens a script.changed from shoppers, alerted once", func(t *testing.T) {
		changed = shopperReport(skimguard.ReportScriptHash, app, hashOf("init();steal();"), "")
		if c := collect(changed, changed); c.Opened != 1 {
			t.Fatalf("%+v", c)
		}
		if rcv.count() != 1 {
			t.Fatalf("alerts %d, want 1", rcv.count())
		}
		p := rcv.payload(0)
		if p.ScanID != 0 || len(p.Findings) != 1 || p.Findings[0].Kind != skimguard.KindScriptChanged ||
			p.Findings[0].Evidence.Source != skimguard.SourceShoppers || p.Findings[0].Evidence.Reports != 2 || p.Findings[0].Evidence.FirstReported.IsZero() {
			t.Fatalf("alert %+v", p)
		}
		r := verdicts(t, store)["csp-hash "+app+" "+changed.Hash+" "]
		if r.Verdict != skimguard.VerdictFinding || r.FindingID != p.Findings[0].ID || r.Count != 2 {
			t.Fatalf("aggregate %+v", r)
		}
		// Reported again: counted, not alerted again.
		if c := collect(changed); c.Judged != 0 || rcv.count() != 1 {
			t.Fatalf("%+v, alerts %d", c, rcv.count())
		}
	})
	t.Run("approving it adds the hash to the baseline: it is approved when next reported", func(t *testing.T) {
		r := verdicts(t, store)["csp-hash "+app+" "+changed.Hash+" "]
		if err := m.Resolve(ctx, []int64{r.FindingID}, skimguard.Resolution{Status: skimguard.StatusApproved, By: "bob", Reason: "vendor hotfix 2.1"}); err != nil {
			t.Fatal(err)
		}
		// The aggregate is judged once; pruned, it comes back new.
		if _, err := store.PruneReports(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if c := collect(changed); c.Judged != 1 || c.Opened != 0 {
			t.Fatalf("%+v", c)
		}
		if r := verdicts(t, store)["csp-hash "+app+" "+changed.Hash+" "]; r.Verdict != skimguard.VerdictApproved {
			t.Fatalf("after approval: %+v", r)
		}
		if res, err := m.Check(ctx, pages[:1]); err != nil || len(res.Findings()) != 0 {
			t.Fatalf("a check after the approval: %v, findings %+v", err, res.Findings())
		}
	})
	t.Run("a script the baseline knows by structure is information, never a finding", func(t *testing.T) {
		c := collect(shopperReport(skimguard.ReportScriptHash, "https://tags.test/tag.js", hashOf(`var build = "x"; tag();`), ""))
		if c.Opened != 0 || c.Judged != 1 {
			t.Fatalf("%+v", c)
		}
		for k, r := range verdicts(t, store) {
			if r.Subject == "https://tags.test/tag.js" && r.Verdict != skimguard.VerdictVolatile {
				t.Errorf("%s: %s, want volatile", k, r.Verdict)
			}
		}
	})
	t.Run("a blocked destination the baseline has not opens connection.added; blocked inline code and missing integrity are information", func(t *testing.T) {
		before := rcv.count()
		c := collect(shopperReport(skimguard.ReportViolation, "https://evil.test", "", "img-src"),
			shopperReport(skimguard.ReportViolation, "inline", "", "script-src-elem"),
			shopperReport(skimguard.ReportIntegrity, app, "", ""))
		if c.Opened != 1 || rcv.count() != before+1 {
			t.Fatalf("%+v, alerts %d", c, rcv.count()-before)
		}
		vs := verdicts(t, store)
		if r := vs["csp-violation https://evil.test  img-src"]; r.Verdict != skimguard.VerdictFinding || r.FindingID == 0 {
			t.Errorf("the new destination: %+v", r)
		}
		if r := vs["csp-violation inline  script-src-elem"]; r.Verdict != skimguard.VerdictInformation {
			t.Errorf("blocked inline code: %+v", r)
		}
		if r := vs["integrity-violation "+app+"  "]; r.Verdict != skimguard.VerdictInformation {
			t.Errorf("missing integrity: %+v", r)
		}
		fs, _ := m.Store.Findings(ctx, skimguard.FindingFilter{Status: skimguard.StatusOpen})
		if len(fs) != 1 || fs[0].Kind != skimguard.KindConnectionAdded || fs[0].ScanID != 0 || fs[0].Evidence.Source != skimguard.SourceShoppers {
			t.Errorf("open findings %+v", fs)
		}
	})
	t.Run("a page without a baseline cannot judge", func(t *testing.T) {
		cart := shopperReport(skimguard.ReportScriptHash, app, hashOf("x"), "")
		cart.Page = "cart"
		c, err := sh.Collect(ctx, pages[1], []skimguard.ShopperReport{cart})
		if err != nil || c.Judged != 1 || c.Opened != 0 {
			t.Fatalf("%+v, %v", c, err)
		}
		rs, _ := store.Reports(ctx, skimguard.ReportFilter{Page: "cart"})
		if len(rs) != 1 || rs[0].Verdict != skimguard.VerdictUnjudged {
			t.Errorf("%+v", rs)
		}
	})
}
