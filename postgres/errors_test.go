package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/skimguard/skimguard"
)

// wantSays checks that err is target and says each of says.
func wantSays(t *testing.T, err, target error, says ...string) {
	t.Helper()
	t.Logf("err: %v", err)
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q", s)
		}
	}
}

func TestServerErrorsSayWhatToDo(t *testing.T) {
	db := &DB{where: `"skimguard" (as sg at db.example:5432)`}
	for _, tc := range []struct {
		code   string
		target error
		says   string
	}{
		{"53100", ErrFull, "is full"},
		{"55P03", ErrLocked, "pg_stat_activity"},
		{"40001", ErrLocked, "conflicting with other writers"},
		{"40P01", ErrLocked, "conflicting with other writers"},
		{"25006", ErrReadOnly, "primary server"},
		{"28P01", ErrRefused, "PGPASSWORD"},
		{"3D000", ErrRefused, "createdb"},
		{"42501", ErrRefused, "owner"},
		{"53300", ErrUnavailable, "max_connections"},
		{"57P01", ErrUnavailable, "reconnects by itself"},
		{"08006", ErrUnavailable, "reconnects by itself"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			pe := &pgconn.PgError{Code: tc.code, Message: "the server's words"}
			err := db.fail(context.Background(), "save scan of shop/checkout", fmt.Errorf("insert scan: %w", pe))
			wantSays(t, err, tc.target, "save scan of shop/checkout: ", db.where, tc.says, "the server's words")
			var got *pgconn.PgError
			if !errors.As(err, &got) || got != pe {
				t.Errorf("the server's error is not in the chain")
			}
		})
	}
	t.Run("a cancelled call is not blamed on the server", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := db.fail(ctx, "list scans", &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"})
		if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrLocked) {
			t.Errorf("err = %v, want no store failure", err)
		}
	})
}

func TestLocked(t *testing.T) {
	url := pg.Database(t)
	db, err := Open(t.Context(), url, Options{LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other := rawConn(t, url)
	tx, err := other.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), "LOCK TABLE scans IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	t.Run("a write past the lock timeout fails as locked", func(t *testing.T) {
		err := db.SaveScan(t.Context(), &skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK})
		wantSays(t, err, skimguard.ErrStoreLocked, "save scan of shop/checkout", "lock timeout", "pg_stat_activity")
	})
	t.Run("Health says locked while the lock is held", func(t *testing.T) {
		wantSays(t, db.Health(t.Context()), ErrLocked, "lock timeout")
	})
	t.Run("and healthy once it is let go", func(t *testing.T) {
		if err := tx.Rollback(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := db.Health(t.Context()); err != nil {
			t.Fatalf("Health = %v", err)
		}
		if err := db.SaveScan(t.Context(), &skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK}); err != nil {
			t.Fatalf("SaveScan = %v", err)
		}
	})
}

func TestReadOnly(t *testing.T) {
	url := pg.Database(t)
	name := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	before, err := Open(t.Context(), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	if err := before.SaveSession(t.Context(), &skimguard.Session{Key: "k", User: "alice", CreatedAt: at, SeenAt: at, Idle: time.Hour, EndsAt: at.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	before.Close()
	if _, err := rawConn(t, url).Exec(t.Context(), "ALTER DATABASE "+name+" SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), url, Options{})
	if err != nil {
		t.Fatalf("Open of a read-only database (reading still works): %v", err)
	}
	defer db.Close()
	wantSays(t, db.Health(t.Context()), ErrReadOnly, "takes no writes", "primary server")
	err = db.SaveScan(t.Context(), &skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK})
	wantSays(t, err, ErrReadOnly, "save scan of shop/checkout", "takes no writes")
	got, err := db.TouchSession(t.Context(), "k", at.Add(time.Minute))
	if err != nil || got.User != "alice" || !got.SeenAt.Equal(at) {
		t.Fatalf("TouchSession on a read-only database = %+v, %v; want alice's session, not marked seen", got, err)
	}
}

func TestAppendOnlyLogsRefuseTruncate(t *testing.T) {
	_, url := openTest(t)
	c := rawConn(t, url)
	for _, table := range []string{"audit", "deliveries", "delivery_findings"} {
		if _, err := c.Exec(t.Context(), "TRUNCATE "+table+" CASCADE"); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("TRUNCATE %s: %v, want the append-only refusal", table, err)
		}
	}
}
