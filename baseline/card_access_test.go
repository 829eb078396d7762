package baseline

import (
	"slices"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

// seeing is load n of the test shop where the provider's fields.js
// listens to input on its three fields and reads the number, and the
// inline configuration listens to change on a name field of the page.
func seeing(n int) *skimguard.Observation {
	o := shop(n)
	fields := scriptIndex(o, "https://pay.provider.test/v3/fields.js")
	frame := o.Frames[0].URL
	for _, f := range []skimguard.CardField{skimguard.FieldNumber, skimguard.FieldExpiry, skimguard.FieldCVC} {
		o.CardAccess = append(o.CardAccess, skimguard.CardAccess{Script: fields, Field: f, How: skimguard.AccessListens + "input", Frame: frame})
	}
	o.CardAccess = append(o.CardAccess,
		skimguard.CardAccess{Script: fields, Field: skimguard.FieldNumber, How: skimguard.AccessReadsValue, Frame: frame},
		skimguard.CardAccess{Script: 2, Field: skimguard.FieldName, How: skimguard.AccessListens + "change", Frame: o.FinalURL})
	return o
}

func scriptIndex(o *skimguard.Observation, url string) int {
	return slices.IndexFunc(o.Scripts, func(s skimguard.Script) bool { return s.URL == url })
}

func accessItems(b *skimguard.Baseline) map[string][]string {
	out := map[string][]string{}
	for _, it := range b.Items {
		if it.Type == skimguard.ItemCardAccess {
			out[it.Key] = it.Values
		}
	}
	return out
}

func findingsOf(fs []skimguard.Finding, k skimguard.Kind) []skimguard.Finding {
	var out []skimguard.Finding
	for _, f := range fs {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

func TestCardAccessIsLearntByScriptAndQuietWhenUnchanged(t *testing.T) {
	b := learn(t, seeing(1), seeing(2), seeing(3))
	got := accessItems(b)
	want := map[string][]string{
		"external https://pay.provider.test/v3/fields.js in https://pay.provider.test": {
			"field=cvc|how=listens:input", "field=expiry|how=listens:input", "field=number|how=listens:input", "field=number|how=reads value"},
		"inline #1 in top": {"field=name|how=listens:change"},
	}
	if len(got) != len(want) {
		t.Fatalf("card access items %q, want %q", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("card access of %s: %q, want %q", k, got[k], v)
		}
	}
	if fs := Compare(b, seeing(4)); len(fs) > 0 {
		t.Errorf("an unchanged page raised:%s", describe(fs))
	}
	// What a script sees depends on what the shopper does: seeing less is
	// no finding.
	if fs := Compare(b, shop(5)); len(fs) > 0 {
		t.Errorf("a load where no script was seen reading the card raised:%s", describe(fs))
	}
}

func TestNewScriptThatListensToCardFieldsIsHighAndNamesScriptAndFields(t *testing.T) {
	b := learn(t, seeing(1), seeing(2))
	o := seeing(7)
	skim := script(skimguard.ScriptInline, "", o.FinalURL, `document.addEventListener("change",function(e){window.c=e.target.value},true)`)
	o.Scripts = append(o.Scripts, skim)
	numberOrdinals(o)
	at := len(o.Scripts) - 1
	frame := o.Frames[0].URL
	o.CardAccess = append(o.CardAccess,
		skimguard.CardAccess{Script: at, Field: skimguard.FieldNumber, How: "listens:change", Frame: frame},
		skimguard.CardAccess{Script: at, Field: skimguard.FieldCVC, How: "listens:change", Frame: frame},
		skimguard.CardAccess{Script: at, Field: skimguard.FieldNumber, How: skimguard.AccessReadsValue, Frame: frame})
	fs := Compare(b, o)
	acc := findingsOf(fs, skimguard.KindCardAccessAdded)
	if len(acc) != 1 {
		t.Fatalf("want one card.access_added, got:%s", describe(fs))
	}
	f := acc[0]
	subject := o.Scripts[at].Subject()
	if f.Severity != skimguard.SeverityHigh || f.Subject != subject {
		t.Errorf("finding %s %q, want high naming %q", f.Severity, f.Subject, subject)
	}
	for _, s := range []string{"number, cvc (listens to change, reads value)", "not in the approved baseline", "sees no card field"} {
		if !strings.Contains(f.Detail, s) {
			t.Errorf("detail %q does not say %q", f.Detail, s)
		}
	}
	if f.Item.Key != "inline #3 in top" || f.Evidence.After != "number, cvc (listens to change, reads value)" {
		t.Errorf("item key %q, evidence %+v", f.Item.Key, f.Evidence)
	}
	if len(findingsOf(fs, skimguard.KindScriptAdded)) != 1 {
		t.Errorf("the script itself is not reported as added:%s", describe(fs))
	}

	nb, err := Apply(b, fs, bob)
	if err != nil {
		t.Fatal(err)
	}
	if again := Compare(nb, o); len(again) > 0 {
		t.Errorf("after approval, still:%s", describe(again))
	}
	// Approving its removal takes what it saw away with it: a script in
	// its place must show its own access again.
	gone, err := Apply(nb, Compare(nb, seeing(8)), bob)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := accessItems(gone)["inline #3 in top"]; ok {
		t.Errorf("the removed script's card access is still approved")
	}
	if got := findingsOf(Compare(gone, o), skimguard.KindCardAccessAdded); len(got) != 1 {
		t.Errorf("a script in the removed one's place is not caught seeing the card")
	}
}

func TestApprovedScriptSeeingMoreIsReportedForWhatIsNew(t *testing.T) {
	b := learn(t, seeing(1), seeing(2))
	var prints []string
	for _, n := range []int{7, 8} {
		o := seeing(n)
		fields := scriptIndex(o, "https://pay.provider.test/v3/fields.js")
		o.CardAccess = append(o.CardAccess, skimguard.CardAccess{Script: fields, Field: skimguard.FieldCVC, How: skimguard.AccessReadsFormData, Frame: o.Frames[0].URL})
		fs := Compare(b, o)
		if len(fs) != 1 || fs[0].Kind != skimguard.KindCardAccessAdded {
			t.Fatalf("load %d: want one card.access_added, got:%s", n, describe(fs))
		}
		f := fs[0]
		if !strings.Contains(f.Detail, "can now see the card: cvc (reads form data); in the approved baseline it sees number, expiry, cvc (listens to input, reads value)") {
			t.Errorf("detail %q", f.Detail)
		}
		prints = append(prints, f.Fingerprint)
		nb, err := Apply(b, fs, bob)
		if err != nil {
			t.Fatal(err)
		}
		if again := Compare(nb, o); len(again) > 0 {
			t.Errorf("after approval, still:%s", describe(again))
		}
	}
	if prints[0] != prints[1] {
		t.Errorf("the same change on two loads has two fingerprints: %q", prints)
	}
}

func TestMovedInlineScriptKeepsItsCardAccess(t *testing.T) {
	b := learn(t, seeing(1), seeing(2))
	o := seeing(7)
	// A new inline script before the configuration: every inline script
	// moves one place down, the configuration included.
	o.Scripts = append([]skimguard.Script{script(skimguard.ScriptInline, "", o.FinalURL, `window.promo = "free-shipping";`)}, o.Scripts...)
	numberOrdinals(o)
	for i := range o.CardAccess {
		o.CardAccess[i].Script++
	}
	fs := Compare(b, o)
	if got := kindsOf(fs); !slices.Equal(got, []skimguard.Kind{skimguard.KindScriptAdded}) {
		t.Errorf("want only the new script reported, got:%s", describe(fs))
	}
}

func TestIdenticalScriptsEachKeepWhatTheySee(t *testing.T) {
	o := shop(1)
	code := `document.getElementById("x").addEventListener("input",check);`
	o.Scripts = append(o.Scripts, script(skimguard.ScriptInline, "", o.FinalURL, code), script(skimguard.ScriptInline, "", o.FinalURL, code))
	numberOrdinals(o)
	n := len(o.Scripts)
	o.CardAccess = []skimguard.CardAccess{
		{Script: n - 2, Field: skimguard.FieldNumber, How: "listens:input", Frame: o.FinalURL},
		{Script: n - 1, Field: skimguard.FieldCVC, How: "listens:input", Frame: o.FinalURL},
	}
	b := learn(t, o)
	if fs := Compare(b, o); len(fs) > 0 {
		t.Errorf("the page it was learnt from raised:%s", describe(fs))
	}
}

func TestCardAccessOfUnknownScriptsIsIgnored(t *testing.T) {
	o := seeing(1)
	o.CardAccess = append(o.CardAccess, skimguard.CardAccess{Script: len(o.Scripts), Field: "number", How: "reads value"},
		skimguard.CardAccess{Script: -1, Field: "number", How: "reads value"}, skimguard.CardAccess{Script: 0, How: "reads value"})
	b := learn(t, o)
	if len(accessItems(b)) != 2 {
		t.Errorf("card access items %q: want the two of known scripts", accessItems(b))
	}
}

func kindsOf(fs []skimguard.Finding) []skimguard.Kind {
	var ks []skimguard.Kind
	for _, f := range fs {
		ks = append(ks, f.Kind)
	}
	return ks
}
