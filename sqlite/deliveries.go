package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// SaveDelivery records an alert delivery attempt; a zero d.At means now.
func (db *DB) SaveDelivery(ctx context.Context, d *skimguard.Delivery) error {
	at := d.At
	if at.IsZero() {
		at = time.Now()
	}
	var id int64
	err := db.write(ctx, fmt.Sprintf("record alert delivery for %s/%s", d.Site, d.Page), func(tx *sql.Tx) error {
		findings := d.Findings
		if findings == nil {
			findings = []int64{}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (at, sink, site, page, scan_id, findings, ok, error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, timeText(at), d.Sink, d.Site, d.Page, d.ScanID, jsonText(findings), d.OK, d.Error)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return err
	}
	d.ID, d.At = id, at
	return nil
}

// Deliveries lists recorded deliveries, oldest first.
func (db *DB) Deliveries(ctx context.Context, f skimguard.DeliveryFilter) ([]skimguard.Delivery, error) {
	var where []string
	var args []any
	if len(f.Sites) > 0 {
		where = append(where, "site IN (SELECT value FROM json_each(?))")
		args = append(args, jsonText(f.Sites))
	}
	if !f.From.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, timeText(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "at < ?")
		args = append(args, timeText(f.To))
	}
	if len(f.Findings) > 0 {
		// Through the index of migration 0004, not json_each over every
		// delivery's findings.
		where = append(where, "id IN (SELECT delivery_id FROM delivery_findings WHERE finding_id IN (SELECT value FROM json_each(?)))")
		args = append(args, jsonText(f.Findings))
	}
	if len(f.Sinks) > 0 {
		where = append(where, "sink IN (SELECT value FROM json_each(?))")
		args = append(args, jsonText(f.Sinks))
	}
	q := "SELECT id, at, sink, site, page, scan_id, findings, ok, error FROM deliveries"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at, id"
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, db.fail("list alert deliveries", err)
	}
	defer rows.Close()
	var out []skimguard.Delivery
	for rows.Next() {
		var d skimguard.Delivery
		var at sql.NullString
		var findings string
		if err := rows.Scan(&d.ID, &at, &d.Sink, &d.Site, &d.Page, &d.ScanID, &findings, &d.OK, &d.Error); err != nil {
			return nil, db.fail("list alert deliveries", err)
		}
		if d.At, err = parseTime(at); err != nil {
			return nil, db.fail("list alert deliveries", err)
		}
		if err := json.Unmarshal([]byte(findings), &d.Findings); err != nil {
			return nil, db.fail("list alert deliveries", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail("list alert deliveries", err)
	}
	return out, nil
}
