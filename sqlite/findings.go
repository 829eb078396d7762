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
)

const findingColumns = `SELECT id, site, page, kind, severity, subject, detail, evidence, item, fingerprint,
	status, scan_id, first_seen, last_seen, resolved_by, resolution, resolved_at,
	first_approved_by, first_approval, first_approved_at FROM findings`

// Findings lists the findings f selects, oldest first, with every field
// filled in.
func (db *DB) Findings(ctx context.Context, f skimguard.FindingFilter) ([]skimguard.Finding, error) {
	var where []string
	var args []any
	if len(f.Sites) > 0 {
		where = append(where, "site IN (SELECT value FROM json_each(?))")
		args = append(args, jsonText(f.Sites))
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if len(f.IDs) > 0 {
		where = append(where, "id IN (SELECT value FROM json_each(?))")
		args = append(args, jsonText(f.IDs))
	}
	q := findingColumns
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY first_seen, id"
	var fs []skimguard.Finding
	err := db.read(ctx, "list findings", func(tx *sql.Tx) error {
		var err error
		fs, err = queryFindings(ctx, tx, q, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return fs, nil
}

func queryFindings(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]skimguard.Finding, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanFindings(rows)
}

// scanFindings reads and closes rows of findingColumns.
func scanFindings(rows *sql.Rows) ([]skimguard.Finding, error) {
	defer rows.Close()
	var fs []skimguard.Finding
	for rows.Next() {
		var f skimguard.Finding
		var kind, severity, evidence, item, status string
		var scanID sql.NullInt64
		var first, last, resolved, approvedAt sql.NullString
		var approval skimguard.Approval
		err := rows.Scan(&f.ID, &f.Site, &f.Page, &kind, &severity, &f.Subject, &f.Detail, &evidence, &item,
			&f.Fingerprint, &status, &scanID, &first, &last, &f.ResolvedBy, &f.Resolution, &resolved,
			&approval.By, &approval.Reason, &approvedAt)
		if err != nil {
			return nil, err
		}
		if approval.By != "" {
			if approval.At, err = parseTime(approvedAt); err != nil {
				return nil, err
			}
			f.FirstApproval = &approval
		}
		f.Kind, f.Severity, f.Status = skimguard.Kind(kind), skimguard.Severity(severity), skimguard.FindingStatus(status)
		f.ScanID = scanID.Int64
		if err := json.Unmarshal([]byte(evidence), &f.Evidence); err != nil {
			return nil, fmt.Errorf("finding %d: evidence: %w", f.ID, err)
		}
		if err := json.Unmarshal([]byte(item), &f.Item); err != nil {
			return nil, fmt.Errorf("finding %d: item: %w", f.ID, err)
		}
		if f.FirstSeen, err = parseTime(first); err != nil {
			return nil, err
		}
		if f.LastSeen, err = parseTime(last); err != nil {
			return nil, err
		}
		if f.ResolvedAt, err = parseTime(resolved); err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// ResolveFindings closes open findings as res.Status (approved or rejected)
// in one transaction, recording each in the audit log. When approving, apply
// is called once per page, in site and page order, with the page's current
// baseline (nil when none) and its approved findings, and what it returns is
// stored as the page's new baseline version, approved by the reviewers of
// its findings. An approval of a finding that res.Approvals says needs a
// second reviewer is recorded as its first approval ("finding.approve_first")
// and leaves it open when it has none yet, closes it when its first approval
// is someone else's, and gives an error wrapping skimguard.ErrSameReviewer
// when it is res.By's own. An unknown id gives an error wrapping
// skimguard.ErrNotFound, a closed one skimguard.ErrNotOpen; on any error
// nothing is changed. apply runs inside the write transaction: it must not
// call back into the DB.
func (db *DB) ResolveFindings(ctx context.Context, ids []int64, res skimguard.Resolution, apply skimguard.ApplyFunc) error {
	var action string
	switch res.Status {
	case skimguard.StatusApproved:
		action = "finding.approve"
		if apply == nil {
			return errors.New("resolve findings: approving needs an apply function")
		}
	case skimguard.StatusRejected:
		action = "finding.reject"
	default:
		return fmt.Errorf("resolve findings: cannot resolve as %q: use %q or %q",
			res.Status, skimguard.StatusApproved, skimguard.StatusRejected)
	}
	if len(ids) == 0 {
		return nil
	}
	if res.At.IsZero() {
		res.At = time.Now()
	}
	what := fmt.Sprintf("%s findings %s", strings.TrimPrefix(action, "finding."), idList(ids))

	return db.write(ctx, what, func(tx *sql.Tx) error {
		get, err := tx.PrepareContext(ctx, findingColumns+" WHERE id = ?")
		if err != nil {
			return err
		}
		defer get.Close()
		var fs []skimguard.Finding
		done := map[int64]bool{}
		for _, id := range ids {
			if done[id] {
				continue
			}
			done[id] = true
			got, err := queryFindingsStmt(ctx, get, id)
			if err != nil {
				return err
			}
			if len(got) == 0 {
				return fmt.Errorf("finding %d: %w", id, skimguard.ErrNotFound)
			}
			f := got[0]
			if f.Status != skimguard.StatusOpen {
				return fmt.Errorf("finding %d: %w: it was %s by %s", id, skimguard.ErrNotOpen, f.Status, f.ResolvedBy)
			}
			fs = append(fs, f)
		}

		update, err := tx.PrepareContext(ctx, `UPDATE findings SET status = ?, resolved_by = ?, resolution = ?,
			resolved_at = ? WHERE id = ? AND status = 'open'`)
		if err != nil {
			return err
		}
		defer update.Close()
		firstApproval, err := tx.PrepareContext(ctx, `UPDATE findings SET first_approved_by = ?, first_approval = ?,
			first_approved_at = ? WHERE id = ? AND status = 'open'`)
		if err != nil {
			return err
		}
		defer firstApproval.Close()
		var closed []skimguard.Finding
		for i := range fs {
			f := &fs[i]
			detail := fmt.Sprintf("finding %d: %s %s", f.ID, f.Kind, f.Subject)
			if res.Status == skimguard.StatusApproved && res.Approvals.SecondReviewer(f.Severity) {
				switch {
				case f.FirstApproval == nil:
					if _, err := firstApproval.ExecContext(ctx, res.By, res.Reason, timeText(res.At), f.ID); err != nil {
						return fmt.Errorf("finding %d: %w", f.ID, err)
					}
					err := audit(ctx, tx, skimguard.AuditEntry{At: res.At, Actor: res.By, Action: "finding.approve_first",
						Site: f.Site, Page: f.Page, Reason: res.Reason, Detail: detail + "; waiting for a second reviewer"})
					if err != nil {
						return err
					}
					continue
				case f.FirstApproval.By == res.By:
					return fmt.Errorf("finding %d (%s): %w: %s gave it the first approval, and approvals: %s needs another reviewer to confirm it",
						f.ID, f.Severity, skimguard.ErrSameReviewer, res.By, res.Approvals)
				}
				detail += fmt.Sprintf("; the second approval, the first by %s", f.FirstApproval.By)
			}
			if _, err := update.ExecContext(ctx, string(res.Status), res.By, res.Reason, timeText(res.At), f.ID); err != nil {
				return fmt.Errorf("finding %d: %w", f.ID, err)
			}
			f.Status, f.ResolvedBy, f.Resolution, f.ResolvedAt = res.Status, res.By, res.Reason, res.At
			err := audit(ctx, tx, skimguard.AuditEntry{
				At: res.At, Actor: res.By, Action: action, Site: f.Site, Page: f.Page, Reason: res.Reason, Detail: detail,
			})
			if err != nil {
				return err
			}
			closed = append(closed, *f)
		}
		if res.Status != skimguard.StatusApproved {
			return nil
		}

		// One new baseline version per page, in a stable order.
		for _, group := range skimguard.ByPage(closed) {
			site, page := group[0].Site, group[0].Page
			cur, err := currentBaseline(ctx, tx, site, page)
			if err != nil {
				return fmt.Errorf("load baseline of %s/%s: %w", site, page, err)
			}
			b, err := apply.Apply(site, page, cur, group, res)
			if err != nil {
				return err
			}
			if err := saveBaseline(ctx, tx, &b); err != nil {
				return fmt.Errorf("save baseline of %s/%s: %w", site, page, err)
			}
		}
		return nil
	})
}

func queryFindingsStmt(ctx context.Context, stmt *sql.Stmt, args ...any) ([]skimguard.Finding, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return scanFindings(rows)
}

// idList formats ids for messages, eliding long lists.
func idList(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(ids)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}
