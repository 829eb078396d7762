// Package report renders the result of a check (skimguard.CheckResult):
// text for people, JSON and other formats for CI tools. The JSON shape is a
// stable contract (version 1).
package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// page is a page of the JSON report.
type page struct {
	Site     string `json:"site"`
	Page     string `json:"page"`
	URL      string `json:"url"`
	FinalURL string `json:"final_url"`
	// Status is the page's skimguard.CheckStatus, "ok", "findings" or
	// "failed"; renaming one breaks the contract.
	Status string `json:"status"`
	Error  string `json:"error"`
	// StoreError, when set, says why the scan could not be stored: the
	// findings are then in this report only.
	StoreError string `json:"store_error,omitempty"`
}

// JSON writes r as {"version":1,"pages":[...],"findings":[...]}.
func JSON(w io.Writer, r skimguard.CheckResult) error {
	out := struct {
		Version int    `json:"version"`
		Pages   []page `json:"pages"`
		// skimguard.Finding's JSON is the contract's finding: id, kind,
		// severity, site, page, subject, detail, evidence.
		Findings []skimguard.Finding `json:"findings"`
	}{Version: 1, Pages: []page{}, Findings: Sorted(r.Findings())}
	for _, p := range r.Pages {
		out.Pages = append(out.Pages, page{Site: p.Page.Site, Page: p.Page.Name, URL: p.Page.URL,
			FinalURL: p.FinalURL, Status: string(p.Status), Error: p.Error, StoreError: p.StoreError})
	}
	if out.Findings == nil {
		out.Findings = []skimguard.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Sorted returns the findings most severe first, then by page and kind.
func Sorted(fs []skimguard.Finding) []skimguard.Finding {
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b skimguard.Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
			cmp.Compare(a.Site, b.Site),
			cmp.Compare(a.Page, b.Page),
			cmp.Compare(a.Kind.Order(), b.Kind.Order()),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return fs
}

// Text writes r for people: grouped by page, most severe first, each finding
// with why it was raised.
func Text(w io.Writer, r skimguard.CheckResult) error {
	tw := &errWriter{w: w}
	for _, p := range r.Pages {
		fs := Sorted(p.Findings)
		tw.printf("%s/%s  %s\n", p.Page.Site, p.Page.Name, p.Page.URL)
		if p.FinalURL != "" && p.FinalURL != p.Page.URL {
			tw.printf("  ended at %s\n", p.FinalURL)
		}
		switch p.Status {
		case skimguard.CheckFailed:
			tw.printf("  COULD NOT CHECK: %s\n", p.Error)
		case skimguard.CheckOK:
			tw.printf("  ok: matches its approved baseline\n")
		default:
			tw.printf("  %s\n", countLine(fs))
		}
		if p.StoreError != "" {
			tw.printf("  NOT STORED, this report is its only record: %s\n", p.StoreError)
		}
		for _, f := range fs {
			Finding(tw, f)
		}
		tw.printf("\n")
	}
	tw.printf("%s\n", Summary(r))
	return tw.err
}

// Finding writes one finding as a few indented lines.
func Finding(w io.Writer, f skimguard.Finding) {
	tw, ok := w.(*errWriter)
	if !ok {
		tw = &errWriter{w: w}
	}
	id := ""
	if f.ID != 0 {
		id = fmt.Sprintf("#%d ", f.ID)
	}
	tw.printf("  [%s] %s%s  %s\n", strings.ToUpper(string(f.Severity)), id, f.Kind, f.Subject)
	tw.printf("      why: %s\n", f.Detail)
	e := f.Evidence
	if e.Before != "" || e.After != "" {
		tw.printf("      was: %s\n      now: %s\n", cmp.Or(e.Before, "(none)"), cmp.Or(e.After, "(none)"))
	}
	if e.URL != "" {
		tw.printf("      request: %s\n", e.URL)
	}
	if e.Initiator != "" {
		tw.printf("      sent by: %s\n", e.Initiator)
	}
	if e.CallChain != "" {
		tw.printf("      call chain: %s\n", e.CallChain)
	}
	if e.LoadedBy != "" {
		tw.printf("      loaded by: %s\n", e.LoadedBy)
	}
}

// Summary is the one-line verdict of a check.
func Summary(r skimguard.CheckResult) string {
	s := fmt.Sprintf("%d page(s) checked: %s", len(r.Pages), countLine(r.Findings()))
	if failed := r.Failed(); failed > 0 {
		s += fmt.Sprintf("; %d could not be checked", failed)
	}
	if n := r.NotStored(); n > 0 {
		s += fmt.Sprintf("; %d not stored", n)
	}
	return s
}

func countLine(fs []skimguard.Finding) string {
	if len(fs) == 0 {
		return "no findings"
	}
	n := map[skimguard.Severity]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	var parts []string
	for _, s := range []skimguard.Severity{skimguard.SeverityCritical, skimguard.SeverityHigh, skimguard.SeverityMedium, skimguard.SeverityLow} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return fmt.Sprintf("%d finding(s) (%s)", len(fs), strings.Join(parts, ", "))
}

// errWriter keeps the first write error so the printing code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
