package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/obspack"
)

// SaveScan stores a scan with its observation and findings in one
// transaction. A finding whose Fingerprint matches a finding still open on
// the same page takes that finding's ID and FirstSeen, and the open
// finding's LastSeen and scan move on (a scan saved out of order can only
// widen the open finding's FirstSeen..LastSeen); others are stored as new
// open findings. Findings with an empty Fingerprint are never merged. Two
// processes saving the same change at once make one finding: the insert
// meets the other's on the unique index of open findings and becomes its
// update. On success it sets scan.ID and each finding's ID, Status, ScanID,
// FirstSeen and LastSeen, and StartedAt to now when it was zero (to the
// microsecond, as stored).
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
	at = stored(at)
	// Hashing and compressing happen before the transaction.
	obs, err := obspack.Pack(scan.Observation)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	findings := make([]skimguard.Finding, len(scan.Findings))
	var scanID int64

	err = db.write(ctx, what, func(t tx) error {
		copy(findings, scan.Findings) // afresh on each run
		if err := upsertPage(ctx, t, scan.Site, scan.Page, scan.URL); err != nil {
			return err
		}
		if err := putSources(ctx, t, obs.Sources); err != nil {
			return err
		}
		err := t.queryRow(ctx, `INSERT INTO scans (site, page, url, started_at, duration_ns, status, error,
			baseline_version, script_sources, observation_gz, screenshot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			RETURNING id`,
			scan.Site, scan.Page, scan.URL, at, int64(scan.Duration), string(scan.Status), scan.Error,
			scan.BaselineVersion, nullText(obs.ScriptSources), obs.GZ, obs.Screenshot).Scan(&scanID)
		if err != nil {
			return fmt.Errorf("insert scan: %w", err)
		}
		return saveFindings(ctx, t, scan, findings, scanID, at)
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
// findings with the same fingerprint, filling in the copies in fs. They are
// written in fingerprint order, so that two scans of a page lock their
// findings in the same order and never deadlock.
func saveFindings(ctx context.Context, t tx, scan *skimguard.Scan, fs []skimguard.Finding, scanID int64, at time.Time) error {
	order := make([]int, len(fs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(fs[a].Fingerprint, fs[b].Fingerprint) })
	for _, i := range order {
		f := &fs[i]
		f.Site, f.Page = scan.Site, scan.Page
		f.Status = skimguard.StatusOpen
		f.ScanID = scanID
		evidence, err := json.Marshal(f.Evidence)
		if err != nil {
			return err
		}
		item, err := json.Marshal(f.Item)
		if err != nil {
			return err
		}
		// An empty fingerprint identifies nothing: such findings are never
		// merged (the index leaves them out). Scans may be saved out of
		// order (crawls overlap): first_seen and last_seen only ever widen,
		// and scan_id follows last_seen. Findings shoppers reported have no
		// scan (scanID 0, NULL): they keep the scan of the finding they join.
		err = t.queryRow(ctx, `INSERT INTO findings AS f (site, page, kind, severity, subject, detail,
			evidence, item, fingerprint, status, scan_id, first_seen, last_seen)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, $11)
			ON CONFLICT (site, page, fingerprint) WHERE status = 'open' AND fingerprint <> '' DO UPDATE SET
				first_seen = least(f.first_seen, excluded.first_seen),
				last_seen = greatest(f.last_seen, excluded.last_seen),
				scan_id = CASE WHEN excluded.last_seen >= f.last_seen THEN coalesce(excluded.scan_id, f.scan_id) ELSE f.scan_id END
			RETURNING id, first_seen, last_seen`,
			f.Site, f.Page, string(f.Kind), string(f.Severity), f.Subject, f.Detail,
			string(evidence), string(item), f.Fingerprint, nullID(scanID), at).Scan(&f.ID, &f.FirstSeen, &f.LastSeen)
		if err != nil {
			return fmt.Errorf("store finding %s %s: %w", f.Kind, f.Subject, err)
		}
	}
	return nil
}

// Scans lists scans, newest first, without their observations or findings.
// f.Sites, f.Site, f.Page, f.From and f.To narrow the list; f.Limit
// defaults to 100.
func (db *DB) Scans(ctx context.Context, f skimguard.ScanFilter) ([]skimguard.Scan, error) {
	var w where
	if len(f.Sites) > 0 {
		w.add("site = ANY(?)", f.Sites)
	}
	if f.Site != "" {
		w.add("site = ?", f.Site)
	}
	if f.Page != "" {
		w.add("page = ?", f.Page)
	}
	if !f.From.IsZero() {
		w.add("started_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		w.add("started_at < ?", f.To)
	}
	var limit any // NULL: no limit
	switch {
	case f.Limit == 0:
		limit = 100
	case f.Limit > 0:
		limit = f.Limit
	}
	q := scanColumns + w.sql() + fmt.Sprintf(" ORDER BY started_at DESC, id DESC LIMIT $%d", len(w.args)+1)
	var scans []skimguard.Scan
	err := db.read(ctx, "list scans", func(t tx) error {
		rows, err := t.query(ctx, q, append(w.args, limit)...)
		if err != nil {
			return err
		}
		scans, err = collect(rows, scanScan)
		return err
	})
	if err != nil {
		return nil, err
	}
	return scans, nil
}

// Scan returns one scan with its observation (nil when it made none) and
// its findings, read in one snapshot, or an error wrapping
// skimguard.ErrNotFound. Its findings are those whose scan_id is this scan:
// SaveScan moves an open finding's scan_id on to each later scan that sees
// it again.
func (db *DB) Scan(ctx context.Context, id int64) (*skimguard.Scan, error) {
	var s *skimguard.Scan
	err := db.read(ctx, fmt.Sprintf("load scan %d", id), func(t tx) error {
		s = nil
		rows, err := t.query(ctx, scanColumns+" WHERE id = $1", id)
		if err != nil {
			return err
		}
		scans, err := collect(rows, scanScan)
		if err != nil || len(scans) == 0 {
			return err
		}
		s = &scans[0]
		if s.Observation, err = loadObservation(ctx, t, id); err != nil {
			return err
		}
		s.Findings, err = queryFindings(ctx, t, findingColumns+" WHERE scan_id = $1 ORDER BY first_seen, id", id)
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

// scanScan reads one row of scanColumns.
func scanScan(row pgx.CollectableRow) (skimguard.Scan, error) {
	var s skimguard.Scan
	var dur int64
	var status string
	err := row.Scan(&s.ID, &s.Site, &s.Page, &s.URL, &s.StartedAt, &dur, &status, &s.Error, &s.BaselineVersion)
	s.Duration, s.Status = time.Duration(dur), skimguard.ScanStatus(status)
	return s, err
}

// Screenshot returns the PNG the scan took.
func (db *DB) Screenshot(ctx context.Context, scanID int64) ([]byte, error) {
	var shot []byte
	found := false
	err := db.read(ctx, fmt.Sprintf("load screenshot of scan %d", scanID), func(t tx) error {
		err := t.queryRow(ctx, "SELECT screenshot FROM scans WHERE id = $1", scanID).Scan(&shot)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, fmt.Errorf("screenshot of scan %d: %w", scanID, skimguard.ErrNotFound)
	case len(shot) == 0:
		return nil, fmt.Errorf("scan %d took no screenshot: %w", scanID, skimguard.ErrNotFound)
	}
	return shot, nil
}

// loadObservation loads the observation of a scan within t, script texts
// and screenshot included; nil when the scan had none.
func loadObservation(ctx context.Context, t tx, scanID int64) (*skimguard.Observation, error) {
	var gz, shot []byte
	var hashes *string
	err := t.queryRow(ctx, "SELECT observation_gz, script_sources, screenshot FROM scans WHERE id = $1", scanID).
		Scan(&gz, &hashes, &shot)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("scan %d: %w", scanID, skimguard.ErrNotFound)
	}
	if err != nil || gz == nil {
		return nil, err
	}
	// Every text at once: one round trip, not one per script.
	rows, err := t.query(ctx, `SELECT sha256, source FROM sources
		WHERE sha256 IN (SELECT jsonb_array_elements_text($1::jsonb))`, deref(hashes))
	if err != nil {
		return nil, err
	}
	texts := map[string]string{}
	var h string
	var src []byte
	_, err = pgx.ForEachRow(rows, []any{&h, &src}, func() error {
		texts[h] = string(src)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return obspack.Unpack(gz, deref(hashes), shot, func(h string) (string, error) {
		text, ok := texts[h]
		if !ok {
			return "", errors.New("missing from the sources table")
		}
		return text, nil
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// putSources stores the script texts the sources table lacks, in key
// order, so that concurrent writers take their locks in the same order.
func putSources(ctx context.Context, t tx, srcs []obspack.Source) error {
	if len(srcs) == 0 {
		return nil
	}
	srcs = slices.SortedFunc(slices.Values(srcs), func(a, b obspack.Source) int { return cmp.Compare(a.SHA256, b.SHA256) })
	keys := make([]string, len(srcs))
	for i, s := range srcs {
		keys[i] = s.SHA256
	}
	// Asking first spares sending the texts the table already has.
	rows, err := t.query(ctx, "SELECT sha256 FROM sources WHERE sha256 = ANY($1)", keys)
	if err != nil {
		return fmt.Errorf("look up script texts: %w", err)
	}
	have, err := collect(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("look up script texts: %w", err)
	}
	batch := &pgx.Batch{}
	for _, s := range srcs {
		if !slices.Contains(have, s.SHA256) {
			batch.Queue("INSERT INTO sources (sha256, source) VALUES ($1, $2) ON CONFLICT DO NOTHING", s.SHA256, []byte(s.Text))
		}
	}
	if batch.Len() == 0 {
		return nil
	}
	if err := t.t.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("store script texts: %w", err)
	}
	return nil
}

// upsertPage records a page, keeping the latest non-empty URL, and locks its
// row until the transaction ends (ON CONFLICT locks the row it meets, even
// when its WHERE leaves it as it is).
func upsertPage(ctx context.Context, t tx, site, page, url string) error {
	_, err := t.exec(ctx, `INSERT INTO pages (site, page, url) VALUES ($1, $2, $3)
		ON CONFLICT (site, page) DO UPDATE SET url = excluded.url WHERE excluded.url <> ''`, site, page, url)
	if err != nil {
		return fmt.Errorf("record page: %w", err)
	}
	return nil
}

// nullID stores the id 0 as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullText stores "" as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// where builds a WHERE clause with numbered parameters: each condition
// says ? where its argument goes.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1))
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
