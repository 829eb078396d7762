package skimguard

import (
	"reflect"
	"testing"
)

// The stored forms are in users' baselines and lock files: these literals
// must never change.
func TestItemValuesKeepTheirStoredForms(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format string
		want   string
		parsed any
		parse  func(string) any
	}{
		{"frame", FrameValue{Origin: "https://pay.test", Sandbox: "allow-forms allow-scripts", Hidden: true}.Format(),
			"origin=https://pay.test|sandbox=allow-forms allow-scripts|hidden=true",
			FrameValue{Origin: "https://pay.test", Sandbox: "allow-forms allow-scripts", Hidden: true},
			func(s string) any { return ParseFrameValue(s) }},
		{"form", FormValue{Action: "https://shop.test/pay?x=1", Method: "POST", Fields: []string{"cvc", "number"}}.Format(),
			"action=https://shop.test/pay?x=1|method=POST|fields=cvc,number",
			FormValue{Action: "https://shop.test/pay?x=1", Method: "POST", Fields: []string{"cvc", "number"}},
			func(s string) any { return ParseFormValue(s) }},
		{"formless inputs", FormValue{}.Format(), "action=|method=|fields=", FormValue{},
			func(s string) any { return ParseFormValue(s) }},
		{"redirect", RedirectValue{Final: "https://shop.test/checkout", Chain: []string{"http://shop.test/checkout", "https://shop.test/login"}}.Format(),
			"final=https://shop.test/checkout|chain=http://shop.test/checkout > https://shop.test/login",
			RedirectValue{Final: "https://shop.test/checkout", Chain: []string{"http://shop.test/checkout", "https://shop.test/login"}},
			func(s string) any { return ParseRedirectValue(s) }},
		{"card access", CardAccessValue{Field: "cvc", How: "listens:change"}.Format(), "field=cvc|how=listens:change",
			CardAccessValue{Field: "cvc", How: "listens:change"}, func(s string) any { return ParseCardAccessValue(s) }},
		{"redirect without a chain", RedirectValue{Final: "https://shop.test/"}.Format(), "final=https://shop.test/|chain=",
			RedirectValue{Final: "https://shop.test/"}, func(s string) any { return ParseRedirectValue(s) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.format != tc.want {
				t.Errorf("stored form %q, want %q", tc.format, tc.want)
			}
			if got := tc.parse(tc.want); !reflect.DeepEqual(got, tc.parsed) {
				t.Errorf("parsed %+v, want %+v", got, tc.parsed)
			}
		})
	}
}

func TestScriptValuesKeepTheirStoredForms(t *testing.T) {
	if h := ScriptHash("ab12"); h != "sha256:ab12" || !IsScriptHash(h) || IsScriptFingerprint(h) {
		t.Errorf("ScriptHash = %q", h)
	}
	if fp := ScriptFingerprintPrefix + "cd34"; fp != "fp:cd34" || !IsScriptFingerprint(fp) || IsScriptHash(fp) {
		t.Errorf("fingerprint %q", fp)
	}
}

// Hand-edited values parse leniently, and the first part of a name wins,
// as they always have.
func TestParseValuesLeniently(t *testing.T) {
	if got := ParseFrameValue("hidden=true|origin=https://a.test|origin=https://b.test"); got != (FrameValue{Origin: "https://a.test", Hidden: true}) {
		t.Errorf("ParseFrameValue = %+v", got)
	}
	if got := ParseFormValue("garbage"); !reflect.DeepEqual(got, FormValue{}) {
		t.Errorf("ParseFormValue = %+v", got)
	}
}

func TestAttrKeysKeepTheirStoredNames(t *testing.T) {
	got := []string{AttrKind, AttrFrame, AttrOrdinal, AttrLocation, AttrLoadedBy, AttrIntegrity, AttrCrossOrigin,
		AttrParent, AttrDoc, AttrName, AttrReplaces, AttrVolatile, AttrSep, AttrNone}
	want := []string{"kind", "frame", "ordinal", "location", "loaded_by", "integrity", "crossorigin",
		"parent", "doc", "name", "replaces", "volatile_query", " | ", "(none)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attribute keys %q, want %q", got, want)
	}
	it := Item{Attrs: map[string]string{"kind": "inline"}}
	if it.ScriptKind() != "inline" {
		t.Errorf("ScriptKind = %q", it.ScriptKind())
	}
}

func TestCardAccessSummaryNamesFieldsThenWays(t *testing.T) {
	got := CardAccessSummary([]CardAccessValue{
		{Field: "cvc", How: AccessReadsFormData}, {Field: "cvc", How: AccessListens + "keyup"},
		{Field: "number", How: AccessReadsValue}, {Field: "number", How: AccessListens + "change"},
	})
	if want := "number, cvc (listens to change, listens to keyup, reads value, reads form data)"; got != want {
		t.Errorf("CardAccessSummary = %q, want %q", got, want)
	}
	if got := CardAccessSummary(nil); got != "" {
		t.Errorf("CardAccessSummary(nil) = %q, want empty", got)
	}
}
