package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/skimguard/skimguard/internal/browsertest"
)

// The policy `skimguard csp --enforce` prints from the demo shop's
// approved baseline, added to the shop's checkout page the way a merchant
// would (with the page's own nonce where it says {NONCE}), lets the clean
// page work in real Chromium without one violation, and blocks the planted
// skimmer: its card data never reaches the attacker.
func TestCSPEnforcedFromTheBaselineBlocksThePlantedSkimmerOnly(t *testing.T) {
	shop := startShop(t)
	// The merchant's server: the demo shop behind a proxy that adds the
	// printed headers once there are some.
	origin, _ := url.Parse(shop.ShopURL)
	var policy atomic.Pointer[[]header]
	nonce := regexp.MustCompile(`'nonce-([A-Za-z0-9+/=_-]+)'`)
	proxy := httputil.NewSingleHostReverseProxy(origin)
	proxy.ModifyResponse = func(resp *http.Response) error {
		hs := policy.Load()
		if hs == nil || resp.Request.URL.Path != "/checkout" {
			return nil
		}
		// The shop's own report-only policy names the nonce its inline
		// script carries on this response.
		m := nonce.FindStringSubmatch(resp.Header.Get("Content-Security-Policy-Report-Only"))
		if m == nil {
			return fmt.Errorf("no nonce in the shop's policy %q", resp.Header.Get("Content-Security-Policy-Report-Only"))
		}
		for _, h := range *hs {
			resp.Header.Add(h.name, strings.ReplaceAll(h.value, "{NONCE}", m[1]))
		}
		return nil
	}
	merchant := httptest.NewServer(proxy)
	t.Cleanup(merchant.Close)

	dir := t.TempDir()
	cfg := writeConfig(t, dir, merchant.URL+"/checkout")
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--samples", "3", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := cli(t, "csp", "--config", cfg, "--db", db, "--enforce", "--report-to", "https://skimguard.invalid/reports/shop/0123")
	if code != exitOK {
		t.Fatalf("csp: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("skimguard csp --enforce:\n%s", out)
	hs := headerLines(out)
	var csp string
	for _, h := range hs {
		if h.name == "Content-Security-Policy" {
			csp = h.value
		}
	}
	for _, want := range []string{"'report-sha256'", "'nonce-{NONCE}'", shop.ProviderURL, shop.CDNURL, "report-to skimguard", "connect-src 'self' "} {
		if !strings.Contains(csp, want) {
			t.Errorf("the policy has no %s: %s", want, csp)
		}
	}
	for _, want := range []string{
		"# WARNING: inline #1 in the page varies on every load", // the per-load checkout config
		`<script src="` + shop.ProviderURL + `/v3/fields.js" integrity="sha384-`,
		"analytics.js?cb=*: no integrity attribute: its text varies on every load",
		"Reporting-Endpoints: skimguard=\"https://skimguard.invalid/reports/shop/0123\"",
		"Integrity-Policy-Report-Only: blocked-destinations=(script), endpoints=(skimguard)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output has no %q", want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	ctx := browsertest.New(t)
	// Violations are recorded in the page before any of its scripts runs;
	// only those of the printed policy count (the shop's own report-only
	// policy reports plenty).
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__violations = [];
		document.addEventListener('securitypolicyviolation', e => {
			if (e.originalPolicy.includes("'report-sha256'"))
				window.__violations.push(e.disposition + ' ' + e.effectiveDirective + ' ' + e.blockedURI);
		});`}); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) string {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(actx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	violations := func() []string {
		var vs []string
		json.Unmarshal([]byte(eval(`JSON.stringify(window.__violations || [])`)), &vs)
		return vs
	}
	// requested reports whether the page fetched a URL starting with
	// prefix: resource timing lists what the browser fetched, and nothing
	// a policy blocked.
	requested := func(prefix string) bool {
		return eval(fmt.Sprintf(`String(performance.getEntriesByType('resource').some(e => e.name.startsWith(%q)))`, prefix)) == "true"
	}
	shopAndPay := func(what string) {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := chromedp.Do(actx,
			chromedp.Navigate(merchant.URL+"/checkout"),
			chromedp.WaitVisible(`input[name=cc-number]`),
			chromedp.SendKeys(`input[name=cc-name]`, "Jane Shopper"),
			chromedp.SendKeys(`input[name=cc-number]`, "4111111111111111"),
			chromedp.SendKeys(`input[name=cc-exp]`, "12/30"),
			chromedp.SendKeys(`input[name=cc-csc]`, "123"),
			chromedp.SendKeys(`input[name=cc-name]`, " "), // leaves the CVC: its change event fires
		)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitFor := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s; violations: %q", d, what, violations())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	shop.Plant()
	t.Run("without the policy the planted skimmer sends the card to the attacker", func(t *testing.T) {
		shopAndPay("shop without the policy")
		waitFor(15*time.Second, "the attacker to receive the card", func() bool { return len(shop.Stolen()) > 0 })
	})
	stolen := len(shop.Stolen())

	policy.Store(&hs)
	shop.Clean()
	t.Run("with the policy the clean page works with no violation", func(t *testing.T) {
		shopAndPay("shop with the policy")
		// The provider's script tokenises the card when its number is
		// complete, the analytics script sends its beacon and the
		// provider's 3-D Secure frame loads: approved destinations the
		// policy must let through.
		waitFor(15*time.Second, "the provider's token request, the analytics beacon and the 3-D Secure frame", func() bool {
			return requested(shop.ProviderURL+"/v1/tokens") && requested(shop.CDNURL+"/collect") && requested(shop.ProviderURL+"/3ds/device")
		})
		for js, want := range map[string]string{
			`String(typeof window.checkoutConfig)`:              "object", // the varying inline script, by nonce
			`document.documentElement.dataset.experiment || ""`: "pay-button-",
			`document.getElementById('pay').textContent`:        "Pay €84.00",
		} {
			if got := eval(js); !strings.HasPrefix(got, want) {
				t.Errorf("%s = %q, want %q...", js, got, want)
			}
		}
		if vs := violations(); len(vs) > 0 {
			t.Errorf("the clean page broke the policy: %q", vs)
		}
	})

	shop.Plant()
	t.Run("with the policy the planted skimmer is blocked and nothing reaches the attacker", func(t *testing.T) {
		shopAndPay("shop with the policy, skimmer planted")
		waitFor(15*time.Second, "the provider's token request (the change events ran) and the skimmer's violation", func() bool {
			if !requested(shop.ProviderURL + "/v1/tokens") {
				return false
			}
			for _, v := range violations() {
				if strings.HasPrefix(v, "enforce script-src-elem inline") {
					return true
				}
			}
			return false
		})
		if requested(shop.AttackerURL) {
			t.Errorf("the page fetched from the attacker")
		}
		// Leaving the page ends anything it still had in flight.
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(actx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		if got := shop.Stolen(); len(got) != stolen {
			t.Errorf("the attacker received %q under the policy", got[stolen:])
		}
	})
}

type header struct{ name, value string }

// headerLines reads the header lines of the csp command's output: those
// that are not comments.
func headerLines(out string) []header {
	var hs []header
	for _, l := range strings.Split(out, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if name, value, ok := strings.Cut(l, ": "); ok {
			hs = append(hs, header{name, value})
		}
	}
	return hs
}
