package storetest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

// Bcrypt-shaped hashes; the store does not check them.
var (
	hashA = []byte("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy")
	hashB = []byte("$2a$10$u7Qx1ZyVb3yPp8d1mJqD8e5J8rQF2vQ9pXnVh7yL0aBcDeFgHiJkO")
)

func mustSaveUser(t *testing.T, db skimguard.Store, u *skimguard.User, by string) {
	t.Helper()
	if err := db.SaveUser(t.Context(), u, by); err != nil {
		t.Fatalf("SaveUser(%s): %v", u.Name, err)
	}
}

func testUsers(t *testing.T, h Harness) {
	t.Run("a new user is stored, read back and audited", func(t *testing.T) {
		db := h.Open(t)
		before := time.Now()
		u := &skimguard.User{Name: "alice", PasswordHash: hashA, Role: skimguard.RoleAdmin}
		mustSaveUser(t, db, u, "admin")
		if u.CreatedAt.Before(before) || u.CreatedAt.After(time.Now()) {
			t.Errorf("CreatedAt = %v, want now", u.CreatedAt)
		}
		got, err := db.User(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "alice" || !bytes.Equal(got.PasswordHash, hashA) || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Errorf("User = %+v, want %+v", got, u)
		}
		log := MustAudit(t, db)
		if len(log) != 1 || log[0].Actor != "admin" || log[0].Action != "user.added" || !strings.Contains(log[0].Detail, "alice") {
			t.Errorf("audit log = %+v, want alice added by admin", log)
		}
	})

	t.Run("saving an existing user replaces its hash and keeps CreatedAt", func(t *testing.T) {
		db := h.Open(t)
		mustSaveUser(t, db, &skimguard.User{Name: "alice", PasswordHash: hashA, Role: skimguard.RoleAdmin, CreatedAt: T0}, "admin")
		u := &skimguard.User{Name: "alice", PasswordHash: hashB, CreatedAt: T0.Add(time.Hour)}
		mustSaveUser(t, db, u, "alice")
		if !u.CreatedAt.Equal(T0) {
			t.Errorf("CreatedAt after the change = %v, want the stored %v", u.CreatedAt, T0)
		}
		got, err := db.User(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.PasswordHash, hashB) || !got.CreatedAt.Equal(T0) {
			t.Errorf("User = %s created %v, want the new hash and %v", got.PasswordHash, got.CreatedAt, T0)
		}
		if n := h.Count(t, db, "SELECT count(*) FROM users"); n != 1 {
			t.Errorf("%d users stored, want 1", n)
		}
		if n := h.Count(t, db, "SELECT count(*) FROM users WHERE updated_at > created_at"); n != 1 {
			t.Errorf("updated_at did not move on")
		}
		log := MustAudit(t, db)
		if len(log) != 2 || log[1].Actor != "alice" || log[1].Action != "user.password_changed" || !strings.Contains(log[1].Detail, "alice") {
			t.Errorf("audit log = %+v, want alice's password changed by alice", log)
		}
	})

	t.Run("the audit log never holds a password hash", func(t *testing.T) {
		db := h.Open(t)
		mustSaveUser(t, db, &skimguard.User{Name: "alice", PasswordHash: hashA, Role: skimguard.RoleAdmin}, "admin")
		mustSaveUser(t, db, &skimguard.User{Name: "alice", PasswordHash: hashB}, "admin")
		if err := db.DeleteUser(t.Context(), "alice", "admin"); err != nil {
			t.Fatal(err)
		}
		log := MustAudit(t, db)
		if len(log) != 3 {
			t.Fatalf("audit log has %d entries, want 3", len(log))
		}
		js, err := json.Marshal(log)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range [][]byte{hashA, hashB} {
			for _, form := range []string{string(h), hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h), string(h[7:])} {
				if strings.Contains(string(js), form) {
					t.Errorf("audit log holds a password hash (%s): %s", form, js)
				}
			}
		}
	})

	t.Run("Users lists every user by name", func(t *testing.T) {
		db := h.Open(t)
		if us, err := db.Users(t.Context()); err != nil || len(us) != 0 {
			t.Fatalf("Users of a new database = %+v, %v; want none", us, err)
		}
		for _, name := range []string{"carol", "alice", "bob"} {
			mustSaveUser(t, db, &skimguard.User{Name: name, PasswordHash: []byte("hash of " + name), Role: skimguard.RoleReviewer, CreatedAt: T0}, "admin")
		}
		us, err := db.Users(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range us {
			got = append(got, u.Name+": "+string(u.PasswordHash))
			if !u.CreatedAt.Equal(T0) {
				t.Errorf("%s created %v, want %v", u.Name, u.CreatedAt, T0)
			}
		}
		want := []string{"alice: hash of alice", "bob: hash of bob", "carol: hash of carol"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Users = %q, want %q", got, want)
		}
	})

	t.Run("an unknown user is not found", func(t *testing.T) {
		db := h.Open(t)
		mustSaveUser(t, db, &skimguard.User{Name: "alice", PasswordHash: hashA, Role: skimguard.RoleAdmin}, "admin")
		_, err := db.User(t.Context(), "Alice")
		if !errors.Is(err, skimguard.ErrNotFound) || !strings.Contains(err.Error(), "Alice") {
			t.Errorf("User(Alice) = %v, want ErrNotFound naming Alice", err)
		}
	})

	t.Run("removing a user deletes it and records who did", func(t *testing.T) {
		db := h.Open(t)
		mustSaveUser(t, db, &skimguard.User{Name: "alice", PasswordHash: hashA, Role: skimguard.RoleAdmin}, "admin")
		mustSaveUser(t, db, &skimguard.User{Name: "bob", PasswordHash: hashB, Role: skimguard.RoleViewer}, "admin")
		if err := db.DeleteUser(t.Context(), "alice", "root"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.User(t.Context(), "alice"); !errors.Is(err, skimguard.ErrNotFound) {
			t.Errorf("User(alice) after removal = %v, want ErrNotFound", err)
		}
		if us, err := db.Users(t.Context()); err != nil || len(us) != 1 || us[0].Name != "bob" {
			t.Errorf("Users after removal = %+v, %v; want bob only", us, err)
		}
		log := MustAudit(t, db)
		last := log[len(log)-1]
		if last.Actor != "root" || last.Action != "user.removed" || !strings.Contains(last.Detail, "alice") {
			t.Errorf("last audit entry = %+v, want alice removed by root", last)
		}
	})

	t.Run("removing an unknown user is not found and records nothing", func(t *testing.T) {
		db := h.Open(t)
		mustSaveUser(t, db, &skimguard.User{Name: "alice", PasswordHash: hashA, Role: skimguard.RoleAdmin}, "admin")
		err := db.DeleteUser(t.Context(), "bob", "admin")
		if !errors.Is(err, skimguard.ErrNotFound) || !strings.Contains(err.Error(), "bob") {
			t.Errorf("DeleteUser(bob) = %v, want ErrNotFound naming bob", err)
		}
		if n := len(MustAudit(t, db)); n != 1 {
			t.Errorf("audit log has %d entries, want only alice's addition", n)
		}
	})

	t.Run("a user without a name, a hash or a known role is refused and nothing is stored", func(t *testing.T) {
		db := h.Open(t)
		for _, u := range []*skimguard.User{nil, {PasswordHash: hashA, Role: skimguard.RoleAdmin}, {Name: "alice", Role: skimguard.RoleAdmin},
			{Name: "alice", PasswordHash: []byte{}, Role: skimguard.RoleAdmin}, {Name: "alice", PasswordHash: hashA}, {Name: "alice", PasswordHash: hashA, Role: "root"}} {
			if err := db.SaveUser(t.Context(), u, "admin"); err == nil {
				t.Errorf("SaveUser(%+v) succeeded", u)
			}
		}
		if n := h.Count(t, db, "SELECT count(*) FROM users"); n != 0 {
			t.Errorf("%d users stored, want 0", n)
		}
		if n := len(MustAudit(t, db)); n != 0 {
			t.Errorf("refused saves were audited")
		}
	})

	t.Run("a new user keeps its role; a new password keeps the role", func(t *testing.T) {
		db := h.Open(t)
		mustSaveUser(t, db, &skimguard.User{Name: "bob", PasswordHash: hashA, Role: skimguard.RoleReviewer}, "admin")
		u := &skimguard.User{Name: "bob", PasswordHash: hashB, Role: skimguard.RoleAdmin}
		mustSaveUser(t, db, u, "bob")
		got, err := db.User(t.Context(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != skimguard.RoleReviewer || u.Role != skimguard.RoleReviewer {
			t.Errorf("role after a new password = %q (told %q), want reviewer kept", got.Role, u.Role)
		}
		if log := MustAudit(t, db); !strings.Contains(log[0].Detail, "as reviewer") {
			t.Errorf("the addition's audit entry does not name the role: %+v", log[0])
		}
	})

	t.Run("a role change is stored and audited with both roles", func(t *testing.T) {
		db := h.Open(t)
		mustSaveUser(t, db, &skimguard.User{Name: "bob", PasswordHash: hashA, Role: skimguard.RoleViewer}, "admin")
		if err := db.SetUserRole(t.Context(), "bob", skimguard.RoleReviewer, "root"); err != nil {
			t.Fatal(err)
		}
		if got, err := db.User(t.Context(), "bob"); err != nil || got.Role != skimguard.RoleReviewer {
			t.Fatalf("User(bob) = %+v, %v; want a reviewer", got, err)
		}
		log := MustAudit(t, db)
		last := log[len(log)-1]
		if last.Actor != "root" || last.Action != "user.role_changed" || !strings.Contains(last.Detail, `"bob"`) || !strings.Contains(last.Detail, "viewer → reviewer") {
			t.Errorf("last audit entry = %+v, want bob's role changed by root from viewer to reviewer", last)
		}
	})

	t.Run("a role for an unknown user or an unknown role is refused and nothing is recorded", func(t *testing.T) {
		db := h.Open(t)
		mustSaveUser(t, db, &skimguard.User{Name: "bob", PasswordHash: hashA, Role: skimguard.RoleViewer}, "admin")
		if err := db.SetUserRole(t.Context(), "carol", skimguard.RoleAdmin, "root"); !errors.Is(err, skimguard.ErrNotFound) || !strings.Contains(err.Error(), "carol") {
			t.Errorf("SetUserRole(carol) = %v, want ErrNotFound naming carol", err)
		}
		if err := db.SetUserRole(t.Context(), "bob", "root", "root"); err == nil || !strings.Contains(err.Error(), "viewer") {
			t.Errorf("SetUserRole(bob, root) = %v, want an error listing the roles", err)
		}
		if got, _ := db.User(t.Context(), "bob"); got.Role != skimguard.RoleViewer {
			t.Errorf("bob is now %q", got.Role)
		}
		if n := len(MustAudit(t, db)); n != 1 {
			t.Errorf("audit log has %d entries, want only bob's addition", n)
		}
	})
}
