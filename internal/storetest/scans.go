package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

func testSaveScan(t *testing.T, h Harness) {
	t.Run("stores the observation with script texts and screenshot", func(t *testing.T) {
		db := h.Open(t)
		o := Observation("shop", "checkout", T0, 20, 0, "")
		o.Scripts = append(o.Scripts, o.Scripts[0]) // the same text twice
		s := ScanOf("shop", "checkout", T0)
		s.Observation = o
		MustSaveScan(t, db, s)
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
		if n := h.Count(t, db, "SELECT count(*) FROM sources"); n != 20 {
			t.Errorf("%d script texts stored, want 20", n)
		}
	})

	t.Run("a scan without observation is stored", func(t *testing.T) {
		db := h.Open(t)
		s := ScanOf("shop", "checkout", T0)
		s.Status, s.Error = skimguard.ScanFailed, "net::ERR_CONNECTION_REFUSED"
		MustSaveScan(t, db, s)
		got, err := db.Scan(t.Context(), s.ID)
		if err != nil || got.Observation != nil {
			t.Errorf("Scan = %+v, %v; want it without observation", got, err)
		}
	})

	t.Run("the same fingerprint twice is one finding", func(t *testing.T) {
		db := h.Open(t)
		s1 := ScanOf("shop", "checkout", T0, Finding("shop", "checkout", "fp1"))
		MustSaveScan(t, db, s1)
		s2 := ScanOf("shop", "checkout", T0.Add(time.Hour), Finding("shop", "checkout", "fp1"), Finding("shop", "checkout", "fp2"))
		MustSaveScan(t, db, s2)

		f1, f2 := s1.Findings[0], s2.Findings[0]
		if f1.ID == 0 || f2.ID != f1.ID {
			t.Fatalf("finding IDs %d then %d, want the same", f1.ID, f2.ID)
		}
		if !f2.FirstSeen.Equal(T0) || !f2.LastSeen.Equal(T0.Add(time.Hour)) || f2.Status != skimguard.StatusOpen || f2.ScanID != s2.ID {
			t.Errorf("seen again: first %v last %v status %s scan %d", f2.FirstSeen, f2.LastSeen, f2.Status, f2.ScanID)
		}
		if s2.Findings[1].ID == f1.ID {
			t.Errorf("another fingerprint took the same finding")
		}

		fs := MustFindings(t, db, skimguard.FindingFilter{IDs: []int64{f1.ID}})
		if len(fs) != 1 {
			t.Fatalf("Findings = %d, want 1", len(fs))
		}
		want := Finding("shop", "checkout", "fp1")
		want.ID, want.Status, want.ScanID = f1.ID, skimguard.StatusOpen, s2.ID
		want.FirstSeen, want.LastSeen = T0, T0.Add(time.Hour)
		if !reflect.DeepEqual(fs[0], want) {
			t.Errorf("Findings =\n%+v\nwant\n%+v", fs[0], want)
		}
	})

	t.Run("a rejected finding seen again is a new finding", func(t *testing.T) {
		db := h.Open(t)
		s1 := ScanOf("shop", "checkout", T0, Finding("shop", "checkout", "fp"))
		MustSaveScan(t, db, s1)
		res := skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "false positive", At: T0.Add(time.Minute)}
		if err := db.ResolveFindings(t.Context(), []int64{s1.Findings[0].ID}, res, nil); err != nil {
			t.Fatal(err)
		}
		s2 := ScanOf("shop", "checkout", T0.Add(time.Hour), Finding("shop", "checkout", "fp"))
		MustSaveScan(t, db, s2)
		if s2.Findings[0].ID == s1.Findings[0].ID {
			t.Fatalf("a closed finding was reopened")
		}
		if !s2.Findings[0].FirstSeen.Equal(T0.Add(time.Hour)) {
			t.Errorf("new finding first seen %v", s2.Findings[0].FirstSeen)
		}
		open := MustFindings(t, db, skimguard.FindingFilter{Status: skimguard.StatusOpen})
		if len(open) != 1 || open[0].ID != s2.Findings[0].ID {
			t.Errorf("open findings = %+v, want only the new one", open)
		}
	})

	t.Run("the same fingerprint on another page is another finding", func(t *testing.T) {
		db := h.Open(t)
		s1 := ScanOf("shop", "checkout", T0, Finding("", "", "fp"))
		s2 := ScanOf("shop", "cart", T0, Finding("", "", "fp"))
		MustSaveScan(t, db, s1)
		MustSaveScan(t, db, s2)
		if s1.Findings[0].ID == s2.Findings[0].ID {
			t.Errorf("findings of two pages merged")
		}
		if s2.Findings[0].Site != "shop" || s2.Findings[0].Page != "cart" {
			t.Errorf("finding's page not taken from the scan: %s/%s", s2.Findings[0].Site, s2.Findings[0].Page)
		}
	})

	t.Run("a finding about another page is refused", func(t *testing.T) {
		db := h.Open(t)
		err := db.SaveScan(t.Context(), ScanOf("shop", "checkout", T0, Finding("shop", "cart", "fp")))
		if err == nil {
			t.Fatal("SaveScan succeeded")
		}
		if n := h.Count(t, db, "SELECT count(*) FROM scans"); n != 0 {
			t.Errorf("%d scans stored after a failed save", n)
		}
	})

	t.Run("Scans lists newest first without observations", func(t *testing.T) {
		db := h.Open(t)
		for i := 0; i < 105; i++ {
			page := "checkout"
			if i%2 == 1 {
				page = "cart"
			}
			s := ScanOf("shop", page, T0.Add(time.Duration(i)*time.Minute))
			s.Observation = Observation("shop", page, s.StartedAt, 2, 0, "")
			MustSaveScan(t, db, s)
		}
		MustSaveScan(t, db, ScanOf("other", "checkout", T0.Add(-time.Hour)))

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
		if first.Observation != nil || !first.StartedAt.Equal(T0.Add(104*time.Minute)) || first.Duration != 3*time.Second ||
			first.Status != skimguard.ScanOK || first.BaselineVersion != 1 || first.URL != "https://shop.test/checkout" {
			t.Errorf("newest scan = %+v", first)
		}

		cart, err := db.Scans(t.Context(), skimguard.ScanFilter{Site: "shop", Page: "cart", Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(cart) != 3 || cart[0].Page != "cart" || !cart[0].StartedAt.Equal(T0.Add(103*time.Minute)) {
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
		period, err := db.Scans(t.Context(), skimguard.ScanFilter{From: T0.Add(10 * time.Minute), To: T0.Add(20 * time.Minute), Limit: -1})
		if err != nil || len(period) != 10 || !period[0].StartedAt.Equal(T0.Add(19*time.Minute)) || !period[9].StartedAt.Equal(T0.Add(10*time.Minute)) {
			t.Errorf("Scans(from 10m to 20m) = %d scans, %v; want minutes 10..19", len(period), err)
		}
	})
}

func testScan(t *testing.T, h Harness) {
	t.Run("returns the scan with its observation and its findings", func(t *testing.T) {
		db := h.Open(t)
		s1 := ScanOf("shop", "checkout", T0, Finding("", "", "x"), Finding("", "", "y"))
		s1.Observation = Observation("shop", "checkout", T0, 5, 0, "")
		MustSaveScan(t, db, s1)
		s2 := ScanOf("shop", "checkout", T0.Add(time.Hour), Finding("", "", "z"))
		MustSaveScan(t, db, s2)

		got, err := db.Scan(t.Context(), s1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != s1.ID || got.Site != "shop" || got.Page != "checkout" || got.URL != s1.URL || !got.StartedAt.Equal(T0) ||
			got.Duration != s1.Duration || got.Status != skimguard.ScanFindings || got.BaselineVersion != 1 {
			t.Errorf("Scan = %+v, want the scan saved", got)
		}
		want, _ := json.Marshal(s1.Observation)
		have, _ := json.Marshal(got.Observation)
		if string(have) != string(want) || got.Observation.Scripts[0].Source == "" {
			t.Errorf("observation did not round-trip:\n%s\nwant\n%s", have, want)
		}
		if wantFs := MustFindings(t, db, skimguard.FindingFilter{IDs: []int64{s1.Findings[0].ID, s1.Findings[1].ID}}); !reflect.DeepEqual(got.Findings, wantFs) {
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
		db := h.Open(t)
		s := ScanOf("shop", "checkout", T0)
		s.Status, s.Error = skimguard.ScanFailed, "net::ERR_CONNECTION_REFUSED"
		MustSaveScan(t, db, s)
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
		db := h.Open(t)
		s1 := ScanOf("shop", "checkout", T0, Finding("", "", "x"))
		s2 := ScanOf("shop", "checkout", T0.Add(time.Hour), Finding("", "", "x"))
		MustSaveScan(t, db, s1)
		MustSaveScan(t, db, s2)
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
		db := h.Open(t)
		s := ScanOf("shop", "checkout", T0)
		MustSaveScan(t, db, s)
		_, err := db.Scan(t.Context(), s.ID+1)
		if !errors.Is(err, skimguard.ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprint(s.ID+1)) {
			t.Errorf("Scan(%d) = %v, want ErrNotFound naming it", s.ID+1, err)
		}
	})
}
