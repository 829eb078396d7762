package csp

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

const (
	page     = "https://shop.test/checkout"
	provider = "https://pay.test"
	cdn      = "https://cdn.test"
	pixel    = "https://px.test"
	stable   = `window.shop = {currency: "EUR"};`
	handler  = `track('pay')`
)

func script(kind skimguard.ScriptKind, url, src string, ordinal int) skimguard.Script {
	h := sha256.Sum256([]byte(src))
	s := skimguard.Script{Kind: kind, URL: url, Frame: page, Ordinal: ordinal, SHA256: hex.EncodeToString(h[:]), Size: len(src),
		Source: src, LoadedBy: "parser"}
	if url != "" {
		sri := sha512.Sum384([]byte(src))
		s.SRI = "sha384-" + base64.StdEncoding.EncodeToString(sri[:])
	}
	return s
}

// load is one load of a checkout page: a stable inline script, one whose
// text varies per load, an inline handler, a stable provider script, an
// analytics script with a per-load build stamp, the provider's frame and
// card form, an XHR to the provider and a tracking pixel. With ab, it also
// has an A/B-tested widget from a CDN. headers are its response headers.
func load(n int, ab bool, headers map[string]string) *skimguard.Observation {
	o := &skimguard.Observation{Site: "shop", Page: "checkout", URL: page, FinalURL: page, Status: 200, Headers: headers,
		Scripts: []skimguard.Script{
			script(skimguard.ScriptInline, "", stable, 1),
			script(skimguard.ScriptInline, "", `window.cart = {id: `+strconv.Itoa(1000+n)+`, csrf: "`+strings.Repeat(strconv.Itoa(n), 12)+`"};`, 2),
			script(skimguard.ScriptHandler, "", handler, 1),
			script(skimguard.ScriptExternal, provider+"/v3/fields.js", `fields()`, 1),
			script(skimguard.ScriptExternal, "https://an.test/a.js", `/* build `+strconv.Itoa(n)+` */ a()`, 2),
		},
		Frames: []skimguard.Frame{{URL: provider + "/frame?session=" + strconv.Itoa(n), Origin: provider, Parent: page}},
		Forms: []skimguard.Form{{Frame: page, Action: provider + "/pay", Method: "POST", ID: "pay",
			Inputs: []skimguard.Input{{Field: skimguard.FieldNumber, Name: "cc", Visible: true}}}},
		Connections: []skimguard.Connection{
			{Origin: "https://shop.test", Types: []string{"Document", "XHR"}, Count: 2},
			{Origin: provider, Types: []string{"Script", "Document", "XHR"}, Count: 3},
			{Origin: "https://an.test", Types: []string{"Script"}, Count: 1},
			{Origin: pixel, Types: []string{"Image"}, Count: 1},
		},
	}
	o.Scripts[2].Location = "button#pay[onclick]"
	if ab {
		o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, cdn+"/widget.js", `widget()`, 3))
		o.Connections = append(o.Connections, skimguard.Connection{Origin: cdn, Types: []string{"Script"}, Count: 1})
	}
	return o
}

func learnt(t *testing.T, loads ...*skimguard.Observation) *skimguard.Baseline {
	t.Helper()
	b, err := baseline.Learn(loads, "alice", "onboarding", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL, b.Version = "shop", "checkout", page, 1
	return b
}

func hashSource(src string) string {
	h := sha256.Sum256([]byte(src))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

func directive(p *Policy, name string) []string {
	for _, d := range p.Directives {
		if d.Name == name {
			var vs []string
			for _, s := range d.Sources {
				vs = append(vs, s.Value)
			}
			return vs
		}
	}
	return nil
}

func has(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func warned(p *Policy, part string) bool {
	for _, w := range p.Warnings {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}

func TestGenerateMakesThePolicyTheBaselineAllows(t *testing.T) {
	loads := []*skimguard.Observation{load(1, true, nil), load(2, false, nil), load(3, true, nil)}
	b := learnt(t, loads...)
	p := Generate(b, loads, Options{ReportTo: "https://sg.test/reports/shop/tok"})

	t.Run("script-src: origins, stable hashes, handler hashes with unsafe-hashes, report-sha256", func(t *testing.T) {
		ss := directive(p, "script-src")
		for _, want := range []string{provider, "https://an.test", cdn, hashSource(stable), hashSource(handler), "'unsafe-hashes'", "'report-sha256'"} {
			if !has(ss, want) {
				t.Errorf("script-src has no %s: %q", want, ss)
			}
		}
		for _, v := range ss {
			if strings.HasPrefix(v, "'nonce-") || v == "'strict-dynamic'" || v == "'unsafe-inline'" {
				t.Errorf("script-src has %s for a page without nonces: %q", v, ss)
			}
		}
		if n := strings.Count(strings.Join(ss, " "), "'sha256-"); n != 2 {
			t.Errorf("%d hashes, want the stable inline script's and the handler's only: %q", n, ss)
		}
		if ss[len(ss)-1] != "'report-sha256'" {
			t.Errorf("'report-sha256' is not last: %q", ss)
		}
	})
	t.Run("destinations go under the directive of how the page used them", func(t *testing.T) {
		connect, img := directive(p, "connect-src"), directive(p, "img-src")
		if !has(connect, "'self'") || !has(connect, provider) || has(connect, pixel) {
			t.Errorf("connect-src %q: want 'self' and the provider (XHR), not the pixel", connect)
		}
		if !has(img, pixel) || has(img, provider) {
			t.Errorf("img-src %q: want the pixel (Image), not the provider", img)
		}
		if fr := directive(p, "frame-src"); len(fr) != 1 || fr[0] != provider {
			t.Errorf("frame-src %q, want the provider's frame", fr)
		}
		if fa := directive(p, "form-action"); !has(fa, provider) || !has(fa, "'self'") {
			t.Errorf("form-action %q, want 'self' and the provider", fa)
		}
	})
	t.Run("the headers name the collector", func(t *testing.T) {
		want := map[string]string{
			"Reporting-Endpoints":          `skimguard="https://sg.test/reports/shop/tok"`,
			"Integrity-Policy-Report-Only": "blocked-destinations=(script), endpoints=(skimguard)",
		}
		for _, h := range p.Headers {
			if w, ok := want[h.Name]; ok && h.Value != w {
				t.Errorf("%s: %s, want %s", h.Name, h.Value, w)
			}
			delete(want, h.Name)
		}
		if len(want) > 0 {
			t.Errorf("missing headers %v", want)
		}
		csp := p.Headers[0]
		if csp.Name != "Content-Security-Policy-Report-Only" || !strings.Contains(csp.Value, "report-uri https://sg.test/reports/shop/tok; report-to skimguard") {
			t.Errorf("%s: %s", csp.Name, csp.Value)
		}
	})
	t.Run("the varying inline script is blocked, and the warning says what to change", func(t *testing.T) {
		if !warned(p, "inline #2 in the page varies on every load") || !warned(p, "the policy blocks it") || !warned(p, "data- attribute") {
			t.Errorf("no warning for the varying inline script: %q", p.Warnings)
		}
	})
	t.Run("an origin seen in some samples only is warned about", func(t *testing.T) {
		if !warned(p, "script-src "+cdn+" was seen in only some") {
			t.Errorf("no warning for the A/B widget's origin: %q", p.Warnings)
		}
		if warned(p, "script-src 'self' was seen") {
			t.Errorf("a warning for an origin required items need: %q", p.Warnings)
		}
	})
	t.Run("integrity attributes for the stable scripts only", func(t *testing.T) {
		got := map[string]Integrity{}
		for _, in := range p.Integrity {
			got[in.URL] = in
		}
		fields := got[provider+"/v3/fields.js"]
		if !strings.HasPrefix(fields.Attribute, "sha384-") || fields.CrossOrigin != "anonymous" {
			t.Errorf("the provider's stable script: %+v", fields)
		}
		if a := got["https://an.test/a.js"]; a.Attribute != "" || !strings.Contains(a.Note, "varies") {
			t.Errorf("the per-load analytics script: %+v", a)
		}
	})
	t.Run("--enforce writes the blocking header", func(t *testing.T) {
		pe := Generate(b, loads, Options{ReportTo: "https://sg.test/reports/shop/tok", Enforce: true})
		if pe.Headers[0].Name != "Content-Security-Policy" || pe.Headers[0].Value != p.Headers[0].Value {
			t.Errorf("enforced: %s: %s", pe.Headers[0].Name, pe.Headers[0].Value)
		}
	})
	t.Run("the text explains every directive and lists the headers to copy", func(t *testing.T) {
		var out strings.Builder
		if err := p.Write(&out); err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Directives {
			if !strings.Contains(out.String(), "#   "+d.Name+": ") {
				t.Errorf("no comment line explains %s", d.Name)
			}
		}
		for _, h := range p.Headers {
			if !strings.Contains(out.String(), "\n"+h.Name+": "+h.Value+"\n") {
				t.Errorf("no header line %s", h.Name)
			}
		}
	})
}

func TestGenerateUsesThePagesNonces(t *testing.T) {
	t.Run("a page that enforces nonces with strict-dynamic gets both", func(t *testing.T) {
		h := map[string]string{"content-security-policy": "script-src 'nonce-abc' 'strict-dynamic'"}
		loads := []*skimguard.Observation{load(1, false, h), load(2, false, h)}
		p := Generate(learnt(t, loads...), loads, Options{})
		ss := directive(p, "script-src")
		if !has(ss, "'nonce-{NONCE}'") || !has(ss, "'strict-dynamic'") {
			t.Errorf("script-src %q, want the nonce placeholder and 'strict-dynamic'", ss)
		}
		if !warned(p, "allows it by the page's nonce") {
			t.Errorf("no warning that the varying inline script needs the nonce: %q", p.Warnings)
		}
	})
	t.Run("a nonce in a report-only policy only is no proof that every script carries one", func(t *testing.T) {
		h := map[string]string{"content-security-policy-report-only": "script-src 'nonce-abc' 'strict-dynamic'"}
		loads := []*skimguard.Observation{load(1, false, h), load(2, false, h)}
		ss := directive(Generate(learnt(t, loads...), loads, Options{}), "script-src")
		if !has(ss, "'nonce-{NONCE}'") || has(ss, "'strict-dynamic'") {
			t.Errorf("script-src %q, want the nonce placeholder without 'strict-dynamic'", ss)
		}
	})
}

func TestGenerateWarnsWhereItWouldBreakThePage(t *testing.T) {
	o := load(1, false, nil)
	o.Scripts = append(o.Scripts,
		skimguard.Script{Kind: skimguard.ScriptJSURL, Frame: page, Location: "a#back[href]", Source: "history.back()", Ordinal: 1},
		skimguard.Script{Kind: skimguard.ScriptDynamic, Frame: page, Location: "eval from https://an.test/a.js:1", Source: "1+1", Ordinal: 1},
		skimguard.Script{Kind: skimguard.ScriptInline, Frame: provider + "/frame?session=1", Source: "framed()", Ordinal: 1},
	)
	o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://api.test", Types: []string{"Fetch"}})
	b := learnt(t, o)
	t.Run("without stored loads", func(t *testing.T) {
		p := Generate(b, nil, Options{})
		for _, part := range []string{"javascript: URL", "'unsafe-eval'", "no stored load of the page was read", "placeholder", "one of the page's iframes"} {
			if !warned(p, part) {
				t.Errorf("no warning with %q: %q", part, p.Warnings)
			}
		}
		if !strings.Contains(p.Headers[0].Value, ReportToPlaceholder) {
			t.Errorf("no placeholder for the collector: %s", p.Headers[0].Value)
		}
		// Without loads, no type is known: each destination is allowed
		// for both rather than the page broken.
		if !has(directive(p, "connect-src"), "https://api.test") || !has(directive(p, "img-src"), "https://api.test") {
			t.Errorf("connect-src %q, img-src %q: want the API in both", directive(p, "connect-src"), directive(p, "img-src"))
		}
		if has(directive(p, "script-src"), hashSource("framed()")) {
			t.Errorf("the frame's inline script is hashed into the page's policy")
		}
	})
	t.Run("with the one load, the fetch destination is placed", func(t *testing.T) {
		p := Generate(b, []*skimguard.Observation{o}, Options{})
		if !has(directive(p, "connect-src"), "https://api.test") || has(directive(p, "img-src"), "https://api.test") {
			t.Errorf("connect-src %q, img-src %q: want the API in connect-src only", directive(p, "connect-src"), directive(p, "img-src"))
		}
		if !warned(p, "only one stored load") {
			t.Errorf("no warning that one load cannot show varying scripts: %q", p.Warnings)
		}
	})
}
