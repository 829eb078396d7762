package skimguard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors a Store returns; callers test them with errors.Is.
var (
	// ErrNotFound: the finding, scan or baseline asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNoBaseline: the page has no approved baseline yet.
	ErrNoBaseline = errors.New("no approved baseline")
	// ErrNotOpen: the finding was already approved or rejected.
	ErrNotOpen = errors.New("finding is not open")
	// ErrStoreLocked: another process held the store's write lock for
	// too long. The same write may succeed later.
	ErrStoreLocked = errors.New("store is locked by another process")
	// ErrStoreFull: the store has no room left (its disk is full). The
	// same write may succeed once space is freed.
	ErrStoreFull = errors.New("store is full")
	// ErrStoreUnavailable: the store's server cannot be reached (it is
	// down, restarting, or the network between is). The same write may
	// succeed once it is back.
	ErrStoreUnavailable = errors.New("store is unavailable")
	// ErrReasonTooLong: a justification longer than MaxReason characters.
	ErrReasonTooLong = errors.New("justification too long")
	// ErrSameReviewer: under the two-person rule, the reviewer who gave a
	// finding its first approval tried to give the second as well.
	ErrSameReviewer = errors.New("a second reviewer must confirm this approval")
)

// MaxReason is the most characters a justification may have: it is kept
// for ever in the append-only audit log and in every evidence report, so
// the details belong in the ticket it names.
const MaxReason = 2000

// FindingFilter selects findings. Zero fields select everything.
type FindingFilter struct {
	Sites  []string
	Status FindingStatus
	IDs    []int64
}

// ScanFilter selects scans, newest first.
type ScanFilter struct {
	Sites []string
	Site  string
	Page  string
	// From and To bound StartedAt (From inclusive, To exclusive) when set.
	From, To time.Time
	// Limit caps the result; 0 means 100, and a negative Limit means all.
	Limit int
}

// Resolution records who closed findings, how and why.
type Resolution struct {
	Status FindingStatus
	By     string
	Reason string
	At     time.Time
	// Approvals is the rule an approval is given under; the zero value is
	// ApprovalsOnePerson.
	Approvals Approvals
}

// Approvals is how many reviewers approve a change.
type Approvals string

// Approval rules.
const (
	// ApprovalsOnePerson: one reviewer approves any finding.
	ApprovalsOnePerson Approvals = "one-person"
	// ApprovalsTwoPerson: a critical or high finding is approved by two
	// different reviewers; the first approval leaves it open until a
	// second reviewer confirms it. Rejections and lower severities take
	// one reviewer.
	ApprovalsTwoPerson Approvals = "two-person"
)

// SecondReviewer reports whether approving a finding of severity sev
// takes a second reviewer under a.
func (a Approvals) SecondReviewer(sev Severity) bool {
	return a == ApprovalsTwoPerson && (sev == SeverityCritical || sev == SeverityHigh)
}

// Confirming returns the approval a page's new baseline version records
// when res approves fs, the page's findings: res itself, or, when res.By
// confirms first approvals of some of them under the two-person rule,
// both reviewers ("alice and bob"), the first ones' justifications with
// res's as their confirmation.
func (res Resolution) Confirming(fs []Finding) Resolution {
	var by, reasons []string
	for _, f := range fs {
		if a := f.FirstApproval; a != nil && res.Approvals.SecondReviewer(f.Severity) {
			if !slices.Contains(by, a.By) {
				by = append(by, a.By)
			}
			if !slices.Contains(reasons, a.Reason) {
				reasons = append(reasons, a.Reason)
			}
		}
	}
	if len(by) == 0 {
		return res
	}
	res.By = strings.Join(by, ", ") + " and " + res.By
	res.Reason = strings.Join(reasons, "; ") + " (confirmed: " + res.Reason + ")"
	return res
}

// Approval is one reviewer's approval of a finding: under the two-person
// rule, the first of two.
type Approval struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// ApplyFunc makes a page's new baseline from its current one (nil when the
// page has none) and the findings being approved on it.
type ApplyFunc func(current *Baseline, approved []Finding, res Resolution) (*Baseline, error)

// Apply runs apply on a page's current baseline and the findings res
// approves there, as a store does inside the transaction that resolves
// them, and returns the new version to save: the page's own, with res's
// approver (both reviewers under the two-person rule), justification and
// time where apply left them empty.
func (apply ApplyFunc) Apply(site, page string, current *Baseline, approved []Finding, res Resolution) (Baseline, error) {
	pres := res.Confirming(approved)
	nb, err := apply(current, approved, pres)
	if err != nil {
		return Baseline{}, fmt.Errorf("apply approvals to %s/%s: %w", site, page, err)
	}
	if nb == nil {
		return Baseline{}, fmt.Errorf("apply approvals to %s/%s: no baseline returned", site, page)
	}
	b := *nb
	if b.Site == "" && b.Page == "" {
		b.Site, b.Page = site, page
	}
	if b.Site != site || b.Page != page {
		return Baseline{}, fmt.Errorf("apply approvals to %s/%s: it returned a baseline of %s/%s", site, page, b.Site, b.Page)
	}
	if b.ApprovedBy == "" {
		b.ApprovedBy = pres.By
	}
	if b.Reason == "" {
		b.Reason = pres.Reason
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = pres.At
	}
	return b, nil
}

// AuditEntry is one line of the append-only log of who changed what.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Site   string    `json:"site,omitempty"`
	Page   string    `json:"page,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Delivery records one attempt to deliver an alert and its result: the
// evidence PCI DSS 11.6.1 asks for that people were told.
type Delivery struct {
	ID   int64     `json:"id"`
	At   time.Time `json:"at"`
	Sink string    `json:"sink"`
	Site string    `json:"site"`
	Page string    `json:"page"`
	// ScanID is the scan whose findings were sent; Findings their ids (0
	// for a scan.failed notice, which is not stored as a finding). A notice
	// with ScanID 0 says the page has no baseline, so no scan was made.
	ScanID   int64   `json:"scan_id"`
	Findings []int64 `json:"findings"`
	OK       bool    `json:"ok"`
	Error    string  `json:"error,omitempty"`
}

// DeliveryFilter selects deliveries, oldest first. Zero fields select
// everything.
type DeliveryFilter struct {
	Sites    []string
	From, To time.Time
	// Findings selects the deliveries that carried at least one of these
	// finding ids (0: a scan.failed notice).
	Findings []int64
	// Sinks selects the deliveries to these sinks, by the sink's name
	// (alerts.Sink.Name).
	Sinks []string
}

// User is someone who may sign in to the web interface.
type User struct {
	Name string `json:"name"`
	// PasswordHash is the bcrypt hash of the user's password; the password
	// itself is never stored.
	PasswordHash []byte    `json:"-"`
	Role         Role      `json:"role"`
	CreatedAt    time.Time `json:"created_at"`
}

// Role is what a user may do in the web interface and API. Each role may
// do everything the roles before it may.
type Role string

// Roles, from the least allowed.
const (
	// RoleViewer reads everything and changes nothing.
	RoleViewer Role = "viewer"
	// RoleReviewer also approves and rejects findings.
	RoleReviewer Role = "reviewer"
	// RoleAdmin also manages users and settings.
	RoleAdmin Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleReviewer:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r may do what need may; an unknown role may do
// nothing.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	if Role(s).rank() == 0 {
		return "", fmt.Errorf("unknown role %q: use viewer (reads), reviewer (also approves and rejects findings) or admin (also manages users and settings)", s)
	}
	return Role(s), nil
}

// Store keeps scans, baselines, findings and the audit log, and the web
// interface's sessions and sign-in failures. The embedded
// implementation is SQLite (package sqlite); the shared one, for several
// processes on several machines, is PostgreSQL (package postgres).
type Store interface {
	// SaveScan stores a scan with its observation and findings, setting
	// scan.ID and each finding's ID. A finding whose Fingerprint matches a
	// finding still open on the same page is not stored twice: it takes that
	// finding's ID and FirstSeen, and the open finding's LastSeen moves on.
	SaveScan(ctx context.Context, scan *Scan) error
	// Scans lists scans (without observations), newest first.
	Scans(ctx context.Context, f ScanFilter) ([]Scan, error)
	// Baseline returns the current baseline of a page, or ErrNoBaseline.
	Baseline(ctx context.Context, site, page string) (*Baseline, error)
	// Scan returns one scan with its observation (nil when it made none)
	// and the findings it was the latest scan to see (a finding seen again
	// moves to the newer scan), or ErrNotFound.
	Scan(ctx context.Context, id int64) (*Scan, error)
	// BaselineVersions returns every approved version of a page's baseline
	// with its items, newest first, or ErrNoBaseline when it has none.
	BaselineVersions(ctx context.Context, site, page string) ([]Baseline, error)
	// Baselines returns the current baseline of every page of the sites
	// (all sites when empty), ordered by site and page.
	Baselines(ctx context.Context, sites []string) ([]Baseline, error)
	// SaveBaseline stores b as its page's new current version, keeping the
	// older ones, and records it in the audit log. It sets b.ID, b.Version.
	SaveBaseline(ctx context.Context, b *Baseline) error
	// Findings lists findings, oldest first.
	Findings(ctx context.Context, f FindingFilter) ([]Finding, error)
	// ResolveFindings closes open findings in one transaction and records it
	// in the audit log. When res.Status is StatusApproved, apply is called
	// once per page with its current baseline and its findings, and what it
	// returns becomes the page's new baseline version. When
	// res.Approvals.SecondReviewer says a finding needs a second reviewer,
	// an approval of it without a FirstApproval is recorded as its first and
	// leaves it open; one with a FirstApproval by someone else closes it;
	// one by the same reviewer gives ErrSameReviewer. Unknown ids give
	// ErrNotFound, closed ones ErrNotOpen, and on any error nothing is
	// changed.
	ResolveFindings(ctx context.Context, ids []int64, res Resolution, apply ApplyFunc) error
	// Audit lists the audit log, oldest first.
	Audit(ctx context.Context) ([]AuditEntry, error)
	// AppendAudit records an event that changes nothing else in the store,
	// such as a failed sign-in, in the audit log; a zero e.At means now.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// Screenshot returns the PNG a scan took, or ErrNotFound when the scan
	// does not exist or took none.
	Screenshot(ctx context.Context, scanID int64) ([]byte, error)
	// SaveDelivery records an alert delivery attempt, setting d.ID.
	SaveDelivery(ctx context.Context, d *Delivery) error
	// Deliveries lists recorded deliveries, oldest first.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// SaveUser adds a user with u.Role or, when one of that name exists,
	// replaces its password hash (keeping its role and CreatedAt, which it
	// sets in u) and ends its sessions, and records which in the audit log
	// with by as the actor.
	SaveUser(ctx context.Context, u *User, by string) error
	// SetUserRole gives a user another role, recording it in the audit
	// log with by as the actor; ErrNotFound when there is none of that name.
	SetUserRole(ctx context.Context, name string, role Role, by string) error
	// User returns the user of that name, or ErrNotFound.
	User(ctx context.Context, name string) (*User, error)
	// Users lists the users by name.
	Users(ctx context.Context) ([]User, error)
	// DeleteUser removes a user and ends its sessions, recording it in the
	// audit log with by as the actor; ErrNotFound when there is none of
	// that name.
	DeleteUser(ctx context.Context, name, by string) error
	// SaveSession stores a new session, and removes the sessions that
	// ended (their EndsAt passed) before s.CreatedAt.
	SaveSession(ctx context.Context, s *Session) error
	// TouchSession returns the session of key marked seen at now, or
	// ErrNotFound when there is none or it has ended at now
	// (Session.Ended), and then it is removed. A store that cannot take
	// writes returns the session without marking it seen: a full disk
	// must not sign people out.
	TouchSession(ctx context.Context, key string, now time.Time) (*Session, error)
	// DeleteSession ends the session of key; there being none is no error.
	// (SaveUser with a new password and DeleteUser end the user's sessions
	// themselves.)
	DeleteSession(ctx context.Context, key string) error
	// RecordSignInFailure counts a failed sign-in at `at` under each key
	// (the web interface's: the client's address, and the user name at
	// that address), and forgets every failure counted before forget.
	RecordSignInFailure(ctx context.Context, at, forget time.Time, keys ...string) error
	// SignInFailures returns the failures counted under each of the keys
	// at or after since, oldest first; a key without any has none in the
	// map.
	SignInFailures(ctx context.Context, since time.Time, keys ...string) (map[string][]time.Time, error)
	// ClearSignInFailures forgets the failures counted under key.
	ClearSignInFailures(ctx context.Context, key string) error
	// Health reports whether the store can take writes now: nil, or why
	// not (errors.Is ErrStoreFull, ErrStoreLocked, or another error). It
	// writes nothing, so it is cheap enough for every health check.
	Health(ctx context.Context) error
	Close() error
}
