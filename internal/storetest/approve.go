package storetest

import (
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/internal/obspack"
)

// testApproveWithBaselineApply runs the approval the monitor runs: findings
// of a real comparison, approved through baseline.Apply, make a baseline
// version that the changed page then matches.
func testApproveWithBaselineApply(t *testing.T, h Harness) {
	db := h.Open(t)
	clean := Observation("shop", "checkout", T0, 5, 0, "")
	b, err := baseline.Learn([]*skimguard.Observation{clean, clean}, "alice", "onboarding, SEC-1", T0)
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "checkout", clean.URL
	MustSaveBaseline(t, db, b)

	changed := Observation("shop", "checkout", T0.Add(time.Hour), 5, 0, "")
	changed.Scripts[0].Source += "\nnavigator.sendBeacon(document.cookie)"
	changed.Scripts[0].SHA256 = obspack.Hash(changed.Scripts[0].Source)
	changed.Scripts = append(changed.Scripts, Script("https://cdn.test/js/new-vendor.js", 9, 800))
	changed.Headers["content-security-policy"] = "default-src 'self'"
	scan := &skimguard.Scan{Site: "shop", Page: "checkout", URL: changed.URL, StartedAt: changed.StartedAt, Status: skimguard.ScanFindings,
		BaselineVersion: b.Version, Observation: changed, Findings: baseline.Compare(b, changed)}
	if len(scan.Findings) < 3 {
		t.Fatalf("the comparison found %d changes, want at least 3: %+v", len(scan.Findings), scan.Findings)
	}
	MustSaveScan(t, db, scan)
	var ids []int64
	for _, f := range scan.Findings {
		ids = append(ids, f.ID)
	}
	res := skimguard.Resolution{Status: skimguard.StatusApproved, By: "bob", Reason: "vendor update, CHG-9", At: T0.Add(2 * time.Hour)}
	if err := db.ResolveFindings(t.Context(), ids, res, baseline.Apply); err != nil {
		t.Fatal(err)
	}
	cur, err := db.Baseline(t.Context(), "shop", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != 2 || cur.ApprovedBy != "bob" || cur.Reason != res.Reason || !cur.CreatedAt.Equal(res.At) {
		t.Fatalf("baseline after approval: version %d by %q for %q at %v", cur.Version, cur.ApprovedBy, cur.Reason, cur.CreatedAt)
	}
	if fs := baseline.Compare(cur, changed); len(fs) != 0 {
		t.Errorf("the approved page still differs from its new baseline: %+v", fs)
	}
	if fs := baseline.Compare(b, changed); len(fs) != len(scan.Findings) {
		t.Errorf("version 1 changed under the approval: %d findings against it, want %d", len(fs), len(scan.Findings))
	}
	vs, err := db.BaselineVersions(t.Context(), "shop", "checkout")
	if err != nil || len(vs) != 2 || len(vs[1].Items) != len(b.Items) {
		t.Errorf("versions = %d (%v), want 2 with version 1 as it was", len(vs), err)
	}
	if open := MustFindings(t, db, skimguard.FindingFilter{Status: skimguard.StatusOpen}); len(open) != 0 {
		t.Errorf("open findings after approving them all: %+v", open)
	}
}
