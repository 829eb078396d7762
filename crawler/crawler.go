// Package crawler drives Chromium with chromedp and returns what one load of a
// payment page showed a shopper's browser: every script that ran (hashed),
// the main document's redirects and security headers, the frames, the card
// forms, every network destination and, when asked, where a typed test card
// went.
//
// One Crawler runs one browser process. Each Scan gets a fresh incognito
// browser context and tab, so no cookie or storage survives between scans.
// Site isolation is off, so cross-origin iframes (payment providers' hosted
// fields) run in the page's target and their scripts, requests and inputs are
// seen like the page's own.
//
// # Egress
//
// The pages are hostile, and the browser runs next to skimguard: a page
// could make it fetch the cloud metadata service or skimguard's own web
// interface. Every connection the browser makes goes through a forward
// proxy in this process (package egress) that refuses the destinations
// Options.Egress refuses. Each scan's browser context gets its own proxy
// (Target.createBrowserContext's proxyServer), so what a page tried to reach
// is told in its own Observation, as a Connection whose Refused says why;
// the browser-wide --proxy-server, for anything outside a scan's context,
// goes through the same policy. "<-loopback>" keeps Chromium from sending
// loopback and link-local addresses around the proxy, and WebRTC may use
// no UDP, which the proxy could not carry.
//
// A proxy rather than the Fetch domain: the proxy decides on the address it
// dials, after resolving the name, so a name that resolves to a refused
// address (DNS rebinding) is caught, where Fetch only sees URLs; it covers
// WebSockets, workers and service workers, which Fetch does not, or only
// with one interception per target; and it costs no round trip to the
// crawler per request. BenchmarkScanOverhead measures its cost.
package crawler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/egress"
)

// ErrNoBrowser is returned (wrapped) by New when no Chromium binary is found.
var ErrNoBrowser = errors.New("no Chromium browser found: install it with `apt-get install -y chromium` or pass --chromium PATH")

// ErrSandbox is returned (wrapped) by New when Chromium cannot start its
// sandbox: in a container, the default seccomp profile refuses the
// namespaces it creates.
var ErrSandbox = errors.New("Chromium cannot start its sandbox here: in a container, run with the seccomp profile that allows it, " +
	"docs/seccomp-chromium.json (`docker run --security-opt seccomp=docs/seccomp-chromium.json`, as compose.yaml does); " +
	"elsewhere, allow unprivileged user namespaces (sysctl user.max_user_namespaces above 0)")

// sandboxFailures are what Chromium prints when its sandbox cannot start.
var sandboxFailures = []string{"No usable sandbox", "Failed to move to new namespace", "sandbox_host_linux", "zygote_host_impl_linux"}

// startError says why the browser did not start, naming the fix when it is
// the sandbox rather than repeating Chromium's own message.
func startError(path string, err error) error {
	msg := err.Error()
	for _, s := range sandboxFailures {
		if strings.Contains(msg, s) {
			return fmt.Errorf("starting chromium %s: %w", path, ErrSandbox)
		}
	}
	return fmt.Errorf("starting chromium %s: %w", path, err)
}

// Defaults for Options.
const (
	DefaultLoadTimeout   = 30 * time.Second
	DefaultWait          = 12 * time.Second
	DefaultMaxConcurrent = 4
)

// Options configure a Crawler. Zero values take the defaults.
type Options struct {
	// ExecPath is the Chromium binary; "" looks for chromium,
	// chromium-browser and google-chrome in PATH, then
	// /usr/lib/chromium/chromium.
	ExecPath string
	// Card is the test card to type; the zero value means carddata.Test().
	Card carddata.Card
	// Logger receives the crawler's logs; nil discards them. Card data is
	// never logged.
	Logger *slog.Logger
	// LoadTimeout bounds the load of the main document; default 30s.
	LoadTimeout time.Duration
	// DefaultWait is the observation window when Page.Wait is 0; default 12s.
	DefaultWait time.Duration
	// MaxConcurrent is how many pages are scanned at once in the one
	// browser; default 4.
	MaxConcurrent int
	// Egress says where pages may make the browser connect: link-local
	// and cloud metadata addresses are refused by default, and so are
	// skimguard's own listening addresses, given in Egress.Own.
	Egress egress.Policy
	// Getenv reads the ${NAME} references of journeys (a shop password)
	// when a journey plays; nil means os.Getenv. What it returns is masked
	// wherever the test card is, and never logged.
	Getenv func(string) string

	// fetchLimits lets tests lower the bounds on fetched script text.
	fetchLimits fetchLimits
	// resolver lets tests choose what names resolve to; nil is the
	// system's resolver.
	resolver *net.Resolver
}

// fetchLimits bound, in characters, the text of one script that is fetched
// and the text one scan fetches in all.
type fetchLimits struct {
	perScript, perScan int64
}

// PageError says that the page itself could not be observed as asked: it
// was unreachable, its main document answered with an HTTP error, it did not
// finish loading in time, or it stopped responding.
type PageError struct {
	URL string
	// Status is the HTTP status of the main document, 0 when none came.
	Status int
	// Reason is what failed: a net::ERR_ code, "HTTP 500", "load timeout"...
	Reason string
}

func (e *PageError) Error() string {
	switch {
	case e.Status >= 400:
		return fmt.Sprintf("page %s answered HTTP %d: check that the URL is right and that the page works for a shopper", e.URL, e.Status)
	case e.Reason == reasonLoadTimeout:
		return fmt.Sprintf("page %s did not finish loading in time: check that the site is up and fast enough, or raise the load timeout", e.URL)
	case e.Reason == reasonUnresponsive:
		return fmt.Sprintf("page %s stopped responding (a script kept the browser busy): open the page in a browser and check its scripts", e.URL)
	case strings.Contains(e.Reason, refusedByEgress):
		return fmt.Sprintf("page %s was not loaded: %s; if the crawler is meant to reach it, allow it under egress: allow: in sites.yaml", e.URL, e.Reason)
	default:
		return fmt.Sprintf("page %s could not be loaded (%s): check the URL, DNS and that the site is reachable from this machine", e.URL, e.Reason)
	}
}

const (
	reasonLoadTimeout  = "load timeout"
	reasonUnresponsive = "page unresponsive"
)

// Crawler loads pages in one Chromium process. Its methods are safe for
// concurrent use.
type Crawler struct {
	opts    Options
	log     *slog.Logger
	execPth string
	sem     chan struct{}
	guard   *egress.Guard
	// proxy is the browser-wide proxy, for connections outside any
	// scan's browser context (each scan has its own).
	proxy *egress.Proxy
	// largeFetch holds a slot while a large script text is fetched.
	largeFetch chan struct{}

	mu        sync.Mutex
	closed    bool
	allocCtx  context.Context
	allocStop context.CancelFunc
	// profileDir is the running browser's profile directory, which the
	// crawler makes and removes (see newProfileDir).
	profileDir string
	browser    context.Context // chromedp context that owns the browser
	stop       context.CancelFunc
	// version is the running browser's, which scans show as theirs.
	version browserVersion
}

// New finds Chromium and starts one browser. The browser lives until Close,
// whatever ctx does after New returns; ctx only bounds the start.
func New(ctx context.Context, opts Options) (*Crawler, error) {
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = DefaultLoadTimeout
	}
	if opts.DefaultWait <= 0 {
		opts.DefaultWait = DefaultWait
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.Card == (carddata.Card{}) {
		opts.Card = carddata.Test()
	}
	if opts.fetchLimits == (fetchLimits{}) {
		opts.fetchLimits = fetchLimits{perScript: maxScriptFetch, perScan: maxScanFetch}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	path, err := findBrowser(opts.ExecPath)
	if err != nil {
		return nil, err
	}
	c := &Crawler{
		opts:       opts,
		log:        logger,
		execPth:    path,
		sem:        make(chan struct{}, opts.MaxConcurrent),
		largeFetch: make(chan struct{}, largeFetches),
		guard:      egress.NewGuard(opts.Egress, opts.resolver),
	}
	c.proxy, err = egress.NewProxy(c.guard, egress.ProxyOptions{
		Logger: logger,
		OnRefuse: func(r *egress.Refusal) {
			logger.Warn("refused a connection of the browser outside any scan", "err", r)
		},
	})
	if err != nil {
		return nil, err
	}
	removeStaleProfiles(logger)
	if err := c.start(ctx); err != nil {
		c.proxy.Close()
		return nil, err
	}
	return c, nil
}

// getenv reads a variable a journey refers to.
func (c *Crawler) getenv(name string) string {
	if c.opts.Getenv != nil {
		return c.opts.Getenv(name)
	}
	return os.Getenv(name)
}

// findBrowser returns the Chromium binary to run.
func findBrowser(execPath string) (string, error) {
	if execPath != "" {
		if p, err := exec.LookPath(execPath); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("chromium %q: not found or not executable: %w", execPath, ErrNoBrowser)
	}
	// Debian's /usr/bin/chromium is a wrapper script that adds flags of its
	// own; the real binary gets exactly the crawler's flags.
	const debian = "/usr/lib/chromium/chromium"
	if fi, err := os.Stat(debian); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return debian, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("looked for chromium, chromium-browser and google-chrome in PATH and %s: %w", debian, ErrNoBrowser)
}

// start launches the browser. The browser's context is detached from ctx, so
// that a deadline on ctx never kills the browser later (TECH-NOTES); ctx
// still bounds how long the start may take. Call with c.mu held or before c
// is shared.
func (c *Crawler) start(ctx context.Context) error {
	dir, err := newProfileDir()
	if err != nil {
		return fmt.Errorf("starting chromium %s: %w", c.execPth, err)
	}
	// The launch flags need the version before the browser runs: ask the
	// binary, which may have been upgraded since the last start.
	flagVersion, err := binaryVersion(ctx, c.execPth)
	if err != nil {
		c.log.Warn("Chromium did not tell its version: service workers will show its own user agent, HeadlessChrome", "err", err)
	}
	allocCtx, allocStop := chromedp.NewExecAllocator(context.WithoutCancel(ctx), allocatorOptions(c.execPth, c.proxy.URL(), dir, flagVersion)...)
	bctx, stop := chromedp.NewContext(allocCtx, chromedp.WithErrorf(browserErrorf(c)))
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(bctx) }()
	select {
	case err := <-done:
		if err != nil {
			stop()
			allocStop()
			removeProfileDir(dir, c.log)
			c.log.Debug("chromium did not start", "err", err)
			return startError(c.execPth, err)
		}
	case <-ctx.Done():
		stop()
		allocStop()
		<-done
		removeProfileDir(dir, c.log)
		return fmt.Errorf("starting chromium %s: %w", c.execPth, ctx.Err())
	}
	v, err := runningVersion(ctx, bctx)
	if err != nil {
		stop()
		allocStop()
		removeProfileDir(dir, c.log)
		return fmt.Errorf("starting chromium %s: %w", c.execPth, err)
	}
	if flagVersion.full != "" && flagVersion != v {
		c.log.Warn("Chromium's binary and the running browser tell different versions; the scans show the running one's", "binary", flagVersion.full, "running", v.full)
	}
	c.allocCtx, c.allocStop, c.browser, c.stop, c.profileDir, c.version = allocCtx, allocStop, bctx, stop, dir, v
	c.log.Debug("chromium started", "path", c.execPth, "version", v.full)
	return nil
}

// runningVersion asks the browser of bctx for its version, within ctx.
func runningVersion(ctx, bctx context.Context) (browserVersion, error) {
	vctx, cancel := context.WithTimeout(bctx, 10*time.Second)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	res, err := chromedp.CallBrowser(vctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		return browserVersion{}, fmt.Errorf("reading the browser's version: %w", err)
	}
	v, ok := parseVersion(res.Product)
	if !ok {
		return browserVersion{}, fmt.Errorf("reading the browser's version: no version in its product %q", res.Product)
	}
	return v, nil
}

// browserContext returns the context of a running browser and its version,
// starting a new browser when the last one crashed or was killed.
func (c *Crawler) browserContext(ctx context.Context) (context.Context, browserVersion, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, browserVersion{}, errors.New("crawler is closed")
	}
	if c.browser != nil && c.browser.Err() == nil {
		return c.browser, c.version, nil
	}
	if c.stop != nil {
		c.log.Warn("chromium is gone; starting a new one")
		c.stop()
		c.allocStop()
		// Removed meanwhile: the scan waiting here needs no old profile.
		go removeProfileDir(c.profileDir, c.log)
		c.browser, c.stop, c.profileDir = nil, nil, ""
	}
	if err := c.start(ctx); err != nil {
		return nil, browserVersion{}, err
	}
	return c.browser, c.version, nil
}

// Close stops the browser. Scans in flight end with an error.
func (c *Crawler) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	defer c.proxy.Close()
	if c.stop == nil {
		return nil
	}
	var err error
	if c.browser.Err() == nil {
		cctx, cancel := context.WithTimeout(c.browser, 10*time.Second)
		err = chromedp.Cancel(cctx)
		cancel()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	c.stop()
	c.allocStop()
	removeProfileDir(c.profileDir, c.log)
	c.browser, c.stop, c.profileDir = nil, nil, ""
	if err != nil {
		return fmt.Errorf("closing chromium: %w", err)
	}
	return nil
}

// Scan loads p once and returns what the load observed. A *PageError comes
// with the partial Observation when the page was reached. Scan is safe for
// concurrent use; at most MaxConcurrent scans run at once.
func (c *Crawler) Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("scan %s: waiting for a free browser slot: %w", p.URL, ctx.Err())
	}
	defer func() { <-c.sem }()

	for attempt := 0; ; attempt++ {
		bctx, version, err := c.browserContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", p.URL, err)
		}
		s := newScan(c, p)
		s.version = version
		obs, err := s.run(ctx, bctx)
		// A browser that died before the page was asked for (killed
		// between scans) is replaced once, and the scan starts over.
		if err != nil && attempt == 0 && !s.started() && ctx.Err() == nil && c.browserGone(bctx) {
			continue
		}
		if err != nil && s.secrets.any() {
			err = &maskedError{msg: s.mask(err.Error()), err: err}
		}
		return obs, err
	}
}

// browserGone reports whether the browser of bctx is gone. The loss of the
// connection ends bctx a moment after the process dies.
func (c *Crawler) browserGone(bctx context.Context) bool {
	select {
	case <-bctx.Done():
		return true
	case <-time.After(time.Second):
		return false
	}
}
