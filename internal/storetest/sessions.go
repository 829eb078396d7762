package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

// session makes a session of user started at at, with the web interface's
// limits.
func session(key, user string, at time.Time) *skimguard.Session {
	return &skimguard.Session{Key: key, User: user, PasswordDigest: "digest of " + user, CSRF: "csrf-" + key,
		CreatedAt: at, SeenAt: at, Idle: 8 * time.Hour, EndsAt: at.Add(24 * time.Hour)}
}

func testSessions(t *testing.T, h Harness) {
	mustSave := func(t *testing.T, db skimguard.Store, s *skimguard.Session) {
		t.Helper()
		if err := db.SaveSession(t.Context(), s); err != nil {
			t.Fatalf("SaveSession: %v", err)
		}
	}
	live := func(t *testing.T, db skimguard.Store, key string, now time.Time) bool {
		t.Helper()
		s, err := db.TouchSession(t.Context(), key, now)
		if errors.Is(err, skimguard.ErrNotFound) {
			return false
		}
		if err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		if s.Key != key || !s.SeenAt.Equal(now) {
			t.Fatalf("TouchSession(%s) = %+v, want it seen at %v", key, s, now)
		}
		return true
	}

	t.Run("a session is kept whole and marked seen", func(t *testing.T) {
		db := h.Open(t)
		want := session("k1", "alice", T0)
		mustSave(t, db, want)
		got, err := db.TouchSession(t.Context(), "k1", T0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		want.SeenAt = T0.Add(time.Minute)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("TouchSession =\n%+v\nwant\n%+v", got, want)
		}
		if _, err := db.TouchSession(t.Context(), "nope", T0); !errors.Is(err, skimguard.ErrNotFound) {
			t.Errorf("TouchSession of an unknown key = %v, want ErrNotFound", err)
		}
	})

	t.Run("a session ends once idle for longer than its limit, and is removed", func(t *testing.T) {
		db := h.Open(t)
		mustSave(t, db, session("k1", "alice", T0))
		at := T0
		for range 3 { // used every 8 hours exactly: never idle for longer
			at = at.Add(8 * time.Hour)
			if at.Sub(T0) < 24*time.Hour && !live(t, db, "k1", at) {
				t.Fatalf("the session ended at %v, used every 8 hours", at.Sub(T0))
			}
		}
		mustSave(t, db, session("k2", "alice", T0))
		if live(t, db, "k2", T0.Add(8*time.Hour+time.Second)) {
			t.Fatal("a session idle for 8 hours and a second still works")
		}
		if live(t, db, "k2", T0) {
			t.Fatal("an ended session was not removed")
		}
	})

	t.Run("a session ends at EndsAt however much it is used", func(t *testing.T) {
		db := h.Open(t)
		mustSave(t, db, session("k1", "alice", T0))
		for at := T0.Add(4 * time.Hour); at.Sub(T0) <= 24*time.Hour; at = at.Add(4 * time.Hour) {
			if !live(t, db, "k1", at) {
				t.Fatalf("the session ended at %v", at.Sub(T0))
			}
		}
		if live(t, db, "k1", T0.Add(24*time.Hour+time.Second)) {
			t.Fatal("the session outlived EndsAt")
		}
	})

	t.Run("signing out, a new password and removing the user end sessions", func(t *testing.T) {
		db := h.Open(t)
		for _, u := range []string{"alice", "bob", "carol"} {
			if err := db.SaveUser(t.Context(), &skimguard.User{Name: u, PasswordHash: hashA, Role: skimguard.RoleViewer}, "admin"); err != nil {
				t.Fatal(err)
			}
			mustSave(t, db, session(u+"-1", u, T0))
			mustSave(t, db, session(u+"-2", u, T0))
		}
		if err := db.DeleteSession(t.Context(), "alice-1"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteSession(t.Context(), "alice-1"); err != nil {
			t.Errorf("ending an ended session: %v", err)
		}
		if err := db.SaveUser(t.Context(), &skimguard.User{Name: "bob", PasswordHash: hashB}, "bob"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteUser(t.Context(), "carol", "admin"); err != nil {
			t.Fatal(err)
		}
		if err := db.SetUserRole(t.Context(), "alice", skimguard.RoleReviewer, "admin"); err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, k := range []string{"alice-1", "alice-2", "bob-1", "bob-2", "carol-1", "carol-2"} {
			if live(t, db, k, T0.Add(time.Minute)) {
				left = append(left, k)
			}
		}
		if want := []string{"alice-2"}; !slices.Equal(left, want) {
			t.Errorf("sessions left %v, want %v (a new role keeps them)", left, want)
		}
	})

	t.Run("starting a session removes those that ended", func(t *testing.T) {
		db := h.Open(t)
		mustSave(t, db, session("old", "alice", T0))
		mustSave(t, db, session("new", "alice", T0.Add(25*time.Hour)))
		if n := h.Count(t, db, "SELECT count(*) FROM sessions"); n != 1 {
			t.Errorf("%d sessions stored, want only the new one", n)
		}
	})
}

func testSignInFailures(t *testing.T, h Harness) {
	t.Run("failures are counted by key and read since a time, oldest first", func(t *testing.T) {
		db := h.Open(t)
		for i := range 3 {
			at := T0.Add(time.Duration(i) * time.Minute)
			if err := db.RecordSignInFailure(t.Context(), at, at.Add(-15*time.Minute), "addr", "user"+string(rune('a'+i%2))); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.SignInFailures(t.Context(), T0.Add(time.Minute), "addr", "usera", "userb", "nobody")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]time.Time{
			"addr":  {T0.Add(time.Minute), T0.Add(2 * time.Minute)},
			"usera": {T0.Add(2 * time.Minute)},
			"userb": {T0.Add(time.Minute)},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SignInFailures =\n%v\nwant\n%v", got, want)
		}
	})
	t.Run("clearing a key forgets its failures only", func(t *testing.T) {
		db := h.Open(t)
		if err := db.RecordSignInFailure(t.Context(), T0, T0.Add(-time.Hour), "addr", "user"); err != nil {
			t.Fatal(err)
		}
		if err := db.ClearSignInFailures(t.Context(), "user"); err != nil {
			t.Fatal(err)
		}
		got, err := db.SignInFailures(t.Context(), T0.Add(-time.Hour), "addr", "user")
		if err != nil || len(got["user"]) != 0 || len(got["addr"]) != 1 {
			t.Errorf("after clearing user: %v, %v; want addr's failure only", got, err)
		}
	})
	t.Run("failures before the time given are forgotten", func(t *testing.T) {
		db := h.Open(t)
		if err := db.RecordSignInFailure(t.Context(), T0, T0.Add(-time.Hour), "addr"); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordSignInFailure(t.Context(), T0.Add(time.Hour), T0.Add(time.Minute), "other"); err != nil {
			t.Fatal(err)
		}
		if n := h.Count(t, db, "SELECT count(*) FROM signin_failures"); n != 1 {
			t.Errorf("%d failures kept, want 1", n)
		}
	})
}
