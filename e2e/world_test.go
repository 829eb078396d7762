package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// world is a small web of loopback origins: a shop (127.0.0.1), a payment
// provider (127.0.0.2), an analytics/tag CDN (127.0.0.3) and an attacker
// (127.0.0.4). Each technique lives under /t/NAME/ on every origin and is
// served clean or planted.
type world struct {
	shop, provider, cdn, evil *httptest.Server

	mu         sync.Mutex
	techniques map[string]*technique
	planted    map[string]bool
	hits       map[string]*atomic.Int64 // page loads per technique, drives the A/B test
	// got holds, per technique, what its attacker received: each request's
	// URL and body, and each WebSocket frame. It proves that a skimmer
	// fired for the shopper before the test asks whether skimguard saw it.
	got map[string][][]byte
	// peers are the attacker's WebRTC peers (webrtc_test.go).
	peers []*webrtc.PeerConnection
}

// page is what a technique's checkout looks like; technique funcs change it.
type page struct {
	T                             string // technique name
	Shop, Provider, CDN, Evil     string // origins
	Base, CDNBase, EvilBase       string // origin + "/t/NAME"
	Nonce, CSRF, Session, AB      string
	Cart, Now                     int64
	Direct, Magento               bool // card form on the merchant's own page
	Action                        string
	FrameSrc                      string
	SRIAttrs                      template.HTMLAttr
	Head, Body                    template.HTML
	AppJS, WidgetJS, GTMJS        string
	Snippet                       string // code the first-party loader compiles with new Function
	Redirect                      string
	CSP                           string
	EvilFiles                     map[string]string // path under EvilBase → body
	EvilHTML                      map[string]string
	ShopFiles                     map[string]string // path under Base → script: workers, a service worker
	NoAnalytics                   bool
	CheckoutPath                  string
	LibJS                         string
	ExtraCDNFiles                 map[string]string
	AnalyticsJS                   string
	ProviderHostedFieldsAutoToken bool

	// Header is the request's headers, for kits that serve the skimmer
	// by the shopper's language or device; nil when the page is built for
	// routing or for another origin.
	Header http.Header
}

func listen(t testing.TB, ip string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v (Linux routes all of 127.0.0.0/8 to loopback)", ip, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	return s
}

func newWorld(t testing.TB) *world {
	w := &world{techniques: map[string]*technique{}, planted: map[string]bool{}, hits: map[string]*atomic.Int64{}, got: map[string][][]byte{}}
	w.shop = listen(t, "127.0.0.1", http.HandlerFunc(w.serveShop))
	w.provider = listen(t, "127.0.0.2", http.HandlerFunc(w.serveProvider))
	w.cdn = listen(t, "127.0.0.3", http.HandlerFunc(w.serveCDN))
	w.evil = listen(t, "127.0.0.4", http.HandlerFunc(w.serveEvil))
	t.Cleanup(func() { w.shop.Close(); w.provider.Close(); w.cdn.Close(); w.evil.Close(); w.closePeers() })
	return w
}

func (w *world) add(tc *technique) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.techniques[tc.name] = tc
	w.hits[tc.name] = new(atomic.Int64)
}

func (w *world) plant(name string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.planted[name] = on
}

// record keeps what the attacker of technique name received.
func (w *world) record(name string, data []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got[name] = append(w.got[name], data)
}

// received returns what the attacker of technique name received, in order.
func (w *world) received(name string) [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got[name])
}

// recordRequest records a request's URL and body for the technique its
// path names, if any.
func (w *world) recordRequest(r *http.Request) {
	name, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/t/"), "/")
	if !ok || !strings.HasPrefix(r.URL.Path, "/t/") {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	w.record(name, append([]byte(r.URL.RequestURI()+"\n"), body...))
}

func (w *world) checkoutURL(tc *technique) string {
	p := w.pageFor(tc, false, false)
	return w.shop.URL + "/t/" + tc.name + p.CheckoutPath
}

func rnd(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pageFor builds the technique's page for one request: fresh per-load
// values every time, as real shops have.
func (w *world) pageFor(tc *technique, planted, count bool) *page {
	return w.pageOf(tc, planted, count, nil)
}

// pageOf is pageFor for a request with header h, which the technique may
// read.
func (w *world) pageOf(tc *technique, planted, count bool, h http.Header) *page {
	w.mu.Lock()
	hits := w.hits[tc.name]
	w.mu.Unlock()
	n := hits.Load()
	if count {
		n = hits.Add(1)
	}
	ab := "ab-a"
	if n%2 == 0 {
		ab = "ab-b"
	}
	// Sticky, as A/B tests are: a shopper who comes back (the second load
	// of a page with a service worker) keeps the variant.
	if c, err := (&http.Request{Header: h}).Cookie("ab"); h != nil && err == nil && (c.Value == "ab-a" || c.Value == "ab-b") {
		ab = c.Value
	}
	p := &page{
		T: tc.name, Shop: w.shop.URL, Provider: w.provider.URL, CDN: w.cdn.URL, Evil: w.evil.URL,
		Nonce: rnd(12), CSRF: rnd(16), Session: rnd(10), AB: ab, Cart: 4000 + n, Now: time.Now().UnixNano(),
		CheckoutPath: "/checkout",
		AppJS:        "// storefront v3.1.0\ndocument.addEventListener('DOMContentLoaded', function () { document.body.dataset.ready = '1'; });\n",
		WidgetJS:     "/* ChatNow widget 5.2 */\nwindow.ChatNow = { open: function () { return 'chat'; } };\n",
		GTMJS:        "(function () { var tags = []; tags.forEach(function (t) { t(); }); })();\n",
		CSP:          "default-src 'self' 'unsafe-inline' 'unsafe-eval' http: ws:; img-src * data:; frame-ancestors 'none'",
		EvilFiles:    map[string]string{},
		EvilHTML:     map[string]string{},
		ShopFiles:    map[string]string{},
		LibJS:        "window.lib = { version: '1.0.0' };\n",
	}
	p.Base = p.Shop + "/t/" + tc.name
	p.CDNBase = p.CDN + "/t/" + tc.name
	p.EvilBase = p.Evil + "/t/" + tc.name
	p.Action = p.Provider + "/pay"
	p.FrameSrc = p.Provider + "/hosted"
	p.Header = h
	if tc.base != nil {
		tc.base(p)
	}
	if planted && tc.plant != nil {
		tc.plant(p)
	}
	return p
}

func (w *world) lookup(r *http.Request) (*technique, bool, string, bool) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/t/"), "/", 2)
	if !strings.HasPrefix(r.URL.Path, "/t/") || len(parts) != 2 {
		return nil, false, "", false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	tc, ok := w.techniques[parts[0]]
	return tc, w.planted[parts[0]], "/" + parts[1], ok
}

var checkoutTmpl = template.Must(template.New("").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title>
<script nonce="{{.Nonce}}">window.checkout = {"csrf": "{{.CSRF}}", "cart": {{.Cart}}, "ts": {{.Now}}};</script>
{{if .Magento}}<script src="{{.Base}}/static/jquery.js"></script>{{end}}
<script src="{{.Base}}/static/app.js"></script>
<script src="{{.Base}}/static/{{.AB}}.js"></script>
{{if not .NoAnalytics}}<script src="{{.CDNBase}}/analytics.js?cb={{.Now}}" async></script>{{end}}
<script src="{{.CDNBase}}/gtm.js?id=GTM-K9X2&cb={{.Now}}"></script>
<script src="{{.CDNBase}}/widget.js"></script>
<script src="{{.CDNBase}}/lib.js" {{.SRIAttrs}}></script>
{{.Head}}
</head><body>
<h1>Checkout</h1>
{{if .Magento}}
<form id="co-payment-form" action="{{.Action}}" method="post">
 <input name="billing[firstname]" value="Tessa">
 <input type="text" id="ccsave_cc_owner" name="payment[cc_owner]">
 <input type="text" id="ccsave_cc_number" name="payment[cc_number]">
 <select id="ccsave_expiration" name="payment[cc_exp_month]"><option value="">Month</option>{{range $m := .Months}}<option value="{{$m}}">{{$m}}</option>{{end}}</select>
 <select id="ccsave_expiration_yr" name="payment[cc_exp_year]"><option value="">Year</option>{{range $y := .Years}}<option value="{{$y}}">{{$y}}</option>{{end}}</select>
 <input type="text" id="ccsave_cc_cid" name="payment[cc_cid]">
 <div id="payment-buttons-container"><button id="pay" type="submit">Place order</button></div>
</form>
{{else if .Direct}}
<form id="payment" action="{{.Action}}" method="post">
 <input type="hidden" name="csrf" value="{{.CSRF}}">
 <input name="cc-name" autocomplete="cc-name">
 <input name="cc-number" autocomplete="cc-number" inputmode="numeric">
 <input name="cc-exp" autocomplete="cc-exp">
 <input name="cc-csc" autocomplete="cc-csc">
 <button id="pay" type="submit">Pay</button>
</form>
{{else}}
<form id="checkout" action="{{.Base}}/order" method="post">
 <input name="email" autocomplete="email" value="tessa@example.com">
 <iframe id="card-frame" title="card" src="{{.FrameSrc}}?session={{.Session}}" width="420" height="220"></iframe>
 <button id="pay" type="submit">Pay</button>
</form>
{{end}}
{{.Body}}
</body></html>`))

func (p *page) Months() []string {
	return []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"}
}

// Years are the next ten, as a shop lists them for the expiry.
func (p *page) Years() []string {
	var ys []string
	for y := time.Now().Year(); len(ys) < 10; y++ {
		ys = append(ys, fmt.Sprint(y))
	}
	return ys
}

func js(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/javascript")
	fmt.Fprint(w, body)
}

func (w *world) serveShop(rw http.ResponseWriter, r *http.Request) {
	tc, planted, rest, ok := w.lookup(r)
	if !ok {
		http.NotFound(rw, r)
		return
	}
	p := w.pageOf(tc, planted, rest == p0(tc).CheckoutPath, r.Header)
	switch rest {
	case p.CheckoutPath:
		if p.Redirect != "" {
			http.Redirect(rw, r, p.Redirect, http.StatusFound)
			return
		}
		h := rw.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		if p.CSP != "" {
			h.Set("Content-Security-Policy", p.CSP)
		}
		h.Set("Content-Security-Policy-Report-Only", "script-src 'nonce-"+p.Nonce+"' 'strict-dynamic'; report-uri /csp?id="+rnd(4))
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("X-Request-Id", rnd(8))
		http.SetCookie(rw, &http.Cookie{Name: "sid", Value: rnd(12), Path: "/"})
		http.SetCookie(rw, &http.Cookie{Name: "ab", Value: p.AB, Path: "/"})
		if err := checkoutTmpl.Execute(rw, p); err != nil {
			panic(err)
		}
	case "/static/app.js":
		js(rw, p.AppJS)
	case "/static/ab-a.js":
		js(rw, "document.documentElement.dataset.variant = 'green';")
	case "/static/ab-b.js":
		js(rw, "document.documentElement.dataset.variant = 'blue';")
	case "/static/snippet.txt":
		rw.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(rw, p.Snippet)
	case "/static/jquery.js":
		js(rw, jqueryShim)
	case "/order":
		fmt.Fprint(rw, "order placed")
	default:
		if body, ok := p.ShopFiles[rest]; ok {
			js(rw, body)
			return
		}
		http.NotFound(rw, r)
	}
}

// p0 is the technique's page without per-request effects, for routing.
func p0(tc *technique) *page {
	p := &page{CheckoutPath: "/checkout", EvilFiles: map[string]string{}, EvilHTML: map[string]string{}, ShopFiles: map[string]string{}}
	if tc.base != nil {
		tc.base(p)
	}
	return p
}

// serveProvider is the payment provider: hosted card fields in an iframe
// that send the card to the provider's own API (normal), and its form target.
func (w *world) serveProvider(rw http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hosted":
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(rw, `<!doctype html><html><body>
<script>var session = %q;</script>
<form id="card" action="/pay" method="post">
<input name="cardnumber" autocomplete="cc-number"><input name="exp-date" autocomplete="cc-exp"><input name="cvc" autocomplete="cc-csc">
</form>
<script>
document.addEventListener('change', function (e) {
  if (e.target.name !== 'cardnumber') return;
  var x = new XMLHttpRequest(); x.open('POST', '/v1/tokens'); x.setRequestHeader('Content-Type', 'application/json');
  x.send(JSON.stringify({ number: e.target.value, session: session }));
}, true);
</script></body></html>`, r.URL.Query().Get("session"))
	case "/v1/tokens":
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(rw, `{"token":"tok_%s"}`, rnd(6))
	case "/pay":
		fmt.Fprint(rw, "paid")
	default:
		http.NotFound(rw, r)
	}
}

func (w *world) serveCDN(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Access-Control-Allow-Origin", "*")
	if r.URL.Path == "/collect" {
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	tc, planted, rest, ok := w.lookup(r)
	if !ok {
		http.NotFound(rw, r)
		return
	}
	p := w.pageFor(tc, planted, false)
	switch rest {
	case "/collect":
		// The analytics endpoint, per technique, for the skimmer that
		// abuses a service the page already uses.
		w.recordRequest(r)
		rw.WriteHeader(http.StatusNoContent)
	case "/analytics.js":
		// A per-load client id and build stamp, as analytics and tag
		// containers carry.
		if p.AnalyticsJS != "" {
			js(rw, p.AnalyticsJS)
			return
		}
		js(rw, fmt.Sprintf(`/* build %d */ (function () { var cid = %q; navigator.sendBeacon(%q + '/collect?t=pageview&cid=' + cid); })();`,
			time.Now().UnixNano(), rnd(5), p.CDN))
	case "/gtm.js":
		js(rw, fmt.Sprintf("/* container GTM-K9X2 version %d, built %s */\n%s", 41, time.Now().Format(time.RFC3339Nano), p.GTMJS))
	case "/widget.js":
		js(rw, p.WidgetJS)
	case "/lib.js":
		js(rw, p.LibJS)
	default:
		if body, ok := p.ExtraCDNFiles[rest]; ok {
			js(rw, body)
			return
		}
		http.NotFound(rw, r)
	}
}

// serveEvil is the attacker: it serves the technique's files and accepts
// anything, WebSockets included.
func (w *world) serveEvil(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Access-Control-Allow-Origin", "*")
	rw.Header().Set("Access-Control-Allow-Headers", "*")
	if r.Method == http.MethodOptions {
		return // a CORS preflight carries no data
	}
	if r.Header.Get("Upgrade") == "websocket" {
		name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/t/"), "/")
		acceptWebSocket(rw, r, func(frame []byte) { w.record(name, frame) })
		return
	}
	if name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/t/"), "/"); rest == "rtc" && r.Method == http.MethodPost {
		w.record(name, []byte(r.URL.RequestURI()+"\n"))
		w.answerRTC(rw, r, name)
		return
	}
	w.recordRequest(r)
	tc, planted, rest, ok := w.lookup(r)
	if ok {
		p := w.pageFor(tc, planted, false)
		if body, ok := p.EvilFiles[rest]; ok {
			js(rw, body)
			return
		}
		if body, ok := p.EvilHTML[rest]; ok {
			rw.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(rw, body)
			return
		}
	}
	// Collectors answer with a pixel whatever they are sent.
	rw.Header().Set("Content-Type", "image/gif")
	rw.Write([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
}

// acceptWebSocket completes the handshake (RFC 6455) and hands each frame's
// payload to got until the browser goes away.
func acceptWebSocket(rw http.ResponseWriter, r *http.Request, got func([]byte)) {
	h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, buf, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(h[:]))
	buf.Flush()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	rd := bufio.NewReader(conn)
	for {
		payload, err := readFrame(rd)
		if err != nil {
			return
		}
		got(payload)
	}
}

// readFrame reads one client frame and returns its unmasked payload.
// Clients always mask (RFC 6455 5.3); fragmentation is not needed here.
func readFrame(rd *bufio.Reader) ([]byte, error) {
	var head [2]byte
	if _, err := io.ReadFull(rd, head[:]); err != nil {
		return nil, err
	}
	n := uint64(head[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(rd, ext[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(rd, ext[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 1<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	var mask [4]byte
	if head[1]&0x80 != 0 {
		if _, err := io.ReadFull(rd, mask[:]); err != nil {
			return nil, err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(rd, payload); err != nil {
		return nil, err
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return payload, nil
}

// jqueryShim is the little of jQuery that the Magento skimmers in the corpus
// call: selection, val, serialize, on, ready and ajax.
const jqueryShim = `(function () {
  function wrap(els) {
    return { length: els.length, size: function () { return els.length; },
      val: function () { return els[0] ? els[0].value : undefined; },
      serialize: function () { return els[0] ? new URLSearchParams(new FormData(els[0])).toString() : ''; },
      on: function (ev, fn) { els.forEach(function (e) { e.addEventListener(ev, fn, true); }); return this; } };
  }
  function Q(sel) {
    if (typeof sel === 'function') {
      if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', function () { sel(Q); }); else sel(Q);
      return;
    }
    if (sel === document || sel === window) return wrap([sel]);
    return wrap(Array.prototype.slice.call(document.querySelectorAll(sel)));
  }
  Q.ajax = function (o) {
    var x = new XMLHttpRequest(); x.open(o.type || 'GET', o.url);
    x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    x.send(typeof o.data === 'string' ? o.data : new URLSearchParams(o.data || {}).toString());
  };
  window.jQuery = window.$ = Q;
})();`
