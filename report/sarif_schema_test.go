package report

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/sharedfiles"
)

// mustMatchSARIFSchema fails t unless data is valid against the official
// SARIF 2.1.0 schema, formats (uri, date-time) asserted. It skips when the
// schema is not beside the repository (a user's clone).
func mustMatchSARIFSchema(t *testing.T, data []byte) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schema, err := c.Compile(sharedfiles.SARIFSchema(t))
	if err != nil {
		t.Fatalf("compile the SARIF schema: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("SARIF output is not JSON: %v\n%s", err, data)
	}
	if err := schema.Validate(doc); err != nil {
		t.Fatalf("SARIF output does not match the SARIF 2.1.0 schema: %v\n%s", err, data)
	}
}

func TestSARIFMatchesTheOfficialSchema(t *testing.T) {
	everyKind := sample()
	for i, k := range skimguard.Kinds {
		everyKind.Pages[0].Findings = append(everyKind.Pages[0].Findings, skimguard.Finding{
			ID: int64(100 + i), Kind: k, Severity: skimguard.SeverityLow, Site: "shop", Page: "checkout",
			Subject: "inline #1 (line 3 col 1) in https://shop.test/checkout", Detail: "why, with \"quotes\" and\nnewlines",
			Fingerprint: "fp",
		})
	}
	for name, r := range map[string]skimguard.CheckResult{
		"findings and a failed page": sample(),
		"nothing checked":            {},
		"every kind":                 everyKind,
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := SARIF(&buf, r); err != nil {
				t.Fatal(err)
			}
			mustMatchSARIFSchema(t, buf.Bytes())
		})
	}
}

// TestSARIFSchemaCheckRefusesAnInvalidLog proves the check can fail.
func TestSARIFSchemaCheckRefusesAnInvalidLog(t *testing.T) {
	c := jsonschema.NewCompiler()
	schema, err := c.Compile(sharedfiles.SARIFSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"version": "2.1.0", "runs": [{"tool": {}}]}`)))
	if schema.Validate(doc) == nil {
		t.Fatal("a run without tool.driver passed the SARIF schema")
	}
}
