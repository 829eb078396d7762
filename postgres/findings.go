package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/skimguard/skimguard"
)

const findingColumns = `SELECT id, site, page, kind, severity, subject, detail, evidence, item, fingerprint,
	status, scan_id, first_seen, last_seen, resolved_by, resolution, resolved_at,
	first_approved_by, first_approval, first_approved_at FROM findings`

// Findings lists the findings f selects, oldest first, with every field
// filled in.
func (db *DB) Findings(ctx context.Context, f skimguard.FindingFilter) ([]skimguard.Finding, error) {
	var w where
	if len(f.Sites) > 0 {
		w.add("site = ANY(?)", f.Sites)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if len(f.IDs) > 0 {
		w.add("id = ANY(?)", f.IDs)
	}
	q := findingColumns + w.sql() + " ORDER BY first_seen, id"
	var fs []skimguard.Finding
	err := db.read(ctx, "list findings", func(t tx) error {
		var err error
		fs, err = queryFindings(ctx, t, q, w.args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return fs, nil
}

// queryFindings runs a query of findingColumns.
func queryFindings(ctx context.Context, t tx, q string, args ...any) ([]skimguard.Finding, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanFinding)
}

// scanFinding reads one row of findingColumns.
func scanFinding(row pgx.CollectableRow) (skimguard.Finding, error) {
	var f skimguard.Finding
	var kind, severity, evidence, item, status string
	var scanID *int64
	var resolved, approvedAt pgtype.Timestamptz
	var approval skimguard.Approval
	err := row.Scan(&f.ID, &f.Site, &f.Page, &kind, &severity, &f.Subject, &f.Detail, &evidence, &item,
		&f.Fingerprint, &status, &scanID, &f.FirstSeen, &f.LastSeen, &f.ResolvedBy, &f.Resolution, &resolved,
		&approval.By, &approval.Reason, &approvedAt)
	if err != nil {
		return f, err
	}
	if approval.By != "" {
		approval.At = timeOf(approvedAt)
		f.FirstApproval = &approval
	}
	f.Kind, f.Severity, f.Status = skimguard.Kind(kind), skimguard.Severity(severity), skimguard.FindingStatus(status)
	if scanID != nil {
		f.ScanID = *scanID
	}
	f.ResolvedAt = timeOf(resolved)
	if err := json.Unmarshal([]byte(evidence), &f.Evidence); err != nil {
		return f, fmt.Errorf("finding %d: evidence: %w", f.ID, err)
	}
	if err := json.Unmarshal([]byte(item), &f.Item); err != nil {
		return f, fmt.Errorf("finding %d: item: %w", f.ID, err)
	}
	return f, nil
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
// nothing is changed. The findings are locked as they are read, so that of
// two reviewers closing one finding at once the second is told it is
// closed. apply runs inside the write transaction and may run again when
// the transaction is retried: it must not call back into the DB.
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
	res.At = stored(res.At)
	what := fmt.Sprintf("%s findings %s", strings.TrimPrefix(action, "finding."), idList(ids))

	return db.write(ctx, what, func(t tx) error {
		// Locked in id order, as every resolution locks them.
		rows, err := t.query(ctx, findingColumns+" WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids)
		if err != nil {
			return err
		}
		got, err := collect(rows, scanFinding)
		if err != nil {
			return err
		}
		var fs []skimguard.Finding
		done := map[int64]bool{}
		for _, id := range ids {
			if done[id] {
				continue
			}
			done[id] = true
			i := slices.IndexFunc(got, func(f skimguard.Finding) bool { return f.ID == id })
			if i < 0 {
				return fmt.Errorf("finding %d: %w", id, skimguard.ErrNotFound)
			}
			f := got[i]
			if f.Status != skimguard.StatusOpen {
				return fmt.Errorf("finding %d: %w: it was %s by %s", id, skimguard.ErrNotOpen, f.Status, f.ResolvedBy)
			}
			fs = append(fs, f)
		}

		var closed []skimguard.Finding
		for i := range fs {
			f := &fs[i]
			detail := fmt.Sprintf("finding %d: %s %s", f.ID, f.Kind, f.Subject)
			if res.Status == skimguard.StatusApproved && res.Approvals.SecondReviewer(f.Severity) {
				switch {
				case f.FirstApproval == nil:
					if _, err := t.exec(ctx, `UPDATE findings SET first_approved_by = $1, first_approval = $2,
						first_approved_at = $3 WHERE id = $4 AND status = 'open'`, res.By, res.Reason, res.At, f.ID); err != nil {
						return fmt.Errorf("finding %d: %w", f.ID, err)
					}
					err := audit(ctx, t, skimguard.AuditEntry{At: res.At, Actor: res.By, Action: "finding.approve_first",
						Site: f.Site, Page: f.Page, Reason: res.Reason, Detail: detail + "; waiting for a second reviewer"})
					if err != nil {
						return err
					}
					continue
				case f.FirstApproval.By == storable(res.By):
					return fmt.Errorf("finding %d (%s): %w: %s gave it the first approval, and approvals: %s needs another reviewer to confirm it",
						f.ID, f.Severity, skimguard.ErrSameReviewer, res.By, res.Approvals)
				}
				detail += fmt.Sprintf("; the second approval, the first by %s", f.FirstApproval.By)
			}
			if _, err := t.exec(ctx, `UPDATE findings SET status = $1, resolved_by = $2, resolution = $3,
				resolved_at = $4 WHERE id = $5 AND status = 'open'`, string(res.Status), res.By, res.Reason, res.At, f.ID); err != nil {
				return fmt.Errorf("finding %d: %w", f.ID, err)
			}
			f.Status, f.ResolvedBy, f.Resolution, f.ResolvedAt = res.Status, res.By, res.Reason, res.At
			err := audit(ctx, t, skimguard.AuditEntry{
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
			cur, err := currentBaseline(ctx, t, site, page)
			if err != nil {
				return fmt.Errorf("load baseline of %s/%s: %w", site, page, err)
			}
			b, err := apply.Apply(site, page, cur, group, res)
			if err != nil {
				return err
			}
			if err := saveBaseline(ctx, t, &b); err != nil {
				return fmt.Errorf("save baseline of %s/%s: %w", site, page, err)
			}
		}
		return nil
	})
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
