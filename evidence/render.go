package evidence

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

// Formats lists the formats Write knows.
var Formats = []string{"html", "csv", "json"}

// Write renders r in the named format.
func Write(w io.Writer, format string, r *Report) error {
	switch format {
	case "html":
		return r.HTML(w)
	case "csv":
		return r.CSV(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("unknown report format %q: use html, csv or json", format)
}

func ids(v []int64) string {
	var b strings.Builder
	for i, id := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// span is an interval for people: both ends and its length in days.
func span(g Gap) string {
	return fmt.Sprintf("%s to %s (%.1f days)", day(g.From), day(g.To), g.Days())
}

func dayPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return day(*t)
}

// csvWriter writes CSV whose cells a spreadsheet shows as text. Script
// URLs, subjects and details come from hostile pages, and a cell that
// starts with =, +, -, @, a tab or a carriage return would be run as a
// formula (CSV injection): such a cell gets a leading "'", as OWASP
// advises. Every CSV skimguard writes goes through it.
type csvWriter struct{ w *csv.Writer }

func newCSV(w io.Writer) *csvWriter { return &csvWriter{csv.NewWriter(w)} }

// write writes one record; errors stick and flush returns them.
func (c *csvWriter) write(rec ...string) {
	safe := make([]string, len(rec))
	for i, cell := range rec {
		safe[i] = inertCell(cell)
	}
	c.w.Write(safe)
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// inertCell is cell with a leading "'" when a spreadsheet would take it
// for a formula.
func inertCell(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// CSV writes the report as sections, each with its own header row, separated
// by an empty record: inventory, coverage, scans, changes, alerts,
// decisions.
func (r *Report) CSV(w io.Writer) error {
	cw := newCSV(w)
	write := cw.write
	write("# skimguard evidence", "from", day(r.From), "to", day(r.To), "generated", day(r.Generated))
	write()
	write(append([]string{"section"}, inventoryHeader...)...)
	for _, s := range r.Inventory {
		write(append([]string{"inventory"}, s.record()...)...)
	}
	write()
	write("section", "site", "page", "scans", "failed", "checked_weekly", "gaps", "not_yet_monitored")
	for _, c := range r.Coverage {
		gaps := ""
		for i, g := range c.Gaps {
			if i > 0 {
				gaps += "; "
			}
			gaps += span(g)
		}
		notYet := ""
		if c.NotYetMonitored != nil {
			notYet = span(*c.NotYetMonitored)
		}
		write("coverage", c.Site, c.Page, strconv.Itoa(c.Scans), strconv.Itoa(c.Failed), strconv.FormatBool(c.Weekly), gaps, notYet)
	}
	write()
	write("section", "scan_id", "site", "page", "url", "started_at", "duration_ms", "result", "error", "baseline_version")
	for _, s := range r.Scans {
		write("scan", strconv.FormatInt(s.ID, 10), s.Site, s.Page, s.URL, day(s.StartedAt), strconv.FormatInt(s.Duration.Milliseconds(), 10),
			string(s.Status), s.Error, strconv.Itoa(s.BaselineVersion))
	}
	write()
	write("section", "finding_id", "site", "page", "kind", "severity", "subject", "detail", "first_seen", "last_seen", "status", "resolved_by", "resolution", "resolved_at")
	for _, c := range r.Changes {
		write("change", strconv.FormatInt(c.ID, 10), c.Site, c.Page, c.Kind, c.Severity, c.Subject, c.Detail, day(c.FirstSeen), day(c.LastSeen),
			c.Status, c.ResolvedBy, c.Resolution, dayPtr(c.ResolvedAt))
	}
	write()
	write("section", "at", "sink", "site", "page", "scan_id", "findings", "delivered", "error")
	for _, d := range r.Alerts {
		write("alert", day(d.At), d.Sink, d.Site, d.Page, strconv.FormatInt(d.ScanID, 10), ids(d.Findings), strconv.FormatBool(d.OK), d.Error)
	}
	write()
	write("section", "at", "actor", "action", "site", "page", "reason", "detail")
	for _, a := range r.Decisions {
		write("decision", day(a.At), a.Actor, a.Action, a.Site, a.Page, a.Reason, a.Detail)
	}
	return cw.flush()
}

var inventoryHeader = []string{"site", "page", "script", "identity", "kind", "origin", "sha256", "matched_by", "optional", "first_seen",
	"last_verified", "justification", "approved_by", "approved_at", "baseline_version", "card_access"}

func (s Script) record() []string {
	return []string{s.Site, s.Page, s.Script, s.Identity, s.Kind, s.Origin, s.SHA256, s.MatchedBy, strconv.FormatBool(s.Optional), day(s.FirstSeen),
		dayPtr(s.LastVerified), s.Justification, s.ApprovedBy, day(s.ApprovedAt), strconv.Itoa(s.BaselineVersion), s.CardAccess}
}

// InventoryCSV writes a PCI DSS 6.4.3 script inventory alone, as one
// table with a header row, for spreadsheets.
func InventoryCSV(w io.Writer, inv []Script) error {
	cw := newCSV(w)
	cw.write(inventoryHeader...)
	for _, s := range inv {
		cw.write(s.record()...)
	}
	return cw.flush()
}

// HTML writes the report as one self-contained page: no scripts, no
// external resources (screenshots are embedded as data: URIs), and a print
// style so it saves well as PDF.
func (r *Report) HTML(w io.Writer) error {
	return htmlTmpl.Execute(w, r)
}

var htmlTmpl = template.Must(template.New("evidence").Funcs(template.FuncMap{
	"day": day, "dayPtr": dayPtr, "ids": ids,
	// A data: URI keeps the report one file.
	"png": func(b []byte) template.URL {
		return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	},
	"ms":   func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) },
	"span": span,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>skimguard evidence {{day .From}} – {{day .To}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #bbb;padding:.25em .4em;text-align:left;vertical-align:top;font-size:12px}
th{background:#eee}td.mono{font-family:ui-monospace,monospace;word-break:break-all}
.bad{color:#a00;font-weight:bold}.ok{color:#060}
p.note{color:#444}
@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}
</style></head><body>
<h1>Payment page script integrity: evidence for PCI DSS 6.4.3 and 11.6.1</h1>
<p>Period: {{day .From}} to {{day .To}}. Generated {{day .Generated}} by skimguard.</p>

<h2>11.6.1: pages checked at least weekly</h2>
<p class="note">A page is counted from when it was first monitored (its first scan or first baseline): the time before that is shown as not yet monitored, not as a gap.</p>
<table><tr><th>page</th><th>scans</th><th>failed</th><th>checked weekly</th><th>gaps longer than 7 days</th><th>not yet monitored</th></tr>
{{range .Coverage}}<tr><td>{{.Site}}/{{.Page}}</td><td>{{.Scans}}</td><td>{{.Failed}}</td>
<td>{{if .Weekly}}<span class="ok">yes</span>{{else}}<span class="bad">no</span>{{end}}</td>
<td>{{range .Gaps}}{{span .}}<br>{{end}}</td><td>{{with .NotYetMonitored}}{{span .}}{{end}}</td></tr>
{{end}}</table>

<h2>The payment pages as the scanner's browser saw them</h2>
{{range .Coverage}}{{if .Screenshot}}<figure><img alt="{{.Site}}/{{.Page}}" src="{{png .Screenshot}}" style="max-width:100%;border:1px solid #bbb">
<figcaption>{{.Site}}/{{.Page}}, newest completed scan of the period, {{dayPtr .ScreenshotAt}}</figcaption></figure>
{{else}}<p>{{.Site}}/{{.Page}}: no screenshot in the period.</p>{{end}}{{end}}

<h2>6.4.3: script inventory, with justification and approval</h2>
<p class="note">Each script is named as checks recognise it from load to load: parts of its address that change per load or per build are shown as *. A script matched by structure has text that varies per load (tokens, timestamps, build stamps); its SHA-256 is that of one approved load.</p>
<table><tr><th>page</th><th>script</th><th>kind</th><th>origin</th><th>SHA-256</th><th>first seen</th><th>last verified</th><th>justification</th><th>approved by</th><th>approved</th></tr>
{{range .Inventory}}<tr><td>{{.Site}}/{{.Page}}</td><td class="mono">{{.Identity}}{{if .Optional}} (not on every load){{end}}{{with .CardAccess}}<br><em>sees the card: {{.}}</em>{{end}}</td><td>{{.Kind}}</td>
<td class="mono">{{.Origin}}</td><td class="mono">{{with .Matched}}<em>{{.}}</em><br>{{end}}{{.SHA256}}</td><td>{{day .FirstSeen}}</td><td>{{dayPtr .LastVerified}}</td>
<td>{{.Justification}}</td><td>{{.ApprovedBy}}</td><td>{{day .ApprovedAt}}</td></tr>
{{else}}<tr><td colspan="10">No approved baselines.</td></tr>{{end}}</table>

<h2>11.6.1: changes detected</h2>
<table><tr><th>#</th><th>first seen</th><th>page</th><th>severity</th><th>kind</th><th>subject</th><th>why</th><th>decision</th></tr>
{{range .Changes}}<tr><td>{{.ID}}</td><td>{{day .FirstSeen}}</td><td>{{.Site}}/{{.Page}}</td><td>{{.Severity}}</td><td>{{.Kind}}</td>
<td class="mono">{{.Subject}}</td><td>{{.Detail}}</td><td>{{.Status}}{{if .ResolvedBy}} by {{.ResolvedBy}} {{dayPtr .ResolvedAt}}: {{.Resolution}}{{end}}</td></tr>
{{else}}<tr><td colspan="8">No changes detected in the period.</td></tr>{{end}}</table>

<h2>11.6.1: alerts sent to people and machines</h2>
<table><tr><th>at</th><th>to</th><th>page</th><th>findings</th><th>delivered</th><th>error</th></tr>
{{range .Alerts}}<tr><td>{{day .At}}</td><td class="mono">{{.Sink}}</td><td>{{.Site}}/{{.Page}}</td><td>{{ids .Findings}}</td>
<td>{{if .OK}}<span class="ok">yes</span>{{else}}<span class="bad">no</span>{{end}}</td><td>{{.Error}}</td></tr>
{{else}}<tr><td colspan="6">No alerts in the period.</td></tr>{{end}}</table>

<h2>Decisions (append-only audit log)</h2>
<table><tr><th>at</th><th>who</th><th>action</th><th>page</th><th>reason</th><th>detail</th></tr>
{{range .Decisions}}<tr><td>{{day .At}}</td><td>{{.Actor}}</td><td>{{.Action}}</td><td>{{.Site}}/{{.Page}}</td><td>{{.Reason}}</td><td>{{.Detail}}</td></tr>
{{else}}<tr><td colspan="6">No decisions in the period.</td></tr>{{end}}</table>

<h2>Every scan</h2>
<table><tr><th>#</th><th>started</th><th>page</th><th>result</th><th>ms</th><th>baseline</th><th>error</th></tr>
{{range .Scans}}<tr><td>{{.ID}}</td><td>{{day .StartedAt}}</td><td>{{.Site}}/{{.Page}}</td>
<td>{{if eq (print .Status) "failed"}}<span class="bad">failed</span>{{else}}{{.Status}}{{end}}</td><td>{{ms .Duration}}</td><td>{{.BaselineVersion}}</td><td>{{.Error}}</td></tr>
{{else}}<tr><td colspan="7">No scans in the period.</td></tr>{{end}}</table>
</body></html>
`))
