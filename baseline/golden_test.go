package baseline

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenCase is a technique applied to a load of a shop whose samples may
// themselves vary.
type goldenCase struct {
	name  string
	vary  func(o *skimguard.Observation) // applied to the samples and the load; may be nil
	apply func(o *skimguard.Observation)
}

// goldenCases reach every branch of Compare that the techniques of
// compare_test.go leave out.
var goldenCases = []goldenCase{
	{name: "integrity added", apply: func(o *skimguard.Observation) {
		scriptByURL(o, "https://shop.test/static/").Integrity = "sha384-added"
	}},
	{name: "integrity changed and crossorigin changed", apply: func(o *skimguard.Observation) {
		s := scriptByURL(o, "https://cdn.good.test/")
		s.Integrity, s.CrossOrigin = "sha384-other", "use-credentials"
	}},
	{name: "crossorigin dropped", apply: func(o *skimguard.Observation) {
		scriptByURL(o, "https://cdn.good.test/").CrossOrigin = ""
	}},
	{name: "body changed and integrity dropped", apply: func(o *skimguard.Observation) {
		s := scriptByURL(o, "https://cdn.good.test/")
		setSource(s, s.Source+`;x()`)
		s.Integrity = ""
	}},
	{name: "inline statements reordered", apply: func(o *skimguard.Observation) {
		setSource(&o.Scripts[3], `window.__cspNonce = __webpack_nonce__; var __webpack_nonce__ = 'x';`)
	}},
	{name: "handler removed", apply: func(o *skimguard.Observation) {
		o.Scripts = slices.DeleteFunc(o.Scripts, func(s skimguard.Script) bool { return s.Kind == skimguard.ScriptHandler })
	}},
	{name: "script added with unknown loader naming a known host", apply: func(o *skimguard.Observation) {
		s := script(skimguard.ScriptInline, "", o.FinalURL, `fetch("https://shop.test/api/cart")`)
		s.LoadedBy = ""
		o.Scripts = append(o.Scripts, s)
		numberOrdinals(o)
	}},
	{name: "dynamic code compiled by a location", apply: func(o *skimguard.Observation) {
		s := script(skimguard.ScriptDynamic, "", o.FinalURL, `go()`)
		s.LoadedBy, s.Location = "", "setTimeout from https://shop.test/a.js:9"
		o.Scripts = append(o.Scripts, s)
		numberOrdinals(o)
	}},
	{name: "javascript: URL added", apply: func(o *skimguard.Observation) {
		s := script(skimguard.ScriptJSURL, "", o.FinalURL, `void(0)`)
		s.Location = "a#pay[href]"
		o.Scripts = append(o.Scripts, s)
		numberOrdinals(o)
	}},
	{name: "worker script of an unnamed kind", apply: func(o *skimguard.Observation) {
		o.Scripts = append(o.Scripts, script("", "https://shop.test/w.js", o.FinalURL, `onmessage=function(){}`))
	}},
	{name: "report-only CSP removed", vary: func(o *skimguard.Observation) {
		o.Headers["content-security-policy-report-only"] = "script-src 'none'"
	}, apply: func(o *skimguard.Observation) {
		delete(o.Headers, "content-security-policy-report-only")
	}},
	{name: "report-only CSP weakened", vary: func(o *skimguard.Observation) {
		o.Headers["content-security-policy-report-only"] = "script-src 'none'"
	}, apply: func(o *skimguard.Observation) {
		o.Headers["content-security-policy-report-only"] = "script-src 'none' https://x.test"
	}},
	{name: "CSP made stricter", apply: func(o *skimguard.Observation) {
		o.Headers["content-security-policy"] = strings.Replace(o.Headers["content-security-policy"], " https://cdn.good.test", "", 1)
	}},
	{name: "X-Frame-Options changed", apply: func(o *skimguard.Observation) {
		o.Headers["x-frame-options"] = "DENY"
	}},
	{name: "formless card inputs removed", apply: func(o *skimguard.Observation) {
		o.Forms = o.Forms[:1]
	}},
	{name: "form method changed", apply: func(o *skimguard.Observation) {
		o.Forms[0].Method = "GET"
	}},
	{name: "top form gains card inputs", apply: func(o *skimguard.Observation) {
		o.Forms[0].Inputs = []skimguard.Input{{Field: skimguard.FieldNumber, Name: "cc", Visible: true}}
	}},
	{name: "form action emptied", apply: func(o *skimguard.Observation) {
		o.Forms[0].Action = ""
	}},
	{name: "forms added in a frame", apply: func(o *skimguard.Observation) {
		o.Forms = append(o.Forms,
			skimguard.Form{Frame: o.Frames[0].URL, Action: "https://pay.provider.test/x", Method: "post", Name: "n"},
			skimguard.Form{Frame: o.Frames[0].URL, Inputs: []skimguard.Input{{Field: skimguard.FieldName}}})
	}},
	{name: "frame sandbox changed", apply: func(o *skimguard.Observation) {
		o.Frames[0].Sandbox = "allow-scripts  allow-forms"
	}},
	{name: "frame moved on the same origin and hidden", apply: func(o *skimguard.Observation) {
		o.Frames[0].URL = "https://pay.provider.test/v4/card.html"
		o.Frames[0].Hidden = true
	}},
	{name: "frame added from a known origin", apply: func(o *skimguard.Observation) {
		o.Frames = append(o.Frames, skimguard.Frame{URL: "https://cdn.good.test/f.html", Parent: o.FinalURL, Name: "f", Sandbox: "allow-scripts"})
	}},
	{name: "redirect chain changed", apply: func(o *skimguard.Observation) {
		o.Redirects = []string{"http://shop.test/checkout", "https://shop.test/login?next=checkout"}
	}},
	{name: "redirect to another path", apply: func(o *skimguard.Observation) {
		o.FinalURL = "https://shop.test/cart"
	}},
	{name: "connection without initiators", apply: func(o *skimguard.Observation) {
		o.Connections = append(o.Connections, skimguard.Connection{Example: "https://img.test/p.gif?x=1", Types: []string{"Image"}, Count: 1})
	}},
	{name: "card data leaves a page with no approved sink", vary: func(o *skimguard.Observation) {
		o.Leaks = nil
	}, apply: func(o *skimguard.Observation) {
		o.Leaks = []skimguard.Leak{
			{URL: "https://x.test/c", Type: "Ping", Fields: []skimguard.CardField{skimguard.FieldNumber}, Encoding: "plain", Where: "body"},
			{Origin: "https://x.test", URL: "https://x.test/d", Type: "XHR", Method: "POST", Fields: []skimguard.CardField{skimguard.FieldCVC}, Encoding: "hex", Where: "body"},
		}
	}},
}

// TestGoldenStoredForms pins, byte for byte, what users' databases and lock
// files hold: the learnt items (keys, Values grammars, Attrs), every
// finding's fingerprint, severity and texts, and the items Apply writes.
// A stored baseline or an open finding must keep matching after any
// refactoring; run with -update only for a deliberate format change.
func TestGoldenStoredForms(t *testing.T) {
	var out bytes.Buffer
	line := func(prefix string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %s\n", prefix, b)
	}
	type finding struct {
		skimguard.Finding
		Fingerprint string
		Item        skimguard.Item
	}
	section := func(name string, vary func(*skimguard.Observation), apply func(*skimguard.Observation)) {
		load := func(n int) *skimguard.Observation {
			o := shop(n)
			if vary != nil {
				vary(o)
			}
			return o
		}
		b := learn(t, load(1), load(2), load(3))
		fmt.Fprintf(&out, "== %s\n", name)
		if apply == nil {
			for _, it := range b.Items {
				line("item", it)
			}
			return
		}
		o := load(7)
		apply(o)
		fs := Compare(b, o)
		for _, f := range fs {
			line("finding", finding{f, f.Fingerprint, f.Item})
		}
		nb, err := Apply(b, fs, bob)
		if err != nil {
			t.Fatalf("%s: Apply: %v", name, err)
		}
		old := map[string]string{}
		for _, it := range b.Items {
			j, _ := json.Marshal(it)
			old[string(it.Type)+" "+it.Key] = string(j)
		}
		for _, it := range nb.Items {
			j, _ := json.Marshal(it)
			k := string(it.Type) + " " + it.Key
			if old[k] != string(j) {
				fmt.Fprintf(&out, "applied %s\n", j)
			}
			delete(old, k)
		}
		for _, k := range slices.Sorted(maps.Keys(old)) {
			fmt.Fprintf(&out, "dropped %s\n", k)
		}
	}

	section("learnt from shop(1..3)", nil, nil)
	section("learnt with a volatile query parameter and an optional script", func(o *skimguard.Observation) {
		n := int(o.StartedAt.Sub(at).Hours()) // the load number
		scriptByURL(o, "https://cdn.good.test/").URL += fmt.Sprintf("?k=%d", n)
		if n%2 == 1 {
			o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, "https://shop.test/ab.js", o.FinalURL, `ab()`))
		}
	}, nil)
	for _, c := range changes {
		section("technique: "+c.name, nil, c.apply)
	}
	for _, c := range goldenCases {
		section("case: "+c.name, c.vary, c.apply)
	}
	// An item without attributes (a hand-edited lock file).
	{
		o := shop(1)
		b := learn(t, o)
		for i := range b.Items {
			b.Items[i].Attrs = nil
		}
		o = shop(2)
		o.Scripts[1].Integrity = ""
		o.Frames[0].Hidden = true
		fmt.Fprintf(&out, "== items without attributes\n")
		for _, f := range Compare(b, o) {
			line("finding", finding{f, f.Fingerprint, f.Item})
		}
	}

	golden := "testdata/stored.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Bytes(); !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("stored forms differ from %s at line %d:\ngot  %s\nwant %s", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("stored forms differ from %s: %d lines, want %d", golden, len(gl), len(wl))
	}
}
