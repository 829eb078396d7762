package crawler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

func css(sel string) skimguard.Target { return skimguard.Target{Selectors: [][]string{{sel}}} }

func scanJourney(t *testing.T, c *Crawler, p skimguard.Page) (*skimguard.Observation, error) {
	t.Helper()
	if p.Wait == 0 {
		p.Wait = 800 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.Scan(ctx, p)
}

// cartShop is a one-page checkout behind a cart: /checkout sends a shopper
// without a cart cookie to /cart; with one it shows a shipping step whose
// button loads the payment step's script, which adds the card fields and
// talks to the payment provider. The product page talks to an analytics
// origin the checkout never does.
func cartShop(t *testing.T, provider, analytics string, orders *hits) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /product/42", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body><h1>Boots</h1>
<script>navigator.sendBeacon('`+analytics+`/collect?p=42'); window.productOnly = 1;</script>
<script src="/static/product.js"></script>
<form method="post" action="/cart/add"><input type="hidden" name="sku" value="42"><button id="add-to-cart">Add to cart</button></form>
</body></html>`)
	})
	mux.HandleFunc("GET /static/product.js", func(w http.ResponseWriter, r *http.Request) { js(w, "window.gallery = true;") })
	mux.HandleFunc("POST /cart/add", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "cart", Value: "c-" + r.FormValue("sku"), Path: "/"})
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body><h1>Cart</h1><a id="to-checkout" href="/checkout">Checkout</a></body></html>`)
	})
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("cart"); err != nil || c.Value == "" {
			http.Redirect(w, r, "/cart", http.StatusFound)
			return
		}
		html(w, `<!doctype html><html><body><h1>Checkout</h1>
<section id="shipping">
 <input id="email" name="email"> <input id="postcode" name="postcode">
 <select id="country"><option value="">Country</option><option value="FR">France</option><option value="DE">Germany</option></select>
 <button id="to-payment" type="button">Continue to payment</button>
</section>
<form id="payment" action="/order" method="post" hidden></form>
<script>
document.getElementById('to-payment').addEventListener('click', function (e) {
  if (!e.isTrusted || !document.getElementById('email').value || document.getElementById('country').value !== 'DE') return;
  document.getElementById('payment').hidden = false;
  var s = document.createElement('script'); s.src = '/static/payment.js'; document.body.appendChild(s);
});
</script></body></html>`)
	})
	mux.HandleFunc("GET /static/payment.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `(function () {
  var f = document.getElementById('payment');
  f.innerHTML = '<input name="cc-number" autocomplete="cc-number"><input name="cc-exp" autocomplete="cc-exp"><input name="cc-csc" autocomplete="cc-csc"><button id="pay">Pay</button>';
  fetch('`+provider+`/v1/session', {method: 'POST', body: 'x'});
})();`)
	})
	mux.HandleFunc("/order", func(w http.ResponseWriter, r *http.Request) { orders.add("/order", "") })
	return serveOn(t, "127.0.0.1", mux).URL
}

func cartJourney(shop string) *skimguard.Journey {
	return &skimguard.Journey{File: "sites.yaml", Steps: []skimguard.Step{
		{Kind: skimguard.StepGoto, URL: shop + "/product/42", Line: 1},
		{Kind: skimguard.StepClick, Target: css("#add-to-cart"), Line: 2},
		{Kind: skimguard.StepGoto, URL: shop + "/checkout", Line: 3},
		{Kind: skimguard.StepFill, Fields: []skimguard.Field{{Target: css("#email"), Value: "monitor@example.com"}, {Target: css("#postcode"), Value: "10115"}}, Line: 4},
		{Kind: skimguard.StepSelect, Fields: []skimguard.Field{{Target: css("#country"), Value: "DE"}}, Line: 5},
		{Kind: skimguard.StepClick, Target: css("#to-payment"), Line: 6},
		{Kind: skimguard.StepWaitFor, Target: css("input[name=cc-number]"), Line: 7},
	}}
}

func provider(t *testing.T, got *hits) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		got.add(r.URL.Path, "")
	})
	return serveOn(t, "127.0.0.2", mux).URL
}

func TestJourneyReachesAPageBehindACartAndObservesOnlyIt(t *testing.T) {
	c := needBrowser(t)
	var orders, prov, stats hits
	provURL := provider(t, &prov)
	analytics := serveOn(t, "127.0.0.3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stats.add(r.URL.Path, "") })).URL
	shop := cartShop(t, provURL, analytics, &orders)

	t.Run("without the journey the checkout sends the shopper to the cart", func(t *testing.T) {
		obs := mustScan(t, c, skimguard.Page{Site: "s", Name: "p", URL: shop + "/checkout"})
		if obs.FinalURL != shop+"/cart" {
			t.Fatalf("FinalURL = %s, want the cart", obs.FinalURL)
		}
	})

	obs, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: shop + "/checkout", Interact: true, Journey: cartJourney(shop)})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the observation is of the checkout, from its own navigation on", func(t *testing.T) {
		if obs.FinalURL != shop+"/checkout" || len(obs.Redirects) != 0 || obs.Status != 200 {
			t.Errorf("FinalURL %s, Redirects %v, Status %d", obs.FinalURL, obs.Redirects, obs.Status)
		}
		var urls []string
		for _, s := range obs.Scripts {
			urls = append(urls, s.URL)
			if strings.Contains(s.Source, "productOnly") {
				t.Errorf("the product page's inline script is in the checkout's observation: %+v", s)
			}
		}
		if !slices.Contains(urls, shop+"/static/payment.js") {
			dumpScripts(t, obs)
			t.Errorf("the payment step's script, loaded by the click, is not observed")
		}
		if slices.Contains(urls, shop+"/static/product.js") {
			t.Errorf("the product page's script is in the checkout's observation")
		}
		if connTo(obs, provURL) == nil {
			t.Errorf("the provider the payment step talks to is not a destination: %+v", obs.Connections)
		}
		if stats.count("/collect") == 0 {
			t.Fatalf("the product page's beacon never left: the journey did not pass the product page")
		}
		if connTo(obs, analytics) != nil {
			t.Errorf("the product page's analytics origin is a destination of the checkout")
		}
		if doc := connTo(obs, shop); doc == nil || !slices.Contains(doc.Types, "Document") {
			t.Errorf("the checkout's own document request is not a destination: %+v", doc)
		}
	})
	t.Run("the card is typed into the payment step, and never submitted", func(t *testing.T) {
		if !obs.Typed {
			t.Error("Typed = false")
		}
		if orders.count("/order") != 0 {
			t.Error("the payment form was submitted")
		}
	})
}

func TestJourneyThatCannotCompleteFailsNamingTheStep(t *testing.T) {
	c := needBrowser(t)
	var orders, prov hits
	shop := cartShop(t, provider(t, &prov), "http://127.0.0.3:9", &orders)

	t.Run("a renamed button", func(t *testing.T) {
		j := cartJourney(shop)
		j.Steps[5].Target = css("#continue-to-payment")
		j.Steps[5].Timeout = 2 * time.Second
		obs, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: shop + "/checkout", Interact: true, Journey: j})
		var je *JourneyError
		if !errors.As(err, &je) {
			t.Fatalf("err = %v, want a *JourneyError", err)
		}
		for _, want := range []string{`journey step 6 of 7 (click "#continue-to-payment", at sites.yaml:6)`, `no element matches "#continue-to-payment" after 2`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if obs == nil || !bytes.HasPrefix(obs.Screenshot, []byte("\x89PNG")) {
			t.Fatalf("the failed scan keeps no screenshot of the page at that moment")
		}
		if obs.FinalURL != shop+"/checkout" || obs.Typed {
			t.Errorf("partial observation: FinalURL %s, Typed %v", obs.FinalURL, obs.Typed)
		}
	})
	t.Run("a journey that ends elsewhere than on the page", func(t *testing.T) {
		j := &skimguard.Journey{File: "sites.yaml", Steps: []skimguard.Step{{Kind: skimguard.StepGoto, URL: shop + "/checkout"}}}
		_, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: shop + "/checkout", Journey: j})
		var je *JourneyError
		if !errors.As(err, &je) || je.Step != 0 || !strings.Contains(err.Error(), "ended on "+shop+"/cart, not on the page") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a goto that answers an error", func(t *testing.T) {
		j := &skimguard.Journey{File: "sites.yaml", Steps: []skimguard.Step{{Kind: skimguard.StepGoto, URL: shop + "/nope", Line: 9}}}
		_, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: shop + "/nope", Journey: j})
		if err == nil || !strings.Contains(err.Error(), "journey step 1 of 1 (goto "+shop+"/nope, at sites.yaml:9) failed: "+shop+"/nope answered HTTP 404") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestJourneyStepsActLikeAPerson(t *testing.T) {
	c := needBrowser(t)
	var log hits
	mux := http.NewServeMux()
	mux.HandleFunc("POST /log", log.bodies)
	mux.HandleFunc("GET /play", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body style="margin:0">
<form id="f"><input id="q" value="old text"><select id="country"><option value="">-</option><option value="DE">Germany</option></select></form>
<div id="list" style="height:80px;overflow:auto"><div style="height:1000px">long list</div></div>
<div id="hov" style="margin-top:2000px;height:40px">hover me</div>
<div style="height:2000px"></div>
<script>
function log(s) { fetch('/log', {method: 'POST', body: s}); }
document.getElementById('f').addEventListener('submit', function (e) { e.preventDefault(); log('submit:' + document.getElementById('q').value); });
document.getElementById('q').addEventListener('keydown', function (e) { if (e.key === 'Enter') log('enter:' + e.isTrusted); });
document.getElementById('country').addEventListener('change', function (e) { log('country:' + e.target.value); });
document.getElementById('hov').addEventListener('mouseover', function (e) { log('hover:' + e.isTrusted); });
var wheel = false;
addEventListener('wheel', function (e) { if (!wheel) { wheel = true; log('wheel:' + e.isTrusted); } }, {passive: true});
var t; addEventListener('scroll', function () { clearTimeout(t); t = setTimeout(function () { log('scroll:' + Math.round(scrollY)); }, 150); });
var l = document.getElementById('list'), lt;
l.addEventListener('scroll', function () { clearTimeout(lt); lt = setTimeout(function () { log('list:' + Math.round(l.scrollTop)); }, 150); });
</script></body></html>`)
	})
	base := serveOn(t, "127.0.0.1", mux).URL
	j := &skimguard.Journey{File: "sites.yaml", Steps: []skimguard.Step{
		{Kind: skimguard.StepGoto, URL: base + "/play"},
		{Kind: skimguard.StepFill, Fields: []skimguard.Field{{Target: css("#q"), Value: "new"}}},
		{Kind: skimguard.StepPress, Key: "Enter"},
		{Kind: skimguard.StepSelect, Fields: []skimguard.Field{{Target: css("#country"), Value: "DE"}}},
		{Kind: skimguard.StepScroll, Target: css("#list"), ScrollY: 300},
		{Kind: skimguard.StepWait, Duration: 300 * time.Millisecond},
		{Kind: skimguard.StepScroll, ScrollY: 600},
		{Kind: skimguard.StepWait, Duration: 300 * time.Millisecond},
		{Kind: skimguard.StepScroll, Target: css("#hov"), IntoView: true},
		{Kind: skimguard.StepHover, Target: css("#hov")},
		{Kind: skimguard.StepWait, Duration: 300 * time.Millisecond},
	}}
	if _, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: base + "/play", Journey: j}); err != nil {
		t.Fatal(err)
	}
	got := log.values("/log")
	for _, want := range []string{"enter:true", "submit:new", "country:DE", "wheel:true", "list:300", "scroll:600", "hover:true"} {
		if !slices.Contains(got, want) {
			t.Errorf("the page did not see %q; it saw %q", want, got)
		}
	}
}

func TestJourneySecretsAreMaskedEverywhere(t *testing.T) {
	needBrowser(t)
	const password = "s3cret-Pa55word"
	var signins hits
	mux := http.NewServeMux()
	// A careless shop: the sign-in form is sent with GET and answered with
	// a redirect, and the account page writes the password back into its
	// scripts, a frame and a request.
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("password") == "" {
			html(w, `<!doctype html><form action="/login"><input id="user" name="user"><input id="password" name="password" type="password"><button id="login">Sign in</button></form>`)
			return
		}
		signins.add("/login", r.URL.Query().Get("password"))
		if r.URL.Query().Get("password") != password {
			http.Error(w, "wrong password", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "ok", Path: "/"})
		http.Redirect(w, r, "/account/pay?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.HandleFunc("GET /account/pay", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("session"); err != nil || c.Value != "ok" {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		pw := r.URL.Query().Get("password")
		b64 := base64.StdEncoding.EncodeToString([]byte(pw))
		html(w, `<!doctype html><html><body><h1>Pay</h1>
<script>var remembered = "`+pw+`", packed = "`+b64+`";</script>
<script src="/static/account.js?p=`+url.QueryEscape(pw)+`"></script>
<iframe src="/frame?p=`+url.QueryEscape(pw)+`" width="10" height="10"></iframe>
<img src="http://127.0.0.2:9/px?p=`+url.QueryEscape(pw)+`">
<input name="cc-number" autocomplete="cc-number">
</body></html>`)
	})
	mux.HandleFunc("GET /static/account.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, "window.who = "+fmt.Sprintf("%q", r.URL.Query().Get("p"))+";")
	})
	mux.HandleFunc("GET /frame", func(w http.ResponseWriter, r *http.Request) { html(w, "<p>frame</p>") })
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	base := serveOn(t, "127.0.0.1", mux).URL
	env := map[string]string{"SHOP_PASSWORD": password, "SHOP_TOKEN": password}
	cr, err := New(context.Background(), Options{LoadTimeout: testLoadTimeout, DefaultWait: time.Second, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()

	signIn := []skimguard.Step{
		{Kind: skimguard.StepGoto, URL: base + "/login"},
		{Kind: skimguard.StepFill, Fields: []skimguard.Field{{Target: css("#user"), Value: "monitor"}, {Target: css("#password"), Value: "${SHOP_PASSWORD}"}}},
		{Kind: skimguard.StepClick, Target: css("#login")},
		{Kind: skimguard.StepWaitFor, Target: css("input[name=cc-number]")},
	}
	obs, err := scanJourney(t, cr, skimguard.Page{Site: "s", Name: "p", URL: base + "/account/pay", Interact: true, Journey: &skimguard.Journey{File: "sites.yaml", Steps: signIn}})
	if err != nil {
		t.Fatal(err)
	}
	if got := signins.values("/login"); !slices.Equal(got, []string{password}) {
		t.Fatalf("the shop got sign-ins %q, want the password from the environment once", got)
	}
	forms := []string{password, url.QueryEscape(password), base64.StdEncoding.EncodeToString([]byte(password))}
	t.Run("nowhere in the observation", func(t *testing.T) {
		data, _ := json.Marshal(obs)
		for _, f := range forms {
			if bytes.Contains(data, []byte(f)) {
				t.Errorf("the observation holds the password as %q:\n%s", f, data)
			}
		}
		if !bytes.Contains(data, []byte(secretMark)) {
			t.Errorf("nothing was masked, so this test proves nothing: %s", data)
		}
		if len(obs.Redirects) == 0 || !strings.Contains(obs.Redirects[0], "password="+secretMark) {
			t.Errorf("Redirects = %q, want the sign-in with the password masked", obs.Redirects)
		}
	})
	t.Run("nowhere in the error of a step that fails after it was typed", func(t *testing.T) {
		steps := append(slices.Clone(signIn), skimguard.Step{Kind: skimguard.StepGoto, URL: base + "/boom?token=${SHOP_TOKEN}", Line: 7})
		_, err := scanJourney(t, cr, skimguard.Page{Site: "s", Name: "p", URL: base + "/boom", Journey: &skimguard.Journey{File: "sites.yaml", Steps: steps}})
		if err == nil || !strings.Contains(err.Error(), "goto "+base+"/boom?token=${SHOP_TOKEN}") || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("err = %v", err)
		}
		for _, f := range forms {
			if strings.Contains(err.Error(), f) {
				t.Errorf("the error holds the password: %v", err)
			}
		}
	})
	t.Run("a variable that is not set fails the step naming it", func(t *testing.T) {
		delete(env, "SHOP_PASSWORD")
		_, err := scanJourney(t, cr, skimguard.Page{Site: "s", Name: "p", URL: base + "/account/pay", Journey: &skimguard.Journey{File: "sites.yaml", Steps: signIn}})
		if err == nil || !strings.Contains(err.Error(), "${SHOP_PASSWORD}: not set in the environment") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestEveryKeyNameCanBePressed(t *testing.T) {
	for _, k := range skimguard.KeyNames() {
		if keyText(k) == k {
			t.Errorf("key %q has no key to press", k)
		}
	}
}

func TestRecorderSelectorsFramesAndExpressions(t *testing.T) {
	c := needBrowser(t)
	var log hits
	logger := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		b, _ := io.ReadAll(r.Body)
		log.add("/log", string(b))
	}
	bannerMux := http.NewServeMux()
	bannerMux.HandleFunc("POST /log", logger)
	bannerMux.HandleFunc("GET /banner", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><div><span>We use cookies</span> <button onclick="fetch('/log', {method: 'POST', body: 'cookies:' + event.isTrusted})">Accept cookies</button></div>`)
	})
	banner := serveOn(t, "127.0.0.2", bannerMux).URL
	mux := http.NewServeMux()
	mux.HandleFunc("POST /log", logger)
	mux.HandleFunc("GET /pay", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body>
<iframe src="`+banner+`/banner" width="400" height="80"></iframe>
<checkout-form></checkout-form>
<div><p><span id="express">Express checkout</span></p></div>
<button aria-label="Add a gift note" id="gift">🎁</button>
<button id="pay">Pay</button>
<script>
function log(s) { fetch('/log', {method: 'POST', body: s}); }
customElements.define('checkout-form', class extends HTMLElement {
  constructor() { super(); this.attachShadow({mode: 'open'}).innerHTML = '<label>Email <input id="email"></label><input id="card">'; }
});
document.querySelector('checkout-form').shadowRoot.getElementById('email').addEventListener('change', function (e) { log('email:' + e.target.value); });
document.getElementById('express').addEventListener('dblclick', function (e) { log('dblclick:' + e.isTrusted); });
document.getElementById('gift').addEventListener('click', function (e) { log('gift:' + e.isTrusted); });
document.getElementById('pay').addEventListener('mouseover', function (e) { log('pay-hover:' + e.isTrusted); });
setTimeout(function () { window.ready = true; }, 400);
</script></body></html>`)
	})
	base := serveOn(t, "127.0.0.1", mux).URL
	alt := func(chains ...[]string) skimguard.Target { return skimguard.Target{Selectors: chains} }
	j := &skimguard.Journey{File: "checkout.json", Steps: []skimguard.Step{
		{Kind: skimguard.StepGoto, URL: base + "/pay"},
		{Kind: skimguard.StepClick, Target: skimguard.Target{Selectors: [][]string{{`aria/Accept cookies[role="button"]`}}, Frame: []int{0}}},
		{Kind: skimguard.StepFill, Fields: []skimguard.Field{{Target: alt([]string{"#no-such-field"}, []string{"checkout-form", "#email"}), Value: "monitor@example.com"}}},
		{Kind: skimguard.StepPress, Key: "Tab"},
		{Kind: skimguard.StepDoubleClick, Target: alt([]string{"text/Express checkout"})},
		{Kind: skimguard.StepClick, Target: alt([]string{"aria/Add a gift note"})},
		{Kind: skimguard.StepHover, Target: alt([]string{`xpath///button[@id='pay']`})},
		{Kind: skimguard.StepWaitFor, Target: alt([]string{"pierce/#card"})},
		{Kind: skimguard.StepWaitForExpression, Expression: "window.ready === true"},
		{Kind: skimguard.StepWait, Duration: 300 * time.Millisecond},
	}}
	obs, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: base + "/pay", Journey: j})
	if err != nil {
		t.Fatal(err)
	}
	got := log.values("/log")
	for _, want := range []string{"cookies:true", "email:monitor@example.com", "dblclick:true", "gift:true", "pay-hover:true"} {
		if !slices.Contains(got, want) {
			t.Errorf("the page did not see %q; it saw %q", want, got)
		}
	}
	for _, s := range obs.Scripts {
		if strings.Contains(s.Source, "window.ready === true") || strings.Contains(s.Location, internalSourceURL) {
			t.Errorf("skimguard's own expression is in the inventory: %+v", s)
		}
	}
	t.Run("an expression that stays false fails its step saying so", func(t *testing.T) {
		j := &skimguard.Journey{File: "checkout.json", Steps: []skimguard.Step{
			{Kind: skimguard.StepGoto, URL: base + "/pay"},
			{Kind: skimguard.StepWaitForExpression, Expression: "window.nothing.here", Timeout: 1500 * time.Millisecond, Line: 12},
		}}
		_, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: base + "/pay", Journey: j})
		if err == nil || !strings.Contains(err.Error(), `journey step 2 of 2 (wait_for_expression "window.nothing.here", at checkout.json:12) failed: wait_for_expression: it threw TypeError`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a selector the browser refuses fails at once", func(t *testing.T) {
		j := &skimguard.Journey{File: "checkout.json", Steps: []skimguard.Step{
			{Kind: skimguard.StepGoto, URL: base + "/pay"},
			{Kind: skimguard.StepClick, Target: alt([]string{"button:frobnicate"})},
		}}
		start := time.Now()
		_, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: base + "/pay", Journey: j})
		if err == nil || !strings.Contains(err.Error(), `the browser refuses the selector "button:frobnicate"`) {
			t.Fatalf("err = %v", err)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("a refused selector was tried until the step timed out")
		}
	})
}

// On a phone a journey's click is a finger's tap: touch events, and a click
// whose pointer is a touch, as a phone-only skimmer gated on touch expects.
func TestMobileJourneyTapsWhereItClicks(t *testing.T) {
	c := needBrowser(t)
	var log hits
	mux := http.NewServeMux()
	mux.HandleFunc("POST /log/{profile}", log.bodies)
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><head><meta name="viewport" content="width=device-width"></head><body>
<button id="next" style="width:200px;height:60px">Checkout</button>
<script>
function log(s) { fetch('/log/' + location.hash.slice(1), {method: 'POST', body: s}); }
var b = document.getElementById('next');
b.addEventListener('touchstart', function (e) { log('touchstart:' + e.isTrusted); }, {passive: true});
b.addEventListener('mousemove', function (e) { log('mousemove'); }); // a tap makes one too, as on a phone
b.addEventListener('click', function (e) { log('click:' + e.isTrusted + ':' + e.pointerType); });
b.addEventListener('dblclick', function (e) { log('dblclick:' + e.isTrusted); });
</script></body></html>`)
	})
	base := serveOn(t, "127.0.0.1", mux).URL
	for _, tc := range []struct {
		profile string
		want    []string
		not     string
	}{
		{skimguard.ProfileMobile, []string{"touchstart:true", "click:true:touch", "dblclick:true"}, "click:true:mouse"},
		{skimguard.ProfileDesktop, []string{"mousemove", "click:true:mouse", "dblclick:true"}, "touchstart:true"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			j := &skimguard.Journey{File: "sites.yaml", Steps: []skimguard.Step{
				{Kind: skimguard.StepGoto, URL: base + "/cart#" + tc.profile},
				{Kind: skimguard.StepClick, Target: css("#next")},
				{Kind: skimguard.StepDoubleClick, Target: css("#next")},
				{Kind: skimguard.StepWait, Duration: 300 * time.Millisecond},
			}}
			if _, err := scanJourney(t, c, skimguard.Page{Site: "s", Name: "p", URL: base + "/cart#" + tc.profile, Profile: tc.profile, Journey: j}); err != nil {
				t.Fatal(err)
			}
			got := log.values("/log/" + tc.profile)
			for _, want := range tc.want {
				if !slices.Contains(got, want) {
					t.Errorf("the page did not see %q; it saw %q", want, got)
				}
			}
			if slices.Contains(got, tc.not) {
				t.Errorf("the page saw %q; it saw %q", tc.not, got)
			}
		})
	}
}
