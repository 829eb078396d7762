package baseline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// The test shop: a checkout page on https://shop.test whose card fields sit
// in the provider's iframe on https://pay.provider.test, with the per-load
// variation real pages have. Every value that differs per load is derived
// from the load number, so load n is reproducible.

var at = time.Date(2024, 11, 22, 10, 0, 0, 0, time.UTC)

// rnd returns a per-load pseudo-random hex string of n characters.
func rnd(load int, what string, n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d/%s", load, what)))
	return hex.EncodeToString(sum[:])[:n]
}

// token returns a per-load token mixing cases and digits, like real CSRF
// tokens and nonces.
func token(load int, what string) string {
	h := rnd(load, what, 32)
	return strings.ToUpper(h[:8]) + h[8:]
}

func ts(load int) int64 { return 1732271234 + int64(load)*3607 }

func script(kind skimguard.ScriptKind, url, frame, src string) skimguard.Script {
	sum := sha256.Sum256([]byte(src))
	return skimguard.Script{Kind: kind, URL: url, Frame: frame, Source: src, SHA256: hex.EncodeToString(sum[:]), Size: len(src), LoadedBy: "parser"}
}

// setSource replaces a script's text, keeping its hash right.
func setSource(s *skimguard.Script, src string) {
	sum := sha256.Sum256([]byte(src))
	s.Source, s.SHA256, s.Size, s.SRI = src, hex.EncodeToString(sum[:]), len(src), ""
}

const modernizr = `/*! modernizr 3.6.0 (Custom Build) | MIT */
!function(e,n,t){function o(e,n){return typeof e===n}var s=[],a={_version:"3.6.0",_config:{classPrefix:"",enableClasses:!0},_q:[],on:function(e,n){var t=this;setTimeout(function(){n(t[e])},0)}};
var l=n.documentElement,f="svg"===l.nodeName.toLowerCase();Modernizr=new Modernizr}(window,document);`

const jquery = `/*! jQuery v3.7.1 | (c) OpenJS Foundation */
!function(e,t){"use strict";"object"==typeof module&&"object"==typeof module.exports?module.exports=e.document?t(e,!0):function(e){return t(e)}:t(e)}("undefined"!=typeof window?window:this,function(ie,e){var oe=[],r=Object.getPrototypeOf,ae=oe.slice;return ie.jQuery=ie.$=ce});`

// gtm returns the tag manager container: its text carries a build stamp
// and a per-load id.
func gtm(load int) string {
	return fmt.Sprintf(`// Copyright 2012 Google Inc. All rights reserved.
(function(){var data={"resource":{"version":"40","macros":[{"function":"__e"}],"tags":[{"function":"__html","vtp_html":"\u003cscript\u003ewindow.gtmLoaded=true\u003c\/script\u003e"}]},"runtime":[]};
var ca={build:"%s",loadId:"%s",start:%d};var Ya=function(a){return a.replace(/\s+/g," ")};
window.google_tag_manager=window.google_tag_manager||{};window.google_tag_manager["GTM-ABC12"]={id:"GTM-ABC12",ca:ca};})();`,
		rnd(load, "build", 10), token(load, "gtmload"), ts(load)*1000)
}

// inlineConfig is the checkout's inline configuration with a CSRF token,
// timestamp and cart id.
func inlineConfig(load int) string {
	return fmt.Sprintf(`window.checkoutConfig = {"formKey":"%s","csrfToken":"%s","quoteId":"%d","ts":%d,"baseUrl":"https:\/\/shop.test\/","payment":{"provider":"https://pay.provider.test/v3/"}};
require(["Magento_Checkout/js/view/payment"], function (p) { p.init(window.checkoutConfig); });`,
		rnd(load, "formkey", 16), token(load, "csrf"), 100000+load*7, ts(load))
}

func inlineNonce(load int) string {
	return fmt.Sprintf(`var __webpack_nonce__ = '%s'; window.__cspNonce = __webpack_nonce__;`, token(load, "nonce"))
}

// shop returns load number load of the clean checkout page.
func shop(load int) *skimguard.Observation {
	top := "https://shop.test/checkout"
	if load%2 == 1 {
		top += "#payment" // SPAs move the fragment around
	}
	providerFrame := fmt.Sprintf("https://pay.provider.test/v3/card-fields.html?session=%s&origin=https%%3A%%2F%%2Fshop.test#%s", token(load, "psess"), rnd(load, "frag", 8))
	o := &skimguard.Observation{
		Site: "shop", Page: "checkout",
		URL: "https://shop.test/checkout", FinalURL: top,
		Redirects: []string{"http://shop.test/checkout"},
		Status:    200, Profile: "desktop",
		StartedAt: at.Add(time.Duration(load) * time.Hour),
		Headers: map[string]string{
			"content-security-policy": fmt.Sprintf("default-src 'self'; script-src 'self' 'nonce-%s' https://cdn.good.test https://www.googletagmanager.com; frame-src https://pay.provider.test; connect-src 'self' https://www.google-analytics.com https://pay.provider.test; report-uri https://shop.test/csp-report?rid=%s",
				token(load, "nonce"), rnd(load, "rid", 12)),
			"strict-transport-security": "max-age=31536000; includeSubDomains",
			"x-frame-options":           "SAMEORIGIN",
			"x-content-type-options":    "nosniff",
		},
		Typed: true,
	}
	scripts := []skimguard.Script{
		script(skimguard.ScriptExternal, fmt.Sprintf("https://shop.test/static/js/modernizr.js?cb=%d", ts(load)), top, modernizr),
		script(skimguard.ScriptExternal, "https://cdn.good.test/jquery-3.7.1.min.js", top, jquery),
		script(skimguard.ScriptInline, "", top, inlineConfig(load)),
		script(skimguard.ScriptInline, "", top, inlineNonce(load)),
		script(skimguard.ScriptExternal, "https://www.googletagmanager.com/gtm.js?id=GTM-ABC12", top, gtm(load)),
		script(skimguard.ScriptDynamic, "", top, fmt.Sprintf(`dataLayer.push({"event":"gtm.js","gtm.start":%d,"gtm.uniqueEventId":%d})`, ts(load)*1000, load)),
		script(skimguard.ScriptHandler, "", top, `return checkout.placeOrder(event)`),
		script(skimguard.ScriptExternal, "https://pay.provider.test/v3/fields.js", providerFrame, `(function(){var f=document.querySelectorAll("input");for(var i=0;i<f.length;i++){f[i].addEventListener("input",send)}function send(){parent.postMessage({t:"tick"},"*")}})();`),
	}
	scripts[1].Integrity = "sha384-1H217gwSVyLSIfaLxHbE7dRb3v4mYCKbpQvzx0cegeju1MVsGrX5xXxAvs/HgeFs"
	scripts[1].CrossOrigin = "anonymous"
	scripts[4].LoadedBy = "https://shop.test/checkout"
	scripts[5].LoadedBy = "https://www.googletagmanager.com/gtm.js?id=GTM-ABC12"
	scripts[5].Location = "eval from https://www.googletagmanager.com/gtm.js?id=GTM-ABC12:3"
	scripts[6].Location = "button#place-order[onclick]"
	o.Scripts = scripts
	o.Frames = []skimguard.Frame{{
		URL: providerFrame, Origin: "https://pay.provider.test", Parent: top,
		Name: fmt.Sprintf("__privateFrame%d", 1000+load), Allow: "payment",
	}}
	o.Forms = []skimguard.Form{
		{Frame: top, Action: fmt.Sprintf("https://shop.test/checkout/order/place?form_key=%s", rnd(load, "formkey", 16)), Method: "POST", ID: "co-payment-form"},
		{Frame: providerFrame, Formless: true, Inputs: []skimguard.Input{
			{Field: skimguard.FieldNumber, Name: "cardnumber", Visible: true},
			{Field: skimguard.FieldExpiry, Name: "exp-date", Visible: true},
			{Field: skimguard.FieldCVC, Name: "cvc", Visible: true},
		}},
	}
	o.Connections = []skimguard.Connection{
		{Origin: "https://shop.test", Types: []string{"Document", "Script", "XHR"}, Initiators: []string{"parser"}, Example: "https://shop.test/checkout", Count: 12},
		{Origin: "https://cdn.good.test", Types: []string{"Script"}, Initiators: []string{"parser"}, Example: "https://cdn.good.test/jquery-3.7.1.min.js", Count: 1},
		{Origin: "https://www.googletagmanager.com", Types: []string{"Script"}, Initiators: []string{"parser"}, Example: "https://www.googletagmanager.com/gtm.js", Count: 1},
		{Origin: "https://www.google-analytics.com", Types: []string{"Ping"}, Initiators: []string{"https://www.googletagmanager.com/gtm.js?id=GTM-ABC12"}, Example: "https://www.google-analytics.com/g/collect", Count: 2},
		{Origin: "https://pay.provider.test", Types: []string{"Document", "Fetch", "Script"}, Example: "https://pay.provider.test/v3/tokens", Count: 4, AfterTyping: true},
	}
	o.Leaks = []skimguard.Leak{{
		Origin: "https://pay.provider.test", URL: "https://pay.provider.test/v3/tokens", Method: "POST", Type: "Fetch",
		Initiator: "https://pay.provider.test/v3/fields.js", Fields: []skimguard.CardField{skimguard.FieldCVC, skimguard.FieldExpiry, skimguard.FieldNumber},
		Encoding: "json", Where: "body",
	}}
	numberOrdinals(o)
	return o
}

// numberOrdinals sets Ordinal the way the crawler does: per kind and frame,
// from 1, in order.
func numberOrdinals(o *skimguard.Observation) {
	n := map[string]int{}
	for i := range o.Scripts {
		s := &o.Scripts[i]
		k := string(s.Kind) + "|" + s.Frame
		n[k]++
		s.Ordinal = n[k]
		if s.Kind == skimguard.ScriptInline {
			s.Location = fmt.Sprintf("line %d col 5", 20+10*s.Ordinal)
		}
	}
}

// learn learns the shop's baseline from the given loads.
func learn(t testing.TB, loads ...*skimguard.Observation) *skimguard.Baseline {
	t.Helper()
	b, err := Learn(loads, "alice", "initial baseline, reviewed", at)
	if err != nil {
		t.Fatalf("Learn: %v", err)
	}
	return b
}

func scriptByURL(o *skimguard.Observation, prefix string) *skimguard.Script {
	for i := range o.Scripts {
		if strings.HasPrefix(o.Scripts[i].URL, prefix) {
			return &o.Scripts[i]
		}
	}
	panic("no script " + prefix)
}

func describe(fs []skimguard.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s %s: %s", f.Severity, f.Kind, f.Subject, f.Detail)
	}
	return b.String()
}
