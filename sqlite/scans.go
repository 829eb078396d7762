package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/obspack"
)

// SaveScan stores a scan with its observation and findings in one
// transaction. A finding whose Fingerprint matches a finding still open on
// the same page takes that finding's ID and FirstSeen, and the open finding's
// LastSeen and scan move on (a scan saved out of order can only widen the
// open finding's FirstSeen..LastSeen); others are stored as new open
// findings. Findings with an empty Fingerprint are never merged. On
// success it sets scan.ID and each finding's ID, Status, ScanID, FirstSeen
// and LastSeen, and StartedAt to now when it was zero.
func (db *DB) SaveScan(ctx context.Context, scan *skimguard.Scan) error {
	if scan == nil {
		return errors.New("save scan: nil scan")
	}
	what := fmt.Sprintf("save scan of %s/%s", scan.Site, scan.Page)
	if scan.Site == "" || scan.Page == "" {
		return fmt.Errorf("%s: the scan has no site or page", what)
	}
	for i, f := range scan.Findings {
		if (f.Site != "" && f.Site != scan.Site) || (f.Page != "" && f.Page != scan.Page) {
			return fmt.Errorf("%s: finding %d is about %s/%s, not the scanned page", what, i, f.Site, f.Page)
		}
	}
	at := scan.StartedAt
	if at.IsZero() {
		at = time.Now()
	}
	// Hashing and compressing happen before the write lock is taken.
	obs, err := obspack.Pack(scan.Observation)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	findings := make([]skimguard.Finding, len(scan.Findings))
	copy(findings, scan.Findings)
	var scanID int64

	err = db.write(ctx, what, func(tx *sql.Tx) error {
		if err := upsertPage(ctx, tx, scan.Site, scan.Page, scan.URL); err != nil {
			return err
		}
		if err := putSources(ctx, tx, obs.Sources); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO scans (site, page, url, started_at, duration_ns, status, error,
			baseline_version, script_sources, observation_gz, screenshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			scan.Site, scan.Page, scan.URL, timeText(at), int64(scan.Duration), string(scan.Status), scan.Error,
			scan.BaselineVersion, nullText(obs.ScriptSources), obs.GZ, obs.Screenshot)
		if err != nil {
			return fmt.Errorf("insert scan: %w", err)
		}
		if scanID, err = res.LastInsertId(); err != nil {
			return err
		}
		return saveFindings(ctx, tx, scan, findings, scanID, at)
	})
	if err != nil {
		return err
	}
	db.health.saved()
	scan.ID = scanID
	scan.StartedAt = at
	copy(scan.Findings, findings)
	return nil
}

// saveFindings stores the findings of a scan or folds them into the open
// findings with the same fingerprint, filling in the copies in fs. A
// scanID of 0 stores findings seen without a scan (shoppers' reports):
// they name no scan, and an open finding they join keeps its own.
func saveFindings(ctx context.Context, tx *sql.Tx, scan *skimguard.Scan, fs []skimguard.Finding, scanID int64, at time.Time) error {
	if len(fs) == 0 {
		return nil
	}
	scanRef := sql.NullInt64{Int64: scanID, Valid: scanID != 0}
	find, err := tx.PrepareContext(ctx, `SELECT id, first_seen, last_seen FROM findings
		WHERE site = ? AND page = ? AND fingerprint = ? AND status = 'open'`)
	if err != nil {
		return err
	}
	defer find.Close()
	// Scans may be saved out of order (crawls overlap): first_seen and
	// last_seen only ever widen, and scan_id follows last_seen.
	seen, err := tx.PrepareContext(ctx, `UPDATE findings SET first_seen = min(first_seen, ?1),
		last_seen = max(last_seen, ?1), scan_id = CASE WHEN ?1 >= last_seen THEN coalesce(?2, scan_id) ELSE scan_id END
		WHERE id = ?3`)
	if err != nil {
		return err
	}
	defer seen.Close()
	insert, err := tx.PrepareContext(ctx, `INSERT INTO findings (site, page, kind, severity, subject, detail,
		evidence, item, fingerprint, status, scan_id, first_seen, last_seen)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insert.Close()

	atText := timeText(at)
	for i := range fs {
		f := &fs[i]
		f.Site, f.Page = scan.Site, scan.Page
		f.Status = skimguard.StatusOpen
		f.ScanID = scanID
		// An empty fingerprint identifies nothing: such findings are never
		// merged.
		if f.Fingerprint != "" {
			var first, last sql.NullString
			err := find.QueryRowContext(ctx, f.Site, f.Page, f.Fingerprint).Scan(&f.ID, &first, &last)
			if err == nil {
				if _, err := seen.ExecContext(ctx, atText, scanRef, f.ID); err != nil {
					return fmt.Errorf("update finding %d: %w", f.ID, err)
				}
				f.FirstSeen, f.LastSeen = at, at
				if first.String < atText {
					if f.FirstSeen, err = parseTime(first); err != nil {
						return err
					}
				}
				if last.String > atText {
					if f.LastSeen, err = parseTime(last); err != nil {
						return err
					}
				}
				continue
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("look up finding %s: %w", f.Fingerprint, err)
			}
		}
		evidence, err := json.Marshal(f.Evidence)
		if err != nil {
			return err
		}
		item, err := json.Marshal(f.Item)
		if err != nil {
			return err
		}
		res, err := insert.ExecContext(ctx, f.Site, f.Page, string(f.Kind), string(f.Severity), f.Subject, f.Detail,
			string(evidence), string(item), f.Fingerprint, scanRef, atText, atText)
		if err != nil {
			return fmt.Errorf("insert finding %s %s: %w", f.Kind, f.Subject, err)
		}
		if f.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		f.FirstSeen, f.LastSeen = at, at
	}
	return nil
}

// Scans lists scans, newest first, without their observations or findings.
// f.Sites, f.Site and f.Page narrow the list; f.Limit defaults to 100.
func (db *DB) Scans(ctx context.Context, f skimguard.ScanFilter) ([]skimguard.Scan, error) {
	var where []string
	var args []any
	if len(f.Sites) > 0 {
		where = append(where, "site IN (SELECT value FROM json_each(?))")
		args = append(args, jsonText(f.Sites))
	}
	if f.Site != "" {
		where = append(where, "site = ?")
		args = append(args, f.Site)
	}
	if f.Page != "" {
		where = append(where, "page = ?")
		args = append(args, f.Page)
	}
	// Times are fixed-width UTC text, so they compare as strings.
	if !f.From.IsZero() {
		where = append(where, "started_at >= ?")
		args = append(args, timeText(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "started_at < ?")
		args = append(args, timeText(f.To))
	}
	limit := f.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0:
		limit = -1 // SQLite: no limit
	}
	q := scanColumns
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_at DESC, id DESC LIMIT ?"
	args = append(args, limit)

	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, db.fail("list scans", err)
	}
	scans, err := scanScans(rows)
	if err != nil {
		return nil, db.fail("list scans", err)
	}
	return scans, nil
}

// Scan returns one scan with its observation (nil when it made none) and
// its findings, read in one snapshot, or an error wrapping
// skimguard.ErrNotFound. Its findings are those whose scan_id is this scan:
// SaveScan moves an open finding's scan_id on to each later scan that sees
// it again, so a finding is listed under the latest scan to have seen it,
// not necessarily the one that raised it.
func (db *DB) Scan(ctx context.Context, id int64) (*skimguard.Scan, error) {
	var s *skimguard.Scan
	err := db.read(ctx, fmt.Sprintf("load scan %d", id), func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, scanColumns+" WHERE id = ?", id)
		if err != nil {
			return err
		}
		scans, err := scanScans(rows)
		if err != nil || len(scans) == 0 {
			return err
		}
		s = &scans[0]
		if s.Observation, err = loadObservation(ctx, tx, id); err != nil {
			return err
		}
		s.Findings, err = queryFindings(ctx, tx, findingColumns+" WHERE scan_id = ? ORDER BY first_seen, id", id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("scan %d: %w", id, skimguard.ErrNotFound)
	}
	return s, nil
}

// scanColumns selects what Scans lists of a scan: everything but the
// observation, which is large.
const scanColumns = "SELECT id, site, page, url, started_at, duration_ns, status, error, baseline_version FROM scans"

// scanScans reads and closes rows of scanColumns.
func scanScans(rows *sql.Rows) ([]skimguard.Scan, error) {
	defer rows.Close()
	var scans []skimguard.Scan
	for rows.Next() {
		var s skimguard.Scan
		var started sql.NullString
		var dur int64
		var status string
		err := rows.Scan(&s.ID, &s.Site, &s.Page, &s.URL, &started, &dur, &status, &s.Error, &s.BaselineVersion)
		if err != nil {
			return nil, err
		}
		if s.StartedAt, err = parseTime(started); err != nil {
			return nil, err
		}
		s.Duration = time.Duration(dur)
		s.Status = skimguard.ScanStatus(status)
		scans = append(scans, s)
	}
	return scans, rows.Err()
}

// Screenshot returns the PNG the scan took.
func (db *DB) Screenshot(ctx context.Context, scanID int64) ([]byte, error) {
	var shot []byte
	err := db.sql.QueryRowContext(ctx, "SELECT screenshot FROM scans WHERE id = ?", scanID).Scan(&shot)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("screenshot of scan %d: %w", scanID, skimguard.ErrNotFound)
	case err != nil:
		return nil, db.fail(fmt.Sprintf("load screenshot of scan %d", scanID), err)
	case len(shot) == 0:
		return nil, fmt.Errorf("scan %d took no screenshot: %w", scanID, skimguard.ErrNotFound)
	}
	return shot, nil
}

// loadObservation loads the observation of a scan within tx, script texts
// and screenshot included; nil when the scan had none.
func loadObservation(ctx context.Context, tx *sql.Tx, scanID int64) (*skimguard.Observation, error) {
	var gz, shot []byte
	var hashes sql.NullString
	err := tx.QueryRowContext(ctx, "SELECT observation_gz, script_sources, screenshot FROM scans WHERE id = ?", scanID).
		Scan(&gz, &hashes, &shot)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("scan %d: %w", scanID, skimguard.ErrNotFound)
	}
	if err != nil || gz == nil {
		return nil, err
	}
	get, err := tx.PrepareContext(ctx, "SELECT source FROM sources WHERE sha256 = ?")
	if err != nil {
		return nil, err
	}
	defer get.Close()
	return obspack.Unpack(gz, hashes.String, shot, func(h string) (string, error) {
		var text string
		err := get.QueryRowContext(ctx, h).Scan(&text)
		return text, err
	})
}

// putSources stores the script texts the sources table lacks.
func putSources(ctx context.Context, tx *sql.Tx, srcs []obspack.Source) error {
	if len(srcs) == 0 {
		return nil
	}
	has, err := tx.PrepareContext(ctx, "SELECT 1 FROM sources WHERE sha256 = ?")
	if err != nil {
		return err
	}
	defer has.Close()
	put, err := tx.PrepareContext(ctx, "INSERT INTO sources (sha256, source) VALUES (?, ?)")
	if err != nil {
		return err
	}
	defer put.Close()
	for _, s := range srcs {
		// Asking first spares binding a text the table already has.
		var one int
		err := has.QueryRowContext(ctx, s.SHA256).Scan(&one)
		if err == nil {
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("look up script text: %w", err)
		}
		if _, err := put.ExecContext(ctx, s.SHA256, s.Text); err != nil {
			return fmt.Errorf("store script text: %w", err)
		}
	}
	return nil
}

// upsertPage records a page, keeping the latest non-empty URL.
func upsertPage(ctx context.Context, tx *sql.Tx, site, page, url string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO pages (site, page, url) VALUES (?, ?, ?)
		ON CONFLICT (site, page) DO UPDATE SET url = excluded.url WHERE excluded.url <> ''`, site, page, url)
	if err != nil {
		return fmt.Errorf("record page: %w", err)
	}
	return nil
}

// nullText stores "" as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonText is the JSON of v, for values that cannot fail to encode.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlite: encode %T: %v", v, err))
	}
	return string(b)
}
