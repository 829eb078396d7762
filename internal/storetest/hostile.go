package storetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

// testHostileText stores what hostile pages and typists can produce: no
// text may keep a scan, an approval or a baseline from being stored.
func testHostileText(t *testing.T, h Harness) {
	t.Run("a script text with NUL and invalid UTF-8 is stored exactly", func(t *testing.T) {
		db := h.Open(t)
		o := Observation("shop", "checkout", T0, 2, 0, "")
		o.Scripts[0].Source = "var x = '\x00';\xff\xfe steal()"
		o.Frames[0].Name = "card\x00frame"
		f := Finding("", "", "nul")
		f.Subject, f.Detail = "inline #1 (div#a\x00b[onclick])", "detail \xff"
		s := ScanOf("shop", "checkout", T0, f)
		s.Observation = o
		MustSaveScan(t, db, s)
		got, err := db.Scan(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Observation.Scripts[0].Source != o.Scripts[0].Source {
			t.Errorf("script text = %q, want %q", got.Observation.Scripts[0].Source, o.Scripts[0].Source)
		}
		if len(got.Findings) != 1 || !strings.HasPrefix(got.Findings[0].Subject, "inline #1 (div#a") {
			t.Errorf("findings = %+v, want the one with its subject", got.Findings)
		}
		// The same change seen again is the same finding.
		again := ScanOf("shop", "checkout", T0.Add(time.Hour), f)
		MustSaveScan(t, db, again)
		if again.Findings[0].ID != s.Findings[0].ID {
			t.Errorf("seen again: finding %d, want %d", again.Findings[0].ID, s.Findings[0].ID)
		}
	})

	t.Run("a justification with NUL is stored", func(t *testing.T) {
		db := h.Open(t)
		s := ScanOf("shop", "checkout", T0, Finding("", "", "x"))
		MustSaveScan(t, db, s)
		res := skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "skimmer\x00 removed", At: T0.Add(time.Hour)}
		if err := db.ResolveFindings(t.Context(), []int64{s.Findings[0].ID}, res, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendAudit(t.Context(), skimguard.AuditEntry{Actor: "203.0.113.5", Action: "signin.failed", Detail: "sign-in as \"\x00\xff\" failed"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("an item key longer than an index entry may be is stored exactly", func(t *testing.T) {
		db := h.Open(t)
		long := "script https://cdn.test/a.js?" + strings.Repeat("q=1&", 5000)
		b := BaselineOf("shop", "checkout", long, long+"x")
		MustSaveBaseline(t, db, b)
		got, err := db.Baseline(t.Context(), "shop", "checkout")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Errorf("baseline with long keys did not round-trip")
		}
		dup := BaselineOf("shop", "checkout", long, long)
		if err := db.SaveBaseline(t.Context(), dup); err == nil {
			t.Errorf("a long key twice was stored")
		}
	})

	t.Run("names sort byte by byte, whatever the database's locale", func(t *testing.T) {
		db := h.Open(t)
		for _, site := range []string{"apple", "Zoo", "Äpfel", "zoo"} {
			MustSaveBaseline(t, db, BaselineOf(site, "pay", "a"))
		}
		bs, err := db.Baselines(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range bs {
			got = append(got, b.Site)
		}
		if want := []string{"Zoo", "apple", "zoo", "Äpfel"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Baselines by site = %q, want %q", got, want)
		}
		for _, name := range []string{"bob", "Zed", "alice"} {
			if err := db.SaveUser(t.Context(), &skimguard.User{Name: name, PasswordHash: hashA, Role: skimguard.RoleViewer}, "admin"); err != nil {
				t.Fatal(err)
			}
		}
		us, err := db.Users(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, u := range us {
			got = append(got, u.Name)
		}
		if want := []string{"Zed", "alice", "bob"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Users = %q, want %q", got, want)
		}
	})
}

func testHealth(t *testing.T, h Harness) {
	t.Run("a store that takes writes is healthy", func(t *testing.T) {
		db := h.Open(t)
		if err := db.Health(t.Context()); err != nil {
			t.Fatalf("Health = %v", err)
		}
	})
	t.Run("a write refused for a reason of its own says nothing about the store", func(t *testing.T) {
		db := h.Open(t)
		err := db.ResolveFindings(t.Context(), []int64{42}, skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "x"}, nil)
		if !errors.Is(err, skimguard.ErrNotFound) {
			t.Fatalf("ResolveFindings of no finding = %v, want ErrNotFound", err)
		}
		if err := db.Health(t.Context()); err != nil {
			t.Fatalf("Health = %v", err)
		}
	})
}
