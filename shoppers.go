package skimguard

import (
	"context"
	"time"
)

// What shoppers' browsers report. A payment page that carries the policy
// `skimguard csp` prints makes every shopper's browser report to
// skimguard's collector the SHA-256 of each script it loads and what the
// policy blocked (or would have): the page as real shoppers get it, which
// a crawler may never be served.

// ReportType is what a shopper's browser reported.
type ReportType string

// Report types, named as the Reporting API names them.
const (
	// ReportScriptHash: the SHA-256 of a script the browser loaded into
	// the page (the policy's 'report-sha256').
	ReportScriptHash ReportType = "csp-hash"
	// ReportViolation: something the policy blocked, or would have under
	// Report-Only; the legacy application/csp-report reports are these
	// too.
	ReportViolation ReportType = "csp-violation"
	// ReportIntegrity: a script loaded without an integrity attribute
	// (Integrity-Policy).
	ReportIntegrity ReportType = "integrity-violation"
)

// ReportVerdict is what the page's approved baseline made of an aggregate
// of reports when it was first reported.
type ReportVerdict string

// Report verdicts.
const (
	// VerdictApproved: the baseline has it: an approved script text, or
	// a destination the page contacts (blocked by a policy older than
	// the baseline: print the policy again).
	VerdictApproved ReportVerdict = "approved"
	// VerdictFinding: it opened a finding, or joined one still open.
	VerdictFinding ReportVerdict = "finding"
	// VerdictVolatile: a hash of a script whose text varies per load,
	// which the baseline recognises by structure: no hash can judge it,
	// so it is information, never a finding.
	VerdictVolatile ReportVerdict = "volatile"
	// VerdictInformation: reported for people to read, never a finding:
	// scripts without integrity attributes, inline code or eval blocked.
	VerdictInformation ReportVerdict = "information"
	// VerdictUnjudged: the page had no approved baseline to judge it by.
	VerdictUnjudged ReportVerdict = "unjudged"
)

// SourceShoppers is Evidence.Source of a finding that shoppers' browsers
// reported rather than a check observed.
const SourceShoppers = "shoppers"

// ShopperReport is what shoppers' browsers reported about one thing on one
// page: reports are aggregated, one per page, type, subject, hash and
// directive, and none holds a shopper's address or the page's full URL.
type ShopperReport struct {
	ID   int64      `json:"id"`
	Site string     `json:"site"`
	Page string     `json:"page"`
	Type ReportType `json:"type"`
	// Subject is the script's URL (csp-hash, integrity-violation), or what
	// was blocked (csp-violation): a destination's origin, or a keyword
	// such as "inline" or "eval".
	Subject string `json:"subject"`
	// Hash is a script's SHA-256 as baseline items hold it,
	// "sha256:<hex>" (csp-hash only).
	Hash string `json:"hash,omitempty"`
	// Directive is the directive violated (csp-violation only).
	Directive string    `json:"directive,omitempty"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// UserAgents are a few of the browsers that sent it, at most
	// MaxUserAgents.
	UserAgents []string `json:"user_agents"`
	// Verdict is what the baseline made of it when it was first reported
	// ("" until judged), and FindingID the finding it opened or joined.
	Verdict   ReportVerdict `json:"verdict,omitempty"`
	FindingID int64         `json:"finding_id,omitempty"`
}

// Bounds on what the report store keeps, whatever browsers send.
const (
	// MaxUserAgents is how many distinct user agents an aggregate keeps.
	MaxUserAgents = 3
	// MaxReportAggregates is how many aggregates one page keeps: reports
	// that would make more are dropped, so that forged reports cannot
	// fill the store.
	MaxReportAggregates = 1000
)

// ReportFilter selects aggregates; zero fields select everything.
type ReportFilter struct {
	Site, Page string
}

// ReportStore keeps what shoppers' browsers report and the tokens that
// let them: the SQLite and the PostgreSQL stores both do.
type ReportStore interface {
	// AddReports adds each report's Count to its aggregate (same site,
	// page, type, subject, hash and directive), made with the report's
	// FirstSeen when new; LastSeen moves on and the first MaxUserAgents
	// distinct user agents are kept. It returns the aggregates of rs that
	// are new or not judged yet, with their IDs, for the caller to judge.
	// Reports that would take a page past MaxReportAggregates are dropped
	// and counted in dropped.
	AddReports(ctx context.Context, rs []ShopperReport) (unjudged []ShopperReport, dropped int, err error)
	// JudgeReport records an aggregate's verdict and the finding it
	// opened or joined (0 for none).
	JudgeReport(ctx context.Context, id int64, v ReportVerdict, findingID int64) error
	// Reports lists aggregates, most recently reported first.
	Reports(ctx context.Context, f ReportFilter) ([]ShopperReport, error)
	// PruneReports removes the aggregates last reported before t and
	// returns how many it removed.
	PruneReports(ctx context.Context, before time.Time) (int64, error)
	// SaveReportedFindings stores findings that shoppers' browsers
	// reported on a page, without a scan (their ScanID stays 0): as in
	// SaveScan, a finding whose Fingerprint matches one still open on the
	// page takes its ID and FirstSeen and moves its LastSeen on to at;
	// others are opened. It sets each finding's ID, Status, FirstSeen
	// and LastSeen.
	SaveReportedFindings(ctx context.Context, p Page, fs []Finding, at time.Time) error
	// SetReportToken stores the hash of the site's report token, replacing
	// any, and records it in the audit log with by as the actor.
	SetReportToken(ctx context.Context, site, hash, by string) error
	// ReportToken returns the hash of the site's report token, or an
	// error wrapping ErrNotFound when it has none.
	ReportToken(ctx context.Context, site string) (hash string, err error)
}
