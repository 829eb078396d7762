package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func sample() skimguard.CheckResult {
	return skimguard.CheckResult{
		Pages: []skimguard.PageResult{
			{Page: skimguard.Page{Site: "shop", Name: "checkout", URL: "https://shop.test/checkout"}, FinalURL: "https://shop.test/checkout", Status: skimguard.CheckFindings,
				Findings: []skimguard.Finding{
					{ID: 2, Kind: skimguard.KindConnectionAdded, Severity: skimguard.SeverityMedium, Site: "shop", Page: "checkout",
						Subject: "https://cdn.test", Detail: "new destination"},
					{ID: 3, Kind: skimguard.KindDataExfiltration, Severity: skimguard.SeverityCritical, Site: "shop", Page: "checkout",
						Subject: "https://evil.test", Detail: "test card data reached https://evil.test",
						Evidence: skimguard.Evidence{URL: "https://evil.test/i.gif?d=[card data]", Initiator: "inline #4"},
						Item:     skimguard.Item{Key: "internal"}, Fingerprint: "internal"},
				}},
			{Page: skimguard.Page{Site: "shop", Name: "cart", URL: "https://shop.test/cart"}, Status: skimguard.CheckFailed, Error: "net::ERR_CONNECTION_REFUSED"},
		},
	}
}

// The JSON report is a contract with CI tools: its shape is pinned by a
// golden file, and internal fields never leak into it.
func TestJSONMatchesTheContract(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/report.golden.json"
	if *update {
		os.WriteFile(golden, buf.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Fatalf("JSON report changed; if intended, run go test ./report -update\ngot:\n%s\nwant:\n%s", buf.String(), want)
	}
	var doc map[string]any
	json.Unmarshal(buf.Bytes(), &doc)
	f := doc["findings"].([]any)[0].(map[string]any)
	for _, key := range []string{"id", "kind", "severity", "site", "page", "subject", "detail", "evidence"} {
		if _, ok := f[key]; !ok {
			t.Errorf("finding lacks %q", key)
		}
	}
	if len(f) != 8 {
		t.Errorf("finding has undocumented keys: %v", f)
	}
	if f["kind"] != "data.exfiltration" {
		t.Errorf("most severe finding is not first: %v", f["kind"])
	}
}

func TestJSONWithNothingHasEmptyLists(t *testing.T) {
	var buf bytes.Buffer
	JSON(&buf, skimguard.CheckResult{})
	if !strings.Contains(buf.String(), `"pages": []`) || !strings.Contains(buf.String(), `"findings": []`) {
		t.Fatalf("empty report must have empty lists, not null:\n%s", buf.String())
	}
}

func TestTextGroupsByPageMostSevereFirst(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	crit, med := strings.Index(out, "[CRITICAL]"), strings.Index(out, "[MEDIUM]")
	if crit < 0 || med < 0 || crit > med {
		t.Fatalf("critical must come before medium:\n%s", out)
	}
	for _, want := range []string{"why: test card data reached", "COULD NOT CHECK: net::ERR_CONNECTION_REFUSED", "2 page(s) checked: 2 finding(s) (1 critical, 1 medium); 1 could not be checked"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

// A scan the store refused is still reported whole, and says so: the
// report is then its findings' only record.
func TestAPageNotStoredIsReportedWithItsFindingsAndWhy(t *testing.T) {
	r := sample()
	r.Pages[0].StoreError = "the disk holding /var/lib/skimguard.db is full: free space"
	for i := range r.Pages[0].Findings {
		r.Pages[0].Findings[i].ID = 0
	}
	var text, js bytes.Buffer
	if err := Text(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"NOT STORED", r.Pages[0].StoreError, "data.exfiltration", "1 not stored"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report does not say %q:\n%s", s, text.String())
		}
	}
	if err := JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Pages []struct {
			StoreError string `json:"store_error"`
		} `json:"pages"`
		Findings []skimguard.Finding `json:"findings"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Pages[0].StoreError != r.Pages[0].StoreError || doc.Pages[1].StoreError != "" || len(doc.Findings) != 2 {
		t.Errorf("JSON report: %s", js.String())
	}
}
