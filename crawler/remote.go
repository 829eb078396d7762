package crawler

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"

	skimguard "github.com/skimguard/skimguard"
)

// Remote makes a Crawler scan in Chromium browsers that run elsewhere (a
// pool of chromedp/headless-shell containers) instead of starting its own.
//
// Launch flags do not travel over the DevTools protocol: a remote browser
// must be started with BrowserFlags. What can be set per tab is: each scan
// gets a new browser context (no cookie or storage shared with another
// scan) whose proxy is the scan's own egress proxy, and the shopper
// profile (user agent and client hints, locale, time zone, phone metrics)
// is set in its tab as for the local browser. The egress proxy listens on
// an address of this machine that the browser reaches (Remote.ProxyAddr),
// and serves the browser's address only.
type Remote struct {
	// Browsers are the browsers' DevTools endpoints: ws://host:port or
	// http://host:port (the browser's /json/version names its WebSocket),
	// wss:// or https:// behind a TLS proxy, or a browser's full
	// ws://host:port/devtools/browser/ID address.
	Browsers []string
	// ProxyAddr is the address of this machine at which the browsers
	// reach its egress proxies. The zero value is the address this machine
	// connects to each browser from, which is right unless a NAT, a
	// published container port or a TLS proxy stands between them. With
	// ProxyAddr set, or a wss:// or https:// endpoint, the proxy serves
	// any client, as the browser's address it sees is then unknown.
	ProxyAddr netip.Addr
	// RecycleAfter is how many scans one browser serves before the crawler
	// closes it (Browser.close), once its scans have ended: its memory
	// grows with every page, and its container's restart policy starts a
	// fresh one, which the crawler connects to when it is back. 0 means
	// DefaultRemoteRecycleAfter; a negative value never closes it.
	RecycleAfter int

	// wait lets tests shorten how long a scan waits for a browser.
	wait time.Duration
}

// DefaultRemoteRecycleAfter is how many scans a remote browser serves before
// it is recycled.
const DefaultRemoteRecycleAfter = 200

// Bounds on waiting for a remote browser.
const (
	remoteDialTimeout = 10 * time.Second
	// An unreachable endpoint is skipped for a while that doubles with
	// each failure, up to remoteMaxBackoff.
	remoteMinBackoff = 2 * time.Second
	remoteMaxBackoff = time.Minute
	// A scan waits this long for a browser when none is up (a restart
	// after recycling takes a few seconds), checking every remotePoll.
	remoteWait = 30 * time.Second
	remotePoll = 250 * time.Millisecond
)

// ErrBrowserUnreachable is returned (wrapped) by Scan when no remote browser
// could be reached.
var ErrBrowserUnreachable = errors.New("no remote browser is reachable: check that the browsers: endpoints run and that this machine can reach their DevTools port")

// BrowserLostError says that the remote browser a scan ran in went away
// during the scan (killed, restarted, or the network between them failed).
// That scan failed; the next ones go to the browsers that are up.
type BrowserLostError struct {
	// Endpoint is the browser's, as configured.
	Endpoint string
	Err      error
}

func (e *BrowserLostError) Error() string {
	return fmt.Sprintf("the remote browser %s went away during the scan (killed, restarted or unreachable); the next scan goes to a browser that is up: %v", e.Endpoint, e.Err)
}

func (e *BrowserLostError) Unwrap() error { return e.Err }

// BrowserFlags are the command-line flags a remote browser must be started
// with for its scans to see pages as the crawler's own browser does: no
// site isolation (payment providers' iframes run in the page's target, so
// their scripts and requests are seen), quiet networking (no request of
// Chromium's own to Google), no automation traces, a desktop screen. Add
// --remote-debugging-port (and an address to listen on) but no proxy flag:
// each scan's browser context has its own proxy.
func BrowserFlags() []string {
	// chromedp's defaults (DefaultExecAllocatorOptions), which the local
	// browser starts with, less --headless (a headless-shell is; a full
	// Chromium needs it), --enable-automation (a trace) and the flags
	// launchFlags sets.
	out := []string{
		"--no-first-run", "--no-default-browser-check", "--enable-features=NetworkService,NetworkServiceInProcess",
		"--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows",
		"--disable-renderer-backgrounding", "--disable-breakpad", "--disable-client-side-phishing-detection",
		"--disable-default-apps", "--disable-dev-shm-usage", "--disable-extensions", "--disable-hang-monitor",
		"--disable-ipc-flooding-protection", "--disable-popup-blocking", "--disable-prompt-on-repost",
		"--disable-sync", "--force-color-profile=srgb", "--metrics-recording-only",
		"--safebrowsing-disable-auto-update", "--password-store=basic", "--use-mock-keychain",
	}
	for _, f := range launchFlags() {
		switch v := f.value.(type) {
		case bool:
			if v {
				out = append(out, "--"+f.name)
			}
		default:
			out = append(out, fmt.Sprintf("--%s=%v", f.name, v))
		}
	}
	return out
}

// pool is the remote browsers of a Crawler.
type pool struct {
	c         *Crawler
	recycle   int
	proxyAddr netip.Addr
	// wait is how long a scan waits for a browser when none is up.
	wait time.Duration

	mu     sync.Mutex
	closed bool
	eps    []*endpoint
	next   int // round robin among equally busy browsers
}

// endpoint is one remote browser and the crawler's connection to it.
// Its fields are guarded by pool.mu, except while connecting, which
// connecting marks.
type endpoint struct {
	url string

	// conn is the current connection, nil when none.
	conn       *remoteConn
	connecting bool
	// failures counts the connection attempts that failed in a row;
	// retryAt is when the endpoint may be tried again.
	failures int
	retryAt  time.Time
	lastErr  error
}

// remoteConn is one connection to a remote browser.
type remoteConn struct {
	wsURL     string
	allocStop context.CancelFunc
	ctx       context.Context // chromedp context of the connection
	stop      context.CancelFunc
	version   browserVersion
	// local is this machine's address towards the browser, peer the
	// browser's; tls is set when they are a TLS proxy's (wss://).
	local, peer netip.Addr
	tls         bool
	// scans started on it, active running now; retiring once it served
	// its scans.
	scans, active int
	retiring      bool
}

func newPool(c *Crawler, r Remote) *pool {
	p := &pool{c: c, recycle: r.RecycleAfter, proxyAddr: r.ProxyAddr, wait: cmp.Or(r.wait, remoteWait)}
	if p.recycle == 0 {
		p.recycle = DefaultRemoteRecycleAfter
	}
	for _, u := range r.Browsers {
		p.eps = append(p.eps, &endpoint{url: u})
	}
	return p
}

// scan runs one scan in a remote browser. A browser that is lost before
// the page was asked for is left for another, once.
func (p *pool) scan(ctx context.Context, pg skimguard.Page) (*skimguard.Observation, error) {
	for attempt := 0; ; attempt++ {
		ep, rc, err := p.acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", pg.URL, err)
		}
		s := newScan(p.c, pg)
		s.version = rc.version
		s.proxyListen = cmp.Or(p.proxyAddr, rc.local)
		if !p.proxyAddr.IsValid() && !rc.tls {
			// Behind TLS, the address connected to is a TLS proxy's,
			// not the browser's.
			s.proxyClients = []netip.Addr{rc.peer}
		}
		obs, err := s.run(ctx, rc.ctx)
		lost := err != nil && ctx.Err() == nil && !pageFailed(err) && p.c.browserGone(rc.ctx)
		p.release(ep, rc, lost)
		if lost && attempt == 0 && !s.started() {
			continue
		}
		if lost {
			err = &BrowserLostError{Endpoint: ep.url, Err: err}
		}
		if err != nil && s.secrets.any() {
			err = &maskedError{msg: s.mask(err.Error()), err: err}
		}
		return obs, err
	}
}

// pageFailed reports whether err is the page's failure rather than the
// browser's.
func pageFailed(err error) bool {
	var pe *PageError
	var je *JourneyError
	return errors.As(err, &pe) || errors.As(err, &je)
}

// acquire picks the browser for a scan: the least busy of those connected,
// round robin among equals, else an endpoint to connect to. An endpoint
// that cannot be reached is skipped, and tried again once its backoff is
// over. With no browser to scan in, the scan waits for one (a browser
// draining before its recycling, another scan connecting, one due for a
// retry) up to the pool's wait, then fails with ErrBrowserUnreachable.
func (p *pool) acquire(ctx context.Context) (*endpoint, *remoteConn, error) {
	giveUp := time.Now().Add(p.wait)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, nil, errors.New("crawler is closed")
		}
		ep, rc, busy := p.pickLocked()
		if rc != nil {
			rc.scans++
			rc.active++
			if p.recycle > 0 && rc.scans >= p.recycle {
				rc.retiring = true
			}
			p.mu.Unlock()
			return ep, rc, nil
		}
		if ep == nil {
			p.mu.Unlock()
			if !busy && !time.Now().Before(giveUp) {
				return nil, nil, fmt.Errorf("%w (waited %s): %w", ErrBrowserUnreachable, p.wait, errors.Join(p.lastErrors()...))
			}
			select {
			case <-ctx.Done():
				return nil, nil, fmt.Errorf("waiting for a remote browser: %w", ctx.Err())
			case <-time.After(remotePoll):
			}
			continue
		}
		ep.connecting = true
		p.mu.Unlock()

		rc, err := p.connect(ctx, ep.url)

		p.mu.Lock()
		ep.connecting = false
		if err != nil {
			ep.failures++
			ep.lastErr = err
			ep.retryAt = time.Now().Add(min(remoteMinBackoff<<min(ep.failures-1, 10), remoteMaxBackoff))
			p.mu.Unlock()
			p.c.log.Warn("remote browser unreachable; skipped for now and retried later", "browser", ep.url, "retry_at", ep.retryAt.Format(time.RFC3339), "err", err)
			if ctx.Err() != nil {
				return nil, nil, fmt.Errorf("%w: %w", ErrBrowserUnreachable, err)
			}
			continue
		}
		if p.closed {
			p.mu.Unlock()
			rc.close()
			return nil, nil, errors.New("crawler is closed")
		}
		ep.failures, ep.lastErr, ep.conn = 0, nil, rc
		p.mu.Unlock()
		p.c.log.Info("connected to a remote browser", "browser", ep.url, "version", rc.version.full)
	}
}

// lastErrors are why each endpoint last failed.
func (p *pool) lastErrors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, ep := range p.eps {
		if ep.lastErr != nil {
			errs = append(errs, ep.lastErr)
		}
	}
	return errs
}

// pickLocked returns a connected browser to scan in, or else an endpoint
// due for a connection, or neither; busy reports that a browser may be
// ready soon (one connecting, or draining before its recycling).
func (p *pool) pickLocked() (_ *endpoint, _ *remoteConn, busy bool) {
	var best *endpoint
	n := len(p.eps)
	for i := range n {
		ep := p.eps[(p.next+i)%n]
		rc := ep.conn
		if rc != nil && rc.ctx.Err() != nil {
			// Lost between scans: forget it, and reconnect now.
			if rc.active == 0 {
				go rc.close()
			}
			ep.conn, rc = nil, nil
		}
		busy = busy || ep.connecting || (rc != nil && rc.retiring)
		if rc == nil || rc.retiring {
			continue
		}
		if best == nil || rc.active < best.conn.active {
			best = ep
		}
	}
	if best != nil {
		p.next = (p.next + 1) % n
		return best, best.conn, busy
	}
	now := time.Now()
	for _, ep := range p.eps {
		if ep.conn == nil && !ep.connecting && !ep.retryAt.After(now) {
			return ep, nil, busy
		}
	}
	return nil, nil, busy
}

// release ends a scan on rc. A lost browser is forgotten; a retiring one
// is closed when its last scan ends.
func (p *pool) release(ep *endpoint, rc *remoteConn, lost bool) {
	p.mu.Lock()
	rc.active--
	if lost || rc.ctx.Err() != nil {
		if ep.conn == rc {
			ep.conn = nil
		}
		rc.retiring = false
	}
	closeNow := rc.active == 0 && (rc.retiring || ep.conn != rc)
	recycle := rc.retiring
	if closeNow && ep.conn == rc {
		ep.conn = nil
	}
	p.mu.Unlock()
	if !closeNow {
		return
	}
	if recycle {
		p.c.log.Info("recycling a remote browser: asking it to close, its container starts a fresh one", "browser", ep.url, "scans", rc.scans)
		if err := rc.closeBrowser(); err != nil {
			p.c.log.Warn("recycling a remote browser: it did not close", "browser", ep.url, "err", err)
		}
	}
	rc.close()
}

// connect opens a connection to the browser at endpoint and reads its
// version.
func (p *pool) connect(ctx context.Context, endpoint string) (*remoteConn, error) {
	ctx, cancel := context.WithTimeout(ctx, remoteDialTimeout+5*time.Second)
	defer cancel()
	wsURL, err := debuggerURL(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("remote browser %s: %w", endpoint, err)
	}
	local, peer, err := route(ctx, wsURL)
	if err != nil {
		return nil, fmt.Errorf("remote browser %s: %w", endpoint, err)
	}
	// A page must not reach the DevTools port through the egress proxy.
	p.c.guard.RefuseBrowser(peer)
	// The connection lives until closed, whatever ctx does.
	allocCtx, allocStop := remote.NewAllocator(context.WithoutCancel(ctx), wsURL, remote.NoModifyURL, remote.WithDialTimeout(remoteDialTimeout))
	bctx, stop := chromedp.NewContext(allocCtx)
	rc := &remoteConn{wsURL: wsURL, allocStop: allocStop, ctx: bctx, stop: stop, local: local, peer: peer.Addr(), tls: strings.HasPrefix(wsURL, "wss:")}
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(bctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
		stop()
		<-done
	}
	if err != nil {
		rc.close()
		return nil, fmt.Errorf("remote browser %s: connecting to %s: %w", endpoint, wsURL, err)
	}
	if rc.version, err = runningVersion(ctx, bctx); err != nil {
		rc.close()
		return nil, fmt.Errorf("remote browser %s: %w", endpoint, err)
	}
	return rc, nil
}

// closeBrowser asks the browser to exit, on a connection of its own:
// chromedp sends Browser.close only for a browser it started. The browser
// may go before it answers.
func (rc *remoteConn) closeBrowser() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := remote.DialContext(ctx, rc.wsURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Write(ctx, &cdproto.Message{ID: 1, Method: browser.CommandClose}); err != nil {
		return err
	}
	var reply cdproto.Message
	if err := conn.Read(ctx, &reply); err != nil {
		return nil // gone before answering
	}
	if reply.Error != nil {
		return reply.Error
	}
	return nil
}

// close ends the connection; the browser keeps running.
func (rc *remoteConn) close() {
	rc.stop()
	rc.allocStop()
}

// close ends every connection.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	var conns []*remoteConn
	for _, ep := range p.eps {
		if ep.conn != nil {
			conns = append(conns, ep.conn)
			ep.conn = nil
		}
	}
	p.mu.Unlock()
	for _, rc := range conns {
		rc.close()
	}
}

// debuggerURL is the browser's WebSocket address for an endpoint. An
// http(s) or ws(s) endpoint without a /devtools/browser/ path is asked at
// /json/version; its answer names the host as the request did, so the
// scheme and host given are kept. Chromium answers only requests whose Host
// is an IP address or localhost, so a name is resolved first (again at each
// connection: a restarted container can have a new address).
func debuggerURL(ctx context.Context, endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("parsing the endpoint: %w", err)
	}
	host, err := resolveHost(ctx, u.Hostname())
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"ws": "80", "http": "80", "wss": "443", "https": "443"}[u.Scheme]
	}
	u.Host = net.JoinHostPort(host, port)
	ws := map[string]string{"ws": "ws", "http": "ws", "wss": "wss", "https": "wss"}[u.Scheme]
	if ws == "" {
		return "", fmt.Errorf("scheme %q: use ws://, wss://, http:// or https://", u.Scheme)
	}
	if strings.Contains(u.Path, "/devtools/browser/") {
		u.Scheme = ws
		return u.String(), nil
	}
	info := *u
	info.Scheme, info.Path, info.RawQuery = map[string]string{"ws": "http", "wss": "https"}[ws], "/json/version", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.String(), nil)
	if err != nil {
		return "", err
	}
	// Straight to the browser, never through the environment's proxy.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking %s for the browser's address: %w", info.String(), err)
	}
	defer resp.Body.Close()
	var v struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("asking %s for the browser's address: HTTP %d (is this a Chromium DevTools port?)", info.String(), resp.StatusCode)
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&v); err != nil {
		return "", fmt.Errorf("reading %s: %w (is this a Chromium DevTools port?)", info.String(), err)
	}
	dbg, err := url.Parse(v.WebSocketDebuggerURL)
	if err != nil || !strings.Contains(dbg.Path, "/devtools/browser/") {
		return "", fmt.Errorf("%s named no browser WebSocket (%q): is this a Chromium DevTools port?", info.String(), v.WebSocketDebuggerURL)
	}
	u.Scheme, u.Path, u.RawQuery = ws, dbg.Path, ""
	return u.String(), nil
}

// resolveHost returns host as an IP address, or localhost.
func resolveHost(ctx context.Context, host string) (string, error) {
	if host == "localhost" {
		return host, nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("resolving %s: no address", host)
	}
	return addrs[0].Unmap().String(), nil
}

// route is this machine's address towards the browser at wsURL, where the
// browser can reach its egress proxy, and the browser's DevTools address,
// whose host the proxy serves.
func route(ctx context.Context, wsURL string) (local netip.Addr, peer netip.AddrPort, err error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return local, peer, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return local, peer, fmt.Errorf("connecting to %s: %w", u.Host, err)
	}
	defer conn.Close()
	r := conn.RemoteAddr().(*net.TCPAddr).AddrPort()
	return conn.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(), netip.AddrPortFrom(r.Addr().Unmap(), r.Port()), nil
}

// newRemote makes a Crawler that scans in the remote browsers of
// opts.Remote. It connects to none yet: an endpoint that is down at start
// is tried again by the scans. The endpoints are checked by their reader
// (config.CheckBrowser). ctx is unused, for New's signature.
func newRemote(_ context.Context, opts Options, logger *slog.Logger) (*Crawler, error) {
	c := newCrawler(opts, logger)
	c.remote = newPool(c, opts.Remote)
	return c, nil
}
