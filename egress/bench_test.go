package egress

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// BenchmarkProxy measures what the egress proxy adds to one small plain
// HTTP request on loopback, over a kept-alive connection as Chromium uses
// it:
//
//	go test ./egress -run '^$' -bench Proxy
func BenchmarkProxy(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<p>hello</p>")
	}))
	defer srv.Close()
	p, err := NewProxy(NewGuard(Policy{}, nil), ProxyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	u, _ := url.Parse(p.URL())
	get := func(b *testing.B, c *http.Client) {
		res, err := c.Get(srv.URL + "/page")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	b.Run("direct", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{Proxy: nil}}
		for b.Loop() {
			get(b, c)
		}
	})
	b.Run("proxied", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
		for b.Loop() {
			get(b, c)
		}
	})
}
