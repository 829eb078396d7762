package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// probeTimeout bounds Health: a write waits for a lock for milliseconds, so
// a second means another transaction holds on to it.
const probeTimeout = 2 * time.Second

// writeHealth remembers that a write failed for want of room, and since
// when: only a write shows a full disk.
type writeHealth struct {
	mu    sync.Mutex
	err   error
	since time.Time
}

// note records how a write ended: a full disk is kept until a scan is
// stored (see saved); anything else the probe sees for itself.
func (h *writeHealth) note(err error) {
	if !errors.Is(err, ErrFull) {
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

func (h *writeHealth) failure() (error, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err, h.since
}

// Health reports whether the database takes writes now. It fails when a
// write failed for want of room, until a scan is stored again; when the
// server cannot be reached; when it takes no writes (a standby); and when
// a write's lock on the scans and findings cannot be had within a second.
// It takes that lock in a transaction it rolls back: it writes nothing.
func (db *DB) Health(ctx context.Context) error {
	if failed, since := db.health.failure(); failed != nil {
		return fmt.Errorf("writes fail since %s: %w", since.UTC().Format(time.RFC3339), failed)
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := db.probe(pctx)
	if lostConnection(err) && pctx.Err() == nil {
		// A connection the server ended while it sat in the pool says
		// nothing of the server now: ask on a new one.
		db.pool.Reset()
		err = db.probe(pctx)
	}
	if errors.Is(err, errRollback) {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return &serverError{kind: ErrUnavailable, err: err,
			msg: fmt.Sprintf("the PostgreSQL database %s did not answer within %s: check the server and the network to it", db.where, probeTimeout)}
	}
	return db.fail(ctx, "take a write lock", err)
}

// probe takes, in a transaction it rolls back (ending with errRollback),
// the lock every write takes, and checks that the server takes writes.
func (db *DB) probe(pctx context.Context) error {
	_, err := db.runOnce(pctx, pgx.TxOptions{}, func(t tx) error {
		if _, err := t.exec(pctx, "SET LOCAL lock_timeout = 1000"); err != nil {
			return err
		}
		// The lock every insert and update takes: refused on a table
		// someone holds exclusively, and without write privileges.
		if _, err := t.exec(pctx, "LOCK TABLE scans, findings IN ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		var readOnly string
		if err := t.queryRow(pctx, "SELECT current_setting('transaction_read_only')").Scan(&readOnly); err != nil {
			return err
		}
		if readOnly == "on" {
			return &serverError{kind: ErrReadOnly, err: errors.New("transaction_read_only is on"),
				msg: fmt.Sprintf("the PostgreSQL database %s takes no writes: point the URL at the primary server, not a standby, and check default_transaction_read_only", db.where)}
		}
		return errRollback
	})
	return err
}

// errRollback ends the probe's transaction without committing it.
var errRollback = errors.New("rolled back")
