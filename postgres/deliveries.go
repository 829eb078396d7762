package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard"
)

// SaveDelivery records an alert delivery attempt; a zero d.At means now.
// It sets d.ID and d.At (to the microsecond, as stored).
func (db *DB) SaveDelivery(ctx context.Context, d *skimguard.Delivery) error {
	at := d.At
	if at.IsZero() {
		at = time.Now()
	}
	at = stored(at)
	findings := d.Findings
	if findings == nil {
		findings = []int64{}
	}
	var id int64
	err := db.write(ctx, fmt.Sprintf("record alert delivery for %s/%s", d.Site, d.Page), func(t tx) error {
		return t.queryRow(ctx, `INSERT INTO deliveries (at, sink, site, page, scan_id, findings, ok, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			at, d.Sink, d.Site, d.Page, d.ScanID, findings, d.OK, d.Error).Scan(&id)
	})
	if err != nil {
		return err
	}
	d.ID, d.At = id, at
	return nil
}

// Deliveries lists recorded deliveries, oldest first.
func (db *DB) Deliveries(ctx context.Context, f skimguard.DeliveryFilter) ([]skimguard.Delivery, error) {
	var w where
	if len(f.Sites) > 0 {
		w.add("site = ANY(?)", f.Sites)
	}
	if !f.From.IsZero() {
		w.add("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		w.add("at < ?", f.To)
	}
	if len(f.Findings) > 0 {
		// Through the index table, not by unnesting every delivery.
		w.add("id IN (SELECT delivery_id FROM delivery_findings WHERE finding_id = ANY(?))", f.Findings)
	}
	if len(f.Sinks) > 0 {
		w.add("sink = ANY(?)", f.Sinks)
	}
	q := "SELECT id, at, sink, site, page, scan_id, findings, ok, error FROM deliveries" + w.sql() + " ORDER BY at, id"
	var out []skimguard.Delivery
	err := db.read(ctx, "list alert deliveries", func(t tx) error {
		rows, err := t.query(ctx, q, w.args...)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(row pgx.CollectableRow) (skimguard.Delivery, error) {
			var d skimguard.Delivery
			err := row.Scan(&d.ID, &d.At, &d.Sink, &d.Site, &d.Page, &d.ScanID, &d.Findings, &d.OK, &d.Error)
			return d, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
