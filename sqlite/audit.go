package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/skimguard/skimguard"
)

// Audit lists the audit log, oldest first.
func (db *DB) Audit(ctx context.Context) ([]skimguard.AuditEntry, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT id, at, actor, action, site, page, reason, detail FROM audit ORDER BY id")
	if err != nil {
		return nil, db.fail("read audit log", err)
	}
	defer rows.Close()
	var log []skimguard.AuditEntry
	for rows.Next() {
		var e skimguard.AuditEntry
		var at sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Site, &e.Page, &e.Reason, &e.Detail); err != nil {
			return nil, db.fail("read audit log", err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, db.fail("read audit log", err)
		}
		log = append(log, e)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail("read audit log", err)
	}
	return log, nil
}

// AppendAudit records e in the audit log; a zero e.At means now.
func (db *DB) AppendAudit(ctx context.Context, e skimguard.AuditEntry) error {
	return db.write(ctx, "record "+e.Action, func(tx *sql.Tx) error { return audit(ctx, tx, e) })
}

// audit appends e to the audit log within tx; a zero e.At means now.
func audit(ctx context.Context, tx *sql.Tx, e skimguard.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, action, site, page, reason, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, timeText(e.At), e.Actor, e.Action, e.Site, e.Page, e.Reason, e.Detail)
	if err != nil {
		return fmt.Errorf("append %s to the audit log: %w", e.Action, err)
	}
	return nil
}
