package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

// userCLI runs a user command with stdin.
func userCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	cfg := writeConfig(t, dir, "http://127.0.0.1:9/checkout")
	flags := []string{"--config", cfg, "--db", db}

	t.Run("add stores only a bcrypt hash", func(t *testing.T) {
		code, out, errOut := userCLI(t, "a long enough password\n", append([]string{"user", "add", "alice"}, flags...)...)
		if code != exitOK || !strings.Contains(out, "alice (admin) can now sign in") {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		store, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		u, err := store.User(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(u.PasswordHash, []byte("a long enough password")) || bcrypt.CompareHashAndPassword(u.PasswordHash, []byte("a long enough password")) != nil {
			t.Fatal("the stored hash does not check the password, or holds it")
		}
	})
	t.Run("a short password is refused and nothing is stored", func(t *testing.T) {
		code, _, errOut := userCLI(t, "short\n", append([]string{"user", "add", "bob"}, flags...)...)
		if code != exitError || !strings.Contains(errOut, "at least 12 characters") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
	t.Run("list shows the users and their roles", func(t *testing.T) {
		code, out, _ := userCLI(t, "", append([]string{"user", "list"}, flags...)...)
		if code != exitOK || !regexp.MustCompile(`(?m)^alice +admin +\d{4}-`).MatchString(out) || strings.Contains(out, "bob") {
			t.Fatalf("exit %d: %s", code, out)
		}
	})
	t.Run("remove an unknown user says how to see them", func(t *testing.T) {
		code, _, errOut := userCLI(t, "", append([]string{"user", "remove", "bob"}, flags...)...)
		if code != exitError || !strings.Contains(errOut, "user list") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
	t.Run("remove", func(t *testing.T) {
		if code, _, errOut := userCLI(t, "", append([]string{"user", "remove", "alice"}, flags...)...); code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if _, out, _ := userCLI(t, "", append([]string{"user", "list"}, flags...)...); !strings.Contains(out, "no users yet") {
			t.Fatalf("after removal: %s", out)
		}
	})
	t.Run("without a subcommand says which exist", func(t *testing.T) {
		code, _, errOut := userCLI(t, "", "user")
		if code != exitError || !strings.Contains(errOut, "add, list, role or remove") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}

func TestUserRoles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	flags := []string{"--config", writeConfig(t, dir, "http://127.0.0.1:9/checkout"), "--db", db}
	user := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return userCLI(t, stdin, append(append([]string{"user"}, args...), flags...)...)
	}
	role := func(name string) skimguard.Role {
		t.Helper()
		store, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		u, err := store.User(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		return u.Role
	}
	const pw = "a long enough password\n"

	t.Run("the first user is an admin, the next a viewer", func(t *testing.T) {
		if code, out, errOut := user(pw, "add", "alice"); code != exitOK || role("alice") != skimguard.RoleAdmin {
			t.Fatalf("exit %d: %s%s; alice is %q", code, out, errOut, role("alice"))
		}
		if code, out, errOut := user(pw, "add", "victor"); code != exitOK || !strings.Contains(out, "victor (viewer)") || role("victor") != skimguard.RoleViewer {
			t.Fatalf("exit %d: %s%s; victor is %q", code, out, errOut, role("victor"))
		}
	})
	t.Run("--role gives a new user its role", func(t *testing.T) {
		if code, out, errOut := user(pw, "add", "bob", "--role", "reviewer"); code != exitOK || role("bob") != skimguard.RoleReviewer {
			t.Fatalf("exit %d: %s%s; bob is %q", code, out, errOut, role("bob"))
		}
	})
	t.Run("an unknown role is refused, listing the roles, and nobody is added", func(t *testing.T) {
		code, _, errOut := user(pw, "add", "carol", "--role", "superuser")
		if code != exitError || !strings.Contains(errOut, "viewer") || !strings.Contains(errOut, "reviewer") || !strings.Contains(errOut, "admin") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if _, out, _ := user("", "list"); strings.Contains(out, "carol") {
			t.Fatalf("carol was added:\n%s", out)
		}
	})
	t.Run("a new password keeps the role; another role for an existing user says how", func(t *testing.T) {
		if code, _, errOut := user("another long password\n", "add", "bob"); code != exitOK || role("bob") != skimguard.RoleReviewer {
			t.Fatalf("exit %d: %s; bob is %q", code, errOut, role("bob"))
		}
		code, _, errOut := user("another long password\n", "add", "bob", "--role", "admin")
		if code != exitError || !strings.Contains(errOut, "skimguard user role bob admin") || role("bob") != skimguard.RoleReviewer {
			t.Fatalf("exit %d: %s; bob is %q", code, errOut, role("bob"))
		}
	})
	t.Run("user role changes a role", func(t *testing.T) {
		if code, out, errOut := user("", "role", "victor", "reviewer"); code != exitOK || !strings.Contains(out, "victor is now a reviewer") || role("victor") != skimguard.RoleReviewer {
			t.Fatalf("exit %d: %s%s; victor is %q", code, out, errOut, role("victor"))
		}
		if code, _, errOut := user("", "role", "nobody", "admin"); code != exitError || !strings.Contains(errOut, "user list") {
			t.Fatalf("an unknown user: exit %d: %s", code, errOut)
		}
		if code, _, errOut := user("", "role", "victor", "god"); code != exitError || !strings.Contains(errOut, "viewer") {
			t.Fatalf("an unknown role: exit %d: %s", code, errOut)
		}
	})
}
