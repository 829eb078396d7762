package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

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
		if code != exitOK || !strings.Contains(out, "alice can now sign in") {
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
	t.Run("list shows the users", func(t *testing.T) {
		code, out, _ := userCLI(t, "", append([]string{"user", "list"}, flags...)...)
		if code != exitOK || !strings.Contains(out, "alice") || strings.Contains(out, "bob") {
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
		if code != exitError || !strings.Contains(errOut, "add, list or remove") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}
