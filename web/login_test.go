package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
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

// forwardedFor is a transport that says, as a proxy would, that its
// requests come from an address.
type forwardedFor string

func (a forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(a))
	return http.DefaultTransport.RoundTrip(r)
}

// clientFrom is a browser-like client whose requests reach the server
// through a proxy that names xff as the client.
func (f *fixture) clientFrom(t *testing.T, xff string) *http.Client {
	c := f.client(t)
	c.Transport = forwardedFor(xff)
	return c
}

// failSignIns fails n sign-ins as the names name(i) gives, waiting out
// each delay the server asks for, and returns those delays in seconds.
func (f *fixture) failSignIns(t *testing.T, c *http.Client, n int, name func(i int) string) []int {
	t.Helper()
	var delays []int
	for i, failed := 0, 0; failed < n; i++ {
		resp, _ := f.login(t, c, name(i), "not the password")
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			failed++
		case http.StatusTooManyRequests:
			secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || secs <= 0 {
				t.Fatalf("429 with Retry-After %q, want seconds", resp.Header.Get("Retry-After"))
			}
			if len(delays) > n+5 {
				t.Fatalf("refused %d times after %d failures: %v", len(delays), failed, delays)
			}
			delays = append(delays, secs)
			f.clock.advance(time.Duration(secs) * time.Second)
		default:
			t.Fatalf("sign-in %d as %q: %d, want 401 or 429", i, name(i), resp.StatusCode)
		}
	}
	return delays
}

var proxy = func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} }

func TestSignInThrottling(t *testing.T) {
	t.Run("guesses at random names from one address slow it down more and more, but lock nobody out", func(t *testing.T) {
		f := newFixture(t)
		f.clock.advance(0) // stopped: a slow machine must not wait out the delays itself
		c := f.client(t)
		delays := f.failSignIns(t, c, 10, func(i int) string { return fmt.Sprintf("random-%d-%d", i, rand.Int()) })
		if want := []int{1, 2, 4, 8, 16}; !slices.Equal(delays, want) {
			t.Fatalf("ten failures waited %v seconds before attempts, want %v", delays, want)
		}
		resp, _ := f.login(t, c, "alice", password)
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || wait != 32 {
			t.Fatalf("alice right after the guesses: %d, Retry-After %q; want 429 for 32 s", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		f.clock.advance(time.Duration(wait) * time.Second)
		if resp, _ := f.login(t, c, "alice", password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("alice %d s later: %d, want signed in", wait, resp.StatusCode)
		}
		f.failSignIns(t, f.client(t), 10, func(i int) string { return fmt.Sprint("more-", i) })
		resp, _ = f.login(t, f.client(t), "alice", password)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != strconv.Itoa(int(maxDelay/time.Second)) {
			t.Fatalf("after 20 failures: %d, Retry-After %q; want the delay capped at %s", resp.StatusCode, resp.Header.Get("Retry-After"), maxDelay)
		}
	})
	t.Run("a guesser at one user locks that user out only at the guesser's address", func(t *testing.T) {
		f := newFixture(t, proxy)
		f.clock.advance(0)
		guesser := f.clientFrom(t, "203.0.113.66")
		f.failSignIns(t, guesser, maxFailures, func(int) string { return "alice" })
		f.clock.advance(2 * maxDelay) // past the address's own delay
		resp, _ := f.login(t, guesser, "alice", password)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("alice from the guesser's address: %d, want 429", resp.StatusCode)
		}
		if resp, _ := f.login(t, f.clientFrom(t, "198.51.100.7"), "alice", password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("alice from her own address: %d, want signed in", resp.StatusCode)
		}
		f.clock.advance(failureWindow)
		if resp, _ := f.login(t, guesser, "alice", password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("alice at the guesser's address once the window passed: %d, want signed in", resp.StatusCode)
		}
	})
	t.Run("X-Forwarded-For is believed only from a trusted proxy", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			options []func(*Options)
			xff     func(i int) string
		}{
			{"without trusted proxies, a client's own header", nil, func(i int) string { return fmt.Sprint("198.51.100.", i) }},
			{"behind a trusted proxy, what the client wrote before the proxy's entry", []func(*Options){proxy},
				func(i int) string { return fmt.Sprintf("198.51.100.%d, 203.0.113.66", i) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, tc.options...)
				f.clock.advance(0)
				for i := range freeFailures + 1 {
					resp, _ := f.login(t, f.clientFrom(t, tc.xff(i)), "mallory", "guess guess guess")
					want := http.StatusUnauthorized
					if i == freeFailures {
						want = http.StatusTooManyRequests
					}
					if resp.StatusCode != want {
						t.Fatalf("guess %d claiming to come from %q: %d, want %d", i, tc.xff(i), resp.StatusCode, want)
					}
				}
			})
		}
	})
	t.Run("failed sign-ins are audited with the name as typed, cut short, and the address, never the password", func(t *testing.T) {
		f := newFixture(t, proxy)
		long := strings.Repeat("m", 300)
		f.login(t, f.clientFrom(t, "203.0.113.66"), "mallory", "hunter2 hunter2")
		f.login(t, f.client(t), long, "another secret password")
		f.login(t, f.client(t), "alice", password)
		entries, err := f.store.Audit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var failed []skimguard.AuditEntry
		for _, e := range entries {
			if e.Action == "signin.failed" {
				failed = append(failed, e)
			}
			if js, _ := json.Marshal(e); strings.Contains(string(js), "hunter2") || strings.Contains(string(js), "another secret") || strings.Contains(string(js), password) {
				t.Errorf("the audit log holds a password: %s", js)
			}
		}
		if len(failed) != 2 {
			t.Fatalf("want the 2 failures audited, got %+v", failed)
		}
		if e := failed[0]; e.Actor != "203.0.113.66" || !strings.Contains(e.Detail, `"mallory"`) || !strings.Contains(e.Detail, "203.0.113.66") {
			t.Errorf("first failure: %+v, want mallory from 203.0.113.66", e)
		}
		if e := failed[1]; e.Actor != "127.0.0.1" || !strings.Contains(e.Detail, `"`+long[:maxTypedName]+`…"`) {
			t.Errorf("second failure: %+v, want the name cut at %d bytes", e, maxTypedName)
		}
	})
}

func TestClientAddr(t *testing.T) {
	s := &Server{opts: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"an untrusted peer's header is ignored", "192.0.2.1:5000", []string{"203.0.113.5"}, "192.0.2.1"},
		{"a trusted proxy without a header", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"a trusted proxy names the client", "127.0.0.1:5000", []string{"203.0.113.5"}, "203.0.113.5"},
		{"what the client wrote before the proxy's entry is ignored", "127.0.0.1:5000", []string{"6.6.6.6, 203.0.113.5"}, "203.0.113.5"},
		{"a chain of trusted proxies is walked", "127.0.0.1:5000", []string{"6.6.6.6, 203.0.113.5, 10.1.2.3"}, "203.0.113.5"},
		{"several headers read as one list", "127.0.0.1:5000", []string{"6.6.6.6", "203.0.113.5"}, "203.0.113.5"},
		{"garbage leaves the last trusted proxy", "127.0.0.1:5000", []string{"203.0.113.5, nonsense"}, "127.0.0.1"},
		{"every hop trusted: the first", "127.0.0.1:5000", []string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		{"an address with a port", "127.0.0.1:5000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"an IPv4-mapped proxy is the IPv4 proxy", "[::ffff:127.0.0.1]:5000", []string{"203.0.113.5"}, "203.0.113.5"},
		{"IPv6 loopback is not trusted unless listed", "[::1]:5000", []string{"203.0.113.5"}, "::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientAddr(r); got != tc.want {
				t.Errorf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}
