package csp

import (
	"errors"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// chromiumBatch is what Chromium 156 sent for a page with the policy:
// an integrity-violation, a csp-hash and a csp-violation for an inline
// script, plus a report of a type skimguard does not read.
const chromiumBatch = `[{"age":101,"body":{"blockedURL":"https://127.0.0.1:39147/a.js","destination":"script","documentURL":"https://127.0.0.1:39147/checkout","reportOnly":true},"type":"integrity-violation","url":"https://127.0.0.1:39147/checkout","user_agent":"Mozilla/5.0 HeadlessChrome/156.0.0.0"},
{"age":101,"body":{"destination":"script","documentURL":"https://127.0.0.1:39147/checkout","hash":"sha256-pTDr/aZMZ2wIdZZPWJ65jdoRkuAFFEfh4AOhmOzypnU=","subresourceURL":"https://127.0.0.1:39147/a.js","type":"subresource"},"type":"csp-hash","url":"https://127.0.0.1:39147/checkout","user_agent":"Mozilla/5.0 HeadlessChrome/156.0.0.0"},
{"age":101,"body":{"blockedURL":"inline","columnNumber":53,"disposition":"report","documentURL":"https://127.0.0.1:39147/checkout","effectiveDirective":"script-src-elem","lineNumber":1,"originalPolicy":"script-src 'self' 'report-sha256'; report-to main","referrer":"","sample":"","sourceFile":"https://127.0.0.1:39147/checkout","statusCode":200},"type":"csp-violation","url":"https://127.0.0.1:39147/checkout","user_agent":"Mozilla/5.0 HeadlessChrome/156.0.0.0"},
{"age":1,"body":{"id":"x","message":"deprecated"},"type":"deprecation","url":"https://127.0.0.1:39147/checkout","user_agent":"Mozilla/5.0"}]`

func TestParseReadsWhatBrowsersSend(t *testing.T) {
	t.Run("a Reporting API batch", func(t *testing.T) {
		rs, skipped, err := Parse("application/reports+json", []byte(chromiumBatch))
		if err != nil || skipped != 1 || len(rs) != 3 {
			t.Fatalf("%+v, skipped %d, %v", rs, skipped, err)
		}
		if rs[0].Type != skimguard.ReportIntegrity || rs[0].URL != "https://127.0.0.1:39147/a.js" {
			t.Errorf("integrity: %+v", rs[0])
		}
		// sha256("window.a=1;")
		if rs[1].Type != skimguard.ReportScriptHash || rs[1].Hash != "sha256:a530ebfda64c676c0875964f589eb98dda1192e0051447e1e003a198ecf2a675" ||
			rs[1].URL != "https://127.0.0.1:39147/a.js" || rs[1].DocumentURL != "https://127.0.0.1:39147/checkout" {
			t.Errorf("csp-hash: %+v", rs[1])
		}
		if rs[2].Type != skimguard.ReportViolation || rs[2].URL != "inline" || rs[2].Directive != "script-src-elem" || rs[2].UserAgent == "" {
			t.Errorf("csp-violation: %+v", rs[2])
		}
	})
	t.Run("a legacy report", func(t *testing.T) {
		rs, _, err := Parse("application/csp-report", []byte(`{"csp-report":{"document-uri":"https://shop.test/checkout","blocked-uri":"https://evil.test/g.php","violated-directive":"connect-src 'self'"}}`))
		if err != nil || len(rs) != 1 || rs[0].Directive != "connect-src" || rs[0].URL != "https://evil.test/g.php" {
			t.Fatalf("%+v, %v", rs, err)
		}
	})
	t.Run("malformed hashes and bodies are skipped or refused", func(t *testing.T) {
		rs, skipped, err := Parse("application/reports+json; charset=utf-8", []byte(`[{"type":"csp-hash","body":{"destination":"script","hash":"sha384-AAAA","subresourceURL":"https://x.test/a.js"}},
			{"type":"csp-hash","body":{"destination":"style","hash":"sha256-pTDr/aZMZ2wIdZZPWJ65jdoRkuAFFEfh4AOhmOzypnU=","subresourceURL":"https://x.test/a.css"}},
			{"type":"csp-violation","body":"not an object"}]`))
		if err != nil || len(rs) != 0 || skipped != 3 {
			t.Errorf("%+v, skipped %d, %v", rs, skipped, err)
		}
		if _, _, err := Parse("application/reports+json", []byte(`{`)); err == nil || errors.Is(err, ErrMediaType) {
			t.Errorf("a malformed body: %v", err)
		}
		if _, _, err := Parse("text/plain", []byte(`[]`)); !errors.Is(err, ErrMediaType) {
			t.Errorf("text/plain: %v", err)
		}
	})
	t.Run("a batch is read up to MaxBatch reports", func(t *testing.T) {
		one := `{"type":"integrity-violation","body":{"blockedURL":"https://x.test/a.js","documentURL":"https://shop.test/"}}`
		rs, skipped, err := Parse(ReportsJSON, []byte("["+strings.Repeat(one+",", MaxBatch+4)+one+"]"))
		if err != nil || len(rs) != MaxBatch || skipped != 5 {
			t.Errorf("%d read, %d skipped, %v", len(rs), skipped, err)
		}
	})
}

func TestNoiseTellsExtensionsFromThePage(t *testing.T) {
	for _, c := range []struct {
		r    Report
		want string
	}{
		{Report{URL: "chrome-extension://abc/inject.js", DocumentURL: "https://shop.test/checkout"}, NoiseExtension},
		{Report{URL: "inline", SourceFile: "moz-extension://1234/content.js"}, NoiseExtension},
		{Report{URL: "inline", Sample: `var s=document.createElement("script");s.src="safari-web-extension://x/y.js"`}, NoiseExtension},
		{Report{URL: "webkit-masked-url://hidden/"}, NoiseExtension},
		{Report{URL: "https://evil.test/x", DocumentURL: "about:blank"}, NoiseBrowser},
		{Report{URL: "inline", SourceFile: "https://shop.test/checkout", Sample: "steal()"}, ""},
		{Report{URL: "https://evil.test/g.php?x=chrome-extension", DocumentURL: "https://shop.test/checkout"}, ""},
	} {
		if got := Noise(c.r); got != c.want {
			t.Errorf("Noise(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
}

func TestAggregateKeepsLittle(t *testing.T) {
	p := skimguard.Page{Site: "shop", Name: "checkout", URL: "https://shop.test/checkout"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, ok := Aggregate(p, Report{Type: skimguard.ReportViolation, URL: "https://Evil.test:8443/c.gif?cc=4111111111111111", Directive: "img-src",
		UserAgent: "UA 4111 1111 1111 1111"}, at)
	if !ok || a.Subject != "https://evil.test:8443" || a.Directive != "img-src" || a.Site != "shop" || a.Page != "checkout" || !a.FirstSeen.Equal(at) {
		t.Errorf("violation: %+v", a)
	}
	if strings.Contains(a.UserAgents[0], "4111 1111 1111 1111") {
		t.Errorf("a card number kept in the user agent: %q", a.UserAgents[0])
	}
	a, ok = Aggregate(p, Report{Type: skimguard.ReportScriptHash, URL: "https://u:pw@cdn.test/a.js?v=1#frag", Hash: "sha256:ab"}, at)
	if !ok || a.Subject != "https://cdn.test/a.js?v=1" || a.Hash != "sha256:ab" {
		t.Errorf("csp-hash: %+v", a)
	}
	a, ok = Aggregate(p, Report{Type: skimguard.ReportViolation, URL: "inline", Directive: "script-src-elem"}, at)
	if !ok || a.Subject != "inline" {
		t.Errorf("inline: %+v", a)
	}
	if a, _ := Aggregate(p, Report{Type: skimguard.ReportViolation, URL: "<script>alert(1)</script>", Directive: "x"}, at); a.Subject != "other" {
		t.Errorf("free text kept: %+v", a)
	}
	if _, ok := Aggregate(p, Report{Type: skimguard.ReportScriptHash, URL: "javascript:steal()", Hash: "sha256:ab"}, at); ok {
		t.Errorf("a script hash of a non-web URL kept")
	}
}

func TestSamePageIgnoresQueryAndFragment(t *testing.T) {
	for doc, want := range map[string]bool{
		"https://shop.test/checkout?order=9#pay": true,
		"https://SHOP.test/checkout":             true,
		"https://shop.test/checkout/":            false,
		"https://shop.test/account":              false,
		"http://shop.test/checkout":              false,
		"about:blank":                            false,
	} {
		if got := SamePage("https://shop.test/checkout", doc); got != want {
			t.Errorf("SamePage(%q) = %v", doc, got)
		}
	}
}
