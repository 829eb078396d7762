package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/obspack"
)

// Baseline returns the latest approved version of a page's baseline with all
// its items, or an error wrapping skimguard.ErrNoBaseline.
func (db *DB) Baseline(ctx context.Context, site, page string) (*skimguard.Baseline, error) {
	var b *skimguard.Baseline
	err := db.read(ctx, fmt.Sprintf("load baseline of %s/%s", site, page), func(t tx) error {
		var err error
		b, err = currentBaseline(ctx, t, site, page)
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
		q += " AND b.site = ANY($1)"
		args = append(args, sites)
	}
	q += " ORDER BY b.site, b.page"
	var bs []skimguard.Baseline
	err := db.read(ctx, "load baselines", func(t tx) error {
		var err error
		bs, err = queryBaselinesWithItems(ctx, t, q, args...)
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
	var bs []skimguard.Baseline
	err := db.read(ctx, fmt.Sprintf("load baseline versions of %s/%s", site, page), func(t tx) error {
		var err error
		bs, err = queryBaselinesWithItems(ctx, t, baselineColumns+` FROM baselines b WHERE site = $1 AND page = $2
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
// b.CreatedAt when zero (to the microsecond, as stored).
func (db *DB) SaveBaseline(ctx context.Context, b *skimguard.Baseline) error {
	if b == nil {
		return errors.New("save baseline: nil baseline")
	}
	nb := *b
	if nb.CreatedAt.IsZero() {
		nb.CreatedAt = time.Now()
	}
	nb.CreatedAt = stored(nb.CreatedAt)
	err := db.write(ctx, fmt.Sprintf("save baseline of %s/%s", b.Site, b.Page), func(t tx) error {
		return saveBaseline(ctx, t, &nb)
	})
	if err != nil {
		return err
	}
	b.ID, b.Version, b.CreatedAt = nb.ID, nb.Version, nb.CreatedAt
	return nil
}

// saveBaseline stores b as the next version of its page within t, with its
// audit entry, setting b.ID and b.Version. upsertPage locks the page's row
// first, so that two approvals of a page at once make two versions, one
// after the other.
func saveBaseline(ctx context.Context, t tx, b *skimguard.Baseline) error {
	if b.Site == "" || b.Page == "" {
		return errors.New("the baseline has no site or page")
	}
	if err := upsertPage(ctx, t, b.Site, b.Page, b.URL); err != nil {
		return err
	}
	// A statement of its own, after upsertPage locked the page's row, so
	// that it sees the version another approval committed while this one
	// waited for the lock.
	var version int
	err := t.queryRow(ctx, "SELECT coalesce(max(version), 0) + 1 FROM baselines WHERE site = $1 AND page = $2",
		b.Site, b.Page).Scan(&version)
	if err != nil {
		return fmt.Errorf("next version: %w", err)
	}
	var id int64
	err = t.queryRow(ctx, `INSERT INTO baselines (site, page, version, url, samples, created_at, approved_by, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		b.Site, b.Page, version, b.URL, b.Samples, stored(b.CreatedAt), b.ApprovedBy, b.Reason).Scan(&id)
	if err != nil {
		return fmt.Errorf("insert version %d: %w", version, err)
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
	if err := putSources(ctx, t, srcs); err != nil {
		return err
	}
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
		_, err = t.exec(ctx, `INSERT INTO baseline_items (baseline_id, position, type, key, subject,
			origin, item_values, optional, attrs, source_sha256, sha256, sri, first_seen, approved_by, reason, approved_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			id, i, string(it.Type), it.Key, it.Subject, it.Origin, string(values),
			it.Optional, string(attrs), src, it.SHA256, it.SRI, nullTime(it.FirstSeen), it.ApprovedBy, it.Reason,
			nullTime(it.ApprovedAt))
		if err != nil {
			return fmt.Errorf("insert item %s %q (each type and key may appear once): %w", it.Type, it.Key, err)
		}
	}
	b.ID, b.Version = id, version
	return audit(ctx, t, skimguard.AuditEntry{
		At: b.CreatedAt, Actor: b.ApprovedBy, Action: "baseline.approve", Site: b.Site, Page: b.Page,
		Reason: b.Reason, Detail: fmt.Sprintf("version %d, %d items", version, len(b.Items)),
	})
}

const baselineColumns = "SELECT b.id, b.site, b.page, b.url, b.version, b.samples, b.created_at, b.approved_by, b.reason"

// currentBaseline loads the latest version of a page's baseline, or nil.
func currentBaseline(ctx context.Context, t tx, site, page string) (*skimguard.Baseline, error) {
	bs, err := queryBaselinesWithItems(ctx, t, baselineColumns+` FROM baselines b WHERE site = $1 AND page = $2
		ORDER BY version DESC LIMIT 1`, site, page)
	if err != nil || len(bs) == 0 {
		return nil, err
	}
	return &bs[0], nil
}

// queryBaselinesWithItems runs a query of baselineColumns and loads the
// items of the baselines it returns.
func queryBaselinesWithItems(ctx context.Context, t tx, q string, args ...any) ([]skimguard.Baseline, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	bs, err := collect(rows, func(row pgx.CollectableRow) (skimguard.Baseline, error) {
		var b skimguard.Baseline
		err := row.Scan(&b.ID, &b.Site, &b.Page, &b.URL, &b.Version, &b.Samples, &b.CreatedAt, &b.ApprovedBy, &b.Reason)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	if err := loadItems(ctx, t, bs); err != nil {
		return nil, err
	}
	return bs, nil
}

// loadItems fills in the items of the baselines, in the order they were saved.
func loadItems(ctx context.Context, t tx, bs []skimguard.Baseline) error {
	if len(bs) == 0 {
		return nil
	}
	byID := make(map[int64]*skimguard.Baseline, len(bs))
	ids := make([]int64, len(bs))
	for i := range bs {
		byID[bs[i].ID] = &bs[i]
		ids[i] = bs[i].ID
	}
	rows, err := t.query(ctx, `SELECT i.baseline_id, i.type, i.key, i.subject, i.origin, i.item_values,
		i.optional, i.attrs, s.source, i.sha256, i.sri, i.first_seen, i.approved_by, i.reason, i.approved_at
		FROM baseline_items i LEFT JOIN sources s ON s.sha256 = i.source_sha256
		WHERE i.baseline_id = ANY($1)
		ORDER BY i.baseline_id, i.position`, ids)
	if err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	var id int64
	var it skimguard.Item
	var typ, values, attrs string
	var src []byte
	var first, approved pgtype.Timestamptz
	_, err = pgx.ForEachRow(rows, []any{&id, &typ, &it.Key, &it.Subject, &it.Origin, &values, &it.Optional, &attrs,
		&src, &it.SHA256, &it.SRI, &first, &it.ApprovedBy, &it.Reason, &approved}, func() error {
		item := it
		item.Type, item.Source = skimguard.ItemType(typ), string(src)
		item.Values, item.Attrs = nil, nil
		if err := json.Unmarshal([]byte(values), &item.Values); err != nil {
			return fmt.Errorf("load item %s: values: %w", item.Key, err)
		}
		if err := json.Unmarshal([]byte(attrs), &item.Attrs); err != nil {
			return fmt.Errorf("load item %s: attrs: %w", item.Key, err)
		}
		item.FirstSeen, item.ApprovedAt = timeOf(first), timeOf(approved)
		b := byID[id]
		b.Items = append(b.Items, item)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	return nil
}
