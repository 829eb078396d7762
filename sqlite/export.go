package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// How a column is read for export; the others are read as the driver
// gives them (int64, string, []byte or nil).
type exportKind int

const (
	plain      exportKind = iota
	timeColumn            // UTC text: a time.Time, nil for NULL
	boolInt               // 0 or 1: a bool
	idArray               // a JSON array of ids: an []int64
)

// exportTable is what ExportTable knows of one table: its key, which rows
// come in the order of, and the columns that need reading.
type exportTable struct {
	key   string
	kinds map[string]exportKind
}

// exportTables are the tables a history is copied from, each column not
// listed in kinds read plain. Sessions and sign-in failures are not
// history.
var exportTables = map[string]exportTable{
	"pages":     {key: "site, page"},
	"sources":   {key: "sha256"},
	"scans":     {key: "id", kinds: map[string]exportKind{"started_at": timeColumn}},
	"baselines": {key: "id", kinds: map[string]exportKind{"created_at": timeColumn}},
	"baseline_items": {key: "baseline_id, position", kinds: map[string]exportKind{
		"optional": boolInt, "first_seen": timeColumn, "approved_at": timeColumn}},
	"findings": {key: "id", kinds: map[string]exportKind{
		"first_seen": timeColumn, "last_seen": timeColumn, "resolved_at": timeColumn, "first_approved_at": timeColumn}},
	"audit":             {key: "id", kinds: map[string]exportKind{"at": timeColumn}},
	"deliveries":        {key: "id", kinds: map[string]exportKind{"at": timeColumn, "ok": boolInt, "findings": idArray}},
	"delivery_findings": {key: "finding_id, delivery_id"},
	"users":             {key: "name", kinds: map[string]exportKind{"created_at": timeColumn, "updated_at": timeColumn}},
	"report_tokens":     {key: "site", kinds: map[string]exportKind{"created_at": timeColumn}},
	"shopper_reports":   {key: "id", kinds: map[string]exportKind{"first_seen": timeColumn, "last_seen": timeColumn}},
}

// ExportTable calls fn with each row of table, in the order of its key,
// its columns cols in that order as Go values: int64, string, []byte,
// bool, time.Time, []int64 (the ids of deliveries.findings), or nil for
// NULL. It is how `skimguard migrate` reads a history to copy it into
// PostgreSQL (postgres.Source). A table or column it does not know is an
// error.
func (db *DB) ExportTable(ctx context.Context, table string, cols []string, fn func(row []any) error) error {
	what := "export the table " + table
	spec, ok := exportTables[table]
	if !ok {
		return fmt.Errorf("%s: no such table to export", what)
	}
	known, err := db.columns(ctx, table)
	if err != nil {
		return db.fail(what, err)
	}
	for _, c := range cols {
		if !slices.Contains(known, c) {
			return fmt.Errorf("%s: it has no column %s; its columns are %s", what, c, strings.Join(known, ", "))
		}
	}
	return db.read(ctx, what, func(tx *sql.Tx) error {
		// Names checked against the table's own above: safe to splice.
		rows, err := tx.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+table+" ORDER BY "+spec.key)
		if err != nil {
			return err
		}
		defer rows.Close()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row := make([]any, len(cols))
			for i, c := range cols {
				if row[i], err = exportValue(spec.kinds[c], vals[i]); err != nil {
					return fmt.Errorf("column %s: %w", c, err)
				}
			}
			if err := fn(row); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// columns lists a table's columns.
func (db *DB) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT name FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// exportValue turns a value as the driver read it into its Go value.
func exportValue(k exportKind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case timeColumn:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("a time that is not text: %T", v)
		}
		return time.Parse(time.RFC3339Nano, s)
	case boolInt:
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("a boolean that is not a number: %T", v)
		}
		return n != 0, nil
	case idArray:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("ids that are not text: %T", v)
		}
		ids := []int64{}
		if err := json.Unmarshal([]byte(s), &ids); err != nil {
			return nil, err
		}
		return ids, nil
	}
	return v, nil
}
