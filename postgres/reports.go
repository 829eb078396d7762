package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard"
)

var _ skimguard.ReportStore = (*DB)(nil)

// reportLock is the class of the advisory locks AddReports takes, one per
// page ('SGRP'), in the two-key space, which never meets migrationLock's.
const reportLock = 0x53475250

// AddReports adds reports to their aggregates in one transaction (see
// skimguard.ReportStore): made when new, unless the page has
// skimguard.MaxReportAggregates already, in which case the report is
// dropped. It returns the aggregates of rs that are new or still not
// judged (a judgement the store refused is tried again on the next
// report), after the addition.
//
// Several processes add reports at once (collectors behind one address):
// each transaction first takes an advisory lock per page of its reports,
// in one order, so that a page's aggregates are counted, made and added to
// by one at a time, the cap holds exactly and no count is lost.
func (db *DB) AddReports(ctx context.Context, rs []skimguard.ShopperReport) ([]skimguard.ShopperReport, int, error) {
	if len(rs) == 0 {
		return nil, 0, nil
	}
	for _, r := range rs {
		if r.Site == "" || r.Page == "" || r.Type == "" {
			return nil, 0, fmt.Errorf("add shoppers' reports: report %s %q: no site, page or type", r.Type, r.Subject)
		}
	}
	now := time.Now()
	var unjudged []skimguard.ShopperReport
	var dropped int
	err := db.write(ctx, "add shoppers' reports", func(t tx) error {
		unjudged, dropped = nil, 0
		if err := lockReportPages(ctx, t, rs); err != nil {
			return err
		}
		perPage := map[[2]string]int{}
		for _, r := range rs {
			r.Count = max(r.Count, 1)
			if r.FirstSeen.IsZero() {
				r.FirstSeen = now
			}
			if r.LastSeen.Before(r.FirstSeen) {
				r.LastSeen = r.FirstSeen
			}
			agg, err := scanReport(t.queryRow(ctx, `SELECT `+reportColumns+` FROM shopper_reports
				WHERE site = $1 AND page = $2 AND type = $3 AND md5(subject) = md5($4) AND subject = $4
					AND md5(hash) = md5($5) AND hash = $5 AND directive = $6 FOR UPDATE`,
				r.Site, r.Page, string(r.Type), r.Subject, r.Hash, r.Directive))
			switch {
			case err == nil:
				agents, err := json.Marshal(mergeAgents(agg.UserAgents, r.UserAgents))
				if err != nil {
					return err
				}
				agg, err = scanReport(t.queryRow(ctx, `UPDATE shopper_reports SET count = count + $1,
					first_seen = least(first_seen, $2), last_seen = greatest(last_seen, $3), user_agents = $4
					WHERE id = $5 RETURNING `+reportColumns, r.Count, r.FirstSeen, r.LastSeen, string(agents), agg.ID))
				if err != nil {
					return fmt.Errorf("update report %d: %w", agg.ID, err)
				}
			case errors.Is(err, pgx.ErrNoRows):
				k := [2]string{r.Site, r.Page}
				n, ok := perPage[k]
				if !ok {
					if err := t.queryRow(ctx, "SELECT count(*) FROM shopper_reports WHERE site = $1 AND page = $2",
						r.Site, r.Page).Scan(&n); err != nil {
						return err
					}
				}
				if n >= skimguard.MaxReportAggregates {
					dropped++
					perPage[k] = n
					continue
				}
				perPage[k] = n + 1
				agents, err := json.Marshal(mergeAgents(nil, r.UserAgents))
				if err != nil {
					return err
				}
				agg, err = scanReport(t.queryRow(ctx, `INSERT INTO shopper_reports (site, page, type, subject, hash,
					directive, count, first_seen, last_seen, user_agents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
					RETURNING `+reportColumns, r.Site, r.Page, string(r.Type), r.Subject, r.Hash, r.Directive, r.Count,
					r.FirstSeen, r.LastSeen, string(agents)))
				if err != nil {
					return fmt.Errorf("insert report %s %q: %w", r.Type, r.Subject, err)
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

// lockReportPages takes the advisory lock of each page of rs, in the
// order of the locks' keys, so that two transactions never wait for each
// other's.
func lockReportPages(ctx context.Context, t tx, rs []skimguard.ShopperReport) error {
	sites, pages := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		sites[i], pages[i] = r.Site, r.Page
	}
	rows, err := t.query(ctx, `SELECT DISTINCT hashtext(s || '/' || p) AS k FROM unnest($1::text[], $2::text[]) AS u (s, p)
		ORDER BY k`, sites, pages)
	if err != nil {
		return err
	}
	keys, err := collect(rows, pgx.RowTo[int32])
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", int32(reportLock), k); err != nil {
			return fmt.Errorf("lock the page's reports: %w", err)
		}
	}
	return nil
}

// JudgeReport records an aggregate's verdict and the finding it opened or
// joined; an unknown id gives an error wrapping skimguard.ErrNotFound.
func (db *DB) JudgeReport(ctx context.Context, id int64, v skimguard.ReportVerdict, findingID int64) error {
	what := fmt.Sprintf("judge report %d", id)
	found := false
	err := db.write(ctx, what, func(t tx) error {
		tag, err := t.exec(ctx, "UPDATE shopper_reports SET verdict = $1, finding_id = $2 WHERE id = $3",
			string(v), nullID(findingID), id)
		found = tag.RowsAffected() > 0
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
	var w where
	if f.Site != "" {
		w.add("site = ?", f.Site)
	}
	if f.Page != "" {
		w.add("page = ?", f.Page)
	}
	var out []skimguard.ShopperReport
	err := db.read(ctx, "list shoppers' reports", func(t tx) error {
		rows, err := t.query(ctx, "SELECT "+reportColumns+" FROM shopper_reports"+w.sql()+" ORDER BY last_seen DESC, id", w.args...)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(row pgx.CollectableRow) (skimguard.ShopperReport, error) { return scanReport(row) })
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PruneReports removes the aggregates last reported before t.
func (db *DB) PruneReports(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, "prune shoppers' reports", func(t tx) error {
		tag, err := t.exec(ctx, "DELETE FROM shopper_reports WHERE last_seen < $1", before)
		n = tag.RowsAffected()
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
	at = stored(at)
	saved := make([]skimguard.Finding, len(fs))
	err := db.write(ctx, what, func(t tx) error {
		copy(saved, fs) // afresh on each run
		if err := upsertPage(ctx, t, p.Site, p.Name, p.URL); err != nil {
			return err
		}
		return saveFindings(ctx, t, &skimguard.Scan{Site: p.Site, Page: p.Name}, saved, 0, at)
	})
	if err != nil {
		return err
	}
	copy(fs, saved)
	return nil
}

// SetReportToken stores the hash of site's report token, replacing any,
// and records "report_token.made" or "report_token.rotated" in the audit
// log with by as the actor; the hash is not logged. Of two made at once for
// a site that had none, one is made and the other rotates it.
func (db *DB) SetReportToken(ctx context.Context, site, hash, by string) error {
	if site == "" || hash == "" {
		return errors.New("set report token: no site or hash")
	}
	return db.write(ctx, fmt.Sprintf("set the report token of %s", site), func(t tx) error {
		now := stored(time.Now())
		// An insert that meets another's waits for it to commit, then
		// does nothing: the update follows.
		tag, err := t.exec(ctx, `INSERT INTO report_tokens (site, token_hash, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (site) DO NOTHING`, site, hash, now)
		if err != nil {
			return fmt.Errorf("store token: %w", err)
		}
		action := "report_token.made"
		if tag.RowsAffected() == 0 {
			action = "report_token.rotated"
			if _, err := t.exec(ctx, "UPDATE report_tokens SET token_hash = $1, created_at = $2 WHERE site = $3",
				hash, now, site); err != nil {
				return fmt.Errorf("store token: %w", err)
			}
		}
		return audit(ctx, t, skimguard.AuditEntry{At: now, Actor: by, Action: action, Site: site})
	})
}

// ReportToken returns the hash of site's report token, or an error
// wrapping skimguard.ErrNotFound.
func (db *DB) ReportToken(ctx context.Context, site string) (string, error) {
	var hash string
	found := false
	err := db.read(ctx, "read the report token of "+site, func(t tx) error {
		err := t.queryRow(ctx, "SELECT token_hash FROM report_tokens WHERE site = $1", site).Scan(&hash)
		found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("report token of %s: %w", site, skimguard.ErrNotFound)
	}
	return hash, nil
}

const reportColumns = `id, site, page, type, subject, hash, directive, count, first_seen, last_seen,
	user_agents, verdict, finding_id`

// scanReport reads one row of reportColumns.
func scanReport(row pgx.Row) (skimguard.ShopperReport, error) {
	var r skimguard.ShopperReport
	var typ, agents, verdict string
	var finding *int64
	err := row.Scan(&r.ID, &r.Site, &r.Page, &typ, &r.Subject, &r.Hash, &r.Directive, &r.Count, &r.FirstSeen, &r.LastSeen,
		&agents, &verdict, &finding)
	if err != nil {
		return r, err
	}
	r.Type, r.Verdict = skimguard.ReportType(typ), skimguard.ReportVerdict(verdict)
	if finding != nil {
		r.FindingID = *finding
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
// skimguard.MaxUserAgents; they are compared as stored.
func mergeAgents(kept, more []string) []string {
	out := append([]string{}, kept...)
	for _, ua := range more {
		ua = storable(ua)
		if len(out) >= skimguard.MaxUserAgents {
			break
		}
		if ua != "" && !slices.Contains(out, ua) {
			out = append(out, ua)
		}
	}
	return out
}
