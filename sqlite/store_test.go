package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

func TestBaselines(t *testing.T) {
	t.Run("a page without one says how to make one", func(t *testing.T) {
		db, _ := openTest(t)
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
		db, _ := openTest(t)
		v1 := baselineOf("shop", "checkout", "a", "b")
		mustSaveBaseline(t, db, v1)
		v2 := baselineOf("shop", "checkout", "a", "b", "c")
		v2.ApprovedBy, v2.Reason, v2.CreatedAt = "bob", "new analytics", t0.Add(time.Hour)
		v2.Items[1].Optional = true
		v2.Items[2].Attrs, v2.Items[2].Values = nil, []string{}
		v2.Items[2].FirstSeen, v2.Items[2].ApprovedAt = time.Time{}, time.Time{}
		mustSaveBaseline(t, db, v2)
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
		if n := count(t, db, "SELECT count(*) FROM baseline_items i JOIN baselines b ON b.id = i.baseline_id WHERE b.version = 1"); n != 2 {
			t.Errorf("version 1 has %d items left, want 2", n)
		}
		if n := count(t, db, "SELECT count(*) FROM sources"); n != 3 {
			t.Errorf("%d script texts stored, want 3 (one per distinct text)", n)
		}

		log := mustAudit(t, db)
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
		db, _ := openTest(t)
		mustSaveBaseline(t, db, baselineOf("zoo", "pay", "z"))
		mustSaveBaseline(t, db, baselineOf("shop", "payment", "p"))
		mustSaveBaseline(t, db, baselineOf("shop", "checkout", "a"))
		mustSaveBaseline(t, db, baselineOf("shop", "checkout", "a", "b"))

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
		db, _ := openTest(t)
		v1 := baselineOf("shop", "checkout", "a", "b")
		mustSaveBaseline(t, db, v1)
		mustSaveBaseline(t, db, baselineOf("shop", "cart", "z"))
		// Version 2 comes from approving a finding, version 3 is saved
		// whole without item a.
		s := scanOf("shop", "checkout", t0.Add(time.Hour), finding("", "", "x"))
		mustSaveScan(t, db, s)
		res := skimguard.Resolution{Status: skimguard.StatusApproved, By: "carol", Reason: "CHG-7", At: t0.Add(2 * time.Hour)}
		apply := func(cur *skimguard.Baseline, fs []skimguard.Finding, res skimguard.Resolution) (*skimguard.Baseline, error) {
			nb := *cur
			nb.ApprovedBy, nb.Reason, nb.CreatedAt = "", "", time.Time{}
			nb.Items = append(append([]skimguard.Item(nil), cur.Items...), fs[0].Item)
			return &nb, nil
		}
		if err := db.ResolveFindings(t.Context(), []int64{s.Findings[0].ID}, res, apply); err != nil {
			t.Fatal(err)
		}
		v3 := baselineOf("shop", "checkout", "b")
		v3.CreatedAt = t0.Add(3 * time.Hour)
		mustSaveBaseline(t, db, v3)

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
		db, _ := openTest(t)
		mustSaveBaseline(t, db, baselineOf("shop", "cart", "a"))
		vs, err := db.BaselineVersions(t.Context(), "shop", "checkout")
		if !errors.Is(err, skimguard.ErrNoBaseline) || !strings.Contains(err.Error(), "skimguard baseline --site shop") {
			t.Errorf("BaselineVersions = %+v, %v; want ErrNoBaseline", vs, err)
		}
	})

	t.Run("an item key twice is refused and nothing is saved", func(t *testing.T) {
		db, _ := openTest(t)
		b := baselineOf("shop", "checkout", "a", "a")
		err := db.SaveBaseline(t.Context(), b)
		if err == nil || !strings.Contains(err.Error(), "save baseline of shop/checkout") {
			t.Fatalf("SaveBaseline = %v, want an error about the duplicate", err)
		}
		if b.ID != 0 || b.Version != 0 {
			t.Errorf("failed save set ID %d, version %d", b.ID, b.Version)
		}
		if n := count(t, db, "SELECT count(*) FROM baselines"); n != 0 {
			t.Errorf("%d baselines stored, want 0", n)
		}
		if len(mustAudit(t, db)) != 0 {
			t.Errorf("failed save was audited")
		}
	})
}

func TestSaveScan(t *testing.T) {
	t.Run("stores the observation with script texts and screenshot", func(t *testing.T) {
		db, _ := openTest(t)
		o := observation("shop", "checkout", t0, 20, 0, "")
		o.Scripts = append(o.Scripts, o.Scripts[0]) // the same text twice
		s := scanOf("shop", "checkout", t0)
		s.Observation = o
		mustSaveScan(t, db, s)
		if s.ID == 0 {
			t.Fatal("scan ID not set")
		}
		loaded, err := db.Scan(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := loaded.Observation
		want, _ := json.Marshal(o)
		have, _ := json.Marshal(got)
		if string(want) != string(have) || string(got.Screenshot) != string(o.Screenshot) {
			t.Errorf("observation did not round-trip:\n%s\nwant\n%s", have, want)
		}
		if got.Scripts[3].Source == "" || got.Scripts[3].Source != o.Scripts[3].Source {
			t.Errorf("script text lost")
		}
		if shot, err := db.Screenshot(t.Context(), s.ID); err != nil || len(o.Screenshot) == 0 || string(shot) != string(o.Screenshot) {
			t.Errorf("Screenshot(%d) = %d bytes, %v; want the %d bytes saved", s.ID, len(shot), err, len(o.Screenshot))
		}
		if _, err := db.Screenshot(t.Context(), s.ID+100); !errors.Is(err, skimguard.ErrNotFound) {
			t.Errorf("Screenshot of a missing scan: %v", err)
		}
		if n := count(t, db, "SELECT count(*) FROM sources"); n != 20 {
			t.Errorf("%d script texts stored, want 20", n)
		}
	})

	t.Run("a scan without observation is stored", func(t *testing.T) {
		db, _ := openTest(t)
		s := scanOf("shop", "checkout", t0)
		s.Status, s.Error = skimguard.ScanFailed, "net::ERR_CONNECTION_REFUSED"
		mustSaveScan(t, db, s)
		got, err := db.Scan(t.Context(), s.ID)
		if err != nil || got.Observation != nil {
			t.Errorf("Scan = %+v, %v; want it without observation", got, err)
		}
	})

	t.Run("the same fingerprint twice is one finding", func(t *testing.T) {
		db, _ := openTest(t)
		s1 := scanOf("shop", "checkout", t0, finding("shop", "checkout", "fp1"))
		mustSaveScan(t, db, s1)
		s2 := scanOf("shop", "checkout", t0.Add(time.Hour), finding("shop", "checkout", "fp1"), finding("shop", "checkout", "fp2"))
		mustSaveScan(t, db, s2)

		f1, f2 := s1.Findings[0], s2.Findings[0]
		if f1.ID == 0 || f2.ID != f1.ID {
			t.Fatalf("finding IDs %d then %d, want the same", f1.ID, f2.ID)
		}
		if !f2.FirstSeen.Equal(t0) || !f2.LastSeen.Equal(t0.Add(time.Hour)) || f2.Status != skimguard.StatusOpen || f2.ScanID != s2.ID {
			t.Errorf("seen again: first %v last %v status %s scan %d", f2.FirstSeen, f2.LastSeen, f2.Status, f2.ScanID)
		}
		if s2.Findings[1].ID == f1.ID {
			t.Errorf("another fingerprint took the same finding")
		}

		fs := mustFindings(t, db, skimguard.FindingFilter{IDs: []int64{f1.ID}})
		if len(fs) != 1 {
			t.Fatalf("Findings = %d, want 1", len(fs))
		}
		want := finding("shop", "checkout", "fp1")
		want.ID, want.Status, want.ScanID = f1.ID, skimguard.StatusOpen, s2.ID
		want.FirstSeen, want.LastSeen = t0, t0.Add(time.Hour)
		if !reflect.DeepEqual(fs[0], want) {
			t.Errorf("Findings =\n%+v\nwant\n%+v", fs[0], want)
		}
	})

	t.Run("a rejected finding seen again is a new finding", func(t *testing.T) {
		db, _ := openTest(t)
		s1 := scanOf("shop", "checkout", t0, finding("shop", "checkout", "fp"))
		mustSaveScan(t, db, s1)
		res := skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "false positive", At: t0.Add(time.Minute)}
		if err := db.ResolveFindings(t.Context(), []int64{s1.Findings[0].ID}, res, nil); err != nil {
			t.Fatal(err)
		}
		s2 := scanOf("shop", "checkout", t0.Add(time.Hour), finding("shop", "checkout", "fp"))
		mustSaveScan(t, db, s2)
		if s2.Findings[0].ID == s1.Findings[0].ID {
			t.Fatalf("a closed finding was reopened")
		}
		if !s2.Findings[0].FirstSeen.Equal(t0.Add(time.Hour)) {
			t.Errorf("new finding first seen %v", s2.Findings[0].FirstSeen)
		}
		open := mustFindings(t, db, skimguard.FindingFilter{Status: skimguard.StatusOpen})
		if len(open) != 1 || open[0].ID != s2.Findings[0].ID {
			t.Errorf("open findings = %+v, want only the new one", open)
		}
	})

	t.Run("the same fingerprint on another page is another finding", func(t *testing.T) {
		db, _ := openTest(t)
		s1 := scanOf("shop", "checkout", t0, finding("", "", "fp"))
		s2 := scanOf("shop", "cart", t0, finding("", "", "fp"))
		mustSaveScan(t, db, s1)
		mustSaveScan(t, db, s2)
		if s1.Findings[0].ID == s2.Findings[0].ID {
			t.Errorf("findings of two pages merged")
		}
		if s2.Findings[0].Site != "shop" || s2.Findings[0].Page != "cart" {
			t.Errorf("finding's page not taken from the scan: %s/%s", s2.Findings[0].Site, s2.Findings[0].Page)
		}
	})

	t.Run("a finding about another page is refused", func(t *testing.T) {
		db, _ := openTest(t)
		err := db.SaveScan(t.Context(), scanOf("shop", "checkout", t0, finding("shop", "cart", "fp")))
		if err == nil {
			t.Fatal("SaveScan succeeded")
		}
		if n := count(t, db, "SELECT count(*) FROM scans"); n != 0 {
			t.Errorf("%d scans stored after a failed save", n)
		}
	})

	t.Run("Scans lists newest first without observations", func(t *testing.T) {
		db, _ := openTest(t)
		for i := 0; i < 105; i++ {
			page := "checkout"
			if i%2 == 1 {
				page = "cart"
			}
			s := scanOf("shop", page, t0.Add(time.Duration(i)*time.Minute))
			s.Observation = observation("shop", page, s.StartedAt, 2, 0, "")
			mustSaveScan(t, db, s)
		}
		mustSaveScan(t, db, scanOf("other", "checkout", t0.Add(-time.Hour)))

		all, err := db.Scans(t.Context(), skimguard.ScanFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 100 {
			t.Errorf("Scans() = %d scans, want the default limit of 100", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].StartedAt.After(all[i-1].StartedAt) {
				t.Fatalf("scan %d is newer than scan %d", i, i-1)
			}
		}
		first := all[0]
		if first.Observation != nil || !first.StartedAt.Equal(t0.Add(104*time.Minute)) || first.Duration != 3*time.Second ||
			first.Status != skimguard.ScanOK || first.BaselineVersion != 1 || first.URL != "https://shop.test/checkout" {
			t.Errorf("newest scan = %+v", first)
		}

		cart, err := db.Scans(t.Context(), skimguard.ScanFilter{Site: "shop", Page: "cart", Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(cart) != 3 || cart[0].Page != "cart" || !cart[0].StartedAt.Equal(t0.Add(103*time.Minute)) {
			t.Errorf("Scans(cart, 3) = %+v", cart)
		}
		other, err := db.Scans(t.Context(), skimguard.ScanFilter{Sites: []string{"other"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(other) != 1 || other[0].Site != "other" {
			t.Errorf("Scans(sites other) = %+v", other)
		}
		unlimited, err := db.Scans(t.Context(), skimguard.ScanFilter{Limit: -1})
		if err != nil || len(unlimited) != 106 {
			t.Errorf("Scans(limit -1) = %d scans, %v; want all 106", len(unlimited), err)
		}
		period, err := db.Scans(t.Context(), skimguard.ScanFilter{From: t0.Add(10 * time.Minute), To: t0.Add(20 * time.Minute), Limit: -1})
		if err != nil || len(period) != 10 || !period[0].StartedAt.Equal(t0.Add(19*time.Minute)) || !period[9].StartedAt.Equal(t0.Add(10*time.Minute)) {
			t.Errorf("Scans(from 10m to 20m) = %d scans, %v; want minutes 10..19", len(period), err)
		}
	})

	t.Run("concurrent saves from 8 goroutines all succeed", func(t *testing.T) {
		db, _ := openTest(t)
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		ids := make(chan int64, workers*each)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					at := t0.Add(time.Duration(w*each+i) * time.Second)
					s := scanOf("shop", "checkout", at, finding("", "", "shared"), finding("", "", fmt.Sprintf("own-%d-%d", w, i)))
					s.Observation = observation("shop", "checkout", at, 20, 1, fmt.Sprint(w, i))
					if err := db.SaveScan(t.Context(), s); err != nil {
						errs <- err
						continue
					}
					ids <- s.Findings[0].ID
				}
			}()
		}
		wg.Wait()
		close(errs)
		close(ids)
		for err := range errs {
			t.Errorf("SaveScan: %v", err)
		}
		var shared int64
		for id := range ids {
			if shared == 0 {
				shared = id
			}
			if id != shared {
				t.Errorf("shared fingerprint got findings %d and %d", shared, id)
			}
		}
		if n := count(t, db, "SELECT count(*) FROM scans"); n != workers*each {
			t.Errorf("%d scans stored, want %d", n, workers*each)
		}
		if n := count(t, db, "SELECT count(*) FROM findings"); n != workers*each+1 {
			t.Errorf("%d findings stored, want %d", n, workers*each+1)
		}
		fs := mustFindings(t, db, skimguard.FindingFilter{IDs: []int64{shared}})
		if len(fs) != 1 || !fs[0].FirstSeen.Equal(t0) || !fs[0].LastSeen.Equal(t0.Add((workers*each-1)*time.Second)) {
			t.Errorf("shared finding = %+v, want first seen at the earliest scan and last at the latest", fs)
		}
	})
}

func TestScan(t *testing.T) {
	t.Run("returns the scan with its observation and its findings", func(t *testing.T) {
		db, _ := openTest(t)
		s1 := scanOf("shop", "checkout", t0, finding("", "", "x"), finding("", "", "y"))
		s1.Observation = observation("shop", "checkout", t0, 5, 0, "")
		mustSaveScan(t, db, s1)
		s2 := scanOf("shop", "checkout", t0.Add(time.Hour), finding("", "", "z"))
		mustSaveScan(t, db, s2)

		got, err := db.Scan(t.Context(), s1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != s1.ID || got.Site != "shop" || got.Page != "checkout" || got.URL != s1.URL || !got.StartedAt.Equal(t0) ||
			got.Duration != s1.Duration || got.Status != skimguard.ScanFindings || got.BaselineVersion != 1 {
			t.Errorf("Scan = %+v, want the scan saved", got)
		}
		want, _ := json.Marshal(s1.Observation)
		have, _ := json.Marshal(got.Observation)
		if string(have) != string(want) || got.Observation.Scripts[0].Source == "" {
			t.Errorf("observation did not round-trip:\n%s\nwant\n%s", have, want)
		}
		if wantFs := mustFindings(t, db, skimguard.FindingFilter{IDs: []int64{s1.Findings[0].ID, s1.Findings[1].ID}}); !reflect.DeepEqual(got.Findings, wantFs) {
			t.Errorf("findings =\n%+v\nwant\n%+v", got.Findings, wantFs)
		}

		got2, err := db.Scan(t.Context(), s2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got2.Observation != nil || len(got2.Findings) != 1 || got2.Findings[0].ID != s2.Findings[0].ID {
			t.Errorf("Scan(%d) = observation %v, findings %+v; want none and z", s2.ID, got2.Observation, got2.Findings)
		}
	})

	t.Run("a failed scan has no observation and no findings", func(t *testing.T) {
		db, _ := openTest(t)
		s := scanOf("shop", "checkout", t0)
		s.Status, s.Error = skimguard.ScanFailed, "net::ERR_CONNECTION_REFUSED"
		mustSaveScan(t, db, s)
		got, err := db.Scan(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != skimguard.ScanFailed || got.Error != s.Error || got.Observation != nil || len(got.Findings) != 0 {
			t.Errorf("Scan = %+v, want the failure without observation or findings", got)
		}
	})

	t.Run("a finding seen again is listed under the latest scan to see it", func(t *testing.T) {
		// Findings follow scan_id, which SaveScan moves on when a later scan
		// sees an open finding again.
		db, _ := openTest(t)
		s1 := scanOf("shop", "checkout", t0, finding("", "", "x"))
		s2 := scanOf("shop", "checkout", t0.Add(time.Hour), finding("", "", "x"))
		mustSaveScan(t, db, s1)
		mustSaveScan(t, db, s2)
		first, err := db.Scan(t.Context(), s1.ID)
		if err != nil {
			t.Fatal(err)
		}
		second, err := db.Scan(t.Context(), s2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(first.Findings) != 0 || len(second.Findings) != 1 || second.Findings[0].ID != s1.Findings[0].ID {
			t.Errorf("findings of the first scan %+v, of the second %+v; want the one finding under the second", first.Findings, second.Findings)
		}
	})

	t.Run("an unknown id is not found", func(t *testing.T) {
		db, _ := openTest(t)
		s := scanOf("shop", "checkout", t0)
		mustSaveScan(t, db, s)
		_, err := db.Scan(t.Context(), s.ID+1)
		if !errors.Is(err, skimguard.ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprint(s.ID+1)) {
			t.Errorf("Scan(%d) = %v, want ErrNotFound naming it", s.ID+1, err)
		}
	})
}

func TestResolveFindings(t *testing.T) {
	// setup stores a baseline of shop/checkout and open findings on it and
	// on shop/cart, returning their IDs.
	setup := func(t *testing.T) (*DB, []int64) {
		db, _ := openTest(t)
		mustSaveBaseline(t, db, baselineOf("shop", "checkout", "a"))
		s1 := scanOf("shop", "checkout", t0, finding("", "", "x"), finding("", "", "y"))
		s2 := scanOf("shop", "cart", t0.Add(time.Minute), finding("", "", "z"))
		mustSaveScan(t, db, s1)
		mustSaveScan(t, db, s2)
		return db, []int64{s1.Findings[0].ID, s1.Findings[1].ID, s2.Findings[0].ID}
	}
	approve := skimguard.Resolution{Status: skimguard.StatusApproved, By: "carol", Reason: "CHG-42 new widget", At: t0.Add(2 * time.Hour)}
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
	snapshot := func(t *testing.T, db *DB) string {
		fs := mustFindings(t, db, skimguard.FindingFilter{})
		bs, err := db.Baselines(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal([]any{fs, bs, mustAudit(t, db), count(t, db, "SELECT count(*) FROM baselines")})
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

		fs := mustFindings(t, db, skimguard.FindingFilter{IDs: ids})
		for _, f := range fs {
			if f.Status != skimguard.StatusApproved || f.ResolvedBy != "carol" || f.Resolution != approve.Reason || !f.ResolvedAt.Equal(approve.At) {
				t.Errorf("finding %d = %s by %q (%q) at %v", f.ID, f.Status, f.ResolvedBy, f.Resolution, f.ResolvedAt)
			}
		}

		var actions []string
		for _, e := range mustAudit(t, db)[1:] {
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
		reject := skimguard.Resolution{Status: skimguard.StatusRejected, By: "dave", Reason: "skimmer, removed", At: t0.Add(time.Hour)}
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
		if n := count(t, db, "SELECT count(*) FROM baselines"); n != 1 {
			t.Errorf("%d baseline versions, want 1", n)
		}
		fs := mustFindings(t, db, skimguard.FindingFilter{Status: skimguard.StatusRejected})
		if len(fs) != 1 || fs[0].ID != ids[0] || fs[0].ResolvedBy != "dave" || fs[0].Resolution != reject.Reason {
			t.Errorf("rejected findings = %+v", fs)
		}
		log := mustAudit(t, db)
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

func TestAudit(t *testing.T) {
	t.Run("entries cannot be changed or removed", func(t *testing.T) {
		db, _ := openTest(t)
		mustSaveBaseline(t, db, baselineOf("shop", "checkout", "a"))
		before := mustAudit(t, db)
		for _, q := range []string{
			"UPDATE audit SET actor = 'mallory'",
			"DELETE FROM audit",
		} {
			_, err := db.sql.ExecContext(t.Context(), q)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the append-only refusal", q, err)
			}
		}
		if after := mustAudit(t, db); !reflect.DeepEqual(after, before) {
			t.Errorf("audit log changed: %+v", after)
		}
	})

	t.Run("entries are listed oldest first", func(t *testing.T) {
		db, _ := openTest(t)
		for i := 0; i < 3; i++ {
			b := baselineOf("shop", "checkout", "a")
			b.CreatedAt = t0.Add(time.Duration(i) * time.Hour)
			mustSaveBaseline(t, db, b)
		}
		log := mustAudit(t, db)
		for i, e := range log {
			if want := fmt.Sprintf("version %d, 1 items", i+1); e.Detail != want || !e.At.Equal(t0.Add(time.Duration(i)*time.Hour)) {
				t.Errorf("entry %d = %+v, want %q", i, e, want)
			}
		}
	})
}

func TestAppendAudit(t *testing.T) {
	db, _ := openTest(t)
	e := skimguard.AuditEntry{At: t0, Actor: "203.0.113.66", Action: "signin.failed", Detail: `sign-in as "mallory" failed from 203.0.113.66`}
	if err := db.AppendAudit(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	log := mustAudit(t, db)
	if len(log) != 1 {
		t.Fatalf("audit log = %+v, want the one entry", log)
	}
	got := log[0]
	got.ID = 0
	if !reflect.DeepEqual(got, e) {
		t.Errorf("entry = %+v, want %+v", got, e)
	}
}

func TestResolveFindingsUnderTheTwoPersonRule(t *testing.T) {
	// setup stores a baseline of shop/checkout and, on it, a high finding
	// and a medium one, returning their IDs.
	setup := func(t *testing.T) (*DB, int64, int64) {
		db, _ := openTest(t)
		mustSaveBaseline(t, db, baselineOf("shop", "checkout", "a"))
		medium := finding("", "", "m")
		medium.Severity = skimguard.SeverityMedium
		s := scanOf("shop", "checkout", t0, finding("", "", "h"), medium)
		mustSaveScan(t, db, s)
		return db, s.Findings[0].ID, s.Findings[1].ID
	}
	approve := func(by, reason string, at time.Duration) skimguard.Resolution {
		return skimguard.Resolution{Status: skimguard.StatusApproved, By: by, Reason: reason, At: t0.Add(at), Approvals: skimguard.ApprovalsTwoPerson}
	}
	apply := func(cur *skimguard.Baseline, approved []skimguard.Finding, res skimguard.Resolution) (*skimguard.Baseline, error) {
		nb := *cur
		nb.Items = append(slices.Clone(cur.Items), approved[0].Item)
		nb.ApprovedBy, nb.Reason, nb.CreatedAt = "", "", time.Time{}
		return &nb, nil
	}
	one := func(t *testing.T, db *DB, id int64) skimguard.Finding {
		t.Helper()
		return mustFindings(t, db, skimguard.FindingFilter{IDs: []int64{id}})[0]
	}
	version := func(t *testing.T, db *DB) *skimguard.Baseline {
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
		want := &skimguard.Approval{By: "alice", Reason: "new vendor, SEC-1", At: t0.Add(time.Hour)}
		if f.Status != skimguard.StatusOpen || f.ResolvedBy != "" || !reflect.DeepEqual(f.FirstApproval, want) {
			t.Fatalf("finding after one approval: %s by %q, first approval %+v; want open with %+v", f.Status, f.ResolvedBy, f.FirstApproval, want)
		}
		if b := version(t, db); b.Version != 1 {
			t.Fatalf("the baseline moved to version %d on one approval", b.Version)
		}
		log := mustAudit(t, db)
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
		before := len(mustAudit(t, db))
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
		if n := len(mustAudit(t, db)); n != before || version(t, db).Version != 1 {
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
		log := mustAudit(t, db)
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
		reject := skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "it is a skimmer after all", At: t0.Add(2 * time.Hour), Approvals: skimguard.ApprovalsTwoPerson}
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
		mustSaveScan(t, db, scanOf("shop", "checkout", t0.Add(3*time.Hour), finding("", "", "h")))
		if f := one(t, db, high); f.FirstApproval == nil || f.FirstApproval.By != "alice" || !f.LastSeen.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("finding seen again: last seen %v, first approval %+v", f.LastSeen, f.FirstApproval)
		}
	})
}
