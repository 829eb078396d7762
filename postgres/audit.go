package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard"
)

// Audit lists the audit log, oldest first.
func (db *DB) Audit(ctx context.Context) ([]skimguard.AuditEntry, error) {
	var log []skimguard.AuditEntry
	err := db.read(ctx, "read audit log", func(t tx) error {
		rows, err := t.query(ctx, "SELECT id, at, actor, action, site, page, reason, detail FROM audit ORDER BY id")
		if err != nil {
			return err
		}
		log, err = collect(rows, func(row pgx.CollectableRow) (skimguard.AuditEntry, error) {
			var e skimguard.AuditEntry
			err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Site, &e.Page, &e.Reason, &e.Detail)
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return log, nil
}

// AppendAudit records e in the audit log; a zero e.At means now.
func (db *DB) AppendAudit(ctx context.Context, e skimguard.AuditEntry) error {
	return db.write(ctx, "record "+e.Action, func(t tx) error { return audit(ctx, t, e) })
}

// audit appends e to the audit log within t; a zero e.At means now.
func audit(ctx context.Context, t tx, e skimguard.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := t.exec(ctx, `INSERT INTO audit (at, actor, action, site, page, reason, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.At, e.Actor, e.Action, e.Site, e.Page, e.Reason, e.Detail)
	if err != nil {
		return fmt.Errorf("append %s to the audit log: %w", e.Action, err)
	}
	return nil
}
