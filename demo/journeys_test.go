package demo

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// shopper is an HTTP client with a cookie jar, as a browser keeps cookies.
func shopper(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (int, string, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.Path, string(b)
}

// csrfOf returns the CSRF token of the form in a page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	v, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 {
		t.Fatalf("no CSRF token in %s", body)
	}
	return v
}

func TestJourneyShopGatesItsPaymentPages(t *testing.T) {
	s, err := StartJourneys(context.Background(), JourneyOptions{Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Run("the checkout sends a shopper without a cart to the cart", func(t *testing.T) {
		if _, path, _ := fetch(t, shopper(t), "GET", s.CheckoutURL(), nil); path != "/cart" {
			t.Errorf("ended on %s", path)
		}
	})
	t.Run("a cart from the product page opens the checkout, which varies per load", func(t *testing.T) {
		c := shopper(t)
		_, _, product := fetch(t, c, "GET", s.ProductURL(), nil)
		if code, _, _ := fetch(t, c, "POST", s.ShopURL+"/cart/add", url.Values{"sku": {"42"}, "csrf": {"forged"}}); code != http.StatusForbidden {
			t.Errorf("a forged form made a cart: %d", code)
		}
		if _, path, _ := fetch(t, c, "POST", s.ShopURL+"/cart/add", url.Values{"sku": {"42"}, "csrf": {csrfOf(t, product)}}); path != "/cart" {
			t.Fatalf("adding to the cart ended on %s", path)
		}
		_, path, a := fetch(t, c, "GET", s.CheckoutURL(), nil)
		_, _, b := fetch(t, c, "GET", s.CheckoutURL(), nil)
		if path != "/checkout" || !strings.Contains(a, `id="to-payment"`) || a == b {
			t.Errorf("checkout at %s, same twice: %v\n%s", path, a == b, a)
		}
		s.RenameButtons(true)
		defer s.RenameButtons(false)
		if _, _, c := fetch(t, c, "GET", s.CheckoutURL(), nil); strings.Contains(c, `id="to-payment"`) {
			t.Error("the button was not renamed")
		}
	})
	t.Run("the invoice page and its script are for members only", func(t *testing.T) {
		c := shopper(t)
		if _, path, _ := fetch(t, c, "GET", s.AccountPayURL(), nil); path != "/login" {
			t.Errorf("ended on %s", path)
		}
		if _, path, _ := fetch(t, c, "GET", s.ShopURL+"/static/account.js", nil); path != "/login" {
			t.Errorf("the members' script is served to anyone")
		}
		_, _, login := fetch(t, c, "GET", s.LoginURL(), nil)
		if code, _, _ := fetch(t, c, "POST", s.LoginURL(), url.Values{"user": {Member}, "password": {"wrong"}, "csrf": {csrfOf(t, login)}}); code != http.StatusUnauthorized {
			t.Errorf("a wrong password answered %d", code)
		}
		_, _, login = fetch(t, c, "GET", s.LoginURL(), nil)
		if _, path, _ := fetch(t, c, "POST", s.LoginURL(), url.Values{"user": {Member}, "password": {"correct horse"}, "csrf": {csrfOf(t, login)}}); path != "/account" || s.SignIns() != 1 {
			t.Fatalf("signing in ended on %s, %d sign-ins", path, s.SignIns())
		}
		if _, path, _ := fetch(t, c, "GET", s.AccountPayURL(), nil); path != "/account/pay" {
			t.Errorf("a member was sent to %s", path)
		}
		s.PlantAccount(true)
		defer s.PlantAccount(false)
		if _, _, js := fetch(t, c, "GET", s.ShopURL+"/static/account.js", nil); !strings.Contains(js, strings.TrimPrefix(s.AttackerURL, "http://")) {
			t.Errorf("the planted members' script does not call the attacker:\n%s", js)
		}
	})
}
