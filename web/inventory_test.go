package web

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// check stores a check of the clean page started at `at`, compared with
// the current baseline as the monitor does.
func (f *fixture) check(t *testing.T, at time.Time) {
	t.Helper()
	ctx := context.Background()
	b, err := f.store.Baseline(ctx, "shop", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	o := observation(libV1, false)
	s := &skimguard.Scan{Site: "shop", Page: "checkout", URL: pageURL, StartedAt: at, Status: skimguard.ScanOK, BaselineVersion: b.Version,
		Observation: o, Findings: baseline.Compare(b, o)}
	if len(s.Findings) > 0 {
		t.Fatalf("the clean page has findings: %+v", s.Findings)
	}
	if err := f.store.SaveScan(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func TestInventoryShowsTheLastCheckThatVerifiedEachScript(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	f.login(t, c, "alice", password)
	last := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	for i := 5; i >= 0; i-- {
		f.check(t, last.Add(-time.Duration(i)*time.Minute))
	}
	want := last.Format("2006-01-02 15:04:05 UTC")

	_, doc := get(t, c, f.url("/pages/shop/checkout"))
	rows := doc.Find("table.inventory tbody tr")
	if rows.Length() != 1 {
		t.Fatalf("want the one approved script, got %d rows:\n%s", rows.Length(), doc.Find("table.inventory").Text())
	}
	if got := strings.TrimSpace(rows.Find("td.verified").Text()); got != want {
		t.Errorf("the page's inventory says last verified %q, want the newest check's %q", got, want)
	}

	resp, err := c.Get(f.url("/pages/shop/checkout/inventory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(recs) != 2 {
		t.Fatalf("inventory CSV: %v %q", err, recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	if got := recs[1][col["last_verified"]]; got != last.Format("2006-01-02 15:04 UTC") {
		t.Errorf("the CSV says last verified %q, want the newest check's time", got)
	}
}

// payLoad is load n of a second page, shop/pay: its widget's URL carries a
// cache buster and its inline configuration a per-load token.
func payLoad(n int) *skimguard.Observation {
	o := observation(libV1, false)
	o.Page, o.URL, o.FinalURL = "pay", "http://127.0.0.1:1/pay", "http://127.0.0.1:1/pay"
	o.Scripts[0].URL = fmt.Sprintf("%s?cb=%d", libURL, 1732271234+n)
	o.Scripts[0].Frame = o.URL
	cfg := fmt.Sprintf(`window.cfg={"csrf":"%x"};`, sha256.Sum256([]byte{byte(n)}))
	sum := sha256.Sum256([]byte(cfg))
	o.Scripts = append(o.Scripts, skimguard.Script{Kind: skimguard.ScriptInline, Frame: o.URL, Ordinal: 1, Location: "line 2 col 9",
		SHA256: hex.EncodeToString(sum[:]), Size: len(cfg), Source: cfg, LoadedBy: "parser"})
	return o
}

func TestInventoryNamesScriptsByTheirLearntIdentity(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Add(-30 * time.Minute)
	b, err := baseline.Learn([]*skimguard.Observation{payLoad(1), payLoad(2), payLoad(3)}, "alice", "onboarding", now)
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "pay", "http://127.0.0.1:1/pay"
	if err := f.store.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	o := payLoad(4)
	if fs := baseline.Compare(b, o); len(fs) != 0 {
		t.Fatalf("the unchanged page has findings: %+v", fs)
	}
	if err := f.store.SaveScan(ctx, &skimguard.Scan{Site: "shop", Page: "pay", URL: o.URL, StartedAt: now.Add(time.Minute),
		Status: skimguard.ScanOK, BaselineVersion: b.Version, Observation: o}); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	f.login(t, c, "alice", password)

	_, doc := get(t, c, f.url("/pages/shop/pay"))
	got := map[string]string{} // identity: hash cell
	doc.Find("table.inventory tbody tr").Each(func(_ int, row *goquery.Selection) {
		got[strings.TrimSpace(row.Find("td.subject").Contents().First().Text())] = strings.TrimSpace(row.Find("td.hash").Text())
	})
	if h, ok := got[libURL+"?cb=*"]; !ok || h != o.Scripts[0].SHA256[:16] {
		t.Errorf("the widget is not shown as %s?cb=* with its hash: %q", libURL, got)
	}
	if h := got["inline #1 in the page"]; h != "matched by structure: text varies per load" {
		t.Errorf("the inline configuration's hash cell says %q, want that it is matched by structure (rows %q)", h, got)
	}

	resp, err := c.Get(f.url("/pages/shop/pay/inventory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(recs) != 3 {
		t.Fatalf("inventory CSV: %v %q", err, recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	rows := map[string]string{}
	for _, rec := range recs[1:] {
		rows[rec[col["identity"]]] = rec[col["matched_by"]]
	}
	if rows[libURL+"?cb=*"] != "hash" || rows["inline #1 in the page"] != "structure" {
		t.Errorf("CSV identities and matches: %q", rows)
	}
}

func TestInventoryCSVDownloadCannotRunFormulas(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	_, csrf := f.login(t, c, "alice", password)
	reason := `=cmd|' /C calc'!A0`
	postForm(t, c, f.url("/findings/"+itoa(f.ids[skimguard.KindScriptChanged])+"/approve"), url.Values{"reason": {reason}, "csrf": {csrf}, "confirm": {"yes"}})

	resp, err := c.Get(f.url("/inventory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(recs) != 2 {
		t.Fatalf("inventory CSV: %v %q", err, recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	if got := recs[1][col["justification"]]; got != "'"+reason {
		t.Fatalf("the justification cell is %q, want it prefixed with ' so that no spreadsheet runs it", got)
	}
}
