package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Proxy is an HTTP forward proxy on a loopback port (or the address
// ProxyOptions.Listen gives, for a remote browser) that dials through a
// Guard: plain HTTP requests in absolute form are forwarded, CONNECT opens
// a tunnel (HTTPS, WebSockets). A destination it cannot reach, refused or
// not, is answered with a failure the browser shows as a network error
// (a closed connection, or a failed tunnel), never with an HTTP error page
// the browser would take for the site's; refusals are reported to
// OnRefuse, other failures to OnDialError. It adds no header and keeps no
// data.
type Proxy struct {
	guard     *Guard
	onRefuse  func(*Refusal)
	onDialErr func(address string, err error)
	log       *slog.Logger
	addr      netip.AddrPort
	clients   []netip.Addr
	srv       *http.Server
	fwd       *httputil.ReverseProxy
	tr        *http.Transport

	mu      sync.Mutex
	closed  bool
	tunnels map[net.Conn]struct{}
}

// ProxyOptions configure a Proxy.
type ProxyOptions struct {
	// OnRefuse is told of each refused connection; it must not block.
	OnRefuse func(*Refusal)
	// OnDialError is told of each other connection that could not be
	// made, with its "host:port"; it must not block.
	OnDialError func(address string, err error)
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger
	// Listen is the address the proxy listens on, for a browser on
	// another machine; the zero value is 127.0.0.1.
	Listen netip.Addr
	// Clients, when set, are the only addresses the proxy serves: one
	// listening beyond loopback serves the browser it is for, not the
	// network.
	Clients []netip.Addr
}

// NewProxy starts a proxy on 127.0.0.1 that dials through g, until Close.
func NewProxy(g *Guard, opts ProxyOptions) (*Proxy, error) {
	at := opts.Listen
	if !at.IsValid() {
		at = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(at, 0).String())
	if err != nil {
		return nil, fmt.Errorf("starting the egress proxy on %s: %w", at, err)
	}
	p := &Proxy{
		guard:     g,
		onRefuse:  opts.OnRefuse,
		onDialErr: opts.OnDialError,
		log:       opts.Logger,
		addr:      ln.Addr().(*net.TCPAddr).AddrPort(),
		clients:   opts.Clients,
		tunnels:   map[net.Conn]struct{}{},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.tr = &http.Transport{
		Proxy:               nil, // never the environment's proxy
		DialContext:         p.dial,
		DisableCompression:  true, // bodies pass as they are
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}
	p.fwd = &httputil.ReverseProxy{
		// The request is in absolute form already; Rewrite (rather than
		// Director) adds no X-Forwarded-* headers.
		Rewrite:       func(*httputil.ProxyRequest) {},
		Transport:     p.tr,
		FlushInterval: -1,
		ErrorHandler:  p.forwardFailed,
		ErrorLog:      slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	p.srv = &http.Server{
		Handler: p,
		// Chromium sends URLs of up to 2 MB.
		MaxHeaderBytes:    3 << 20,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	g.addProxy(p.addr)
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's address for Chromium's proxy settings.
func (p *Proxy) URL() string { return "http://" + p.addr.String() }

// Close stops the proxy and ends its connections and tunnels.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	tunnels := p.tunnels
	p.tunnels = nil
	p.mu.Unlock()
	err := p.srv.Close()
	for c := range tunnels {
		c.Close()
	}
	p.tr.CloseIdleConnections()
	p.guard.removeProxy(p.addr)
	return err
}

// dial dials through the guard for a plain HTTP request and reports
// refusals.
func (p *Proxy) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := p.guard.DialContext(ctx, network, address)
	p.failed(address, err, false)
	return c, err
}

// failed reports a dial error to OnRefuse or OnDialError.
func (p *Proxy) failed(address string, err error, tunnel bool) {
	if err == nil {
		return
	}
	r, ok := errors.AsType[*Refusal](err)
	if !ok {
		p.log.Debug("dial failed", "address", address, "err", err)
		if p.onDialErr != nil {
			p.onDialErr(address, err)
		}
		return
	}
	r.Tunnel = tunnel
	p.log.Debug("refused a connection", "err", r)
	if p.onRefuse != nil {
		p.onRefuse(r)
	}
}

// ServeHTTP serves one request to the proxy: CONNECT, a plain HTTP
// request in absolute form, or (refused) anything else.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case !p.serves(r.RemoteAddr):
		http.Error(w, "this proxy serves skimguard's browser only", http.StatusForbidden)
	case r.Method == http.MethodConnect:
		p.tunnel(w, r)
	case r.URL.IsAbs() && r.URL.Scheme == "http" && r.URL.Host != "":
		p.fwd.ServeHTTP(w, r)
	default:
		// Not a proxy request: someone (a page, through another proxy)
		// asked the proxy itself for a page.
		http.Error(w, "this is a forward proxy", http.StatusBadRequest)
	}
}

// serves reports whether the proxy serves a client at remote ("ip:port").
func (p *Proxy) serves(remote string) bool {
	if len(p.clients) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && slices.Contains(p.clients, ap.Addr().Unmap())
}

// forwardFailed answers a plain HTTP request that could not be forwarded
// by closing its connection without an answer, which the browser reports as
// a network error, as it does for a failed tunnel. An HTTP error status
// would pass for the site's own answer.
func (p *Proxy) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	p.log.Debug("forwarding failed", "host", r.URL.Host, "err", err)
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	w.WriteHeader(http.StatusBadGateway)
}

// tunnel serves CONNECT: it dials the destination and copies bytes both
// ways until either side closes.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), dialTimeout)
	up, err := p.guard.DialContext(ctx, "tcp", r.Host)
	cancel()
	p.failed(r.Host, err, true)
	if err != nil {
		if _, ok := errors.AsType[*Refusal](err); ok {
			http.Error(w, "refused by egress policy", http.StatusForbidden)
			return
		}
		p.log.Debug("tunnel failed", "host", r.Host, "err", err)
		http.Error(w, "cannot reach "+r.Host, http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "cannot tunnel", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if !p.track(down, up) {
		down.Close()
		up.Close()
		return
	}
	defer p.untrack(down, up)
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		// Bytes the client sent after CONNECT may sit in buf already.
		io.Copy(up, io.MultiReader(io.LimitReader(buf.Reader, int64(buf.Reader.Buffered())), down))
		done <- struct{}{}
	}()
	go func() {
		io.Copy(down, up)
		done <- struct{}{}
	}()
	<-done
	// One side is done: end both, so the other copy returns too.
	down.Close()
	up.Close()
	<-done
}

// track records a tunnel's connections so that Close can end them; false
// means the proxy is closed.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.tunnels[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.tunnels, c)
		c.Close()
	}
}
