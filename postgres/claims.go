package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ClaimAlert claims the right to send the alert key names, for lease: it
// reports true to the one caller, in any process on this database, that
// claims key first, and again once lease has passed without the claim
// being renewed (its claimer died before it recorded the delivery). The
// monitor names in key what it decided from (the sink, the finding and how
// many deliveries of it the sink had), so that a process that decided
// from a history another has since changed finds its key taken. Claims
// older than a day are removed as new ones are made.
func (db *DB) ClaimAlert(ctx context.Context, key string, lease time.Duration) (bool, error) {
	var claimed bool
	err := db.write(ctx, "claim an alert", func(t tx) error {
		if _, err := t.exec(ctx, `DELETE FROM alert_claims WHERE until < now() - interval '1 day'`); err != nil {
			return err
		}
		var k string
		err := t.queryRow(ctx, `INSERT INTO alert_claims (key, until) VALUES ($1, now() + $2::bigint * interval '1 microsecond')
			ON CONFLICT (key) DO UPDATE SET until = EXCLUDED.until WHERE alert_claims.until < now()
			RETURNING key`, key, lease.Microseconds()).Scan(&k)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			claimed = false
			return nil
		case err != nil:
			return err
		}
		claimed = true
		return nil
	})
	return claimed, err
}

// PoolConfig returns a copy of the configuration of the store's connection
// pool, for a component that needs connections of its own on the same
// database (the river package's job queue), so that it cannot starve the
// store's.
func (db *DB) PoolConfig() *pgxpool.Config { return db.pool.Config() }
