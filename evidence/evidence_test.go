package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// onePixelPNG is a valid 1x1 PNG.
var onePixelPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAHnOfVwAAAABJRU5ErkJggg==")

// fixture stores a month of history: a baseline approved on day 0, daily
// scans of the checkout for 10 days then none until day 20 (a gap), a
// failed scan on day 15, and a change found on day 5 and rejected.
func fixture(t *testing.T) (skimguard.Store, []skimguard.Page) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := &skimguard.Baseline{Site: "shop", Page: "checkout", URL: "https://shop.test/checkout", Samples: 3, CreatedAt: t0,
		ApprovedBy: "alice", Reason: "onboarding",
		Items: []skimguard.Item{
			{Type: skimguard.ItemScript, Key: "app", Subject: "https://shop.test/app.js", Origin: "https://shop.test", Values: []string{"sha256:aa"},
				SHA256: "aa", Attrs: map[string]string{"kind": "external"}, FirstSeen: t0, ApprovedBy: "alice", Reason: "storefront code, ticket 1", ApprovedAt: t0},
			{Type: skimguard.ItemScript, Key: "ab", Subject: "https://shop.test/ab-b.js", Origin: "https://shop.test", Values: []string{"sha256:bb"},
				SHA256: "bb", Optional: true, FirstSeen: t0, ApprovedBy: "alice", Reason: "A/B test", ApprovedAt: t0},
			{Type: skimguard.ItemConnection, Key: "https://shop.test", Values: []string{"https://shop.test"}, FirstSeen: t0, ApprovedAt: t0},
		}}
	if err := db.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	save := func(day int, status skimguard.ScanStatus, fs ...skimguard.Finding) {
		s := &skimguard.Scan{Site: "shop", Page: "checkout", URL: b.URL, StartedAt: t0.Add(time.Duration(day)*24*time.Hour + time.Hour),
			Duration: 4 * time.Second, Status: status, BaselineVersion: 1, Findings: fs}
		if status == skimguard.ScanFailed {
			s.Error = "net::ERR_CONNECTION_REFUSED"
		}
		if err := db.SaveScan(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for d := 0; d < 10; d++ {
		if d == 5 {
			save(d, skimguard.ScanFindings, skimguard.Finding{Kind: skimguard.KindScriptAdded, Severity: skimguard.SeverityHigh, Site: "shop", Page: "checkout",
				Subject: "https://jquery-cdn.pw/x.js", Detail: "not in the baseline", Fingerprint: "f1"})
			continue
		}
		save(d, skimguard.ScanOK)
	}
	save(15, skimguard.ScanFailed)
	save(20, skimguard.ScanOK)
	// The last completed scan took a screenshot (a 1x1 PNG).
	shot := &skimguard.Scan{Site: "shop", Page: "checkout", URL: b.URL, StartedAt: t0.Add(21 * 24 * time.Hour), Status: skimguard.ScanOK, BaselineVersion: 1,
		Observation: &skimguard.Observation{Site: "shop", Page: "checkout", URL: b.URL, Screenshot: onePixelPNG}}
	if err := db.SaveScan(ctx, shot); err != nil {
		t.Fatal(err)
	}
	fs, _ := db.Findings(ctx, skimguard.FindingFilter{})
	if err := db.ResolveFindings(ctx, []int64{fs[0].ID}, skimguard.Resolution{Status: skimguard.StatusRejected, By: "bob", Reason: "skimmer, removed", At: t0.Add(6 * 24 * time.Hour)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []skimguard.Delivery{
		{At: t0.Add(5*24*time.Hour + time.Hour), Sink: "webhook https://hooks.test", Site: "shop", Page: "checkout", ScanID: 6, Findings: []int64{fs[0].ID}, OK: true},
		{At: t0.Add(15*24*time.Hour + time.Hour), Sink: "webhook https://hooks.test", Site: "shop", Page: "checkout", OK: false, Error: "503 Service Unavailable"},
	} {
		if err := db.SaveDelivery(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	return db, []skimguard.Page{{Site: "shop", Name: "checkout", URL: b.URL}}
}

func TestBuildFindsGapsInWeeklyChecking(t *testing.T) {
	store, pages := fixture(t)
	r, err := Build(context.Background(), store, pages, t0, t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Coverage) != 1 {
		t.Fatalf("coverage: %+v", r.Coverage)
	}
	c := r.Coverage[0]
	if c.Weekly || c.Scans != 13 || c.Failed != 1 {
		t.Fatalf("coverage = %+v; want 13 scans, 1 failed, not weekly", c)
	}
	if string(c.Screenshot) != string(onePixelPNG) || c.ScreenshotAt == nil || !c.ScreenshotAt.Equal(t0.Add(21*24*time.Hour)) {
		t.Errorf("the newest completed scan's screenshot is not attached: %d bytes at %v", len(c.Screenshot), c.ScreenshotAt)
	}
	// Day 9 to day 20 (the failed scan on day 15 is not a check), and day
	// 21 to the period's end (day 31).
	if len(c.Gaps) != 2 || c.Gaps[0].Days() != 11 || c.Gaps[1].Days() != 10 {
		t.Fatalf("gaps = %+v", c.Gaps)
	}
}

func TestBuildInventoryChangesAndDecisions(t *testing.T) {
	store, pages := fixture(t)
	r, err := Build(context.Background(), store, pages, t0, t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Inventory) != 2 {
		t.Fatalf("inventory holds the scripts only: %+v", r.Inventory)
	}
	ab, app := r.Inventory[0], r.Inventory[1]
	if app.Justification != "storefront code, ticket 1" || app.ApprovedBy != "alice" || app.SHA256 != "aa" || app.LastVerified == nil ||
		!app.LastVerified.Equal(t0.Add(21*24*time.Hour)) {
		t.Errorf("app.js row = %+v", app)
	}
	if !ab.Optional || ab.LastVerified != nil {
		t.Errorf("an optional script is verified only by an observation that shows it, and these scans stored none: %+v", ab)
	}
	if len(r.Changes) != 1 || r.Changes[0].Status != "rejected" || r.Changes[0].ResolvedBy != "bob" {
		t.Errorf("changes = %+v", r.Changes)
	}
	var actions []string
	for _, d := range r.Decisions {
		actions = append(actions, d.Action)
	}
	if strings.Join(actions, ",") != "baseline.approve,finding.reject" {
		t.Errorf("decisions = %v", actions)
	}
	if len(r.Alerts) != 2 || !r.Alerts[0].OK || r.Alerts[1].Error != "503 Service Unavailable" {
		t.Errorf("alerts = %+v", r.Alerts)
	}
	if len(r.Scans) != 13 || r.Scans[0].StartedAt.After(r.Scans[1].StartedAt) {
		t.Errorf("scans must be listed oldest first: %d", len(r.Scans))
	}

	// A later period sees none of it but still flags the missing checks.
	later, _ := Build(context.Background(), store, pages, t0.AddDate(0, 2, 0), t0.AddDate(0, 3, 0), t0.AddDate(0, 4, 0))
	if len(later.Scans) != 0 || len(later.Changes) != 0 || later.Coverage[0].Weekly {
		t.Errorf("a month without scans: %+v", later.Coverage)
	}
}

func TestBuildRefusesAnEmptyPeriod(t *testing.T) {
	store, pages := fixture(t)
	if _, err := Build(context.Background(), store, pages, t0, t0, t0); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Fatalf("empty period: %v", err)
	}
}

func TestHTMLIsOneSelfContainedFile(t *testing.T) {
	store, pages := fixture(t)
	r, _ := Build(context.Background(), store, pages, t0, t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0))
	var buf bytes.Buffer
	if err := Write(&buf, "html", r); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*html.Node)
	tables, images := 0, 0
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "iframe", "object", "embed":
				t.Errorf("<%s> in the report: it must need nothing else to open", n.Data)
			case "img":
				images++
				for _, a := range n.Attr {
					if a.Key == "src" && !strings.HasPrefix(a.Val, "data:image/png;base64,") {
						t.Errorf("an image loads %q: screenshots must be embedded", a.Val)
					}
				}
			case "table":
				tables++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	out := buf.String()
	for _, want := range []string{"storefront code, ticket 1", "jquery-cdn.pw", "skimmer, removed", "(11.0 days)", "@media print", "503 Service Unavailable"} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if tables != 6 || images != 1 {
		t.Errorf("%d tables and %d images, want 6 sections and the screenshot", tables, images)
	}
}

func TestCSVAndJSONCarryTheSameEvidence(t *testing.T) {
	store, pages := fixture(t)
	r, _ := Build(context.Background(), store, pages, t0, t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0))
	var c, j bytes.Buffer
	if err := Write(&c, "csv", r); err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(&c)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, rec := range recs {
		count[rec[0]]++
	}
	if count["inventory"] != 2 || count["coverage"] != 1 || count["scan"] != 13 || count["change"] != 1 || count["decision"] != 2 || count["alert"] != 2 {
		t.Errorf("CSV sections: %v", count)
	}
	if err := Write(&j, "json", r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(j.Bytes(), &back); err != nil || len(back.Scans) != 13 || back.Coverage[0].Weekly {
		t.Errorf("JSON: %v %+v", err, back.Coverage)
	}
	if err := Write(&bytes.Buffer{}, "pdf", r); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestCoverageCountsFromWhenThePageWasFirstMonitored(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	from := t0
	now := t0.Add(30*24*time.Hour + 12*time.Hour)
	at := func(days float64) time.Time { return from.Add(time.Duration(days * float64(24*time.Hour))) }
	scan := func(page string, when time.Time, status skimguard.ScanStatus) {
		t.Helper()
		s := &skimguard.Scan{Site: "shop", Page: page, URL: "https://shop.test/" + page, StartedAt: when, Status: status}
		if status != skimguard.ScanObserved {
			s.BaselineVersion = 1
		}
		if err := db.SaveScan(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	approve := func(page string, when time.Time) {
		t.Helper()
		b := &skimguard.Baseline{Site: "shop", Page: page, URL: "https://shop.test/" + page, CreatedAt: when, ApprovedBy: "alice", Reason: "onboarding"}
		if err := db.SaveBaseline(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// Onboarded today: three baseline samples, the baseline, one check.
	today := now.Add(-time.Hour)
	for i := range 3 {
		scan("today", today.Add(time.Duration(i)*time.Minute), skimguard.ScanObserved)
	}
	approve("today", today.Add(5*time.Minute))
	scan("today", today.Add(10*time.Minute), skimguard.ScanOK)
	// Onboarded on day 10, checked daily, then not from day 12 to day 21.
	scan("gap", at(10), skimguard.ScanObserved)
	approve("gap", at(10).Add(time.Minute))
	for _, d := range []float64{10.1, 11, 12, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30} {
		scan("gap", at(d), skimguard.ScanOK)
	}
	// Imported from a lock file on day 5, first checked on day 20.
	approve("imported", at(5))
	for _, d := range []float64{20, 25, 30} {
		scan("imported", at(d), skimguard.ScanOK)
	}
	pages := []skimguard.Page{{Site: "shop", Name: "today"}, {Site: "shop", Name: "gap"}, {Site: "shop", Name: "imported"}, {Site: "shop", Name: "never"}}
	r, err := Build(ctx, db, pages, from, now.Add(time.Second), now)
	if err != nil {
		t.Fatal(err)
	}
	byPage := map[string]Coverage{}
	for _, c := range r.Coverage {
		byPage[c.Page] = c
	}
	notYet := func(c Coverage) string {
		if c.NotYetMonitored == nil {
			return "none"
		}
		return span(*c.NotYetMonitored)
	}

	t.Run("a page first scanned today was checked weekly, the month before not yet monitored", func(t *testing.T) {
		c := byPage["today"]
		if !c.Weekly || len(c.Gaps) != 0 {
			t.Fatalf("checked weekly %v, gaps %+v; want yes and none", c.Weekly, c.Gaps)
		}
		if c.NotYetMonitored == nil || !c.NotYetMonitored.From.Equal(from) || !c.NotYetMonitored.To.Equal(today) {
			t.Fatalf("not yet monitored %s; want %s to the first scan %s", notYet(c), day(from), day(today))
		}
	})
	t.Run("a nine-day gap after onboarding is listed, the time before onboarding is not", func(t *testing.T) {
		c := byPage["gap"]
		if c.Weekly || len(c.Gaps) != 1 || !c.Gaps[0].From.Equal(at(12)) || !c.Gaps[0].To.Equal(at(21)) {
			t.Fatalf("checked weekly %v, gaps %+v; want no, with the gap from day 12 to day 21", c.Weekly, c.Gaps)
		}
		if c.NotYetMonitored == nil || !c.NotYetMonitored.To.Equal(at(10)) {
			t.Fatalf("not yet monitored %s; want until day 10", notYet(c))
		}
	})
	t.Run("a baseline imported before the first scan starts the monitoring", func(t *testing.T) {
		c := byPage["imported"]
		if c.Weekly || len(c.Gaps) != 1 || !c.Gaps[0].From.Equal(at(5)) || !c.Gaps[0].To.Equal(at(20)) {
			t.Fatalf("checked weekly %v, gaps %+v; want the gap from the import on day 5 to the first check on day 20", c.Weekly, c.Gaps)
		}
	})
	t.Run("a configured page never monitored is due from the period's start", func(t *testing.T) {
		c := byPage["never"]
		if c.Weekly || c.NotYetMonitored != nil || len(c.Gaps) != 1 || !c.Gaps[0].From.Equal(from) {
			t.Fatalf("checked weekly %v, gaps %+v, not yet monitored %s; want no, the whole period a gap", c.Weekly, c.Gaps, notYet(c))
		}
	})
	t.Run("the HTML and CSV say not yet monitored, not gap", func(t *testing.T) {
		var h, c bytes.Buffer
		if err := r.HTML(&h); err != nil {
			t.Fatal(err)
		}
		if err := r.CSV(&c); err != nil {
			t.Fatal(err)
		}
		want := span(*byPage["today"].NotYetMonitored)
		if !strings.Contains(h.String(), want) {
			t.Errorf("the HTML report lacks the not-yet-monitored span %q", want)
		}
		cr := csv.NewReader(&c)
		cr.FieldsPerRecord = -1
		recs, err := cr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if rec[0] == "coverage" && rec[2] == "today" && (rec[5] != "true" || rec[6] != "" || rec[7] != want) {
				t.Errorf("CSV coverage row %q; want checked_weekly true, no gaps, not_yet_monitored %q", rec, want)
			}
		}
	})
}
