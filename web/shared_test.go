package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Several serve processes behind one address, and one serve restarted,
// behave as one: sessions and failed sign-ins live in the store.
func TestSeveralServersBehaveAsOne(t *testing.T) {
	signedIn := func(t *testing.T, c *http.Client, base string) bool {
		t.Helper()
		resp, err := c.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return true
		case http.StatusSeeOther:
			if !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Fatalf("GET / sent the browser to %s", resp.Header.Get("Location"))
			}
			return false
		}
		t.Fatalf("GET /: %d", resp.StatusCode)
		return false
	}

	t.Run("a session started on one server is known to another, and signing out on it ends it on both", func(t *testing.T) {
		f := newFixture(t)
		other := f.another(t)
		c := f.client(t)
		_, csrf := f.login(t, c, "alice", password)
		if !signedIn(t, c, other) {
			t.Fatal("the other server does not know the session")
		}
		// A browser that keeps the cookie after signing out, as a thief's
		// copy of it would.
		kept := f.client(t)
		kept.Jar.SetCookies(mustURL(t, f.srv.URL), c.Jar.Cookies(mustURL(t, f.srv.URL)))
		if resp := postForm(t, c, other+"/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out on the other server: %d", resp.StatusCode)
		}
		if signedIn(t, kept, f.srv.URL) {
			t.Fatal("the session signed out on one server still works on the first")
		}
	})

	t.Run("a restart keeps the session; its limits still hold", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		f.login(t, c, "alice", password)
		restarted := f.another(t)
		f.clock.advance(SessionIdle - time.Minute)
		if !signedIn(t, c, restarted) {
			t.Fatal("the session did not survive the restart")
		}
		f.clock.advance(SessionIdle - time.Minute)
		if !signedIn(t, c, restarted) {
			t.Fatal("a session in use ended before its idle limit")
		}
		f.clock.advance(SessionIdle + time.Second)
		if signedIn(t, c, f.srv.URL) {
			t.Fatal("a session idle for longer than its limit still works")
		}
	})

	t.Run("a session ends at its absolute limit however much it is used", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		f.login(t, c, "alice", password)
		for used := time.Duration(0); used < SessionMax-time.Hour; used += time.Hour {
			f.clock.advance(time.Hour)
			if !signedIn(t, c, f.srv.URL) {
				t.Fatalf("the session ended after %s in use", used+time.Hour)
			}
		}
		f.clock.advance(time.Hour + time.Second)
		if signedIn(t, c, f.another(t)) {
			t.Fatalf("the session outlived %s", SessionMax)
		}
	})

	t.Run("failed sign-ins on one server count on another", func(t *testing.T) {
		f := newFixture(t)
		f.clock.advance(0)
		other := f.another(t)
		for range freeFailures {
			if resp, _ := f.login(t, f.client(t), "mallory", "guess guess guess"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("guess: %d, want 401", resp.StatusCode)
			}
		}
		c := f.client(t)
		_, doc := get(t, c, other+"/login")
		token, _ := doc.Find(`input[name=csrf]`).Attr("value")
		resp := postForm(t, c, other+"/login", url.Values{"csrf": {token}, "user": {"mallory"}, "password": {"guess guess guess"}})
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("the next guess on the other server: %d, want 429", resp.StatusCode)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
