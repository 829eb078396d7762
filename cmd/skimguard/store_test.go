package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

// holdWriteLock takes the write lock of the database at path from another
// connection, as another process writing would, until release is called
// or the test ends.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	tx, err := raw.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return func() {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}

// The reported case: a database locked for 30 s made check throw away the
// pages it had loaded. Now check waits for the lock, and when it does not
// come, reports what it saw and exits 2 naming the cause.
func TestCheckKeepsWhatItSawWhenTheDatabaseIsLocked(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, shop.CheckoutURL())
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--samples", "1", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}
	shop.Plant()
	scans := func() []skimguard.Scan {
		t.Helper()
		store, err := sqlite.Open(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		s, err := store.Scans(t.Context(), skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := len(scans())

	t.Run("a lock held past --save-retry: the report has the findings, and check exits 2 naming the lock", func(t *testing.T) {
		release := holdWriteLock(t, db)
		code, out, errOut := cli(t, "check", "--config", cfg, "--db", db, "--save-retry", "1s")
		release()
		t.Logf("stderr:\n%s", errOut)
		if code != exitError {
			t.Errorf("exit %d, want %d", code, exitError)
		}
		for _, s := range []string{"data.exfiltration", shop.AttackerURL, "NOT STORED", "1 not stored"} {
			if !strings.Contains(out, s) {
				t.Errorf("the report does not say %q:\n%s", s, out)
			}
		}
		for _, s := range []string{"could not be stored", "the database " + db + " is locked by another process", "fuser " + db} {
			if !strings.Contains(errOut, s) {
				t.Errorf("stderr does not say %q", s)
			}
		}
		if n := len(scans()); n != before {
			t.Errorf("%d scans stored, want %d: the lock was held throughout", n, before)
		}
	})

	t.Run("a lock released in time: the scan is stored once and check exits 1 for the findings", func(t *testing.T) {
		// Beside a running serve, which check does not wait for.
		serving, err := sqlite.LockServe(db)
		if err != nil {
			t.Fatal(err)
		}
		defer serving.Release()
		release := holdWriteLock(t, db)
		var errb syncBuffer
		exited := make(chan int, 1)
		var out strings.Builder
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			exited <- run(ctx, []string{"check", "--config", cfg, "--db", db}, env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
		}()
		waitFor(t, 2*time.Minute, "check to find the database locked and try again", func() bool {
			if len(exited) > 0 {
				t.Fatalf("check exited %d without trying again:\n%s", <-exited, errb.String())
			}
			return strings.Contains(errb.String(), "scan not stored yet; trying again")
		})
		release()
		code := <-exited
		if code != exitFindings {
			t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFindings, out.String(), errb.String())
		}
		if strings.Contains(out.String(), "NOT STORED") {
			t.Errorf("the report says the scan was not stored:\n%s", out.String())
		}
		if n := len(scans()); n != before+1 {
			t.Errorf("%d scans stored, want %d: the check once", n, before+1)
		}
	})
}

// One serve per database: a second refuses to start, naming the first,
// while the other commands go on beside it.
func TestOnlyOneServePerDatabase(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	if err := os.WriteFile(cfg, []byte("sites:\n  - name: shop\n    schedule: \"@hourly\"\n    pages:\n      - name: c\n        url: http://127.0.0.1:9/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "sg.db")
	// The test process holds the lock as a running serve does.
	first, err := sqlite.LockServe(db)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()

	code, out, errOut := cli(t, "serve", "--config", cfg, "--db", db, "--listen", "off")
	pid := strconv.Itoa(os.Getpid())
	if code != exitError || !strings.Contains(errOut, "another skimguard serve uses this database") || !strings.Contains(errOut, "PID "+pid) || !strings.Contains(errOut, "kill "+pid) {
		t.Fatalf("second serve: exit %d, want 2 naming the first:\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("the refused serve opened (and created) the database")
	}
	for _, args := range [][]string{
		{"findings", "--all"},
		{"report", "--out", filepath.Join(dir, "evidence.html")},
		{"user", "list"},
	} {
		if code, out, errOut := cli(t, append(args, "--config", cfg, "--db", db)...); code != exitOK {
			t.Errorf("%s beside serve: exit %d\n%s%s", args[0], code, out, errOut)
		}
	}
}
