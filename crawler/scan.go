package crawler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/debugger"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/egress"
)

// Bounds that keep a hostile page from hanging or exhausting the crawler.
const (
	maxScripts      = 5000
	maxRequests     = 20000 // requests kept for the leak search
	maxOrigins      = 2000
	maxWSFrames     = 5000
	maxSourceStored = 2 << 20 // bytes of script text kept in Script.Source
	// maxScriptFetch and maxScanFetch bound, in characters (V8's length),
	// the text of one script that is fetched and the text one scan fetches
	// in all; a script past either is inventoried without its text.
	maxScriptFetch = 8 << 20
	maxScanFetch   = 64 << 20
	// largeScript is the length from which a fetch takes one of the
	// crawler's largeFetches slots, so that concurrent scans cannot each
	// pull several large texts at once.
	largeScript   = 1 << 20
	largeFetches  = 2
	maxFrames     = 200
	sourceWorkers = 4 // commands in flight for script sources and bodies
	// maxPostData bounds one request body or WebSocket frame searched for
	// the card; maxLeakData bounds the bytes of request URLs, bodies and
	// frames one scan keeps for that search.
	maxPostData     = 1 << 20
	maxLeakData     = 32 << 20
	cmdTimeout      = 5 * time.Second // one CDP call after navigation
	collectTimeout  = 15 * time.Second
	drainTimeout    = 5 * time.Second
	settleAfterWait = 200 * time.Millisecond
	// minTailAfterType lets a skimmer that polls the card fields (the
	// gate.php kit polls every 700 ms) fire after typing even in a short
	// window, with room for a busy machine.
	minTailAfterType = 1500 * time.Millisecond
	maxTailAfterType = 3 * time.Second
)

// internalSourceURL tags the code skimguard itself evaluates in the page, so
// that it is dropped from the inventory.
const internalSourceURL = "skimguard-internal://"

// scan is one page load.
type scan struct {
	c    *Crawler
	page skimguard.Page
	card carddata.Card
	log  *slog.Logger
	wait time.Duration
	// version is the running browser's, for the user agent.
	version browserVersion
	// proxyListen and proxyClients place the scan's egress proxy for a
	// remote browser (see Remote); zero for the local one.
	proxyListen  netip.Addr
	proxyClients []netip.Addr

	targetID  target.ID
	mainFrame cdp.FrameID

	st state

	// work runs CDP commands that events ask for (script sources, POST
	// bodies), off the event loop: a command from a listener deadlocks.
	workMu   sync.Mutex
	work     []func(context.Context)
	pending  int           // queued or running
	idle     chan struct{} // closed when pending falls to 0
	workWake chan struct{}

	// slow is set after a load timeout: the page may be busy, so commands
	// get a shorter time.
	slow atomic.Bool

	// unresponsive is set when a command to the page timed out: the page
	// is busy (while(true)) and further commands are skipped.
	unresponsive atomic.Bool

	typed bool // guarded by st.mu
	// typing is how long typing the test card took; only the scan's
	// goroutine uses it.
	typing time.Duration

	// hand is the shopper's pointer and pace; the scan's goroutine (the
	// journey, then observeWindow) uses it, one step at a time.
	hand hand

	// secrets are what the journey typed that must never leave the scan.
	secrets secrets
	// worlds are skimguard's isolated worlds in the frames a journey's
	// steps looked in, by frame; only the journey's goroutine uses them.
	worlds map[cdp.FrameID]*world

	// access is what the scan finds out about who can see the card.
	access accessState
	// wk is what the scan knows of the page's workers (workers.go).
	wk workerState
	// revisited is set when the page was loaded a second time, its
	// service worker active (revisit.go).
	revisited bool
	// rtcToken names the events and reports of the WebRTC hook
	// (webrtc.go).
	rtcToken string
}

func newScan(c *Crawler, p skimguard.Page) *scan {
	wait := p.Wait
	if wait <= 0 {
		wait = c.opts.DefaultWait
	}
	s := &scan{
		c:        c,
		page:     p,
		card:     c.opts.Card(),
		log:      c.log.With("site", p.Site, "page", p.Name),
		wait:     wait,
		idle:     make(chan struct{}),
		workWake: make(chan struct{}, 1),
		worlds:   map[cdp.FrameID]*world{},
		access:   accessState{hook: newHookName()},
		hand:     newHand(p.Profile),
	}
	close(s.idle)
	s.st.init(c.opts.fetchLimits.perScan)
	return s
}

// mask hides the test card and the journey's secrets in text that leaves
// the scan: the observation, logs and errors.
func (s *scan) mask(text string) string {
	return s.secrets.mask(s.card.Mask(text))
}

// enqueue adds a command to run off the event loop.
func (s *scan) enqueue(f func(context.Context)) {
	s.workMu.Lock()
	s.work = append(s.work, f)
	if s.pending == 0 {
		s.idle = make(chan struct{})
	}
	s.pending++
	s.workMu.Unlock()
	select {
	case s.workWake <- struct{}{}:
	default:
	}
}

// worker runs queued commands until ctx ends.
func (s *scan) worker(ctx context.Context) {
	for {
		s.workMu.Lock()
		if len(s.work) == 0 {
			s.workMu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-s.workWake:
			}
			continue
		}
		f := s.work[0]
		s.work[0] = nil
		s.work = s.work[1:]
		s.workMu.Unlock()
		f(ctx)
		s.workMu.Lock()
		if s.pending--; s.pending == 0 {
			close(s.idle)
		}
		s.workMu.Unlock()
	}
}

// drain waits until the queued commands ran, ctx ended or d passed.
// Events keep queueing commands meanwhile, so it waits for the queue to
// empty once rather than on a sync.WaitGroup, whose Add must not race a
// Wait.
func (s *scan) drain(ctx context.Context, d time.Duration) {
	s.workMu.Lock()
	idle := s.idle
	s.workMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// call runs one CDP command on the tab of ctx with its own timeout, derived
// from ctx. After one timeout the page counts as unresponsive and later
// calls fail at once.
func call[P, R any](ctx context.Context, s *scan, cmd cdp.Command[P, R], params P) (R, error) {
	if s.unresponsive.Load() {
		var zero R
		return zero, errUnresponsive
	}
	cctx, cancel := context.WithTimeout(ctx, s.cmdTimeout())
	defer cancel()
	r, err := chromedp.Call(cctx, cmd, params)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		s.unresponsive.Store(true)
	}
	return r, err
}

func (s *scan) cmdTimeout() time.Duration {
	if s.slow.Load() {
		return 2 * time.Second
	}
	return cmdTimeout
}

var errUnresponsive = errors.New("page stopped responding to the browser")

// started reports whether navigation to the page began.
func (s *scan) started() bool {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.navigating
}

// run performs the scan in a fresh browser context and tab.
func (s *scan) run(ctx context.Context, bctx context.Context) (*skimguard.Observation, error) {
	started := time.Now()
	obs := &skimguard.Observation{
		Site: s.page.Site, Page: s.page.Name, URL: s.page.URL,
		Profile: s.page.Profile, StartedAt: started.UTC(),
		Headers: map[string]string{},
	}
	if obs.Profile == "" {
		obs.Profile = skimguard.ProfileDesktop
	}

	// The scan's own egress proxy, so that what the page tried to reach is
	// told in this observation. It closes after the tab.
	px, err := egress.NewProxy(s.c.guard, egress.ProxyOptions{OnRefuse: s.onRefused, OnDialError: s.onDialError, Logger: s.log,
		Listen: s.proxyListen, Clients: s.proxyClients})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", s.page.URL, err)
	}
	defer px.Close()
	tab, closeTab := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext(func(p *target.CreateBrowserContextParams) {
		p.ProxyServer, p.ProxyBypassList = px.URL(), proxyBypass
	}))
	defer closeTab()
	defer s.detachWorkers(tab)
	// The caller's ctx and a hard deadline both close the tab, so no
	// command can outlive them.
	hard := s.c.opts.LoadTimeout + s.wait + maxTailAfterType + collectTimeout + 30*time.Second + journeyBudget(s.page.Journey) + s.revisitBudget()
	tab, cancelHard := context.WithTimeout(tab, hard)
	defer cancelHard()
	stopAfter := context.AfterFunc(ctx, cancelHard)
	defer stopAfter()

	// From here on every method that talks to the tab takes tab (or a
	// context derived from it) as its ctx.
	if err := s.setup(tab); err != nil {
		return nil, s.fail(ctx, fmt.Errorf("scan %s: preparing the browser tab: %w", s.page.URL, err))
	}
	obs.Phases.Setup = time.Since(started)
	workCtx, stopWork := context.WithCancel(tab)
	defer stopWork()
	for range sourceWorkers {
		go s.worker(workCtx)
	}

	s.log.Debug("tab ready", "after", time.Since(started))
	var perr *PageError
	if s.page.Journey != nil {
		t := time.Now()
		err := s.playJourney(tab)
		obs.Phases.Journey = time.Since(t)
		if err != nil {
			var je *JourneyError
			if errors.As(err, &je) {
				// Could not check, never clean: the failed scan keeps what
				// the page showed at that moment, screenshot included.
				return s.partial(tab, obs, started), je
			}
			return nil, s.fail(ctx, fmt.Errorf("scan %s: %w", s.page.URL, err))
		}
		s.log.Debug("journey played", "after", time.Since(started))
	} else {
		var err error
		t := time.Now()
		perr, err = s.navigate(tab)
		obs.Phases.Load = time.Since(t)
		s.log.Debug("navigated", "after", time.Since(started))
		if err != nil {
			return nil, s.fail(ctx, fmt.Errorf("scan %s: %w", s.page.URL, err))
		}
		if perr != nil && perr.Reason == reasonLoadTimeout {
			s.slow.Store(true)
		}
		if perr != nil && perr.Status == 0 && perr.Reason != reasonLoadTimeout {
			// Unreachable: nothing to observe.
			return nil, perr
		}
	}
	if perr == nil {
		t := time.Now()
		err := s.observeWindow(tab)
		obs.Phases.Window, obs.Phases.Typing = time.Since(t)-s.typing, s.typing
		if err != nil {
			if errors.Is(err, errUnresponsive) {
				perr = &PageError{URL: s.page.URL, Reason: reasonUnresponsive}
			} else {
				return nil, s.fail(ctx, fmt.Errorf("scan %s: %w", s.page.URL, err))
			}
		}
	}
	if perr == nil && s.page.Journey == nil {
		// A returning shopper's load, when the page started a service
		// worker (revisit.go).
		var err error
		if perr, err = s.revisit(tab); errors.Is(err, errUnresponsive) {
			perr = &PageError{URL: s.page.URL, Reason: reasonUnresponsive}
		} else if err != nil {
			return nil, s.fail(ctx, fmt.Errorf("scan %s: the second load, its service worker active: %w", s.page.URL, err))
		}
	}
	if err := s.tabErr(tab); err != nil {
		return nil, s.fail(ctx, fmt.Errorf("scan %s: %w", s.page.URL, err))
	}

	s.log.Debug("window over", "after", time.Since(started))
	// The screenshot is the compositor's work: take it while the DOM is
	// read.
	collectAt := time.Now()
	shotDone := make(chan []byte, 1)
	go func() {
		var png []byte
		if !s.unresponsive.Load() {
			if shot, err := call(tab, s, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng, OptimizeForSpeed: new(true)}); err == nil {
				png = shot.Data
			}
		}
		obs.Phases.Screenshot = time.Since(collectAt) // before the send: read after it
		shotDone <- png
	}()
	dom := s.collectDOM(tab)
	s.log.Debug("DOM collected", "after", time.Since(started))
	if s.unresponsive.Load() && perr == nil {
		perr = &PageError{URL: s.page.URL, Reason: reasonUnresponsive}
	}
	obs.Screenshot = <-shotDone
	obs.Phases.Sources = time.Since(collectAt)
	if perr == nil {
		t := time.Now()
		if s.depart(tab) {
			obs.Phases.Departure = time.Since(t)
		}
	}
	s.drain(tab, drainTimeout)
	s.build(obs, dom)
	obs.Revisited = s.revisited
	maskObservation(obs, s.card, &s.secrets)
	obs.Duration = time.Since(started)
	s.log.Debug("observation built", "after", obs.Duration)
	if err := s.tabErr(tab); err != nil && perr == nil {
		return nil, s.fail(ctx, fmt.Errorf("scan %s: %w", s.page.URL, err))
	}
	if perr != nil {
		return obs, perr
	}
	return obs, nil
}

// partial is what a scan whose journey failed keeps: the page as it was
// then, in a screenshot, and what its document had loaded.
func (s *scan) partial(tab context.Context, obs *skimguard.Observation, started time.Time) *skimguard.Observation {
	if !s.unresponsive.Load() {
		if shot, err := call(tab, s, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng, OptimizeForSpeed: new(true)}); err == nil {
			obs.Screenshot = shot.Data
		}
	}
	s.drain(tab, drainTimeout)
	s.build(obs, nil)
	maskObservation(obs, s.card, &s.secrets)
	obs.Duration = time.Since(started)
	return obs
}

// fail turns an error into the one Scan returns, naming the cause when the
// caller gave up or the browser died.
func (s *scan) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return err
}

// tabErr reports a crashed renderer or a lost tab; ctx is the tab's
// context, not one derived with a shorter deadline.
func (s *scan) tabErr(ctx context.Context) error {
	s.st.mu.Lock()
	crashed := s.st.crashed
	s.st.mu.Unlock()
	if crashed {
		return errors.New("the page's renderer crashed")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("the browser tab closed before the scan ended (browser killed, crashed or time limit hit): %w", err)
	}
	return nil
}

// setup opens the tab of ctx, listens to it and sets the shopper profile.
func (s *scan) setup(ctx context.Context) error {
	if err := chromedp.Do(ctx); err != nil {
		return err
	}
	s.targetID = chromedp.FromContext(ctx).Target.TargetID
	if err := chromedp.Listen(ctx, func(ev any) { s.onEvent(ctx, ev) }); err != nil {
		return err
	}
	// Workers are paused until observed (workers.go).
	workerSteps, err := s.workerSetup(ctx)
	if err != nil {
		return err
	}
	// These commands are independent: send them at once.
	var tree page.GetFrameTreeResult
	steps := []func() error{
		func() (err error) { tree, err = call(ctx, s, page.GetFrameTree, cdp.Empty{}); return err },
		func() error {
			_, err := call(ctx, s, network.Enable, network.EnableParams{
				MaxPostDataSize:       new(int64(64 << 10)),
				MaxTotalBufferSize:    new(int64(64 << 20)),
				MaxResourceBufferSize: new(int64(8 << 20)),
			})
			return err
		},
		// chromedp enables Runtime and Log, whose console and exception
		// events carry whole strings: a page that logs a 20 MB string makes
		// the crawler read and decode 20 MB. Nothing here reads them.
		func() error { _, err := call(ctx, s, runtime.Disable, cdp.Empty{}); return err },
		func() error { _, err := call(ctx, s, log.Disable, cdp.Empty{}); return err },
		// Debugger.enable reports the scripts the blank tab already
		// has; those are chromedp's and are ignored until navigation.
		// The stack depth can only be set once the debugger is on. With
		// the debugger on, a debugger statement would stop the page until
		// the scan ends: pages time one to detect DevTools, or loop on
		// one to hang it. Skipping pauses makes it the no-op it is for a
		// shopper.
		func() error {
			if _, err := call(ctx, s, debugger.Enable, debugger.EnableParams{}); err != nil {
				return err
			}
			errs := make(chan error, 1)
			go func() {
				_, err := call(ctx, s, debugger.SetSkipAllPauses, debugger.SetSkipAllPausesParams{Skip: true})
				errs <- err
			}()
			_, err := call(ctx, s, debugger.SetAsyncCallStackDepth, debugger.SetAsyncCallStackDepthParams{MaxDepth: 8})
			return errors.Join(err, <-errs)
		},
	}
	steps = append(steps, s.profileSteps(ctx)...)
	steps = append(steps, workerSteps...)
	steps = append(steps, s.rtcSteps(ctx)...)
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, f := range steps {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.mainFrame = tree.FrameTree.Frame.ID
	s.st.mu.Lock()
	s.st.mainFrame = s.mainFrame
	s.st.mu.Unlock()
	return nil
}

// navigate loads the page. It returns a PageError for an unreachable page,
// an HTTP error or a load timeout; err is for failures of the crawler. ctx
// is the tab's context; the load gets LoadTimeout within it.
func (s *scan) navigate(ctx context.Context) (*PageError, error) {
	s.st.mu.Lock()
	s.st.navigating = true
	s.st.mu.Unlock()

	nctx, cancel := context.WithTimeout(ctx, s.c.opts.LoadTimeout)
	defer cancel()
	res, err := chromedp.Call(nctx, page.Navigate, page.NavigateParams{URL: s.page.URL})
	if err != nil {
		if nctx.Err() != nil && ctx.Err() == nil {
			return &PageError{URL: s.page.URL, Reason: reasonLoadTimeout}, nil
		}
		return nil, fmt.Errorf("navigating: %w", err)
	}
	if res.ErrorText != "" {
		pe := &PageError{URL: s.page.URL, Reason: res.ErrorText}
		if why := s.st.failure(s.page.URL); why != "" {
			pe.Reason = why
		}
		if st := s.st.docStatus(); st >= 400 {
			pe.Status = st
			pe.Reason = "HTTP " + fmt.Sprint(st)
		}
		return pe, nil
	}
	s.st.mu.Lock()
	s.st.mainLoader = res.LoaderID
	s.st.mu.Unlock()
	if err := s.st.waitLoad(nctx, res.LoaderID); err != nil {
		if ctx.Err() != nil {
			return nil, s.tabErr(ctx)
		}
		if s.st.isCrashed() {
			return nil, s.tabErr(ctx)
		}
		return &PageError{URL: s.page.URL, Status: 0, Reason: reasonLoadTimeout}, nil
	}
	if st := s.st.docStatus(); st >= 400 {
		return &PageError{URL: s.page.URL, Status: st, Reason: fmt.Sprintf("HTTP %d", st)}, nil
	}
	return nil, nil
}

// observeWindow watches the page for the window after load as a shopper
// would see it: soon after load the mouse comes in and the page is
// scrolled (loaders that wait for a person fire, with time left in the
// window), and late in the window the test card is typed, so that loaders
// that wait before attaching their listeners are caught, then the page is
// watched a little longer after typing. ctx is the tab's context.
func (s *scan) observeWindow(ctx context.Context) error {
	loadAt := time.Now()
	end := loadAt.Add(s.wait)
	if s.page.Interact || s.wait >= minArrivalWindow {
		by := loadAt.Add(min(s.wait/4, maxArrival))
		if err := s.arrive(ctx, by); err != nil {
			if s.unresponsive.Load() {
				return errUnresponsive
			}
			if ctx.Err() != nil || s.st.isCrashed() {
				return s.tabErr(ctx)
			}
			s.log.Debug("moving the mouse on arrival failed", "err", err)
		}
	}
	if s.page.Interact {
		tail := min(max(s.wait/4, minTailAfterType), maxTailAfterType)
		// Typing ends tail before the window does, and starts as late as
		// a person's pace allows.
		typeBy := end.Add(-tail)
		if err := s.sleepUntil(ctx, typeBy.Add(-maxTyping)); err != nil {
			return err
		}
		t := time.Now()
		err := s.interact(ctx, typeBy)
		s.typing = time.Since(t)
		if err != nil {
			if errors.Is(err, errUnresponsive) || s.unresponsive.Load() {
				return errUnresponsive
			}
			if ctx.Err() != nil || s.st.isCrashed() {
				return s.tabErr(ctx)
			}
			s.log.Warn("typing the test card failed", "err", err)
		}
		if t := time.Now().Add(tail); t.After(end) {
			end = t
		}
	}
	return s.sleepUntil(ctx, end)
}

// sleepUntil waits until t, or until the tab of ctx closes or its renderer
// crashes, and reports the tab's state as tabErr does.
func (s *scan) sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return s.tabErr(ctx)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-s.st.crashCh:
	}
	return s.tabErr(ctx)
}
