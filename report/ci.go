package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// Formats lists the report formats Write knows.
var Formats = []string{"text", "json", "sarif", "junit", "github", "markdown"}

// Write renders r in the named format.
func Write(w io.Writer, format string, r skimguard.CheckResult) error {
	switch format {
	case "text":
		return Text(w, r)
	case "json":
		return JSON(w, r)
	case "sarif":
		return SARIF(w, r)
	case "junit":
		return JUnit(w, r)
	case "github":
		return GitHub(w, r)
	case "markdown":
		return Markdown(w, r)
	}
	return fmt.Errorf("unknown report format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// sarifLevel maps a severity to SARIF's levels.
func sarifLevel(s skimguard.Severity) string {
	switch s {
	case skimguard.SeverityCritical, skimguard.SeverityHigh:
		return "error"
	case skimguard.SeverityMedium:
		return "warning"
	}
	return "note"
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifLocation struct {
	ID               int        `json:"id,omitempty"`
	PhysicalLocation sarifPhys  `json:"physicalLocation"`
	Message          *sarifText `json:"message,omitempty"`
}

type sarifPhys struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
}

func location(uri string, id int, msg string) sarifLocation {
	l := sarifLocation{ID: id}
	l.PhysicalLocation.ArtifactLocation.URI = uri
	if msg != "" {
		l.Message = &sarifText{msg}
	}
	return l
}

// SARIF writes r as a SARIF 2.1.0 log: one rule per finding kind, each
// finding a result located at its page URL, with the script or
// destination as a related location.
func SARIF(w io.Writer, r skimguard.CheckResult) error {
	type rule struct {
		ID                   string    `json:"id"`
		Name                 string    `json:"name"`
		ShortDescription     sarifText `json:"shortDescription"`
		FullDescription      sarifText `json:"fullDescription"`
		DefaultConfiguration struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
	}
	type result struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
		PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
		Properties          map[string]any    `json:"properties"`
	}
	var rules []rule
	for _, k := range skimguard.Kinds {
		ru := rule{ID: string(k), Name: ruleName(k), ShortDescription: sarifText{string(k)}, FullDescription: sarifText{k.Help()}}
		ru.DefaultConfiguration.Level = "error"
		rules = append(rules, ru)
	}
	pageURL := map[[2]string]string{}
	for _, p := range r.Pages {
		pageURL[[2]string{p.Page.Site, p.Page.Name}] = p.Page.URL
	}
	results := []result{}
	for _, f := range Sorted(r.Findings()) {
		uri := pageURL[[2]string{f.Site, f.Page}]
		if uri == "" {
			uri = f.Subject
		}
		res := result{
			RuleID: string(f.Kind), RuleIndex: slices.Index(skimguard.Kinds, f.Kind), Level: sarifLevel(f.Severity),
			Message:    sarifText{fmt.Sprintf("%s/%s: %s: %s", f.Site, f.Page, f.Subject, f.Detail)},
			Locations:  []sarifLocation{location(uri, 0, "the payment page")},
			Properties: map[string]any{"severity": string(f.Severity), "site": f.Site, "page": f.Page, "subject": f.Subject, "findingId": f.ID},
		}
		if strings.Contains(f.Subject, "://") && f.Subject != uri {
			res.RelatedLocations = []sarifLocation{location(f.Subject, 1, string(f.Kind))}
		}
		if f.Fingerprint != "" {
			res.PartialFingerprints = map[string]string{"skimguardFinding/v1": f.Fingerprint}
		}
		results = append(results, res)
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "skimguard", "informationUri": "https://github.com/skimguard/skimguard", "rules": rules,
			}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// ruleName makes a SARIF rule name from a kind: "script.added" → "ScriptAdded".
func ruleName(k skimguard.Kind) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(string(k), func(r rune) bool { return r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// JUnit writes r as JUnit XML: one test suite per site, one test case per
// page, a failure per finding and an error when the page could not be checked.
func JUnit(w io.Writer, r skimguard.CheckResult) error {
	type failure struct {
		Type    string `xml:"type,attr"`
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string    `xml:"name,attr"`
		Classname string    `xml:"classname,attr"`
		Failures  []failure `xml:"failure"`
		Error     *failure  `xml:"error,omitempty"`
	}
	type testsuite struct {
		Name      string     `xml:"name,attr"`
		Tests     int        `xml:"tests,attr"`
		Failures  int        `xml:"failures,attr"`
		Errors    int        `xml:"errors,attr"`
		Testcases []testcase `xml:"testcase"`
	}
	type testsuites struct {
		XMLName  xml.Name    `xml:"testsuites"`
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Suites   []testsuite `xml:"testsuite"`
	}
	out := testsuites{Name: "skimguard"}
	suiteOf := map[string]int{}
	for _, p := range r.Pages {
		site := p.Page.Site
		i, ok := suiteOf[site]
		if !ok {
			i = len(out.Suites)
			suiteOf[site] = i
			out.Suites = append(out.Suites, testsuite{Name: site})
		}
		tc := testcase{Name: p.Page.Name + " " + p.Page.URL, Classname: site}
		for _, f := range Sorted(p.Findings) {
			if f.Kind == skimguard.KindScanFailed {
				continue
			}
			tc.Failures = append(tc.Failures, failure{Type: string(f.Kind),
				Message: fmt.Sprintf("[%s] %s %s", f.Severity, f.Kind, f.Subject), Text: f.Detail})
		}
		s := &out.Suites[i]
		s.Tests++
		out.Tests++
		if p.Status == skimguard.CheckFailed {
			tc.Error = &failure{Type: string(skimguard.KindScanFailed), Message: "could not check", Text: p.Error}
			s.Errors++
			out.Errors++
		} else if len(tc.Failures) > 0 {
			s.Failures++
			out.Failures++
		}
		s.Testcases = append(s.Testcases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// GitHub writes r as GitHub Actions workflow commands, one annotation per
// finding (error for critical and high, warning for medium, notice for low).
func GitHub(w io.Writer, r skimguard.CheckResult) error {
	tw := &errWriter{w: w}
	for _, f := range Sorted(r.Findings()) {
		level := map[string]string{"error": "error", "warning": "warning", "note": "notice"}[sarifLevel(f.Severity)]
		title := fmt.Sprintf("skimguard %s (%s) on %s/%s", f.Kind, f.Severity, f.Site, f.Page)
		tw.printf("::%s title=%s::%s\n", level, ghProperty(title), ghData(f.Subject+": "+f.Detail))
	}
	for _, p := range r.Pages {
		if p.Status == skimguard.CheckFailed && !slices.ContainsFunc(p.Findings, func(f skimguard.Finding) bool {
			return f.Kind == skimguard.KindScanFailed
		}) {
			tw.printf("::error title=%s::%s\n", ghProperty("skimguard could not check "+p.Page.Site+"/"+p.Page.Name), ghData(p.Error))
		}
	}
	tw.printf("%s\n", Summary(r))
	return tw.err
}

// ghData escapes a workflow command's message; ghProperty also escapes the
// characters that separate properties.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer(":", "%3A", ",", "%2C").Replace(ghData(s))
}

// Markdown writes r as a summary for a pull-request comment.
func Markdown(w io.Writer, r skimguard.CheckResult) error {
	tw := &errWriter{w: w}
	tw.printf("## skimguard: %s\n\n", Summary(r))
	tw.printf("| page | status | findings |\n|---|---|---|\n")
	for _, p := range r.Pages {
		status := string(p.Status)
		if p.Status == skimguard.CheckFailed {
			status = "could not check: " + mdCell(p.Error)
		}
		tw.printf("| %s/%s `%s` | %s | %d |\n", mdCell(p.Page.Site), mdCell(p.Page.Name), mdCell(p.Page.URL), status, len(p.Findings))
	}
	fs := Sorted(r.Findings())
	if len(fs) > 0 {
		tw.printf("\n| severity | kind | page | subject | why |\n|---|---|---|---|---|\n")
		for _, f := range fs {
			tw.printf("| %s | `%s` | %s/%s | `%s` | %s |\n", f.Severity, f.Kind, mdCell(f.Site), mdCell(f.Page), mdCell(f.Subject), mdCell(f.Detail))
		}
	}
	return tw.err
}

// mdCell keeps a value inside one table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "`", "'").Replace(s)
}
