package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skimguard/skimguard"
)

var _ skimguard.ReportStore = (*DB)(nil)

// AddReports adds reports to their aggregates in one transaction (see
// skimguard.ReportStore): made when new, unless the page has
// skimguard.MaxReportAggregates already, in which case the report is
// dropped. It returns the aggregates of rs that are new or still not
// judged (a judgement the store refused is tried again on the next
// report), after the addition.
func (db *DB) AddReports(ctx context.Context, rs []skimguard.ShopperReport) ([]skimguard.ShopperReport, int, error) {
	if len(rs) == 0 {
		return nil, 0, nil
	}
	now := time.Now()
	var unjudged []skimguard.ShopperReport
	var dropped int
	err := db.write(ctx, "add shoppers' reports", func(tx *sql.Tx) error {
		unjudged, dropped = nil, 0
		find, err := tx.PrepareContext(ctx, reportColumns+` WHERE site = ? AND page = ? AND type = ? AND subject = ? AND hash = ? AND directive = ?`)
		if err != nil {
			return err
		}
		defer find.Close()
		update, err := tx.PrepareContext(ctx, `UPDATE shopper_reports SET count = count + ?, first_seen = min(first_seen, ?),
			last_seen = max(last_seen, ?), user_agents = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer update.Close()
		insert, err := tx.PrepareContext(ctx, `INSERT INTO shopper_reports (site, page, type, subject, hash, directive,
			count, first_seen, last_seen, user_agents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insert.Close()
		perPage := map[[2]string]int{}
		for _, r := range rs {
			if r.Site == "" || r.Page == "" || r.Type == "" {
				return fmt.Errorf("report %s %q: no site, page or type", r.Type, r.Subject)
			}
			r.Count = max(r.Count, 1)
			if r.FirstSeen.IsZero() {
				r.FirstSeen = now
			}
			if r.LastSeen.Before(r.FirstSeen) {
				r.LastSeen = r.FirstSeen
			}
			agg, err := scanReport(find.QueryRowContext(ctx, r.Site, r.Page, string(r.Type), r.Subject, r.Hash, r.Directive))
			switch {
			case err == nil:
				agg.Count += r.Count
				agg.FirstSeen, agg.LastSeen = minTime(agg.FirstSeen, r.FirstSeen), maxTime(agg.LastSeen, r.LastSeen)
				agg.UserAgents = mergeAgents(agg.UserAgents, r.UserAgents)
				if _, err := update.ExecContext(ctx, r.Count, timeText(r.FirstSeen), timeText(r.LastSeen), jsonText(agg.UserAgents), agg.ID); err != nil {
					return fmt.Errorf("update report %d: %w", agg.ID, err)
				}
			case errors.Is(err, sql.ErrNoRows):
				k := [2]string{r.Site, r.Page}
				n, ok := perPage[k]
				if !ok {
					if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM shopper_reports WHERE site = ? AND page = ?", r.Site, r.Page).Scan(&n); err != nil {
						return err
					}
				}
				if n >= skimguard.MaxReportAggregates {
					dropped++
					perPage[k] = n
					continue
				}
				perPage[k] = n + 1
				agg = r
				agg.UserAgents = mergeAgents(nil, r.UserAgents)
				agg.Verdict, agg.FindingID = "", 0
				res, err := insert.ExecContext(ctx, r.Site, r.Page, string(r.Type), r.Subject, r.Hash, r.Directive, r.Count,
					timeText(r.FirstSeen), timeText(r.LastSeen), jsonText(agg.UserAgents))
				if err != nil {
					return fmt.Errorf("insert report %s %q: %w", r.Type, r.Subject, err)
				}
				if agg.ID, err = res.LastInsertId(); err != nil {
					return err
				}
			default:
				return fmt.Errorf("look up report %s %q: %w", r.Type, r.Subject, err)
			}
			if agg.Verdict != "" {
				continue
			}
			// A batch may carry the same thing twice: the latest copy wins.
			if i := slices.IndexFunc(unjudged, func(u skimguard.ShopperReport) bool { return u.ID == agg.ID }); i >= 0 {
				unjudged[i] = agg
			} else {
				unjudged = append(unjudged, agg)
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return unjudged, dropped, nil
}

// JudgeReport records an aggregate's verdict and the finding it opened or
// joined; an unknown id gives an error wrapping skimguard.ErrNotFound.
func (db *DB) JudgeReport(ctx context.Context, id int64, v skimguard.ReportVerdict, findingID int64) error {
	what := fmt.Sprintf("judge report %d", id)
	found := false
	err := db.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE shopper_reports SET verdict = ?, finding_id = ? WHERE id = ?",
			string(v), sql.NullInt64{Int64: findingID, Valid: findingID != 0}, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		found = n > 0
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s: %w", what, skimguard.ErrNotFound)
	}
	return nil
}

// Reports lists the aggregates f selects, most recently reported first.
func (db *DB) Reports(ctx context.Context, f skimguard.ReportFilter) ([]skimguard.ShopperReport, error) {
	q, args := reportColumns+" WHERE 1 = 1", []any{}
	if f.Site != "" {
		q += " AND site = ?"
		args = append(args, f.Site)
	}
	if f.Page != "" {
		q += " AND page = ?"
		args = append(args, f.Page)
	}
	var out []skimguard.ShopperReport
	err := db.read(ctx, "list shoppers' reports", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q+" ORDER BY last_seen DESC, id", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanReport(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// PruneReports removes the aggregates last reported before t.
func (db *DB) PruneReports(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, "prune shoppers' reports", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM shopper_reports WHERE last_seen < ?", timeText(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// SaveReportedFindings stores findings shoppers' browsers reported on p,
// without a scan, the way SaveScan stores a scan's (see saveFindings).
func (db *DB) SaveReportedFindings(ctx context.Context, p skimguard.Page, fs []skimguard.Finding, at time.Time) error {
	what := fmt.Sprintf("save findings reported on %s/%s", p.Site, p.Name)
	if p.Site == "" || p.Name == "" {
		return fmt.Errorf("%s: no site or page", what)
	}
	for i, f := range fs {
		if (f.Site != "" && f.Site != p.Site) || (f.Page != "" && f.Page != p.Name) {
			return fmt.Errorf("%s: finding %d is about %s/%s", what, i, f.Site, f.Page)
		}
	}
	if at.IsZero() {
		at = time.Now()
	}
	saved := slices.Clone(fs)
	err := db.write(ctx, what, func(tx *sql.Tx) error {
		copy(saved, fs) // a retried transaction starts again
		if err := upsertPage(ctx, tx, p.Site, p.Name, p.URL); err != nil {
			return err
		}
		return saveFindings(ctx, tx, &skimguard.Scan{Site: p.Site, Page: p.Name}, saved, 0, at)
	})
	if err != nil {
		return err
	}
	copy(fs, saved)
	return nil
}

// SetReportToken stores the hash of site's report token, replacing any,
// and records "report_token.made" or "report_token.rotated" in the audit
// log with by as the actor; the hash is not logged.
func (db *DB) SetReportToken(ctx context.Context, site, hash, by string) error {
	if site == "" || hash == "" {
		return errors.New("set report token: no site or hash")
	}
	return db.write(ctx, fmt.Sprintf("set the report token of %s", site), func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, "SELECT token_hash FROM report_tokens WHERE site = ?", site).Scan(&old)
		action := "report_token.rotated"
		if errors.Is(err, sql.ErrNoRows) {
			action = "report_token.made"
		} else if err != nil {
			return err
		}
		now := time.Now()
		_, err = tx.ExecContext(ctx, `INSERT INTO report_tokens (site, token_hash, created_at) VALUES (?, ?, ?)
			ON CONFLICT (site) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`,
			site, hash, timeText(now))
		if err != nil {
			return fmt.Errorf("store token: %w", err)
		}
		return audit(ctx, tx, skimguard.AuditEntry{At: now, Actor: by, Action: action, Site: site})
	})
}

// ReportToken returns the hash of site's report token, or an error
// wrapping skimguard.ErrNotFound.
func (db *DB) ReportToken(ctx context.Context, site string) (string, error) {
	var hash string
	err := db.sql.QueryRowContext(ctx, "SELECT token_hash FROM report_tokens WHERE site = ?", site).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("report token of %s: %w", site, skimguard.ErrNotFound)
	}
	if err != nil {
		return "", db.fail("read the report token of "+site, err)
	}
	return hash, nil
}

const reportColumns = `SELECT id, site, page, type, subject, hash, directive, count, first_seen, last_seen,
	user_agents, verdict, finding_id FROM shopper_reports`

// scanReport reads one row of reportColumns.
func scanReport(row interface{ Scan(...any) error }) (skimguard.ShopperReport, error) {
	var r skimguard.ShopperReport
	var typ, agents, verdict string
	var first, last sql.NullString
	var finding sql.NullInt64
	err := row.Scan(&r.ID, &r.Site, &r.Page, &typ, &r.Subject, &r.Hash, &r.Directive, &r.Count, &first, &last,
		&agents, &verdict, &finding)
	if err != nil {
		return r, err
	}
	r.Type, r.Verdict, r.FindingID = skimguard.ReportType(typ), skimguard.ReportVerdict(verdict), finding.Int64
	if r.FirstSeen, err = parseTime(first); err != nil {
		return r, err
	}
	if r.LastSeen, err = parseTime(last); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(agents), &r.UserAgents); err != nil {
		return r, fmt.Errorf("report %d: user agents: %w", r.ID, err)
	}
	if r.UserAgents == nil {
		r.UserAgents = []string{}
	}
	return r, nil
}

// mergeAgents adds the new user agents to the kept ones, distinct, up to
// skimguard.MaxUserAgents.
func mergeAgents(kept, more []string) []string {
	out := append([]string{}, kept...)
	for _, ua := range more {
		if len(out) >= skimguard.MaxUserAgents {
			break
		}
		if ua != "" && !slices.Contains(out, ua) {
			out = append(out, ua)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
