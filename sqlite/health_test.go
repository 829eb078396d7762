package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/storetest"
)

func TestHealth(t *testing.T) {
	short := options{busyTimeout: 100 * time.Millisecond, maxConns: 2}

	t.Run("a write lock held elsewhere makes it unhealthy until it is let go", func(t *testing.T) {
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
		err = db.Health(t.Context())
		wantSays(t, err, ErrLocked, path, "is locked by another process")
		tx.Rollback()
		if err := db.Health(t.Context()); err != nil {
			t.Fatalf("Health once the lock is let go = %v", err)
		}
	})

	t.Run("a save that failed for the lock is forgotten once the lock can be had", func(t *testing.T) {
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
		if err := db.SaveScan(t.Context(), storetest.ScanOf("shop", "checkout", storetest.T0)); !errors.Is(err, ErrLocked) {
			t.Fatalf("SaveScan = %v, want ErrLocked", err)
		}
		tx.Rollback()
		if err := db.Health(t.Context()); err != nil {
			t.Fatalf("Health once the lock is let go = %v", err)
		}
	})

	t.Run("a scan that failed on a full disk keeps it unhealthy until a scan is stored", func(t *testing.T) {
		db, path, free := onFullDisk(t)
		// Taking the lock needs no room: only a failed write shows a full
		// disk.
		if err := db.Health(t.Context()); err != nil {
			t.Fatalf("Health before any write = %v", err)
		}
		scan := storetest.ScanOf("shop", "checkout", storetest.T0.Add(time.Hour), storetest.Finding("shop", "checkout", "x"))
		scan.Observation = storetest.Observation("shop", "checkout", storetest.T0.Add(time.Hour), 20, 0, "")
		if err := db.SaveScan(t.Context(), scan); !errors.Is(err, ErrFull) {
			t.Fatalf("SaveScan = %v, want ErrFull", err)
		}
		// A small write can still succeed on a full disk: it says nothing.
		if err := db.SaveDelivery(t.Context(), &skimguard.Delivery{Sink: "slack", Site: "shop", Page: "checkout"}); err != nil {
			t.Fatalf("SaveDelivery on the full disk: %v", err)
		}
		err := db.Health(t.Context())
		wantSays(t, err, ErrFull, path, "writes fail since", "save scan of shop/checkout", "is full: free space")
		if !errors.Is(err, skimguard.ErrStoreFull) {
			t.Errorf("Health = %v, want skimguard.ErrStoreFull", err)
		}
		free()
		if err := db.Health(t.Context()); !errors.Is(err, ErrFull) {
			t.Fatalf("Health after freeing space, before a save = %v, want ErrFull still", err)
		}
		if err := db.SaveScan(t.Context(), scan); err != nil {
			t.Fatal(err)
		}
		if err := db.Health(t.Context()); err != nil {
			t.Fatalf("Health after a save succeeded = %v", err)
		}
	})

	t.Run("a database that cannot be written is unhealthy before any write", func(t *testing.T) {
		path := populated(t)
		makeReadOnly(t, path)
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		wantSays(t, db.Health(t.Context()), ErrReadOnly, path, "cannot be written", "writable by the user skimguard runs as")
	})
}
