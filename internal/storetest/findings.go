package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

func testResolveFindings(t *testing.T, h Harness) {
	// setup stores a baseline of shop/checkout and open findings on it and
	// on shop/cart, returning their IDs.
	setup := func(t *testing.T) (skimguard.Store, []int64) {
		db := h.Open(t)
		MustSaveBaseline(t, db, BaselineOf("shop", "checkout", "a"))
		s1 := ScanOf("shop", "checkout", T0, Finding("", "", "x"), Finding("", "", "y"))
		s2 := ScanOf("shop", "cart", T0.Add(time.Minute), Finding("", "", "z"))
		MustSaveScan(t, db, s1)
		MustSaveScan(t, db, s2)
		return db, []int64{s1.Findings[0].ID, s1.Findings[1].ID, s2.Findings[0].ID}
	}
	approve := skimguard.Resolution{Status: skimguard.StatusApproved, By: "carol", Reason: "CHG-42 new widget", At: T0.Add(2 * time.Hour)}
	// addItems is an ApplyFunc that adds each finding's item to the baseline.
	type call struct {
		current  *skimguard.Baseline
		approved []skimguard.Finding
	}
	addItems := func(calls *[]call) skimguard.ApplyFunc {
		return func(cur *skimguard.Baseline, approved []skimguard.Finding, res skimguard.Resolution) (*skimguard.Baseline, error) {
			*calls = append(*calls, call{cur, approved})
			nb := &skimguard.Baseline{Site: approved[0].Site, Page: approved[0].Page, Samples: 1}
			if cur != nil {
				c := *cur
				nb = &c
				nb.Items = append([]skimguard.Item(nil), cur.Items...)
			}
			nb.ApprovedBy, nb.Reason, nb.CreatedAt = "", "", time.Time{}
			for _, f := range approved {
				nb.Items = append(nb.Items, f.Item)
			}
			return nb, nil
		}
	}
	snapshot := func(t *testing.T, db skimguard.Store) string {
		fs := MustFindings(t, db, skimguard.FindingFilter{})
		bs, err := db.Baselines(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal([]any{fs, bs, MustAudit(t, db), h.Count(t, db, "SELECT count(*) FROM baselines")})
		return string(js)
	}

	t.Run("approving stores what apply returns as each page's new version", func(t *testing.T) {
		db, ids := setup(t)
		var calls []call
		if err := db.ResolveFindings(t.Context(), ids, approve, addItems(&calls)); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 2 {
			t.Fatalf("apply called %d times, want once per page", len(calls))
		}
		// Pages in site, page order: cart before checkout.
		if calls[0].current != nil || len(calls[0].approved) != 1 || calls[0].approved[0].ID != ids[2] {
			t.Errorf("apply for cart got %+v", calls[0])
		}
		if calls[1].current == nil || calls[1].current.Version != 1 || len(calls[1].approved) != 2 {
			t.Errorf("apply for checkout got %+v", calls[1])
		}
		if f := calls[1].approved[0]; f.Status != skimguard.StatusApproved || f.ResolvedBy != "carol" || f.Item.Key == "" {
			t.Errorf("apply got finding %+v, want it approved with its item", f)
		}

		checkout, err := db.Baseline(t.Context(), "shop", "checkout")
		if err != nil {
			t.Fatal(err)
		}
		if checkout.Version != 2 || len(checkout.Items) != 3 || checkout.ApprovedBy != "carol" ||
			checkout.Reason != approve.Reason || !checkout.CreatedAt.Equal(approve.At) {
			t.Errorf("checkout baseline = v%d, %d items, by %q for %q at %v", checkout.Version, len(checkout.Items),
				checkout.ApprovedBy, checkout.Reason, checkout.CreatedAt)
		}
		if checkout.Items[2].Source != "steal()" {
			t.Errorf("approved item lost its script text: %+v", checkout.Items[2])
		}
		cart, err := db.Baseline(t.Context(), "shop", "cart")
		if err != nil || cart.Version != 1 || len(cart.Items) != 1 {
			t.Errorf("cart baseline = %+v, %v", cart, err)
		}

		fs := MustFindings(t, db, skimguard.FindingFilter{IDs: ids})
		for _, f := range fs {
			if f.Status != skimguard.StatusApproved || f.ResolvedBy != "carol" || f.Resolution != approve.Reason || !f.ResolvedAt.Equal(approve.At) {
				t.Errorf("finding %d = %s by %q (%q) at %v", f.ID, f.Status, f.ResolvedBy, f.Resolution, f.ResolvedAt)
			}
		}

		var actions []string
		for _, e := range MustAudit(t, db)[1:] {
			actions = append(actions, e.Action+" "+e.Site+"/"+e.Page+": "+e.Detail)
			if e.Actor != "carol" || e.Reason != approve.Reason || !e.At.Equal(approve.At) {
				t.Errorf("audit entry %+v", e)
			}
		}
		want := []string{
			fmt.Sprintf("finding.approve shop/checkout: finding %d: script.added https://evil.test/x.js", ids[0]),
			fmt.Sprintf("finding.approve shop/checkout: finding %d: script.added https://evil.test/y.js", ids[1]),
			fmt.Sprintf("finding.approve shop/cart: finding %d: script.added https://evil.test/z.js", ids[2]),
			"baseline.approve shop/cart: version 1, 1 items",
			"baseline.approve shop/checkout: version 2, 3 items",
		}
		if !reflect.DeepEqual(actions, want) {
			t.Errorf("audit log =\n%s\nwant\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("rejecting closes findings without a new baseline", func(t *testing.T) {
		db, ids := setup(t)
		reject := skimguard.Resolution{Status: skimguard.StatusRejected, By: "dave", Reason: "skimmer, removed", At: T0.Add(time.Hour)}
		called := false
		apply := func(*skimguard.Baseline, []skimguard.Finding, skimguard.Resolution) (*skimguard.Baseline, error) {
			called = true
			return nil, nil
		}
		if err := db.ResolveFindings(t.Context(), ids[:1], reject, apply); err != nil {
			t.Fatal(err)
		}
		if called {
			t.Error("apply called for a rejection")
		}
		if n := h.Count(t, db, "SELECT count(*) FROM baselines"); n != 1 {
			t.Errorf("%d baseline versions, want 1", n)
		}
		fs := MustFindings(t, db, skimguard.FindingFilter{Status: skimguard.StatusRejected})
		if len(fs) != 1 || fs[0].ID != ids[0] || fs[0].ResolvedBy != "dave" || fs[0].Resolution != reject.Reason {
			t.Errorf("rejected findings = %+v", fs)
		}
		log := MustAudit(t, db)
		last := log[len(log)-1]
		if last.Action != "finding.reject" || !strings.Contains(last.Detail, fmt.Sprint(ids[0])) {
			t.Errorf("last audit entry = %+v", last)
		}
	})

	t.Run("an unknown id fails and changes nothing", func(t *testing.T) {
		db, ids := setup(t)
		before := snapshot(t, db)
		var calls []call
		err := db.ResolveFindings(t.Context(), []int64{ids[0], 999}, approve, addItems(&calls))
		if !errors.Is(err, skimguard.ErrNotFound) || !strings.Contains(err.Error(), "999") {
			t.Fatalf("ResolveFindings = %v, want ErrNotFound naming 999", err)
		}
		if after := snapshot(t, db); after != before {
			t.Errorf("failed resolve changed the database:\n%s\n%s", before, after)
		}
	})

	t.Run("a closed id fails and changes nothing", func(t *testing.T) {
		db, ids := setup(t)
		reject := skimguard.Resolution{Status: skimguard.StatusRejected, By: "dave", Reason: "no"}
		if err := db.ResolveFindings(t.Context(), ids[1:2], reject, nil); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, db)
		var calls []call
		err := db.ResolveFindings(t.Context(), ids, approve, addItems(&calls))
		if !errors.Is(err, skimguard.ErrNotOpen) || !strings.Contains(err.Error(), fmt.Sprintf("finding %d", ids[1])) ||
			!strings.Contains(err.Error(), "rejected") {
			t.Fatalf("ResolveFindings = %v, want ErrNotOpen naming finding %d and its status", err, ids[1])
		}
		if after := snapshot(t, db); after != before {
			t.Errorf("failed resolve changed the database:\n%s\n%s", before, after)
		}
	})

	t.Run("an apply error changes nothing", func(t *testing.T) {
		db, ids := setup(t)
		before := snapshot(t, db)
		boom := errors.New("boom")
		n := 0
		apply := func(cur *skimguard.Baseline, fs []skimguard.Finding, res skimguard.Resolution) (*skimguard.Baseline, error) {
			// The first page succeeds, the second fails.
			if n++; n == 2 {
				return nil, boom
			}
			return &skimguard.Baseline{Site: fs[0].Site, Page: fs[0].Page}, nil
		}
		err := db.ResolveFindings(t.Context(), ids, approve, apply)
		if !errors.Is(err, boom) {
			t.Fatalf("ResolveFindings = %v, want boom", err)
		}
		if after := snapshot(t, db); after != before {
			t.Errorf("failed resolve changed the database:\n%s\n%s", before, after)
		}
	})

	t.Run("a resolution other than approve or reject is refused", func(t *testing.T) {
		db, ids := setup(t)
		err := db.ResolveFindings(t.Context(), ids, skimguard.Resolution{Status: skimguard.StatusOpen, By: "x"}, nil)
		if err == nil {
			t.Fatal("resolving as open succeeded")
		}
	})
}

func testResolveFindingsUnderTheTwoPersonRule(t *testing.T, h Harness) {
	// setup stores a baseline of shop/checkout and, on it, a high finding
	// and a medium one, returning their IDs.
	setup := func(t *testing.T) (skimguard.Store, int64, int64) {
		db := h.Open(t)
		MustSaveBaseline(t, db, BaselineOf("shop", "checkout", "a"))
		medium := Finding("", "", "m")
		medium.Severity = skimguard.SeverityMedium
		s := ScanOf("shop", "checkout", T0, Finding("", "", "h"), medium)
		MustSaveScan(t, db, s)
		return db, s.Findings[0].ID, s.Findings[1].ID
	}
	approve := func(by, reason string, at time.Duration) skimguard.Resolution {
		return skimguard.Resolution{Status: skimguard.StatusApproved, By: by, Reason: reason, At: T0.Add(at), Approvals: skimguard.ApprovalsTwoPerson}
	}
	apply := func(cur *skimguard.Baseline, approved []skimguard.Finding, res skimguard.Resolution) (*skimguard.Baseline, error) {
		nb := *cur
		nb.Items = append(slices.Clone(cur.Items), approved[0].Item)
		nb.ApprovedBy, nb.Reason, nb.CreatedAt = "", "", time.Time{}
		return &nb, nil
	}
	one := func(t *testing.T, db skimguard.Store, id int64) skimguard.Finding {
		t.Helper()
		return MustFindings(t, db, skimguard.FindingFilter{IDs: []int64{id}})[0]
	}
	version := func(t *testing.T, db skimguard.Store) *skimguard.Baseline {
		t.Helper()
		b, err := db.Baseline(t.Context(), "shop", "checkout")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("the first approval of a high finding is recorded and leaves it open", func(t *testing.T) {
		db, high, _ := setup(t)
		if err := db.ResolveFindings(t.Context(), []int64{high}, approve("alice", "new vendor, SEC-1", time.Hour), apply); err != nil {
			t.Fatal(err)
		}
		f := one(t, db, high)
		want := &skimguard.Approval{By: "alice", Reason: "new vendor, SEC-1", At: T0.Add(time.Hour)}
		if f.Status != skimguard.StatusOpen || f.ResolvedBy != "" || !reflect.DeepEqual(f.FirstApproval, want) {
			t.Fatalf("finding after one approval: %s by %q, first approval %+v; want open with %+v", f.Status, f.ResolvedBy, f.FirstApproval, want)
		}
		if b := version(t, db); b.Version != 1 {
			t.Fatalf("the baseline moved to version %d on one approval", b.Version)
		}
		log := MustAudit(t, db)
		last := log[len(log)-1]
		if last.Action != "finding.approve_first" || last.Actor != "alice" || last.Reason != "new vendor, SEC-1" || !strings.Contains(last.Detail, "waiting for a second reviewer") {
			t.Fatalf("audit: %+v", last)
		}
	})
	t.Run("the same reviewer cannot give the second approval, and nothing changes", func(t *testing.T) {
		db, high, medium := setup(t)
		if err := db.ResolveFindings(t.Context(), []int64{high}, approve("alice", "new vendor", time.Hour), apply); err != nil {
			t.Fatal(err)
		}
		before := len(MustAudit(t, db))
		err := db.ResolveFindings(t.Context(), []int64{medium, high}, approve("alice", "again", 2*time.Hour), apply)
		if !errors.Is(err, skimguard.ErrSameReviewer) || !strings.Contains(err.Error(), "alice") {
			t.Fatalf("a second approval by alice = %v, want ErrSameReviewer naming her", err)
		}
		if f := one(t, db, high); f.Status != skimguard.StatusOpen || f.FirstApproval.Reason != "new vendor" {
			t.Fatalf("the refused approval changed the finding: %+v", f)
		}
		if f := one(t, db, medium); f.Status != skimguard.StatusOpen {
			t.Fatalf("the refused batch approved the medium finding: %s", f.Status)
		}
		if n := len(MustAudit(t, db)); n != before || version(t, db).Version != 1 {
			t.Fatalf("the refused approval was recorded: audit %d → %d entries, baseline version %d", before, n, version(t, db).Version)
		}
	})
	t.Run("a second reviewer closes it and the baseline gains a version naming both", func(t *testing.T) {
		db, high, _ := setup(t)
		db.ResolveFindings(t.Context(), []int64{high}, approve("alice", "new vendor, SEC-1", time.Hour), apply)
		if err := db.ResolveFindings(t.Context(), []int64{high}, approve("bob", "checked the vendor's script", 2*time.Hour), apply); err != nil {
			t.Fatal(err)
		}
		f := one(t, db, high)
		if f.Status != skimguard.StatusApproved || f.ResolvedBy != "bob" || f.FirstApproval == nil || f.FirstApproval.By != "alice" {
			t.Fatalf("finding: %s by %q, first approval %+v", f.Status, f.ResolvedBy, f.FirstApproval)
		}
		b := version(t, db)
		if b.Version != 2 || b.ApprovedBy != "alice and bob" || b.Reason != "new vendor, SEC-1 (confirmed: checked the vendor's script)" {
			t.Fatalf("baseline version %d approved by %q: %q", b.Version, b.ApprovedBy, b.Reason)
		}
		log := MustAudit(t, db)
		approval, version := log[len(log)-2], log[len(log)-1]
		if approval.Action != "finding.approve" || approval.Actor != "bob" || !strings.Contains(approval.Detail, "the first by alice") {
			t.Fatalf("audit: %+v", approval)
		}
		if version.Action != "baseline.approve" || version.Actor != "alice and bob" {
			t.Fatalf("audit: %+v", version)
		}
	})
	t.Run("anyone's rejection closes it at once, the first approver's too", func(t *testing.T) {
		db, high, _ := setup(t)
		db.ResolveFindings(t.Context(), []int64{high}, approve("alice", "new vendor", time.Hour), apply)
		reject := skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "it is a skimmer after all", At: T0.Add(2 * time.Hour), Approvals: skimguard.ApprovalsTwoPerson}
		if err := db.ResolveFindings(t.Context(), []int64{high}, reject, nil); err != nil {
			t.Fatal(err)
		}
		if f := one(t, db, high); f.Status != skimguard.StatusRejected || f.ResolvedBy != "alice" {
			t.Fatalf("finding: %s by %q", f.Status, f.ResolvedBy)
		}
	})
	t.Run("a medium finding, or any under the one-person rule, needs one approval", func(t *testing.T) {
		db, high, medium := setup(t)
		if err := db.ResolveFindings(t.Context(), []int64{medium}, approve("alice", "header tweak", time.Hour), apply); err != nil {
			t.Fatal(err)
		}
		if f := one(t, db, medium); f.Status != skimguard.StatusApproved || f.FirstApproval != nil {
			t.Fatalf("medium finding: %s, first approval %+v", f.Status, f.FirstApproval)
		}
		res := approve("alice", "one person is enough here", 2*time.Hour)
		res.Approvals = skimguard.ApprovalsOnePerson
		if err := db.ResolveFindings(t.Context(), []int64{high}, res, apply); err != nil {
			t.Fatal(err)
		}
		if f := one(t, db, high); f.Status != skimguard.StatusApproved {
			t.Fatalf("high finding under one-person: %s", f.Status)
		}
		if b := version(t, db); b.Version != 3 || b.ApprovedBy != "alice" {
			t.Fatalf("baseline version %d approved by %q, want 3 by alice", b.Version, b.ApprovedBy)
		}
	})
	t.Run("a first approval survives the finding being seen again", func(t *testing.T) {
		db, high, _ := setup(t)
		db.ResolveFindings(t.Context(), []int64{high}, approve("alice", "new vendor", time.Hour), apply)
		MustSaveScan(t, db, ScanOf("shop", "checkout", T0.Add(3*time.Hour), Finding("", "", "h")))
		if f := one(t, db, high); f.FirstApproval == nil || f.FirstApproval.By != "alice" || !f.LastSeen.Equal(T0.Add(3*time.Hour)) {
			t.Fatalf("finding seen again: last seen %v, first approval %+v", f.LastSeen, f.FirstApproval)
		}
	})
}
