package egress

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skimguard/skimguard/internal/dnstest"
)

// recorder is a test server that records the requests it gets.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r)
	rec.mu.Unlock()
	io.WriteString(w, "hello from "+r.Host)
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// refusals collects what a proxy refused.
type refusals struct {
	mu   sync.Mutex
	list []*Refusal
}

func (rs *refusals) add(r *Refusal) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.list = append(rs.list, r)
}

func (rs *refusals) all() []*Refusal {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]*Refusal(nil), rs.list...)
}

func startProxy(t *testing.T, g *Guard) (*Proxy, *refusals, *http.Client) {
	t.Helper()
	var rs refusals
	p, err := NewProxy(g, ProxyOptions{OnRefuse: rs.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u, _ := url.Parse(p.URL())
	client := &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
		Timeout:   20 * time.Second,
	}
	return p, &rs, client
}

func TestProxyForwards(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(&rec)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(&rec)
	defer tlsSrv.Close()
	_, rs, client := startProxy(t, NewGuard(Policy{}, nil))

	t.Run("plain HTTP, with no header added", func(t *testing.T) {
		res, err := client.Get(srv.URL + "/page?x=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from") {
			t.Fatalf("status %d body %q", res.StatusCode, body)
		}
		got := rec.reqs[len(rec.reqs)-1]
		if got.URL.String() != "/page?x=1" {
			t.Errorf("the server got %q", got.URL)
		}
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "Via", "Proxy-Connection"} {
			if v := got.Header.Get(h); v != "" {
				t.Errorf("the proxy added %s: %s", h, v)
			}
		}
	})
	t.Run("CONNECT tunnel", func(t *testing.T) {
		res, err := client.Get(tlsSrv.URL + "/secure")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
	if len(rs.all()) != 0 {
		t.Errorf("refusals: %v", rs.all())
	}
}

func TestProxyRefuses(t *testing.T) {
	var ui recorder
	uiSrv := httptest.NewServer(&ui)
	defer uiSrv.Close()
	uiAddr := netip.MustParseAddrPort(uiSrv.Listener.Addr().String())
	own, err := OwnAddress(uiAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	resolver := dnstest.Resolver(t, map[string][]netip.Addr{
		"metadata.test": {netip.MustParseAddr("169.254.169.254")},
		"rebind.test":   {uiAddr.Addr()},
	})
	p, rs, client := startProxy(t, NewGuard(Policy{Own: []Rule{own}}, resolver))
	port := ":" + uiSrv.URL[strings.LastIndexByte(uiSrv.URL, ':')+1:]

	for _, tc := range []struct {
		name, url, why string
	}{
		{"own address", uiSrv.URL + "/api", "own address"},
		{"own address through a name", "http://rebind.test" + port + "/api", "own address"},
		{"own address in a tunnel", "https://" + uiAddr.String() + "/api", "own address"},
		{"metadata", "http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"metadata through a name", "http://metadata.test/latest/meta-data/", "cloud metadata"},
		{"metadata in a tunnel", "https://metadata.test/", "cloud metadata"},
		{"the proxy itself", p.URL() + "/", "own proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rs.all())
			start := time.Now()
			res, err := client.Get(tc.url)
			if err == nil {
				res.Body.Close()
				t.Fatalf("GET %s through the proxy: status %d, want a failure", tc.url, res.StatusCode)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refusal took %v", d)
			}
			got := rs.all()[before:]
			if len(got) == 0 || !strings.Contains(got[0].Why, tc.why) {
				t.Fatalf("refusals = %v, want one for %q", got, tc.why)
			}
			if tunnel := strings.HasPrefix(tc.url, "https:"); got[0].Tunnel != tunnel {
				t.Errorf("Tunnel = %v, want %v", got[0].Tunnel, tunnel)
			}
		})
	}
	if n := ui.count(); n != 0 {
		t.Errorf("the own address got %d requests", n)
	}
}

// TestProxyCloseEndsTunnels: a tunnel held open by both ends ends when
// the proxy closes.
func TestProxyCloseEndsTunnels(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c) // holds the connection open
		}
	}()
	p, err := NewProxy(NewGuard(Policy{}, nil), ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(p.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "CONNECT "+l.Addr().String()+" HTTP/1.1\r\nHost: "+l.Addr().String()+"\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", res, err)
	}
	p.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("read from the tunnel after Close: %v, want EOF", err)
	}
}

// TestProxyNotAProxyRequest: a request for the proxy itself is no proxy
// request.
func TestProxyNotAProxyRequest(t *testing.T) {
	p, _, _ := startProxy(t, NewGuard(Policy{}, nil))
	res, err := http.Get(p.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", res.StatusCode)
	}
}

// TestProxyDialErrors: a destination that cannot be reached is told to
// OnDialError, and the browser gets a failed connection, not an HTTP error
// page it would take for the site's.
func TestProxyDialErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	type dialErr struct {
		addr string
		err  error
	}
	errs := make(chan dialErr, 4)
	p, err := NewProxy(NewGuard(Policy{}, nil), ProxyOptions{OnDialError: func(a string, err error) { errs <- dialErr{a, err} }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	u, _ := url.Parse(p.URL())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), DisableKeepAlives: true}}
	for _, target := range []string{"http://" + closed + "/x", "https://" + closed + "/x"} {
		res, err := client.Get(target)
		if err == nil {
			res.Body.Close()
			t.Errorf("GET %s: status %d, want a failed connection", target, res.StatusCode)
		}
		select {
		case e := <-errs:
			if e.addr != closed || !errors.Is(e.err, syscall.ECONNREFUSED) {
				t.Errorf("OnDialError(%q, %v), want %s and ECONNREFUSED", e.addr, e.err, closed)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("GET %s: OnDialError not called", target)
		}
	}
}

func TestProxyListensWhereToldForItsClientsOnly(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(&rec)
	defer srv.Close()
	// 127.0.0.2 stands for this machine's address on the browsers'
	// network; the client connects from 127.0.0.1.
	for _, tc := range []struct {
		name    string
		clients []netip.Addr
		want    int
	}{
		{"the browser's address is served", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, http.StatusOK},
		{"any other address is refused", []netip.Addr{netip.MustParseAddr("10.9.9.9")}, http.StatusForbidden},
		{"no clients named serves any", nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProxy(NewGuard(Policy{}, nil), ProxyOptions{Listen: netip.MustParseAddr("127.0.0.2"), Clients: tc.clients})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if !strings.HasPrefix(p.URL(), "http://127.0.0.2:") {
				t.Fatalf("the proxy is at %s, want 127.0.0.2", p.URL())
			}
			u, _ := url.Parse(p.URL())
			client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), DisableKeepAlives: true}, Timeout: 20 * time.Second}
			before := rec.count()
			res, err := client.Get(srv.URL + "/page")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
			if forwarded := rec.count() - before; (tc.want == http.StatusOK) != (forwarded == 1) {
				t.Errorf("the server got %d requests", forwarded)
			}
		})
	}
}
