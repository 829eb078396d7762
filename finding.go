package skimguard

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Kind is the kind of a finding. The values are part of the JSON report's
// stable contract.
type Kind string

// Finding kinds.
const (
	KindScriptAdded             Kind = "script.added"
	KindScriptChanged           Kind = "script.changed"
	KindScriptRemoved           Kind = "script.removed"
	KindScriptAttributesChanged Kind = "script.attributes_changed"
	KindFrameAdded              Kind = "frame.added"
	KindFrameChanged            Kind = "frame.changed"
	KindFrameRemoved            Kind = "frame.removed"
	KindFormAdded               Kind = "form.added"
	KindFormChanged             Kind = "form.changed"
	KindFormRemoved             Kind = "form.removed"
	KindConnectionAdded         Kind = "connection.added"
	KindHeaderAdded             Kind = "header.added"
	KindHeaderChanged           Kind = "header.changed"
	KindHeaderRemoved           Kind = "header.removed"
	KindPageRedirected          Kind = "page.redirected"
	KindDataExfiltration        Kind = "data.exfiltration"
	KindCardAccessAdded         Kind = "card.access_added"
	KindScanFailed              Kind = "scan.failed"
)

// Kinds lists every finding kind, in the order reports document them.
var Kinds = []Kind{
	KindDataExfiltration, KindCardAccessAdded, KindScriptAdded, KindScriptChanged, KindScriptRemoved,
	KindScriptAttributesChanged, KindFrameAdded, KindFrameChanged, KindFrameRemoved,
	KindFormAdded, KindFormChanged, KindFormRemoved, KindConnectionAdded,
	KindHeaderAdded, KindHeaderChanged, KindHeaderRemoved, KindPageRedirected,
	KindScanFailed,
}

// Help says in a sentence what a finding of kind k means, for people and
// for SARIF rules; "" for kinds not in Kinds.
func (k Kind) Help() string {
	switch k {
	case KindScriptAdded:
		return "A script runs on the payment page that is not in its approved baseline."
	case KindScriptChanged:
		return "The text of an approved script changed."
	case KindScriptRemoved:
		return "An approved script no longer runs on the page."
	case KindScriptAttributesChanged:
		return "A script's integrity or crossorigin attribute changed."
	case KindFrameAdded:
		return "An iframe appeared that is not in the baseline."
	case KindFrameChanged:
		return "An approved iframe changed origin, path or visibility."
	case KindFrameRemoved:
		return "An approved iframe is gone."
	case KindFormAdded:
		return "A form with card-like inputs appeared."
	case KindFormChanged:
		return "A card form's action, method or fields changed."
	case KindFormRemoved:
		return "An approved card form is gone."
	case KindConnectionAdded:
		return "The page sent requests to a destination it never contacted in the baseline."
	case KindHeaderAdded:
		return "A security-impacting response header appeared."
	case KindHeaderChanged:
		return "A security-impacting response header changed."
	case KindHeaderRemoved:
		return "A security-impacting response header was removed."
	case KindPageRedirected:
		return "The payment page ended somewhere else, or through other redirects."
	case KindDataExfiltration:
		return "Test card data typed into the page reached an origin that did not receive it in the baseline."
	case KindCardAccessAdded:
		return "A script can now see card data typed into the page: it listens to a card field's events or reads its value, which it did not in the baseline."
	case KindScanFailed:
		return "The page could not be checked."
	}
	return ""
}

// Order is k's place in Kinds, the order in which reports list findings
// of equal severity; kinds not in Kinds come last.
func (k Kind) Order() int {
	if i := slices.Index(Kinds, k); i >= 0 {
		return i
	}
	return len(Kinds)
}

// Severity ranks findings. The values are part of the JSON report's contract.
type Severity string

// Severities, most severe first.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// Rank orders severities: critical is 4, low is 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 4
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	}
	return 0
}

// ParseSeverity parses a severity name.
func ParseSeverity(s string) (Severity, error) {
	if Severity(s).Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q: use critical, high, medium or low", s)
	}
	return Severity(s), nil
}

// FindingStatus is where a finding stands in review.
type FindingStatus string

// Finding statuses.
const (
	StatusOpen     FindingStatus = "open"
	StatusApproved FindingStatus = "approved"
	StatusRejected FindingStatus = "rejected"
)

// Finding is one difference between an observation and the approved
// baseline of its page, with why it matters.
type Finding struct {
	ID       int64    `json:"id"`
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	Site     string   `json:"site"`
	Page     string   `json:"page"`
	// Subject names the thing: a script's URL or "inline #N (location)", a
	// destination origin, a header name, a form's action.
	Subject string `json:"subject"`
	// Detail says, for a person, why the finding was raised.
	Detail   string   `json:"detail"`
	Evidence Evidence `json:"evidence"`
	// Item is the baseline item the finding is about: for additions and
	// changes the observed item as approval would add it to the baseline, for
	// removals the baseline item that went missing.
	Item Item `json:"-"`
	// Fingerprint identifies the change itself, so that a change seen by
	// several scans stays one finding while it is open.
	Fingerprint string        `json:"-"`
	Status      FindingStatus `json:"-"`
	ScanID      int64         `json:"-"`
	FirstSeen   time.Time     `json:"-"`
	LastSeen    time.Time     `json:"-"`
	ResolvedBy  string        `json:"-"`
	Resolution  string        `json:"-"`
	ResolvedAt  time.Time     `json:"-"`
	// FirstApproval is, under the two-person rule, the approval that waits
	// for a second reviewer while the finding is open, and that the second
	// confirmed once it is approved; nil when there was none.
	FirstApproval *Approval `json:"-"`
}

// Evidence is what a finding rests on. Card data in it is always masked.
type Evidence struct {
	// Before and After are the baseline's and the observation's values: a
	// hash, a URL, a header value, a form's action and fields.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// BeforeSource and AfterSource are a changed script's two texts, so that a
	// diff can be shown.
	BeforeSource string `json:"before_source,omitempty"`
	AfterSource  string `json:"after_source,omitempty"`
	// URL is the request or resource concerned.
	URL string `json:"url,omitempty"`
	// Initiator is the script that sent the request; LoadedBy is what
	// brought a script into the page.
	Initiator string `json:"initiator,omitempty"`
	LoadedBy  string `json:"loaded_by,omitempty"`
	// CallChain is every script on the call chain of the request, sender
	// first, as "URL:line" joined by " < ", when there were several:
	// Initiator is the one skimguard.Culprit picks.
	CallChain string `json:"call_chain,omitempty"`
	// Source says who saw the change: empty for skimguard's own checks,
	// SourceShoppers for shoppers' browsers reporting under the page's
	// policy. Reports is then how many reports had come in when the
	// finding was opened, and FirstReported when the first came.
	Source        string    `json:"source,omitempty"`
	Reports       int64     `json:"reports,omitempty"`
	FirstReported time.Time `json:"first_reported,omitzero"`
}

// Baseline is one approved version of what a page is expected to show.
type Baseline struct {
	ID      int64  `json:"id"`
	Site    string `json:"site"`
	Page    string `json:"page"`
	URL     string `json:"url"`
	Version int    `json:"version"`
	// Samples is how many page loads the baseline was learnt from.
	Samples    int       `json:"samples"`
	CreatedAt  time.Time `json:"created_at"`
	ApprovedBy string    `json:"approved_by"`
	Reason     string    `json:"reason"`
	Items      []Item    `json:"items"`
}

// ScanStatus is the outcome of one scan.
type ScanStatus string

// Scan statuses.
const (
	// ScanOK: the page matched its baseline.
	ScanOK ScanStatus = "ok"
	// ScanFindings: the page differed from its baseline.
	ScanFindings ScanStatus = "findings"
	// ScanFailed: the page could not be checked.
	ScanFailed ScanStatus = "failed"
	// ScanObserved: the page was observed without comparison (scan, or a
	// baseline sample).
	ScanObserved ScanStatus = "observed"
	// ScanStopped: the check was stopped before it completed (shutdown,
	// Ctrl-C). It says nothing about the page: it is neither a check nor a
	// failure.
	ScanStopped ScanStatus = "stopped"
)

// Completed reports whether a scan with this status observed the page: ok,
// findings or observed, not failed or stopped.
func (s ScanStatus) Completed() bool {
	return s == ScanOK || s == ScanFindings || s == ScanObserved
}

// Scan is one load of a page and, when compared, its findings.
type Scan struct {
	ID        int64         `json:"id"`
	Site      string        `json:"site"`
	Page      string        `json:"page"`
	URL       string        `json:"url"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration"`
	Status    ScanStatus    `json:"status"`
	Error     string        `json:"error,omitempty"`
	// BaselineVersion is the version compared with, 0 when none.
	BaselineVersion int          `json:"baseline_version,omitempty"`
	Observation     *Observation `json:"observation,omitempty"`
	Findings        []Finding    `json:"findings,omitempty"`
}

// ByPage groups findings by page, the pages in site then page order and
// each page's findings in their order in fs: one new baseline version is
// made per group when they are approved.
func ByPage(fs []Finding) [][]Finding {
	var groups [][]Finding
	at := map[[2]string]int{}
	for _, f := range fs {
		k := [2]string{f.Site, f.Page}
		i, ok := at[k]
		if !ok {
			i = len(groups)
			at[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], f)
	}
	slices.SortFunc(groups, func(a, b []Finding) int {
		return cmp.Or(cmp.Compare(a[0].Site, b[0].Site), cmp.Compare(a[0].Page, b[0].Page))
	})
	return groups
}
