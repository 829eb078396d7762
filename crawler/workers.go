package crawler

// Workers run outside the page's target: a dedicated worker and a service
// worker are targets of their own that the page's session auto-attaches,
// and a shared worker belongs to no page at all, so only the browser's
// session sees it. Skimmers use them to run code and send card data where a
// monitor that watches the page alone does not look.
//
// Each new dedicated or service worker is paused before its first line runs
// (waitForDebuggerOnStart of the page's auto-attach), then the scan
// attaches a session of its own to it, enables Debugger and Network there and
// only then lets it run, so that not one of its scripts or requests is
// missed: Runtime.runIfWaitingForDebugger in its session for a worker, and
// the detach of the auto-attach's session for a service worker, which waits
// for that session alone. A worker's own workers are paused and
// attached the same way, from its session.
//
// A shared worker of the scan's browser context is attached when the
// browser announces it (Target.targetCreated), without a pause: the
// browser's own auto-attach, which could pause it, keeps a page's dialogs
// and popups from settling (its load never ends) and crashed Chromium when
// set again while a scan was attached to another context's shared worker.
// Debugger.enable still reports the scripts it compiled before; only the
// requests of its first moments may be missed.
//
// The scan's session is attached from the browser without flatten and driven
// with Target.sendMessageToTarget: chromedp drops the messages of flat
// sessions it did not create itself, and attaching through chromedp
// (WithTargetID) evaluates code in the target first, which never returns
// while a service worker waits for the debugger.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/cdp"
	jsonv2 "github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/debugger"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
)

// maxWorkers bounds the workers one scan observes; later ones are let run
// unobserved, so that a page cannot make the crawler hold thousands of
// sessions.
const maxWorkers = 64

// Target types of workers, as Target.TargetInfo names them.
const (
	targetWorker        = "worker"
	targetSharedWorker  = "shared_worker"
	targetServiceWorker = "service_worker"
)

// sendMessageParams are Target.sendMessageToTarget's, which cdproto no
// longer lists (the protocol deprecates sessions without flatten) and which
// Chromium still serves.
type sendMessageParams struct {
	Message   string           `json:"message"`
	SessionID target.SessionID `json:"sessionId"`
}

var sendMessageToTarget = cdp.Command[sendMessageParams, cdp.Empty]{Method: "Target.sendMessageToTarget"}

// workerState is what a scan knows of the workers of its page.
type workerState struct {
	mu       sync.Mutex
	sessions map[target.SessionID]*workerSession
	// seen are the worker targets met, observed or not: the page's and a
	// worker's auto-attach may both announce the same one.
	seen map[target.ID]bool
	// serviceWorker is set once a service worker of the scan's browser
	// context was attached.
	serviceWorker bool
	// browserContext is the scan's, whose shared workers are its own.
	browserContext cdp.BrowserContextID
	// closing is set once the scan detaches from its workers: a worker
	// that starts later is let run unobserved.
	closing bool
}

// workerSession is the scan's session with one worker target.
type workerSession struct {
	s      *scan
	ctx    context.Context // the tab's: its browser carries the messages
	id     target.SessionID
	target target.ID
	typ    string
	url    string
	// frame names the worker in Script.Frame ("worker https://shop/w.js").
	frame string

	mu      sync.Mutex
	next    int64
	pending map[int64]chan *cdproto.Message
	closed  bool
}

// workerSetup are the commands of setup that pause new workers until the
// scan has attached to them. ctx is the tab's.
func (s *scan) workerSetup(ctx context.Context) ([]func() error, error) {
	s.wk.sessions = map[target.SessionID]*workerSession{}
	s.wk.seen = map[target.ID]bool{}
	if c := chromedp.FromContext(ctx); c != nil {
		s.wk.browserContext = c.BrowserContextID
	}
	if err := chromedp.ListenBrowser(ctx, func(ev any) { s.onBrowserEvent(ctx, ev) }); err != nil {
		return nil, err
	}
	return []func() error{
		func() error {
			_, err := call(ctx, s, target.SetAutoAttach, target.SetAutoAttachParams{
				AutoAttach: true, WaitForDebuggerOnStart: true, Flatten: new(true),
				Filter: target.Filter{{Type: targetWorker}, {Type: targetServiceWorker}, {Exclude: true}},
			})
			return err
		},
	}, nil
}

// onBrowserEvent handles the browser-level events of workers: a shared
// worker of the scan's browser context starting, and the messages
// of the scan's worker sessions. It runs in chromedp's reader: it must not
// send a command.
func (s *scan) onBrowserEvent(ctx context.Context, ev any) {
	switch ev := ev.(type) {
	case *target.EventTargetCreated:
		if in := ev.TargetInfo; in != nil && in.Type == targetSharedWorker && in.BrowserContextID == s.wk.browserContext {
			s.workerAttached(ctx, in, func(context.Context) error { return nil })
		}
	case *target.EventReceivedMessageFromTarget:
		s.wk.mu.Lock()
		ws := s.wk.sessions[ev.SessionID]
		s.wk.mu.Unlock()
		if ws != nil {
			ws.receive(ev.Message)
		}
	case *target.EventDetachedFromTarget:
		s.wk.mu.Lock()
		ws := s.wk.sessions[ev.SessionID]
		delete(s.wk.sessions, ev.SessionID)
		s.wk.mu.Unlock()
		if ws != nil {
			ws.close()
		}
	}
}

// workerAttached starts observing a worker that an auto-attach announced,
// paused; release detaches the auto-attach's session, once the scan's own
// is ready. The page's session, the browser's and the scan's worker
// sessions call it from their event loops.
func (s *scan) workerAttached(ctx context.Context, in *target.Info, release func(context.Context) error) {
	switch in.Type {
	case targetWorker, targetSharedWorker, targetServiceWorker:
	default:
		return
	}
	s.wk.mu.Lock()
	if s.wk.closing {
		s.wk.mu.Unlock()
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmdTimeout)
			defer cancel()
			_ = release(ctx)
		}()
		return
	}
	if s.wk.seen[in.TargetID] {
		s.wk.mu.Unlock()
		return
	}
	observe := len(s.wk.seen) < maxWorkers
	s.wk.seen[in.TargetID] = true
	if in.Type == targetServiceWorker {
		s.wk.serviceWorker = true
	}
	s.wk.mu.Unlock()
	go func() {
		if err := s.attachWorker(ctx, in, observe, release); err != nil && ctx.Err() == nil {
			s.log.Warn("a worker of the page could not be observed: its scripts and requests are missing from the observation", "worker", s.mask(in.URL), "err", err)
		}
	}()
}

// workerFrame names a worker as Script.Frame does.
func workerFrame(typ, scriptURL string) string {
	kind := skimguard.WorkerDedicated
	switch typ {
	case targetSharedWorker:
		kind = skimguard.WorkerShared
	case targetServiceWorker:
		kind = skimguard.WorkerService
	}
	return skimguard.WorkerFrame(kind, scriptURL)
}

// attachWorker attaches the scan's session to a paused worker, enables
// what the observation needs there and lets the worker run. A worker past
// maxWorkers (observe false) is only let run.
func (s *scan) attachWorker(ctx context.Context, in *target.Info, observe bool, release func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, s.cmdTimeout())
	defer cancel()
	res, err := chromedp.CallBrowser(cctx, target.AttachToTarget, target.AttachToTargetParams{TargetID: in.TargetID, Flatten: new(false)})
	if err != nil {
		return fmt.Errorf("attaching to %s %s: %w", in.Type, in.URL, err)
	}
	ws := &workerSession{
		s: s, ctx: ctx, id: res.SessionID, target: in.TargetID, typ: in.Type, url: in.URL,
		frame: workerFrame(in.Type, in.URL), pending: map[int64]chan *cdproto.Message{},
	}
	s.wk.mu.Lock()
	s.wk.sessions[ws.id] = ws
	if s.wk.closing {
		// The scan detached from its workers meanwhile: this one is
		// only let run, and detached below.
		observe = false
	}
	s.wk.mu.Unlock()

	// The commands are sent one after the other without waiting for their
	// answers: a session runs its commands in order, so all are in force
	// before the worker runs; and a service worker is paused before it
	// even starts, so it answers none until the auto-attach's session
	// lets it go.
	type cmd struct {
		method string
		params any
	}
	var cmds []cmd
	if observe {
		cmds = append(cmds,
			cmd{debugger.CommandEnable, debugger.EnableParams{}},
			// As in the page: a debugger statement must not stop the worker.
			cmd{debugger.CommandSetSkipAllPauses, debugger.SetSkipAllPausesParams{Skip: true}},
			cmd{debugger.CommandSetAsyncCallStackDepth, debugger.SetAsyncCallStackDepthParams{MaxDepth: 8}},
			cmd{network.CommandEnable, network.EnableParams{
				MaxPostDataSize: new(int64(64 << 10)), MaxTotalBufferSize: new(int64(8 << 20)), MaxResourceBufferSize: new(int64(1 << 20)),
			}},
			// The shopper's user agent, client hints and languages: a
			// worker does not take the page's (navigator.languages, and a
			// service worker's whole user agent, stayed the browser's).
			cmd{"Network.setUserAgentOverride", userAgent(s.version, s.page.Profile == skimguard.ProfileMobile, cmp.Or(s.page.Locale, defaultLocale))},
		)
		if in.Type != targetServiceWorker {
			// Workers start workers of their own; a service worker cannot.
			cmds = append(cmds, cmd{target.CommandSetAutoAttach, target.SetAutoAttachParams{
				AutoAttach: true, WaitForDebuggerOnStart: true, Flatten: new(false),
				Filter: target.Filter{{Type: targetWorker}, {Exclude: true}},
			}})
		}
	}
	// Whatever fails, the worker must not stay paused: the page would
	// break for the scan and show less than it shows a shopper.
	cmds = append(cmds, cmd{runtime.CommandRunIfWaitingForDebugger, cdp.Empty{}})
	var errs []error
	waits := make([]func() error, 0, len(cmds))
	for _, c := range cmds {
		wait, err := ws.send(cctx, c.method, c.params)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		waits = append(waits, func() error { return wait(cctx, nil) })
	}
	if err := release(cctx); err != nil {
		errs = append(errs, fmt.Errorf("detaching the auto-attach's session: %w", err))
	}
	for _, wait := range waits {
		if err := wait(); err != nil {
			errs = append(errs, err)
		}
	}
	if !observe {
		_, _ = chromedp.CallBrowser(cctx, target.DetachFromTarget, target.DetachFromTargetParams{SessionID: ws.id})
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("preparing %s %s: %w", in.Type, in.URL, err)
	}
	return nil
}

// workerCall runs one command in a worker with the scan's command timeout.
// A worker that does not answer (busy in a loop) does not make the page
// count as unresponsive.
func workerCall[P, R any](ctx context.Context, s *scan, ws *workerSession, cmd cdp.Command[P, R], params P) (R, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cmdTimeout())
	defer cancel()
	var res R
	if err := ws.Call(cctx, cmd.Method, params, &res); err != nil {
		var zero R
		return zero, err
	}
	return res, nil
}

// callIn runs a command in the worker ws, or in the page when ws is nil.
func callIn[P, R any](ctx context.Context, s *scan, ws *workerSession, cmd cdp.Command[P, R], params P) (R, error) {
	if ws == nil {
		return call(ctx, s, cmd, params)
	}
	return workerCall(ctx, s, ws, cmd, params)
}

var errWorkerGone = errors.New("the worker is gone")

// Call sends a command to the worker and waits for its answer, decoded
// into res.
func (ws *workerSession) Call(ctx context.Context, method string, params, res any) error {
	wait, err := ws.send(ctx, method, params)
	if err != nil {
		return err
	}
	return wait(ctx, res)
}

// send sends a command to the worker; wait waits for its answer and
// decodes it into res.
func (ws *workerSession) send(ctx context.Context, method string, params any) (wait func(ctx context.Context, res any) error, err error) {
	p, err := jsonv2.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	ch := make(chan *cdproto.Message, 1)
	ws.mu.Lock()
	if ws.closed {
		ws.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, errWorkerGone)
	}
	ws.next++
	id := ws.next
	ws.pending[id] = ch
	ws.mu.Unlock()
	forget := func() {
		ws.mu.Lock()
		delete(ws.pending, id)
		ws.mu.Unlock()
	}
	msg := `{"id":` + strconv.FormatInt(id, 10) + `,"method":` + strconv.Quote(method) + `,"params":` + string(p) + `}`
	if _, err := chromedp.CallBrowser(ctx, sendMessageToTarget, sendMessageParams{Message: msg, SessionID: ws.id}); err != nil {
		forget()
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return func(ctx context.Context, res any) error {
		defer forget()
		select {
		case m, ok := <-ch:
			if !ok || m == nil {
				return fmt.Errorf("%s: %w", method, errWorkerGone)
			}
			if m.Error != nil {
				return fmt.Errorf("%s: %w", method, m.Error)
			}
			if res == nil || len(m.Result) == 0 {
				return nil
			}
			return jsonv2.Unmarshal(m.Result, res, chromedp.DefaultUnmarshalOptions)
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", method, ctx.Err())
		}
	}, nil
}

// close ends the commands waiting for an answer.
func (ws *workerSession) close() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return
	}
	ws.closed = true
	for id, ch := range ws.pending {
		close(ch)
		delete(ws.pending, id)
	}
}

// receive handles one message of the worker: an answer goes to its
// command, an event to the scan. It runs in chromedp's reader.
func (ws *workerSession) receive(raw string) {
	m := new(cdproto.Message)
	if err := jsonv2.Unmarshal([]byte(raw), m, chromedp.DefaultUnmarshalOptions); err != nil {
		return
	}
	if m.ID != 0 {
		ws.mu.Lock()
		ch := ws.pending[m.ID]
		delete(ws.pending, m.ID)
		ws.mu.Unlock()
		if ch != nil {
			ch <- m // buffered: never blocks
		}
		return
	}
	ev, err := cdproto.UnmarshalMessage(m, chromedp.DefaultUnmarshalOptions)
	if err != nil {
		return // an event this cdproto does not know
	}
	ws.s.onWorkerEvent(ws, ev)
}

// requestID makes a worker's request id unique within the scan: ids are
// only unique within their renderer.
func (ws *workerSession) requestID(id network.RequestID) network.RequestID {
	return network.RequestID(string(ws.id) + "/" + string(id))
}

// cdpRequestID is the id the worker knows a request by.
func (r *reqRec) cdpRequestID() network.RequestID {
	if r.worker == nil {
		return r.id
	}
	_, id, _ := strings.Cut(string(r.id), "/")
	return network.RequestID(id)
}

// initiator names what in the worker started a request: the worker
// itself, or the script it imported that did.
func (ws *workerSession) initiator(in *network.Initiator) string {
	init := initiatorOf(in)
	if init == "" || init == "script" || init == ws.url {
		return ws.frame
	}
	return init + " in " + ws.frame
}

// onWorkerEvent records an event of a worker as the page's own are: its
// scripts, its requests and WebSocket frames, and the workers it starts.
func (s *scan) onWorkerEvent(ws *workerSession, ev any) {
	if ev, ok := ev.(*target.EventAttachedToTarget); ok {
		if ev.WaitingForDebugger && ev.TargetInfo != nil {
			id := ev.SessionID
			s.workerAttached(ws.ctx, ev.TargetInfo, func(ctx context.Context) error {
				_, err := workerCall(ctx, s, ws, target.DetachFromTarget, target.DetachFromTargetParams{SessionID: id})
				return err
			})
		}
		return
	}
	st := &s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.navigating {
		return
	}
	switch ev := ev.(type) {
	case *debugger.EventScriptParsed:
		if strings.HasPrefix(ev.URL, internalSourceURL) {
			return
		}
		if len(st.scripts) >= maxScripts {
			st.scriptsLost++
			return
		}
		rec := &scriptRec{id: ev.ScriptID, url: ev.URL, frameURL: ws.frame, line: ev.StartLine, col: ev.StartColumn, worker: ws}
		rec.caller, rec.callerAt = stackCaller(ev.StackTrace)
		rec.length, rec.v8Hash = ev.Length, ev.Hash
		rec.again = st.again
		st.scripts = append(st.scripts, rec)
		s.keepScript(rec)
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		if ev.Type == network.ResourceTypeScript || ev.Type == network.ResourceTypeOther {
			// importScripts and nested workers' scripts: LoadedBy.
			if _, ok := st.loadedByURL[ev.Request.URL]; !ok && len(st.loadedByURL) < maxScripts {
				st.loadedByURL[ev.Request.URL] = ws.initiator(ev.Initiator)
			}
		}
		rec := &reqRec{
			id: ws.requestID(ev.RequestID), url: ev.Request.URL + ev.Request.URLFragment, method: ev.Request.Method,
			typ: string(ev.Type), initiator: ws.initiator(ev.Initiator), afterTyping: st.typing, worker: ws,
		}
		if st.addRequest(rec) {
			s.keepBody(rec, ev.Request)
		}
	case *network.EventRequestWillBeSentExtraInfo:
		e := *ev
		e.RequestID = ws.requestID(ev.RequestID)
		s.onRequestHeaders(&e)
	case *network.EventWebSocketCreated:
		id := ws.requestID(ev.RequestID)
		rec := &reqRec{id: id, url: ev.URL, method: "GET", typ: "WebSocket", initiator: ws.initiator(ev.Initiator), afterTyping: st.typing, worker: ws}
		st.wsURL[id], st.wsInit[id] = ev.URL, rec
		st.addRequest(rec)
	case *network.EventWebSocketFrameSent:
		st.keepFrame(ws.requestID(ev.RequestID), ev.Response)
	}
}

// sawServiceWorker reports whether a service worker of the scan's browser
// context started (or woke) during the scan.
func (s *scan) sawServiceWorker() bool {
	s.wk.mu.Lock()
	defer s.wk.mu.Unlock()
	return s.wk.serviceWorker
}

// browserErrorf receives chromedp's errors about the browser connection.
// A worker session's detach, which chromedp does not know of, is normal.
func browserErrorf(c *Crawler) func(string, ...any) {
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if strings.Contains(msg, "executor for") && strings.Contains(msg, "doesn't exist") {
			c.log.Debug("chromedp: a session it did not create detached", "msg", msg)
			return
		}
		c.log.Error("chromedp: " + msg)
	}
}

// detachWorkers ends the scan's sessions with its workers, before its tab
// and browser context close: Chromium exits when a browser context is
// disposed of while a worker of it is still attached through a session
// without flatten. ctx is the tab's, perhaps ended.
func (s *scan) detachWorkers(ctx context.Context) {
	s.wk.mu.Lock()
	s.wk.closing = true
	ids := slices.Collect(maps.Keys(s.wk.sessions))
	s.wk.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmdTimeout)
	defer cancel()
	for _, id := range ids {
		if _, err := chromedp.CallBrowser(ctx, target.DetachFromTarget, target.DetachFromTargetParams{SessionID: id}); err != nil {
			s.log.Debug("detaching from a worker", "err", err)
		}
	}
}
