package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func TestWriteKnowsEveryFormatAndRefusesOthers(t *testing.T) {
	for _, f := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, f, sample()); err != nil || buf.Len() == 0 {
			t.Errorf("format %s: %v, %d bytes", f, err, buf.Len())
		}
	}
	if err := Write(&bytes.Buffer{}, "xml", sample()); err == nil || !strings.Contains(err.Error(), "sarif") {
		t.Fatalf("unknown format: %v", err)
	}
}

func TestSARIFHasOneRulePerKindAndLocatesEachFinding(t *testing.T) {
	r := sample()
	r.Pages[0].Findings[0].Fingerprint = "fp-123" // the medium finding, sorted second
	var buf bytes.Buffer
	if err := SARIF(&buf, r); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				RelatedLocations    []json.RawMessage `json:"relatedLocations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "skimguard" {
		t.Fatalf("not a SARIF 2.1.0 log of skimguard: %s", buf.String())
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(skimguard.Kinds) {
		t.Fatalf("%d rules, want one per kind (%d)", len(run.Tool.Driver.Rules), len(skimguard.Kinds))
	}
	if len(run.Results) != 2 {
		t.Fatalf("%d results, want 2", len(run.Results))
	}
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("ruleIndex %d does not point at rule %s", res.RuleIndex, res.RuleID)
		}
		if res.Locations[0].PhysicalLocation.ArtifactLocation.URI != "https://shop.test/checkout" {
			t.Errorf("result not located at the page URL: %+v", res.Locations)
		}
		if len(res.RelatedLocations) != 1 {
			t.Errorf("the subject URL should be a related location: %+v", res)
		}
	}
	first, second := run.Results[0], run.Results[1]
	if first.RuleID != "data.exfiltration" || first.Level != "error" || second.Level != "warning" {
		t.Errorf("levels: %s=%s, %s=%s", first.RuleID, first.Level, second.RuleID, second.Level)
	}
	if second.PartialFingerprints["skimguardFinding/v1"] != "fp-123" {
		t.Errorf("fingerprint not carried: %+v", second.PartialFingerprints)
	}
}

func TestJUnitParsesBackWithAFailurePerFinding(t *testing.T) {
	var buf bytes.Buffer
	if err := JUnit(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name     string `xml:"name,attr"`
				Failures []struct {
					Type string `xml:"type,attr"`
					Text string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Text string `xml:",chardata"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, buf.String())
	}
	if got.Tests != 2 || got.Failures != 1 || got.Errors != 1 || len(got.Suites) != 1 {
		t.Fatalf("counts: %+v", got)
	}
	checkout, cart := got.Suites[0].Cases[0], got.Suites[0].Cases[1]
	if len(checkout.Failures) != 2 || checkout.Failures[0].Type != "data.exfiltration" || !strings.Contains(checkout.Failures[0].Text, "reached") {
		t.Errorf("checkout failures: %+v", checkout.Failures)
	}
	if cart.Error == nil || !strings.Contains(cart.Error.Text, "CONNECTION_REFUSED") {
		t.Errorf("cart error: %+v", cart.Error)
	}
}

func TestGitHubAnnotationsEscapeNewlinesAndSeparators(t *testing.T) {
	r := sample()
	r.Pages[0].Findings[1].Detail = "line one\nline two, 100%" // the critical one, sorted first
	var buf bytes.Buffer
	GitHub(&buf, r)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.HasPrefix(lines[0], "::error title=skimguard data.exfiltration (critical) on shop/checkout::") {
		t.Fatalf("first annotation: %q", lines[0])
	}
	if !strings.Contains(lines[0], "line one%0Aline two, 100%25") {
		t.Errorf("message not escaped: %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "::warning ") {
		t.Errorf("medium should be a warning: %q", lines[1])
	}
	if !slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "::error title=skimguard could not check shop/cart::")
	}) {
		t.Errorf("the failed page is not annotated:\n%s", buf.String())
	}
}

func TestMarkdownKeepsCellsInTheirColumns(t *testing.T) {
	r := sample()
	r.Pages[0].Findings[1].Detail = "a | b\nc"
	var buf bytes.Buffer
	Markdown(&buf, r)
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "| critical") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 6 {
			t.Errorf("a pipe in a value broke the table: %q", line)
		}
	}
	if !strings.Contains(buf.String(), "could not check: net::ERR_CONNECTION_REFUSED") {
		t.Errorf("failed page missing:\n%s", buf.String())
	}
}
