package web

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// A critical finding is an incident: a skimmer is live on the payment
// page. One change raises several findings at once (the new script, its
// new destination, the card data leaving), and a reviewer must see and
// close them as one.

// byUrgency orders findings for people: most severe first, newest first
// within a severity, then in the reports' order of kinds. Every finding
// list of the interface uses it.
func byUrgency(a, b skimguard.Finding) int {
	return cmp.Or(
		cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
		b.FirstSeen.Compare(a.FirstSeen),
		cmp.Compare(a.Kind.Order(), b.Kind.Order()),
		cmp.Compare(a.ID, b.ID),
	)
}

// groupOf returns the findings one change caused with f: the open
// findings of f's page first seen by the scan that first saw f (a scan's
// findings share its start time as FirstSeen) and those of culprits (the
// findings about the scripts that did it, which an earlier scan may have
// seen first), f included whatever its status, in byUrgency order. open
// are the open findings of f's site.
func groupOf(f skimguard.Finding, open []skimguard.Finding, culprits []int64) []skimguard.Finding {
	out := []skimguard.Finding{f}
	for _, o := range open {
		if o.ID != f.ID && o.Page == f.Page && (o.FirstSeen.Equal(f.FirstSeen) || slices.Contains(culprits, o.ID)) {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, byUrgency)
	return out
}

// isIncident reports whether a group of findings is an incident: one of
// them is critical.
func isIncident(group []skimguard.Finding) bool {
	return slices.ContainsFunc(group, func(f skimguard.Finding) bool { return f.Severity == skimguard.SeverityCritical })
}

// asksConfirmation reports whether approving f asks for a second step: a
// critical or high finding is likelier a skimmer than a release.
func asksConfirmation(f skimguard.Finding) bool {
	return f.Severity.Rank() >= skimguard.SeverityHigh.Rank()
}

// headline says in one sentence what happened, from the incident's most
// urgent finding; sentBy names the code that sent card data, for
// data.exfiltration.
func headline(lead skimguard.Finding, sentBy string) string {
	seen := fmt.Sprintf("first seen %s, last seen %s", formatTime(lead.FirstSeen), formatTime(lead.LastSeen))
	if lead.Kind == skimguard.KindDataExfiltration {
		return fmt.Sprintf("Card data typed into %s/%s was sent to %s by %s, %s.", lead.Site, lead.Page, lead.Subject, sentBy, seen)
	}
	what := strings.TrimSuffix(lead.Kind.Help(), ".")
	if what == "" {
		what = string(lead.Kind)
	}
	return fmt.Sprintf("%s: %s, on %s/%s, %s.", what, lead.Subject, lead.Site, lead.Page, seen)
}

// formatTime is how the interface writes a time; "" for none.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
