package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

func testBaselines(t *testing.T, h Harness) {
	t.Run("a page without one says how to make one", func(t *testing.T) {
		db := h.Open(t)
		_, err := db.Baseline(t.Context(), "shop", "checkout")
		if !errors.Is(err, skimguard.ErrNoBaseline) {
			t.Fatalf("Baseline = %v, want ErrNoBaseline", err)
		}
		for _, s := range []string{"shop/checkout", "skimguard baseline --site shop"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
	})

	t.Run("versions are kept and the latest is returned whole", func(t *testing.T) {
		db := h.Open(t)
		v1 := BaselineOf("shop", "checkout", "a", "b")
		MustSaveBaseline(t, db, v1)
		v2 := BaselineOf("shop", "checkout", "a", "b", "c")
		v2.ApprovedBy, v2.Reason, v2.CreatedAt = "bob", "new analytics", T0.Add(time.Hour)
		v2.Items[1].Optional = true
		v2.Items[2].Attrs, v2.Items[2].Values = nil, []string{}
		v2.Items[2].FirstSeen, v2.Items[2].ApprovedAt = time.Time{}, time.Time{}
		MustSaveBaseline(t, db, v2)
		if v1.Version != 1 || v2.Version != 2 || v1.ID == v2.ID || v2.ID == 0 {
			t.Fatalf("versions %d (id %d), %d (id %d); want 1, 2 with distinct ids", v1.Version, v1.ID, v2.Version, v2.ID)
		}

		got, err := db.Baseline(t.Context(), "shop", "checkout")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, v2) {
			t.Errorf("Baseline =\n%+v\nwant\n%+v", got, v2)
		}
		if n := h.Count(t, db, "SELECT count(*) FROM baseline_items i JOIN baselines b ON b.id = i.baseline_id WHERE b.version = 1"); n != 2 {
			t.Errorf("version 1 has %d items left, want 2", n)
		}
		if n := h.Count(t, db, "SELECT count(*) FROM sources"); n != 3 {
			t.Errorf("%d script texts stored, want 3 (one per distinct text)", n)
		}

		log := MustAudit(t, db)
		if len(log) != 2 {
			t.Fatalf("audit log has %d entries, want 2: %+v", len(log), log)
		}
		want := skimguard.AuditEntry{ID: log[1].ID, At: v2.CreatedAt, Actor: "bob", Action: "baseline.approve",
			Site: "shop", Page: "checkout", Reason: "new analytics", Detail: "version 2, 3 items"}
		if !reflect.DeepEqual(log[1], want) {
			t.Errorf("audit entry = %+v, want %+v", log[1], want)
		}
		if log[0].Detail != "version 1, 2 items" || log[0].Actor != "alice" {
			t.Errorf("first audit entry = %+v", log[0])
		}
	})

	t.Run("Baselines lists the latest version of each page by site and page", func(t *testing.T) {
		db := h.Open(t)
		MustSaveBaseline(t, db, BaselineOf("zoo", "pay", "z"))
		MustSaveBaseline(t, db, BaselineOf("shop", "payment", "p"))
		MustSaveBaseline(t, db, BaselineOf("shop", "checkout", "a"))
		MustSaveBaseline(t, db, BaselineOf("shop", "checkout", "a", "b"))

		all, err := db.Baselines(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range all {
			got = append(got, fmt.Sprintf("%s/%s v%d %d items", b.Site, b.Page, b.Version, len(b.Items)))
		}
		want := []string{"shop/checkout v2 2 items", "shop/payment v1 1 items", "zoo/pay v1 1 items"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Baselines(all) = %q, want %q", got, want)
		}

		some, err := db.Baselines(t.Context(), []string{"zoo", "nowhere"})
		if err != nil {
			t.Fatal(err)
		}
		if len(some) != 1 || some[0].Site != "zoo" || len(some[0].Items) != 1 || some[0].Items[0].Key != "z" {
			t.Errorf("Baselines(zoo) = %+v, want zoo/pay with its item", some)
		}
	})

	t.Run("BaselineVersions lists every version newest first, older ones intact", func(t *testing.T) {
		db := h.Open(t)
		v1 := BaselineOf("shop", "checkout", "a", "b")
		MustSaveBaseline(t, db, v1)
		MustSaveBaseline(t, db, BaselineOf("shop", "cart", "z"))
		// Version 2 comes from approving a finding, version 3 is saved
		// whole without item a.
		s := ScanOf("shop", "checkout", T0.Add(time.Hour), Finding("", "", "x"))
		MustSaveScan(t, db, s)
		res := skimguard.Resolution{Status: skimguard.StatusApproved, By: "carol", Reason: "CHG-7", At: T0.Add(2 * time.Hour)}
		apply := func(cur *skimguard.Baseline, fs []skimguard.Finding, res skimguard.Resolution) (*skimguard.Baseline, error) {
			nb := *cur
			nb.ApprovedBy, nb.Reason, nb.CreatedAt = "", "", time.Time{}
			nb.Items = append(append([]skimguard.Item(nil), cur.Items...), fs[0].Item)
			return &nb, nil
		}
		if err := db.ResolveFindings(t.Context(), []int64{s.Findings[0].ID}, res, apply); err != nil {
			t.Fatal(err)
		}
		v3 := BaselineOf("shop", "checkout", "b")
		v3.CreatedAt = T0.Add(3 * time.Hour)
		MustSaveBaseline(t, db, v3)

		vs, err := db.BaselineVersions(t.Context(), "shop", "checkout")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range vs {
			var keys []string
			for _, it := range b.Items {
				keys = append(keys, it.Key)
			}
			got = append(got, fmt.Sprintf("%s/%s v%d by %s: %s", b.Site, b.Page, b.Version, b.ApprovedBy, strings.Join(keys, " ")))
		}
		want := []string{
			"shop/checkout v3 by alice: b",
			"shop/checkout v2 by carol: a b script https://evil.test/x.js",
			"shop/checkout v1 by alice: a b",
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("BaselineVersions =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !reflect.DeepEqual(&vs[2], v1) {
			t.Errorf("version 1 =\n%+v\nwant it as saved\n%+v", vs[2], v1)
		}
		if !reflect.DeepEqual(&vs[0], v3) {
			t.Errorf("version 3 =\n%+v\nwant it as saved\n%+v", vs[0], v3)
		}
		if vs[1].Items[2].Source != "steal()" {
			t.Errorf("approved item lost its script text: %+v", vs[1].Items[2])
		}
	})

	t.Run("BaselineVersions of a page without one says how to make one", func(t *testing.T) {
		db := h.Open(t)
		MustSaveBaseline(t, db, BaselineOf("shop", "cart", "a"))
		vs, err := db.BaselineVersions(t.Context(), "shop", "checkout")
		if !errors.Is(err, skimguard.ErrNoBaseline) || !strings.Contains(err.Error(), "skimguard baseline --site shop") {
			t.Errorf("BaselineVersions = %+v, %v; want ErrNoBaseline", vs, err)
		}
	})

	t.Run("an item key twice is refused and nothing is saved", func(t *testing.T) {
		db := h.Open(t)
		b := BaselineOf("shop", "checkout", "a", "a")
		err := db.SaveBaseline(t.Context(), b)
		if err == nil || !strings.Contains(err.Error(), "save baseline of shop/checkout") {
			t.Fatalf("SaveBaseline = %v, want an error about the duplicate", err)
		}
		if b.ID != 0 || b.Version != 0 {
			t.Errorf("failed save set ID %d, version %d", b.ID, b.Version)
		}
		if n := h.Count(t, db, "SELECT count(*) FROM baselines"); n != 0 {
			t.Errorf("%d baselines stored, want 0", n)
		}
		if len(MustAudit(t, db)) != 0 {
			t.Errorf("failed save was audited")
		}
	})
}
