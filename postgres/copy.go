package postgres

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Source is a store whose history Copy reads, table by table: *sqlite.DB.
type Source interface {
	// ExportTable calls fn with each row of table, in the order of its
	// key, its columns cols in that order as Go values: int64, string,
	// []byte, bool, time.Time, []int64, or nil for NULL.
	ExportTable(ctx context.Context, table string, cols []string, fn func(row []any) error) error
}

// TableCopy says how copying one table went.
type TableCopy struct {
	Table string
	// Source and Target count the table's rows in the source (as read)
	// and in PostgreSQL after the copy: equal when the copy is whole.
	Source, Target int64
	// Copied counts the rows added; Updated the rows already copied that
	// the source has changed since (a finding resolved, a new password).
	Copied, Updated int64
}

// A column of a key, and its type for arrays of its values.
type keyColumn struct{ name, typ string }

// copyTable is how Copy copies one table.
type copyTable struct {
	name string
	key  []keyColumn
	// cols are the other columns; mutable those of them a row may change
	// in the source after it was copied (the rest must stay as copied).
	cols, mutable []string
	// bytea are the columns stored as bytes, compared by digest.
	bytea []string
	// serial: the table's id comes from a sequence, set past the copied
	// ids when done.
	serial bool
}

var (
	id      = []keyColumn{{"id", "bigint"}}
	pageKey = []keyColumn{{"site", "text"}, {"page", "text"}}
)

// copyTables are the tables Copy copies, each after those it refers to:
// every table of the history. Sessions and sign-in failures are not
// history: people sign in again.
var copyTables = []copyTable{
	{name: "pages", key: pageKey, cols: []string{"url"}, mutable: []string{"url"}},
	{name: "sources", key: []keyColumn{{"sha256", "text"}}, cols: []string{"source"}, bytea: []string{"source"}},
	{name: "scans", key: id, serial: true, cols: []string{"site", "page", "url", "started_at", "duration_ns", "status", "error",
		"baseline_version", "script_sources", "observation_gz", "screenshot"}, bytea: []string{"observation_gz", "screenshot"}},
	{name: "baselines", key: id, serial: true, cols: []string{"site", "page", "version", "url", "samples", "created_at", "approved_by", "reason"}},
	{name: "baseline_items", key: []keyColumn{{"baseline_id", "bigint"}, {"position", "integer"}}, cols: []string{"type", "key",
		"subject", "origin", "item_values", "optional", "attrs", "source_sha256", "sha256", "sri", "first_seen", "approved_by", "reason", "approved_at"}},
	{name: "findings", key: id, serial: true, cols: []string{"site", "page", "kind", "severity", "subject", "detail", "evidence", "item",
		"fingerprint", "status", "scan_id", "first_seen", "last_seen", "resolved_by", "resolution", "resolved_at",
		"first_approved_by", "first_approval", "first_approved_at"},
		mutable: []string{"status", "scan_id", "first_seen", "last_seen", "resolved_by", "resolution", "resolved_at",
			"first_approved_by", "first_approval", "first_approved_at"}},
	{name: "audit", key: id, serial: true, cols: []string{"at", "actor", "action", "site", "page", "reason", "detail"}},
	{name: "deliveries", key: id, serial: true, cols: []string{"at", "sink", "site", "page", "scan_id", "findings", "ok", "error"}},
	{name: "delivery_findings", key: []keyColumn{{"finding_id", "bigint"}, {"delivery_id", "bigint"}}},
	{name: "users", key: []keyColumn{{"name", "text"}}, cols: []string{"password_hash", "role", "created_at", "updated_at"},
		mutable: []string{"password_hash", "role", "updated_at"}, bytea: []string{"password_hash"}},
	{name: "report_tokens", key: []keyColumn{{"site", "text"}}, cols: []string{"token_hash", "created_at"},
		mutable: []string{"token_hash", "created_at"}},
	// Reports go on coming while a history is copied: counts, spans,
	// browsers and verdicts move on.
	{name: "shopper_reports", key: id, serial: true, cols: []string{"site", "page", "type", "subject", "hash", "directive",
		"count", "first_seen", "last_seen", "user_agents", "verdict", "finding_id"},
		mutable: []string{"count", "first_seen", "last_seen", "user_agents", "verdict", "finding_id"}},
}

// CopyTables names the tables Copy copies, in order.
func CopyTables() []string {
	names := make([]string, len(copyTables))
	for i, t := range copyTables {
		names[i] = t.name
	}
	return names
}

// copyBatch bounds the rows, and copyBatchBytes the bytes, written in one
// transaction.
const (
	copyBatch      = 500
	copyBatchBytes = 16 << 20
)

// Copy copies src's history into the database, table by table, keeping
// every id and time, so that links and audit references stay valid; it
// then sets each table's id sequence past the copied ids. Rows copied
// before (a run cut short, or one run twice) are compared, not copied
// again: one that differs from the source in what never changes (another
// history's scan with the same id) stops the copy, saying so; one whose
// mutable columns the source has changed since is updated. Each batch is
// its own transaction, so a run cut short keeps what it copied and the next
// run goes on from there. progress, when set, is told of each table as it
// is done. The database should hold nothing but copies of src: copy into a
// new one.
func (db *DB) Copy(ctx context.Context, src Source, progress func(TableCopy)) ([]TableCopy, error) {
	var out []TableCopy
	for _, t := range copyTables {
		tc, err := db.copyTable(ctx, src, t)
		if err != nil {
			return out, fmt.Errorf("copy the table %s: %w", t.name, err)
		}
		out = append(out, tc)
		if progress != nil {
			progress(tc)
		}
	}
	return out, nil
}

func (db *DB) copyTable(ctx context.Context, src Source, t copyTable) (TableCopy, error) {
	tc := TableCopy{Table: t.name}
	all := t.columns()
	var batch [][]any
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		copied, updated, err := db.copyRows(ctx, t, batch)
		tc.Copied += copied
		tc.Updated += updated
		batch, size = batch[:0], 0
		return err
	}
	err := src.ExportTable(ctx, t.name, all, func(row []any) error {
		tc.Source++
		batch = append(batch, row)
		for _, v := range row {
			switch v := v.(type) {
			case string:
				size += len(v)
			case []byte:
				size += len(v)
			}
		}
		if len(batch) >= copyBatch || size >= copyBatchBytes {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return tc, err
	}
	err = db.write(ctx, "count "+t.name, func(tx tx) error {
		if t.serial {
			// The next id is past every copied one (1 in an empty table).
			if _, err := tx.exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s.%[2]s', 'id'),
				coalesce(max(id), 0) + 1, false) FROM %[2]s`, Schema, t.name)); err != nil {
				return err
			}
		}
		return tx.queryRow(ctx, "SELECT count(*) FROM "+t.name).Scan(&tc.Target)
	})
	return tc, err
}

func (t copyTable) columns() []string {
	var all []string
	for _, k := range t.key {
		all = append(all, k.name)
	}
	return append(all, t.cols...)
}

// copyRows writes one batch of source rows in one transaction: the ones
// the table lacks are inserted; the ones it has are compared.
func (db *DB) copyRows(ctx context.Context, t copyTable, rows [][]any) (copied, updated int64, err error) {
	all := t.columns()
	nk := len(t.key)
	err = db.write(ctx, "copy rows", func(tx tx) error {
		copied, updated = 0, 0
		have, err := existingRows(ctx, tx, t, rows)
		if err != nil {
			return err
		}
		batch := &pgx.Batch{}
		insert := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", t.name, strings.Join(all, ", "), placeholders(1, len(all)))
		for _, row := range rows {
			args := make([]any, len(row))
			for i, v := range row {
				args[i] = storableArgs([]any{insertValue(t, all[i], v)})[0]
			}
			old, ok := have[keyOf(row[:nk])]
			if !ok {
				batch.Queue(insert, args...)
				copied++
				continue
			}
			var set []string
			var setArgs []any
			for i, c := range all[nk:] {
				i += nk
				if compared(t, c, row[i]) == old[i] {
					continue
				}
				if !slices.Contains(t.mutable, c) {
					return fmt.Errorf("%s %s in PostgreSQL is not the source's (its %s differs): it holds another history; copy into a new, empty database",
						t.name, keyOf(row[:nk]), c)
				}
				setArgs = append(setArgs, args[i])
				set = append(set, fmt.Sprintf("%s = $%d", c, len(setArgs)))
			}
			if len(set) == 0 {
				continue
			}
			var where []string
			for i, k := range t.key {
				setArgs = append(setArgs, args[i])
				where = append(where, fmt.Sprintf("%s = $%d", k.name, len(setArgs)))
			}
			batch.Queue(fmt.Sprintf("UPDATE %s SET %s WHERE %s", t.name, strings.Join(set, ", "), strings.Join(where, " AND ")), setArgs...)
			updated++
		}
		if batch.Len() == 0 {
			return nil
		}
		return tx.t.SendBatch(ctx, batch).Close()
	})
	return copied, updated, err
}

// existingRows reads the rows of the table with the keys of rows, each
// column as compared would give it, by their keyOf.
func existingRows(ctx context.Context, tx tx, t copyTable, rows [][]any) (map[string][]string, error) {
	nk := len(t.key)
	keys := make([]any, nk)
	for i, k := range t.key {
		switch k.typ {
		case "text":
			vs := make([]string, len(rows))
			for j, r := range rows {
				vs[j], _ = r[i].(string)
			}
			keys[i] = vs
		default:
			vs := make([]int64, len(rows))
			for j, r := range rows {
				vs[j], _ = r[i].(int64)
			}
			keys[i] = vs
		}
	}
	var sel, keyNames, unnest []string
	for i, k := range t.key {
		keyNames = append(keyNames, k.name)
		unnest = append(unnest, fmt.Sprintf("$%d::%s[]", i+1, k.typ))
	}
	for _, c := range t.columns() {
		if slices.Contains(t.bytea, c) {
			c = "md5(" + c + ")"
		}
		sel = append(sel, c)
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE (%s) IN (SELECT * FROM unnest(%s))",
		strings.Join(sel, ", "), t.name, strings.Join(keyNames, ", "), strings.Join(unnest, ", "))
	res, err := tx.query(ctx, q, keys...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	have := map[string][]string{}
	all := t.columns()
	for res.Next() {
		vals, err := res.Values()
		if err != nil {
			return nil, err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			if s, ok := v.(string); ok && slices.Contains(t.bytea, all[i]) {
				row[i] = s // md5 already
				continue
			}
			row[i] = normal(v)
		}
		have[keyOf(vals[:nk])] = row
	}
	return have, res.Err()
}

// insertValue is a source value as the column takes it: bytes for bytea.
func insertValue(t copyTable, col string, v any) any {
	if s, ok := v.(string); ok && slices.Contains(t.bytea, col) {
		return []byte(s)
	}
	return v
}

// compared is a source value in the form existingRows reads the stored one.
func compared(t copyTable, col string, v any) string {
	if slices.Contains(t.bytea, col) {
		switch v := v.(type) {
		case nil:
			return "<nil>"
		case string:
			return md5Hex([]byte(v))
		case []byte:
			return md5Hex(v)
		}
	}
	if s, ok := v.(string); ok {
		return normal(storable(s))
	}
	return normal(v)
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// normal is a value as text that is the same for a source's value and
// the value PostgreSQL gives back for it.
func normal(v any) string {
	switch v := v.(type) {
	case nil:
		return "<nil>"
	case time.Time:
		return stored(v).Format(time.RFC3339Nano)
	case int32:
		return fmt.Sprint(int64(v))
	case []any: // an array PostgreSQL gave back
		ids := make([]int64, len(v))
		for i, x := range v {
			ids[i], _ = x.(int64)
		}
		return fmt.Sprint(ids)
	case string:
		return "s:" + v
	}
	return fmt.Sprint(v)
}

// keyOf names a row by its key's values, for maps and messages.
func keyOf(key []any) string {
	parts := make([]string, len(key))
	for i, v := range key {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "/")
}

// placeholders is "$from, ..., $(from+n-1)".
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", from+i)
	}
	return strings.Join(ps, ", ")
}
