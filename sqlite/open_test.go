package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/storetest"
)

func TestOpen(t *testing.T) {
	t.Run("creates the database and records every migration", func(t *testing.T) {
		db, _ := openTest(t)
		migs, err := loadMigrations()
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "SELECT count(*) FROM schema_migrations"); n != len(migs) || n == 0 {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(migs))
		}
		var mode string
		if err := db.sql.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		if n := count(t, db, "SELECT foreign_keys FROM pragma_foreign_keys"); n != 1 {
			t.Errorf("foreign_keys = %d, want 1", n)
		}
		if n := count(t, db, "SELECT application_id FROM pragma_application_id"); n != applicationID {
			t.Errorf("application_id = %#x, want %#x", n, applicationID)
		}
	})

	t.Run("reopening applies no migration twice and keeps data", func(t *testing.T) {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "db")
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		storetest.MustSaveBaseline(t, db, storetest.BaselineOf("shop", "checkout", "a"))
		var applied string
		if err := db.sql.QueryRow("SELECT group_concat(version || '@' || applied_at) FROM schema_migrations").Scan(&applied); err != nil {
			t.Fatal(err)
		}
		db.Close()
		for i := 0; i < 2; i++ {
			db, err = Open(ctx, path)
			if err != nil {
				t.Fatalf("reopen %d: %v", i, err)
			}
			var again string
			if err := db.sql.QueryRow("SELECT group_concat(version || '@' || applied_at) FROM schema_migrations").Scan(&again); err != nil {
				t.Fatal(err)
			}
			if again != applied {
				t.Errorf("migrations after reopen %d = %s, want %s", i, again, applied)
			}
			if _, err := db.Baseline(ctx, "shop", "checkout"); err != nil {
				t.Errorf("baseline lost on reopen: %v", err)
			}
			db.Close()
		}
	})

	t.Run("a database made before the users table gets it and keeps its data", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skimguard.db")
		old := openAt(t, path, 2)
		storetest.MustSaveBaseline(t, old, storetest.BaselineOf("shop", "checkout", "a"))
		if n := count(t, old, "SELECT count(*) FROM sqlite_schema WHERE name = 'users'"); n != 0 {
			t.Fatalf("the database at migration 2 already has a users table")
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open of a database at migration 2: %v", err)
		}
		defer db.Close()
		if n := count(t, db, "SELECT count(*) FROM schema_migrations WHERE version = 3 AND name = '0003_users.sql'"); n != 1 {
			t.Errorf("migration 0003_users.sql recorded %d times, want once", n)
		}
		if _, err := db.Baseline(t.Context(), "shop", "checkout"); err != nil {
			t.Errorf("baseline lost by the migration: %v", err)
		}
		if err := db.SaveUser(t.Context(), &skimguard.User{Name: "alice", PasswordHash: []byte("$2a$10$x"), Role: skimguard.RoleAdmin}, "admin"); err != nil {
			t.Fatalf("SaveUser after the migration: %v", err)
		}
		if us, err := db.Users(t.Context()); err != nil || len(us) != 1 {
			t.Errorf("Users after the migration = %+v, %v; want alice", us, err)
		}
	})

	t.Run("users from before roles become admins, so that nobody is locked out", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skimguard.db")
		old := openAt(t, path, 3)
		created := storetest.T0.Add(-time.Hour)
		if _, err := old.sql.ExecContext(t.Context(), "INSERT INTO users (name, password_hash, created_at, updated_at) VALUES ('alice', X'2432', ?, ?)",
			timeText(created), timeText(created)); err != nil {
			t.Fatal(err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open of a database at migration 3: %v", err)
		}
		defer db.Close()
		u, err := db.User(t.Context(), "alice")
		if err != nil || u.Role != skimguard.RoleAdmin || string(u.PasswordHash) != "$2" || !u.CreatedAt.Equal(created) {
			t.Fatalf("alice after the migration = %+v, %v; want an admin with her hash and creation time", u, err)
		}
		if _, err := db.sql.ExecContext(t.Context(), "INSERT INTO users (name, password_hash, created_at, updated_at) VALUES ('bob', X'24', 'x', 'x')"); err == nil {
			t.Error("a user without a role was stored: the role column must have no default")
		}
	})

	t.Run("findings from before the two-person rule have no first approval", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skimguard.db")
		old := openAt(t, path, 4)
		storetest.MustSaveBaseline(t, old, storetest.BaselineOf("shop", "checkout", "a"))
		storetest.MustSaveScan(t, old, storetest.ScanOf("shop", "checkout", storetest.T0, storetest.Finding("", "", "x")))
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open of a database at migration 4: %v", err)
		}
		defer db.Close()
		fs := storetest.MustFindings(t, db, skimguard.FindingFilter{})
		if len(fs) != 1 || fs[0].Status != skimguard.StatusOpen || fs[0].FirstApproval != nil {
			t.Fatalf("findings after the migration: %+v", fs)
		}
	})

	t.Run("an empty file is a new database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	})

	t.Run("a path with URI syntax in it works", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "odd?name#1%20.db")
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		storetest.MustSaveBaseline(t, db, storetest.BaselineOf("shop", "checkout", "a"))
		db.Close()
		if st, err := os.Stat(path); err != nil || st.Size() == 0 {
			t.Errorf("database not at %s: %v", path, err)
		}
	})

	t.Run("a missing directory is a clear error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "dir", "db")
		_, err := Open(t.Context(), path)
		t.Logf("Open: %v", err)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "directory exists") {
			t.Errorf("Open = %v, want an error naming %s", err, path)
		}
	})
}

// openAt makes a database at path with the migrations up to and including
// version last applied, as an older skimguard made it, and returns it open.
func openAt(t *testing.T, path string, last int) *DB {
	t.Helper()
	migs, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var older []migration
	for _, m := range migs {
		if m.version <= last {
			older = append(older, m)
		}
	}
	if len(older) == len(migs) {
		t.Fatalf("no migration after %d: this test checks nothing", last)
	}
	sdb, err := sql.Open("sqlite", dsn(path, defaultOptions, false))
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{sql: sdb, path: path, writer: make(chan struct{}, 1)}
	if err := db.migrate(t.Context(), older, nil); err != nil {
		sdb.Close()
		t.Fatalf("migrate to %d: %v", last, err)
	}
	return db
}

// wantUntouched checks that Open refuses the file at path with an error
// matching target and saying what to do, and that the file keeps its bytes.
func wantUntouched(t *testing.T, path string, target error, says ...string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), path)
	if err == nil {
		db.Close()
		t.Fatalf("Open succeeded, want %v", target)
	}
	t.Logf("Open: %v", err)
	if !errors.Is(err, target) {
		t.Errorf("Open = %v, want %v", err, target)
	}
	msg := err.Error()
	for _, s := range append([]string{path}, says...) {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not say %q", msg, s)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("Open changed the file (%d bytes before, %d after)", len(before), len(after))
	}
}

// populated makes a closed database with several pages of data.
func populated(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "skimguard.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := 0; i < 200; i++ {
		keys = append(keys, fmt.Sprintf("script-%03d", i))
	}
	storetest.MustSaveBaseline(t, db, storetest.BaselineOf("shop", "checkout", keys...))
	storetest.MustSaveScan(t, db, storetest.ScanOf("shop", "checkout", storetest.T0, storetest.Finding("shop", "checkout", "x")))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatalf("write-ahead log left after Close")
	}
	return path
}

func TestOpenRefusesDamage(t *testing.T) {
	const advice = "restore it from a backup, or move it aside"

	t.Run("a file that is not a database is left untouched", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skimguard.db")
		garbage := bytes.Repeat([]byte("this is not a database\n"), 500)
		if err := os.WriteFile(path, garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		wantUntouched(t, path, ErrCorrupt, advice, "will not modify it")
	})

	t.Run("a file shorter than a header is left untouched", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skimguard.db")
		if err := os.WriteFile(path, []byte("SQLite format 3\x00"), 0o600); err != nil {
			t.Fatal(err)
		}
		wantUntouched(t, path, ErrCorrupt, advice)
	})

	t.Run("a truncated database is left untouched", func(t *testing.T) {
		path := populated(t)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data[:len(data)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		wantUntouched(t, path, ErrCorrupt, advice, "truncated")
	})

	t.Run("a database with a damaged page is left untouched", func(t *testing.T) {
		path := populated(t)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Scribble over the pages after the first, keeping the header and
		// the size intact, so that only SQLite can tell.
		pageSize := 4096
		for i := pageSize; i < len(data); i += pageSize {
			copy(data[i:], bytes.Repeat([]byte{0x0d, 0xff}, 32))
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		wantUntouched(t, path, ErrCorrupt, advice)
	})

	t.Run("another program's database is left untouched", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		raw := rawDB(t, path)
		if _, err := raw.Exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		wantUntouched(t, path, ErrCorrupt, "another program")
	})

	t.Run("a database from a newer skimguard is left untouched", func(t *testing.T) {
		path := populated(t)
		raw := rawDB(t, path)
		if _, err := raw.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 'x')"); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		wantUntouched(t, path, ErrNewerSchema, "9999", "upgrade skimguard")
	})
}

func TestLocked(t *testing.T) {
	short := options{busyTimeout: 100 * time.Millisecond, maxConns: 2}

	// hold takes the write lock of path in another connection, as a second
	// skimguard process would, until the test ends.
	hold := func(t *testing.T, path string) {
		raw := rawDB(t, path)
		tx, err := raw.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE, from the DSN
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
	}
	// The guard turns a hang into a context error, which the tests reject.
	guard := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	wantLocked := func(t *testing.T, path string, err error) {
		t.Helper()
		t.Logf("err: %v", err)
		if !errors.Is(err, ErrLocked) || !errors.Is(err, skimguard.ErrStoreLocked) {
			t.Fatalf("err = %v, want ErrLocked", err)
		}
		for _, s := range []string{"the database " + path + " is locked by another process", "fuser " + path, "or wait"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error does not say %q", s)
			}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v: waited for the guard, not the busy timeout", err)
		}
	}

	t.Run("a write reports the lock after the busy timeout", func(t *testing.T) {
		path := populated(t)
		db, err := open(t.Context(), path, short)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		hold(t, path)
		err = db.SaveScan(guard(t), storetest.ScanOf("shop", "checkout", storetest.T0))
		wantLocked(t, path, err)
		if !strings.Contains(err.Error(), "save scan of shop/checkout") {
			t.Errorf("err = %v, want it to say what failed", err)
		}
		err = db.SaveBaseline(guard(t), storetest.BaselineOf("shop", "checkout", "a"))
		wantLocked(t, path, err)
	})

	t.Run("reads go on while another process writes", func(t *testing.T) {
		path := populated(t)
		hold(t, path)
		db, err := open(guard(t), path, short)
		if err != nil {
			t.Fatalf("Open of an up-to-date database while locked: %v", err)
		}
		defer db.Close()
		if _, err := db.Baseline(guard(t), "shop", "checkout"); err != nil {
			t.Errorf("Baseline: %v", err)
		}
		if _, err := db.Findings(guard(t), skimguard.FindingFilter{}); err != nil {
			t.Errorf("Findings: %v", err)
		}
	})

	t.Run("opening a database that needs migrating reports the lock", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skimguard.db")
		hold(t, path)
		_, err := open(guard(t), path, short)
		wantLocked(t, path, err)
	})

	t.Run("the write succeeds once the lock is released", func(t *testing.T) {
		path := populated(t)
		db, err := open(t.Context(), path, short)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		raw := rawDB(t, path)
		tx, err := raw.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantLocked(t, path, db.SaveScan(guard(t), storetest.ScanOf("shop", "checkout", storetest.T0)))
		tx.Rollback()
		if err := db.SaveScan(guard(t), storetest.ScanOf("shop", "checkout", storetest.T0)); err != nil {
			t.Errorf("SaveScan after the lock was released: %v", err)
		}
	})
}
