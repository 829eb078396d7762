package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/obspack"
)

// Baseline returns the latest approved version of a page's baseline with all
// its items, or an error wrapping skimguard.ErrNoBaseline.
func (db *DB) Baseline(ctx context.Context, site, page string) (*skimguard.Baseline, error) {
	what := fmt.Sprintf("load baseline of %s/%s", site, page)
	var b *skimguard.Baseline
	err := db.read(ctx, what, func(tx *sql.Tx) error {
		var err error
		b, err = currentBaseline(ctx, tx, site, page)
		return err
	})
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, noBaseline(site, page)
	}
	return b, nil
}

func noBaseline(site, page string) error {
	return fmt.Errorf("baseline of %s/%s: %w: run `skimguard baseline --site %s` to learn and approve one",
		site, page, skimguard.ErrNoBaseline, site)
}

// Baselines returns the latest version of every page's baseline for the
// sites (all sites when empty), ordered by site and page.
func (db *DB) Baselines(ctx context.Context, sites []string) ([]skimguard.Baseline, error) {
	q := baselineColumns + ` FROM baselines b
		WHERE b.version = (SELECT max(version) FROM baselines WHERE site = b.site AND page = b.page)`
	var args []any
	if len(sites) > 0 {
		q += " AND b.site IN (SELECT value FROM json_each(?))"
		args = append(args, jsonText(sites))
	}
	q += " ORDER BY b.site, b.page"
	var bs []skimguard.Baseline
	err := db.read(ctx, "load baselines", func(tx *sql.Tx) error {
		var err error
		bs, err = queryBaselinesWithItems(ctx, tx, q, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return bs, nil
}

// BaselineVersions returns every approved version of a page's baseline with
// its items, newest first, or an error wrapping skimguard.ErrNoBaseline.
func (db *DB) BaselineVersions(ctx context.Context, site, page string) ([]skimguard.Baseline, error) {
	what := fmt.Sprintf("load baseline versions of %s/%s", site, page)
	var bs []skimguard.Baseline
	err := db.read(ctx, what, func(tx *sql.Tx) error {
		var err error
		bs, err = queryBaselinesWithItems(ctx, tx, baselineColumns+` FROM baselines b WHERE site = ? AND page = ?
			ORDER BY version DESC`, site, page)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, noBaseline(site, page)
	}
	return bs, nil
}

// SaveBaseline stores b as its page's new current version (the latest
// version plus one), keeping the older ones, and records it in the audit log
// as "baseline.approve" by b.ApprovedBy. It sets b.ID, b.Version, and
// b.CreatedAt when zero.
func (db *DB) SaveBaseline(ctx context.Context, b *skimguard.Baseline) error {
	if b == nil {
		return errors.New("save baseline: nil baseline")
	}
	what := fmt.Sprintf("save baseline of %s/%s", b.Site, b.Page)
	nb := *b
	if nb.CreatedAt.IsZero() {
		nb.CreatedAt = time.Now()
	}
	err := db.write(ctx, what, func(tx *sql.Tx) error {
		return saveBaseline(ctx, tx, &nb)
	})
	if err != nil {
		return err
	}
	b.ID, b.Version, b.CreatedAt = nb.ID, nb.Version, nb.CreatedAt
	return nil
}

// saveBaseline stores b as the next version of its page within tx, with its
// audit entry, setting b.ID and b.Version.
func saveBaseline(ctx context.Context, tx *sql.Tx, b *skimguard.Baseline) error {
	if b.Site == "" || b.Page == "" {
		return errors.New("the baseline has no site or page")
	}
	if err := upsertPage(ctx, tx, b.Site, b.Page, b.URL); err != nil {
		return err
	}
	var version int
	err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) + 1 FROM baselines WHERE site = ? AND page = ?",
		b.Site, b.Page).Scan(&version)
	if err != nil {
		return fmt.Errorf("next version: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO baselines (site, page, version, url, samples, created_at, approved_by, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		b.Site, b.Page, version, b.URL, b.Samples, timeText(b.CreatedAt), b.ApprovedBy, b.Reason)
	if err != nil {
		return fmt.Errorf("insert version %d: %w", version, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}

	var srcs []obspack.Source
	have := map[string]bool{}
	for _, it := range b.Items {
		if it.Source != "" {
			h := obspack.Hash(it.Source)
			if !have[h] {
				have[h] = true
				srcs = append(srcs, obspack.Source{SHA256: h, Text: it.Source})
			}
		}
	}
	if err := putSources(ctx, tx, srcs); err != nil {
		return err
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO baseline_items (baseline_id, position, type, key, subject,
		origin, item_values, optional, attrs, source_sha256, sha256, sri, first_seen, approved_by, reason, approved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insert.Close()
	for i, it := range b.Items {
		values, err := json.Marshal(it.Values)
		if err != nil {
			return err
		}
		attrs, err := json.Marshal(it.Attrs)
		if err != nil {
			return err
		}
		var src any
		if it.Source != "" {
			src = obspack.Hash(it.Source)
		}
		_, err = insert.ExecContext(ctx, id, i, string(it.Type), it.Key, it.Subject, it.Origin, string(values),
			it.Optional, string(attrs), src, it.SHA256, it.SRI, nullTime(it.FirstSeen), it.ApprovedBy, it.Reason,
			nullTime(it.ApprovedAt))
		if err != nil {
			return fmt.Errorf("insert item %s %q (each type and key may appear once): %w", it.Type, it.Key, err)
		}
	}
	b.ID, b.Version = id, version
	return audit(ctx, tx, skimguard.AuditEntry{
		At: b.CreatedAt, Actor: b.ApprovedBy, Action: "baseline.approve", Site: b.Site, Page: b.Page,
		Reason: b.Reason, Detail: fmt.Sprintf("version %d, %d items", version, len(b.Items)),
	})
}

const baselineColumns = "SELECT b.id, b.site, b.page, b.url, b.version, b.samples, b.created_at, b.approved_by, b.reason"

// currentBaseline loads the latest version of a page's baseline, or nil.
func currentBaseline(ctx context.Context, tx *sql.Tx, site, page string) (*skimguard.Baseline, error) {
	bs, err := queryBaselinesWithItems(ctx, tx, baselineColumns+` FROM baselines b WHERE site = ? AND page = ?
		ORDER BY version DESC LIMIT 1`, site, page)
	if err != nil || len(bs) == 0 {
		return nil, err
	}
	return &bs[0], nil
}

// queryBaselinesWithItems runs a query of baselineColumns and loads the
// items of the baselines it returns.
func queryBaselinesWithItems(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]skimguard.Baseline, error) {
	bs, err := queryBaselines(ctx, tx, q, args...)
	if err != nil {
		return nil, err
	}
	ptrs := make([]*skimguard.Baseline, len(bs))
	for i := range bs {
		ptrs[i] = &bs[i]
	}
	if err := loadItems(ctx, tx, ptrs); err != nil {
		return nil, err
	}
	return bs, nil
}

func queryBaselines(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]skimguard.Baseline, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var bs []skimguard.Baseline
	for rows.Next() {
		var b skimguard.Baseline
		var created sql.NullString
		if err := rows.Scan(&b.ID, &b.Site, &b.Page, &b.URL, &b.Version, &b.Samples, &created, &b.ApprovedBy, &b.Reason); err != nil {
			return nil, err
		}
		if b.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		bs = append(bs, b)
	}
	return bs, rows.Err()
}

// loadItems fills in the items of the baselines, in the order they were saved.
func loadItems(ctx context.Context, tx *sql.Tx, bs []*skimguard.Baseline) error {
	if len(bs) == 0 {
		return nil
	}
	byID := make(map[int64]*skimguard.Baseline, len(bs))
	ids := make([]int64, len(bs))
	for i, b := range bs {
		byID[b.ID] = b
		ids[i] = b.ID
	}
	rows, err := tx.QueryContext(ctx, `SELECT i.baseline_id, i.type, i.key, i.subject, i.origin, i.item_values,
		i.optional, i.attrs, coalesce(s.source, ''), i.sha256, i.sri, i.first_seen, i.approved_by, i.reason, i.approved_at
		FROM baseline_items i LEFT JOIN sources s ON s.sha256 = i.source_sha256
		WHERE i.baseline_id IN (SELECT value FROM json_each(?))
		ORDER BY i.baseline_id, i.position`, jsonText(ids))
	if err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var it skimguard.Item
		var typ, values, attrs string
		var first, approved sql.NullString
		err := rows.Scan(&id, &typ, &it.Key, &it.Subject, &it.Origin, &values, &it.Optional, &attrs,
			&it.Source, &it.SHA256, &it.SRI, &first, &it.ApprovedBy, &it.Reason, &approved)
		if err != nil {
			return fmt.Errorf("load items: %w", err)
		}
		it.Type = skimguard.ItemType(typ)
		if err := json.Unmarshal([]byte(values), &it.Values); err != nil {
			return fmt.Errorf("load item %s: values: %w", it.Key, err)
		}
		if err := json.Unmarshal([]byte(attrs), &it.Attrs); err != nil {
			return fmt.Errorf("load item %s: attrs: %w", it.Key, err)
		}
		if it.FirstSeen, err = parseTime(first); err != nil {
			return err
		}
		if it.ApprovedAt, err = parseTime(approved); err != nil {
			return err
		}
		b := byID[id]
		b.Items = append(b.Items, it)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	return nil
}
