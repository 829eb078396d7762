package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// ClaimAlert claims the right to send the alert key names, for lease: it
// reports true to the one caller, in any process on this file, that
// claims key first, and again once lease has passed (its claimer died
// before it recorded the delivery). One serve holds a file, but a
// `skimguard check` beside it sees the same open findings and decides
// from the same delivery history. Claims older than a day are removed as
// new ones are made.
func (db *DB) ClaimAlert(ctx context.Context, key string, lease time.Duration) (bool, error) {
	var claimed bool
	err := db.write(ctx, "claim an alert", func(tx *sql.Tx) error {
		now := time.Now()
		if _, err := tx.ExecContext(ctx, "DELETE FROM alert_claims WHERE until < ?", timeText(now.Add(-24*time.Hour))); err != nil {
			return err
		}
		// The conflict's update changes no row while the claim is held.
		res, err := tx.ExecContext(ctx, `INSERT INTO alert_claims (key, until) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE alert_claims.until < ?`,
			key, timeText(now.Add(lease)), timeText(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	return claimed, err
}
