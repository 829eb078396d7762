package web

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// The values of next that the sign-in form and a signed-in GET /login get
// after the query or form is decoded, each a way a browser can be sent to
// another host.
var offsiteNext = []struct{ name, next string }{
	{"two slashes", "//evil.test/"},
	{"slash backslash", `/\evil.test`},
	{"backslash slash", `\/evil.test`},
	{"tab between the slashes (/%09/)", "/\t/evil.test"},
	{"newline between the slashes", "/\n/evil.test"},
	{"CR between the slashes", "/\r/evil.test"},
	{"CRLF between the slashes", "/\r\n/evil.test"},
	{"CRLF first", "\r\n//evil.test"},
	{"tab after two slashes (//%09)", "//\tevil.test"},
	{"encoded backslash (/%5C)", "/%5Cevil.test"},
	{"encoded slashes (/%2F%2F)", "/%2F%2Fevil.test"},
	{"decoded encoded slashes", "///evil.test"},
	{"encoded tab (/%09/)", "/%09/evil.test"},
	{"encoded CRLF", "/%0D%0A/evil.test"},
	{"encoded NUL", "/%00/evil.test"},
	{"leading space", " //evil.test"},
	{"absolute URL", "https://evil.test/"},
	{"scheme without slashes", "https:evil.test"},
	{"javascript", "javascript:alert(1)"},
	{"javascript, empty", "javascript:"},
	{"data", "data:text/html,<h1>hi"},
	{"relative", "evil.test"},
	{"user info", "//user@evil.test"},
}

// The paths that must survive the sign-in: the links in alerts and the
// pages people were on.
var localNext = []string{"/", "/findings/3", "/pages/shop/checkout?x=1", "/findings?status=all&site=shop", "/scans/1#shot", "/@alice"}

func TestSignInSendsPeopleOnlyToThisSite(t *testing.T) {
	f := newFixture(t)
	signedIn := f.client(t)
	f.login(t, signedIn, "alice", password)
	redirect := func(t *testing.T, c *http.Client, next string) string {
		t.Helper()
		resp, err := c.Get(f.url("/login?next=" + url.QueryEscape(next)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("GET /login signed in: %d, want 303", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	signIn := func(t *testing.T, next string) string {
		t.Helper()
		c := f.client(t)
		_, doc := get(t, c, f.url("/login"))
		token, _ := doc.Find(`input[name=csrf]`).Attr("value")
		resp := postForm(t, c, f.url("/login"), url.Values{"csrf": {token}, "user": {"alice"}, "password": {password}, "next": {next}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %d, want 303", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	for _, tc := range offsiteNext {
		t.Run(fmt.Sprintf("%s goes home", tc.name), func(t *testing.T) {
			if got := redirect(t, signedIn, tc.next); got != "/" {
				t.Errorf("signed in, GET /login?next=%q sent the browser to %q, want /", tc.next, got)
			}
			if got := signIn(t, tc.next); got != "/" {
				t.Errorf("signing in with next=%q sent the browser to %q, want /", tc.next, got)
			}
		})
	}
	for _, next := range localNext {
		t.Run(next+" is kept", func(t *testing.T) {
			if got := redirect(t, signedIn, next); got != next {
				t.Errorf("signed in, GET /login?next=%q sent the browser to %q", next, got)
			}
			if got := signIn(t, next); got != next {
				t.Errorf("signing in with next=%q sent the browser to %q", next, got)
			}
		})
	}
}
