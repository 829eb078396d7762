package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// probeTimeout bounds Health's wait for the write lock: a write holds it for
// milliseconds, so a second means another process holds on to it.
const probeTimeout = time.Second

// writeHealth remembers whether a write failed because of the file (full,
// locked, read-only, I/O, damage), and since when.
type writeHealth struct {
	mu    sync.Mutex
	err   error
	since time.Time
}

// note records how a write ended: a failure of the file is kept; any other
// error (a finding already closed, a cancelled request) says nothing about
// the file, and a success does not clear a failure (see saved).
func (h *writeHealth) note(err error) {
	var fe *fileError
	if !errors.As(err, &fe) && !errors.Is(err, ErrCorrupt) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.since = time.Now()
	}
	h.err = err
}

// saved records that a scan was stored: whatever failed before, writes
// work again. Other writes do not say so: a small one can succeed on a
// full disk where a scan does not.
func (h *writeHealth) saved() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = nil
}

// clear forgets the failure err, unless a newer one took its place.
func (h *writeHealth) clear(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == err {
		h.err = nil
	}
}

func (h *writeHealth) failure() (error, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err, h.since
}

// Health reports whether the database takes writes now. It fails when a
// write failed because of the file, until a scan is stored again (scans are
// the writes that need room, and the daemon makes one often) or, when it
// failed for the lock, until the lock can be had; when the file may not be
// written; and when the write lock cannot be had within a second now. It
// writes nothing.
func (db *DB) Health(ctx context.Context) error {
	failed, since := db.health.failure()
	if failed != nil && !errors.Is(failed, ErrLocked) {
		return fmt.Errorf("writes fail since %s: %w", since.UTC().Format(time.RFC3339), failed)
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := db.probe(pctx)
	if err == nil {
		db.health.clear(failed)
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("take the write lock: %w", lockedError(db.path, err))
	}
	return db.fail("take the write lock", err)
}

// probe takes the write lock, as every write must, and lets go of it.
func (db *DB) probe(ctx context.Context) error {
	// SQLite opens a file it may not write read-only without a word, and
	// taking the lock does not write: ask the kernel.
	if err := syscall.Access(db.path, 2 /* W_OK */); err != nil {
		return readOnlyError(db.path, err)
	}
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.writer }()
	tx, err := db.sql.BeginTx(ctx, nil) // BEGIN IMMEDIATE, from the DSN
	if err != nil {
		return err
	}
	return tx.Rollback()
}
