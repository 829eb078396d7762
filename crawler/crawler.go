// Package crawler drives Chromium with chromedp and returns what one load of a
// payment page showed a shopper's browser: every script that ran (hashed),
// the main document's redirects and security headers, the frames, the card
// forms, every network destination and, when asked, where a typed test card
// went.
//
// One Crawler runs one browser process at a time, or, with Options.Remote,
// scans in a pool of remote Chromium endpoints (remote.go). Each Scan gets
// a fresh incognito browser context and tab, so no cookie or storage
// survives between scans.
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
//
// # Concurrency
//
// A page waiting in its observation window costs almost no CPU, so checks
// per minute are bounded by the CPU only when many windows overlap: a scan
// of the demo checkout costs about one CPU-second (loading the page, the
// shopper's visit and typing, opening its context and tab), over the 13–15
// s that a 12 s window takes. Options.MaxConcurrent therefore defaults to
// what the machine holds, DefaultConcurrency: 16 pages per CPU, and no
// more than one per 200 MB of available memory (a concurrent page costs
// 30–150 MB of Chromium, the demo's the least, and a little of Go),
// leaving 1 GiB to the rest of the machine. Each scan's browser context
// opens a window, whose address bar would preload Chrome's omnibox popup
// pages in a renderer of their own: that cost as much as the page itself,
// and the browser is started without them (launchFlags).
//
// The window is paid in real time, overlapped across pages, not shortened
// with Chromium's virtual time (Emulation.setVirtualTimePolicy with a
// budget), though that was tried: under pauseIfNetworkFetchesPending a 12 s
// window took 0.7 s and every technique test still passed, but one request
// the server never answers (a long poll, or a skimmer's deliberate one)
// stops virtual time, and a setTimeout(10 s) loader then did not fire in
// 13 s of real time, where real time catches it; under advance, which does
// not wait for fetches, the budget ran out in 14 ms, before the loader's
// script (served in 300 ms) arrived, and it was not seen. A page could thus
// hide a delayed loader at will.
//
// Every scan is admitted first (Admit, or inside Scan): it waits, never
// fails, while MaxConcurrent scans run, and while the machine is short of
// room (memory available below Options.MinMemAvailable, or CPU pressure
// at Options.MaxCPUPressure) — except that with none of this crawler's
// scans running one always starts, so a machine busy with other work slows
// the checks but never stops them. An Observation's StartedAt and Duration
// count from admission; Queued is the wait. The daemon admits a check
// before starting its timeout, so the wait never times it out.
//
// One browser serves Options.RecycleAfter scans (500), or until its
// processes hold more than Options.RecycleMemory (their PSS summed from
// /proc, measured between scans at most every 15 s): it is then retired.
// New scans go to a new browser while the old one finishes its scans and
// closes, so no scan is cut short by a recycling.
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
	"github.com/skimguard/skimguard/internal/host"
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

// Defaults for Options; see also DefaultConcurrency, DefaultMinMemAvailable,
// DefaultMaxCPUPressure and DefaultRecycleAfter.
const (
	DefaultLoadTimeout = 30 * time.Second
	DefaultWait        = 12 * time.Second
)

// Options configure a Crawler. Zero values take the defaults.
type Options struct {
	// ExecPath is the Chromium binary; "" looks for chromium,
	// chromium-browser and google-chrome in PATH, then
	// /usr/lib/chromium/chromium.
	ExecPath string
	// Card makes the card each scan types; nil means a fresh
	// carddata.Canary per scan, so that kits that skip known test cards
	// fire and one scan's card is never another's.
	Card func() carddata.Card
	// Logger receives the crawler's logs; nil discards them. Card data is
	// never logged.
	Logger *slog.Logger
	// LoadTimeout bounds the load of the main document; default 30s.
	LoadTimeout time.Duration
	// DefaultWait is the observation window when Page.Wait is 0; default 12s.
	DefaultWait time.Duration
	// MaxConcurrent is how many pages are scanned at once; default
	// DefaultConcurrency(), sized from the machine's CPUs and memory.
	MaxConcurrent int
	// MinMemAvailable: while the machine has less memory available than
	// this (/proc/meminfo's MemAvailable), new scans wait for it to come
	// back; those under way go on. 0 means DefaultMinMemAvailable; a
	// negative value never waits on memory.
	MinMemAvailable int64
	// MaxCPUPressure: while runnable tasks have waited for a CPU this share
	// (percent) of the last 10 s or more (/proc/pressure/cpu's some avg10;
	// without it, a load average of 4 per CPU), new scans wait. 0 means
	// DefaultMaxCPUPressure; a negative value never waits on CPU.
	MaxCPUPressure float64
	// RecycleAfter is how many scans one browser process serves before a
	// new one takes the next scans and the old one closes once its own
	// have ended; 0 means DefaultRecycleAfter, a negative value never.
	RecycleAfter int
	// RecycleMemory: a browser whose processes hold more than this many
	// bytes (their PSS summed, measured between scans) is recycled in the
	// same way; 0 means 512 MB plus 300 MB per concurrent scan, a negative
	// value never.
	RecycleMemory int64
	// Egress says where pages may make the browser connect: link-local
	// and cloud metadata addresses are refused by default, and so are
	// skimguard's own listening addresses, given in Egress.Own.
	Egress egress.Policy
	// Remote, when it names browsers, makes the crawler scan in those
	// rather than start its own (see Remote); ExecPath is then unused.
	Remote Remote
	// Getenv reads the ${NAME} references of journeys (a shop password)
	// when a journey plays; nil means os.Getenv. What it returns is masked
	// wherever the test card is, and never logged.
	Getenv func(string) string

	// fetchLimits lets tests lower the bounds on fetched script text.
	fetchLimits fetchLimits
	// resolver lets tests choose what names resolve to; nil is the
	// system's resolver.
	resolver *net.Resolver
	// probe lets tests choose what the machine has room for; nil reads
	// /proc.
	probe func() hostState
	// memory lets tests choose how much a browser holds; nil reads /proc.
	memory func(pid int) (int64, bool)
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

// Crawler loads pages in one Chromium process at a time. Its methods are
// safe for concurrent use.
type Crawler struct {
	opts    Options
	log     *slog.Logger
	execPth string
	guard   *egress.Guard
	// proxy is the browser-wide proxy, for connections outside any
	// scan's browser context (each scan has its own).
	proxy *egress.Proxy
	// largeFetch holds a slot while a large script text is fetched.
	largeFetch chan struct{}
	// probe reads what the machine has room for.
	probe func() hostState
	// gate admits scans.
	gate gate
	// remote is the pool of remote browsers, nil for a local one.
	remote *pool

	mu     sync.Mutex
	closed bool
	// cur is the browser new scans go to; nil until one is needed after
	// the last was retired or lost.
	cur *instance
	// retiring are recycled browsers still finishing their scans.
	retiring map[*instance]bool
	// measuring is set while a browser's memory is being measured.
	measuring bool
}

// instance is one browser process and what runs on it.
type instance struct {
	allocStop context.CancelFunc
	ctx       context.Context // chromedp context that owns the browser
	stop      context.CancelFunc
	// profileDir is the browser's profile directory, which the crawler
	// makes and removes (see newProfileDir).
	profileDir string
	// version is the browser's, which scans show as theirs.
	version browserVersion
	// pid is the browser's process id, 0 when unknown.
	pid int
	// scans is how many scans started on it, active how many run now;
	// memAt is when its memory was last measured. Guarded by Crawler.mu.
	scans, active int
	memAt         time.Time
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
		opts.MaxConcurrent = DefaultConcurrency()
	}
	if opts.MinMemAvailable == 0 {
		opts.MinMemAvailable = DefaultMinMemAvailable
	}
	if opts.MaxCPUPressure == 0 {
		opts.MaxCPUPressure = DefaultMaxCPUPressure
	}
	if opts.RecycleAfter == 0 {
		opts.RecycleAfter = DefaultRecycleAfter
	}
	if opts.RecycleMemory == 0 {
		opts.RecycleMemory = idleBrowserMem + int64(opts.MaxConcurrent)*300<<20
	}
	if opts.Card == nil {
		opts.Card = func() carddata.Card { return carddata.Canary(time.Now()) }
	}
	if opts.fetchLimits == (fetchLimits{}) {
		opts.fetchLimits = fetchLimits{perScript: maxScriptFetch, perScan: maxScanFetch}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(opts.Remote.Browsers) > 0 {
		return newRemote(ctx, opts, logger)
	}
	path, err := findBrowser(opts.ExecPath)
	if err != nil {
		return nil, err
	}
	c := newCrawler(opts, logger)
	c.execPth = path
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
	if c.cur, err = c.start(ctx); err != nil {
		c.proxy.Close()
		return nil, err
	}
	return c, nil
}

// newCrawler makes the parts of a Crawler that local and remote browsers
// share.
func newCrawler(opts Options, logger *slog.Logger) *Crawler {
	c := &Crawler{
		opts:       opts,
		log:        logger,
		largeFetch: make(chan struct{}, largeFetches),
		guard:      egress.NewGuard(opts.Egress, opts.resolver),
		probe:      opts.probe,
		retiring:   map[*instance]bool{},
	}
	if c.probe == nil {
		c.probe = readHost
	}
	c.gate.freed = make(chan struct{})
	return c
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

// start launches a browser. The browser's context is detached from ctx, so
// that a deadline on ctx never kills the browser later (TECH-NOTES); ctx
// still bounds how long the start may take.
func (c *Crawler) start(ctx context.Context) (*instance, error) {
	dir, err := newProfileDir()
	if err != nil {
		return nil, fmt.Errorf("starting chromium %s: %w", c.execPth, err)
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
			return nil, startError(c.execPth, err)
		}
	case <-ctx.Done():
		stop()
		allocStop()
		<-done
		removeProfileDir(dir, c.log)
		return nil, fmt.Errorf("starting chromium %s: %w", c.execPth, ctx.Err())
	}
	v, err := runningVersion(ctx, bctx)
	if err != nil {
		stop()
		allocStop()
		removeProfileDir(dir, c.log)
		return nil, fmt.Errorf("starting chromium %s: %w", c.execPth, err)
	}
	if flagVersion.full != "" && flagVersion != v {
		c.log.Warn("Chromium's binary and the running browser tell different versions; the scans show the running one's", "binary", flagVersion.full, "running", v.full)
	}
	b := &instance{allocStop: allocStop, ctx: bctx, stop: stop, profileDir: dir, version: v, memAt: time.Now()}
	if cb := chromedp.FromContext(bctx); cb != nil && cb.Browser != nil {
		if p := cb.Browser.Process(); p != nil {
			b.pid = p.Pid
		}
	}
	c.log.Debug("chromium started", "path", c.execPth, "version", v.full, "pid", b.pid)
	return b, nil
}

// kill stops browser b and removes its profile.
func (c *Crawler) kill(b *instance) {
	b.stop()
	b.allocStop()
	removeProfileDir(b.profileDir, c.log)
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

// acquire returns the browser a scan runs on, counting the scan on it,
// starting a new browser when the last one was retired, crashed or was
// killed. The caller calls c.done(b) when the scan ends.
func (c *Crawler) acquire(ctx context.Context) (*instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if b := c.cur; b != nil && b.ctx.Err() != nil {
		c.log.Warn("chromium is gone; starting a new one")
		c.cur = nil
		if b.active == 0 {
			// Removed meanwhile: the scan waiting here needs no old profile.
			go c.kill(b)
		} else {
			// Its scans end with the browser's error and close it.
			c.retiring[b] = true
		}
	}
	if c.cur == nil {
		b, err := c.start(ctx)
		if err != nil {
			return nil, err
		}
		c.cur = b
	}
	c.cur.scans++
	c.cur.active++
	return c.cur, nil
}

// done ends a scan on browser b. It retires b after RecycleAfter scans or
// when its memory grew past RecycleMemory (measured at most every
// memEvery), and closes a retired browser whose last scan this was: new
// scans go to a new browser while the old one finishes its own.
func (c *Crawler) done(b *instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b.active--
	if b == c.cur && c.opts.RecycleAfter > 0 && b.scans >= c.opts.RecycleAfter {
		c.retire(b, fmt.Sprintf("it served %d scans", b.scans))
	}
	if b == c.cur && c.opts.RecycleMemory > 0 && !c.measuring && time.Since(b.memAt) >= memEvery {
		// Off the lock: the measure reads every page table of the tree.
		c.measuring = true
		b.memAt = time.Now()
		go c.measure(b)
	}
	if c.retiring[b] && b.active == 0 {
		delete(c.retiring, b)
		go c.kill(b)
	}
}

// retire makes b take no new scan. Call with c.mu held.
func (c *Crawler) retire(b *instance, why string) {
	if c.cur != b {
		return
	}
	c.log.Info("recycling the browser: new scans go to a new one, this one closes once its scans end", "why", why, "scans", b.scans, "running", b.active)
	c.cur = nil
	c.retiring[b] = true
}

// measure retires b when its processes hold more than RecycleMemory.
func (c *Crawler) measure(b *instance) {
	mem, ok := c.browserMemory(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.measuring = false
	if ok && mem > c.opts.RecycleMemory {
		c.retire(b, fmt.Sprintf("its processes hold %d MB, more than %d MB", mem>>20, c.opts.RecycleMemory>>20))
		if b.active == 0 {
			delete(c.retiring, b)
			go c.kill(b)
		}
	}
}

// browserMemory returns what browser b's processes hold, in bytes.
func (c *Crawler) browserMemory(b *instance) (int64, bool) {
	if b.pid == 0 {
		return 0, false
	}
	if c.opts.memory != nil {
		return c.opts.memory(b.pid)
	}
	return host.TreeMemory(b.pid)
}

// isClosed reports whether Close was called.
func (c *Crawler) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close stops the browsers. Scans in flight end with an error, and scans
// waiting for admission with errClosed.
func (c *Crawler) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.remote == nil {
		defer c.proxy.Close()
	}
	old := make([]*instance, 0, len(c.retiring))
	for b := range c.retiring {
		old = append(old, b)
	}
	cur := c.cur
	c.cur, c.retiring = nil, map[*instance]bool{}
	c.mu.Unlock()
	// Waiting scans see closed at once rather than at their next poll.
	c.gate.mu.Lock()
	close(c.gate.freed)
	c.gate.freed = make(chan struct{})
	c.gate.mu.Unlock()
	if c.remote != nil {
		c.remote.close()
		return nil
	}
	for _, b := range old {
		c.kill(b)
	}
	if cur == nil {
		return nil
	}
	var err error
	if cur.ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(cur.ctx, 10*time.Second)
		err = chromedp.Cancel(cctx)
		cancel()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	c.kill(cur)
	if err != nil {
		return fmt.Errorf("closing chromium: %w", err)
	}
	return nil
}

// Scan loads p once and returns what the load observed. A *PageError comes
// with the partial Observation when the page was reached. Scan is safe for
// concurrent use: it first waits for admission (see Admit; at most
// MaxConcurrent scans run, and none starts while the machine is short of
// memory or CPU), unless ctx carries one from Admit. The Observation's
// StartedAt and Duration begin once admitted; Queued is the wait.
func (c *Crawler) Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error) {
	a := c.admitted(ctx)
	if a == nil {
		var err error
		if a, err = c.admit(ctx); err != nil {
			return nil, fmt.Errorf("scan %s: waiting for the browser to have room: %w", p.URL, err)
		}
	}
	defer a.release()
	if c.remote != nil {
		return c.remote.scan(ctx, p)
	}

	for attempt := 0; ; attempt++ {
		b, err := c.acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", p.URL, err)
		}
		s := newScan(c, p)
		s.version = b.version
		obs, err := s.run(ctx, b.ctx)
		c.done(b)
		// A browser that died before the page was asked for (killed
		// between scans) is replaced once, and the scan starts over.
		if err != nil && attempt == 0 && !s.started() && ctx.Err() == nil && c.browserGone(b.ctx) {
			continue
		}
		if err != nil && s.secrets.any() {
			err = &maskedError{msg: s.mask(err.Error()), err: err}
		}
		if obs != nil {
			obs.Queued = a.waited
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
