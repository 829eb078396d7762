package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/pgtest"
	"github.com/skimguard/skimguard/internal/storetest"
)

// A server of its own: these tests stop and restart it.
func TestServerRestarts(t *testing.T) {
	srv := pgtest.Start(t)
	if err := srv.Exec("postgres", "CREATE DATABASE skimguard"); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), srv.URL("skimguard"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := storetest.T0
	save := func(t *testing.T) error {
		t.Helper()
		at = at.Add(time.Minute)
		s := storetest.ScanOf("shop", "checkout", at, storetest.Finding("", "", "x"))
		s.Observation = storetest.Observation("shop", "checkout", at, 3, 0, "")
		return db.SaveScan(t.Context(), s)
	}
	if err := save(t); err != nil {
		t.Fatal(err)
	}

	t.Run("after a restart the next calls reconnect and succeed", func(t *testing.T) {
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		// At once: the pool's connections were all ended by the restart.
		if err := save(t); err != nil {
			t.Fatalf("SaveScan after the restart: %v", err)
		}
		if err := db.Health(t.Context()); err != nil {
			t.Fatalf("Health after the restart: %v", err)
		}
		if fs := storetest.MustFindings(t, db, skimguard.FindingFilter{}); len(fs) != 1 {
			t.Fatalf("findings after the restart: %+v, want the one seen twice", fs)
		}
	})

	t.Run("while it is down Health says so, and a write made then is stored once it is back", func(t *testing.T) {
		if err := srv.Down(); err != nil {
			t.Fatal(err)
		}
		err := db.Health(t.Context())
		wantSays(t, err, skimguard.ErrStoreUnavailable, "cannot reach the PostgreSQL database", "check that the server is running")
		done := make(chan error, 1)
		go func() { done <- save(t) }()
		time.Sleep(time.Second)
		if err := srv.Up(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("SaveScan across the outage: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("SaveScan did not return after the server came back")
		}
		scans, err := db.Scans(t.Context(), skimguard.ScanFilter{})
		if err != nil || len(scans) != 3 {
			t.Fatalf("scans after the outage = %d, %v; want 3", len(scans), err)
		}
	})

	t.Run("a write outlasting the outage's retries fails as unavailable", func(t *testing.T) {
		if err := srv.Down(); err != nil {
			t.Fatal(err)
		}
		defer srv.Up()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		err := db.AppendAudit(ctx, skimguard.AuditEntry{Action: "test"})
		if !errors.Is(err, skimguard.ErrStoreUnavailable) || time.Since(start) > retryFor+5*time.Second {
			t.Fatalf("AppendAudit while down = %v after %s, want ErrStoreUnavailable within about %s", err, time.Since(start), retryFor)
		}
	})
}
