package crawler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/debugger"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/skimguard/skimguard/egress"
)

// state is what the events of one load told. The event listener writes it;
// mu guards it.
type state struct {
	mu sync.Mutex

	navigating bool // events before navigation belong to the blank tab
	mainFrame  cdp.FrameID
	mainLoader cdp.LoaderID
	loaded     map[cdp.LoaderID]bool
	loadCh     chan struct{} // signalled on each load lifecycle event
	crashed    bool
	crashCh    chan struct{} // closed on a renderer crash

	frameURL map[cdp.FrameID]string
	// mainURLs are the main document's URLs in order: HTTP redirect hops
	// and committed navigations.
	mainURLs []string
	docResp  *network.Response
	docReq   map[cdp.FrameID]network.RequestID

	scripts      []*scriptRec
	scriptByID   map[cdp.ScriptID]*scriptRec
	scriptsLost  int
	loadedByURL  map[string]string
	requests     []*reqRec
	reqByID      map[network.RequestID]*reqRec
	requestsLost int
	// bodyLen holds the Content-Length of requests after typing whose
	// raw headers came before the request itself.
	bodyLen   map[network.RequestID]int64
	conns     map[string]*connRec
	connOrder []string
	wsURL     map[network.RequestID]string
	wsInit    map[network.RequestID]*reqRec
	wsFrames  []wsFrame
	rtcSeq    int // data-channel messages seen, for their ids (webrtc.go)

	// refused are the connections the egress policy refused, by
	// "host:port", in the order first refused.
	refused      map[string]*refusal
	refusedOrder []string
	// dialErrs are the first errors of the connections the proxy could
	// not make, by "host:port": the browser only sees that the proxy
	// failed.
	dialErrs map[string]error

	// fetchLeft is how many characters of script text the scan may
	// still fetch; leakLeft how many bytes of request URLs and bodies and
	// of WebSocket frames it may still keep for the leak search.
	fetchLeft   int64
	leakLeft    int64
	leakDropped int // requests, bodies and frames not kept for want of leakLeft

	typing bool // the test card is being typed or was typed
	// again is set once the page loads a second time (revisit.go).
	again bool

	// journey is set while a page's journey plays: each document of the
	// main frame that commits then replaces what the earlier ones showed
	// (see newDocument). journeyReqs are the requests seen meanwhile, so
	// that those of the document that stays can be counted again, and
	// redirects the main frame's redirect hops, by loader.
	journey     bool
	journeyReqs []*reqRec
	redirects   map[cdp.LoaderID][]string
	// docRespLoader is the loader of docResp; fetchBudget is fetchLeft at
	// the start of each document.
	docRespLoader cdp.LoaderID
	fetchBudget   int64
	// Navigations of the main frame, for a step that waits for the one it
	// started: navSeq counts them, and the others describe the newest.
	navSeq       int
	navLoader    cdp.LoaderID
	navReq       network.RequestID
	navFailed    string // its network error, when it failed
	navNoContent bool   // it answered 204 or 205: no document comes
}

func (st *state) init(fetchBudget int64) {
	st.fetchLeft, st.fetchBudget, st.leakLeft = fetchBudget, fetchBudget, maxLeakData
	st.redirects = map[cdp.LoaderID][]string{}
	st.bodyLen = map[network.RequestID]int64{}
	st.refused = map[string]*refusal{}
	st.dialErrs = map[string]error{}
	st.loaded = map[cdp.LoaderID]bool{}
	st.loadCh = make(chan struct{}, 1)
	st.crashCh = make(chan struct{})
	st.frameURL = map[cdp.FrameID]string{}
	st.docReq = map[cdp.FrameID]network.RequestID{}
	st.scriptByID = map[cdp.ScriptID]*scriptRec{}
	st.loadedByURL = map[string]string{}
	st.reqByID = map[network.RequestID]*reqRec{}
	st.conns = map[string]*connRec{}
	st.wsURL = map[network.RequestID]string{}
	st.wsInit = map[network.RequestID]*reqRec{}
}

// scriptRec is a script reported by Debugger.scriptParsed.
type scriptRec struct {
	id       cdp.ScriptID
	url      string
	frameID  cdp.FrameID
	frameURL string
	line     int64
	col      int64
	sameDoc  bool   // URL is the frame's document URL: inline or handler
	caller   string // first URL on the stack that compiled it
	callerAt string // "URL:line" of that frame
	length   int64  // characters, as V8 counts them
	v8Hash   string // V8's SHA-256 of the text
	// Once fetched: the text's hashes and size, and the text cut to
	// maxSourceStored. The whole text is dropped as soon as it is hashed.
	fetched     bool
	source      string
	sha256, sri string
	size        int
	// unfetched, when set, stands in for the text of a script that was
	// not fetched: see unfetchedSource.
	unfetched string
	// worker is the worker the script ran in; nil for the page's.
	worker *workerSession
	// again is set for a script of the page's second load (revisit.go).
	again bool
}

// reqRec is a request the page made.
type reqRec struct {
	id          network.RequestID
	loader      cdp.LoaderID // the document it belongs to; "" for workers
	url         string
	method      string
	typ         string
	initiator   string
	chain       []callRec
	afterTyping bool
	body        []byte
	// awaitsLength is set while a body that came without its bytes
	// waits for its Content-Length, which decides whether it is fetched.
	awaitsLength bool
	// worker is the worker that made the request; nil for the page's.
	worker *workerSession
}

type connRec struct {
	origin      string
	types       map[string]bool
	initiators  map[string]bool
	chain       []callRec // of the first request a script sent there
	example     string
	count       int
	afterTyping bool
}

// refusal is a destination the egress policy refused.
type refusal struct {
	host   string
	port   uint16
	tunnel bool
	note   string // for people: what was refused and why
	count  int
}

type wsFrame struct {
	requestID network.RequestID
	payload   []byte
	typ       string // "WebRTC" for a data channel's message; "" for a WebSocket's
}

func (st *state) docStatus() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.docResp == nil {
		return 0
	}
	return int(st.docResp.Status)
}

// docStatusOf is the HTTP status of the main frame's document of loader,
// 0 when none came.
func (st *state) docStatusOf(loader cdp.LoaderID) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.docResp == nil || st.docRespLoader != loader {
		return 0
	}
	return int(st.docResp.Status)
}

func (st *state) isCrashed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.crashed
}

// navigation is what became of the newest navigation of the main frame.
type navigation struct {
	seq               int
	loaded, noContent bool
	failed            string
}

// navCount is how many navigations of the main frame have started.
func (st *state) navCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.navSeq
}

// lastNavigation says what became of the newest navigation of the main
// frame.
func (st *state) lastNavigation() navigation {
	st.mu.Lock()
	defer st.mu.Unlock()
	return navigation{seq: st.navSeq, loaded: st.loaded[st.navLoader], noContent: st.navNoContent, failed: st.navFailed}
}

// newDocument forgets what the documents before loader showed, when the
// main frame commits to it during a journey: what a journey's earlier pages
// (a product page, a sign-in) loaded is not the payment page's. The new
// document's own navigation, redirects included, is kept. Called with
// st.mu held.
func (st *state) newDocument(loader cdp.LoaderID) {
	st.mainLoader = loader
	st.scripts, st.scriptsLost = nil, 0
	st.scriptByID = map[cdp.ScriptID]*scriptRec{}
	st.loadedByURL = map[string]string{}
	st.fetchLeft = st.fetchBudget
	st.refused, st.refusedOrder = map[string]*refusal{}, nil
	st.dialErrs = map[string]error{}
	kept := st.journeyReqs
	st.journeyReqs = nil
	st.conns, st.connOrder, st.requestsLost = map[string]*connRec{}, nil, 0
	for _, r := range kept {
		if r.loader == loader {
			st.addRequest(r)
		}
	}
	st.mainURLs = slices.Clone(st.redirects[loader])
	if st.docRespLoader != loader {
		st.docResp = nil
	}
}

// endJourney makes the document open now the one observed. Called with
// st.mu held.
func (st *state) endJourney() {
	st.journey, st.journeyReqs, st.redirects = false, nil, nil
}

// waitLoad waits for the load event of the main frame's document loader.
func (st *state) waitLoad(ctx context.Context, loader cdp.LoaderID) error {
	for {
		st.mu.Lock()
		done := st.loaded[loader] || (loader == "" && len(st.loaded) > 0)
		crashed := st.crashed
		st.mu.Unlock()
		if done {
			return nil
		}
		if crashed {
			return context.Canceled
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-st.loadCh:
		case <-st.crashCh:
		}
	}
}

// onEvent is the ordered listener of the tab whose context is ctx. It runs
// in chromedp's event loop: it must return fast and never send a command, so
// commands are handed to the scan's worker or to a goroutine.
func (s *scan) onEvent(ctx context.Context, ev any) {
	st := &s.st
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		// A dialog blocks the page; answer it at once, off the loop.
		go func() {
			ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
			defer cancel()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}()
		return
	case *target.EventTargetCreated:
		if ev.TargetInfo != nil && ev.TargetInfo.OpenerID == s.targetID && ev.TargetInfo.Type == "page" {
			id := ev.TargetInfo.TargetID
			go func() {
				ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
				defer cancel()
				_, _ = chromedp.CallBrowser(ctx, target.CloseTarget, target.CloseTargetParams{TargetID: id})
			}()
		}
		return
	case *fetch.EventRequestPaused:
		s.onPaused(ctx, ev)
		return
	case *target.EventAttachedToTarget:
		// A worker of the page, paused until the scan observes it
		// (workers.go).
		if ev.WaitingForDebugger && ev.TargetInfo != nil {
			id := ev.SessionID
			s.workerAttached(ctx, ev.TargetInfo, func(ctx context.Context) error {
				_, err := call(ctx, s, target.DetachFromTarget, target.DetachFromTargetParams{SessionID: id})
				return err
			})
		}
		return
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.navigating {
		return
	}
	switch ev := ev.(type) {
	case *inspector.EventTargetCrashed:
		if !st.crashed {
			st.crashed = true
			close(st.crashCh)
		}
	case *page.EventLifecycleEvent:
		if ev.Name == "load" && ev.FrameID == st.mainFrame {
			st.loaded[ev.LoaderID] = true
			signal(st.loadCh)
		}
	case *page.EventFrameNavigated:
		if ev.Frame == nil {
			return
		}
		st.frameURL[ev.Frame.ID] = ev.Frame.URL
		if ev.Frame.ParentID == "" && ev.Frame.ID == st.mainFrame {
			if st.journey {
				st.newDocument(ev.Frame.LoaderID)
			}
			st.mainURLs = append(st.mainURLs, ev.Frame.URL)
		}
	case *page.EventWindowOpen:
		// The popup is closed; what it was sent to still counts.
		st.addRequest(&reqRec{url: ev.URL, method: "GET", typ: "Popup", afterTyping: st.typing})
	case *debugger.EventScriptParsed:
		s.onScript(ev)
	case *network.EventRequestWillBeSent:
		s.onRequest(ev)
	case *network.EventResponseReceived:
		if ev.Type == network.ResourceTypeDocument {
			st.docReq[ev.FrameID] = ev.RequestID
			if ev.FrameID == st.mainFrame && (st.mainLoader == "" || ev.LoaderID == st.mainLoader || !st.typing) {
				st.docResp, st.docRespLoader = ev.Response, ev.LoaderID
			}
			if ev.FrameID == st.mainFrame && ev.LoaderID == st.navLoader && ev.Response != nil && (ev.Response.Status == 204 || ev.Response.Status == 205) {
				st.navNoContent = true
				signal(st.loadCh)
			}
		}
	case *network.EventLoadingFailed:
		if ev.RequestID == st.navReq && st.navReq != "" {
			st.navFailed = ev.ErrorText
			if st.navFailed == "" {
				st.navFailed = "net::ERR_FAILED"
			}
			signal(st.loadCh)
		}
	case *network.EventWebSocketCreated:
		rec := &reqRec{id: ev.RequestID, url: ev.URL, method: "GET", typ: "WebSocket", initiator: initiatorOf(ev.Initiator), afterTyping: st.typing}
		if ev.Initiator != nil {
			rec.chain = callChain(ev.Initiator.Stack)
		}
		st.wsURL[ev.RequestID] = ev.URL
		st.wsInit[ev.RequestID] = rec
		st.addRequest(rec)
	case *network.EventRequestWillBeSentExtraInfo:
		s.onRequestHeaders(ev)
	case *network.EventWebSocketFrameSent:
		st.keepFrame(ev.RequestID, ev.Response)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// onScript records a compiled script. Called with st.mu held.
func (s *scan) onScript(ev *debugger.EventScriptParsed) {
	st := &s.st
	if strings.HasPrefix(ev.URL, internalSourceURL) {
		s.onRTC(ev.URL)
		return
	}
	var aux struct {
		FrameID cdp.FrameID `json:"frameId"`
		Type    string      `json:"type"`
	}
	if len(ev.ExecutionContextAuxData) > 0 {
		_ = json.Unmarshal(ev.ExecutionContextAuxData, &aux)
	}
	if aux.Type == "isolated" {
		return // skimguard's own isolated worlds
	}
	if len(st.scripts) >= maxScripts {
		st.scriptsLost++
		return
	}
	rec := &scriptRec{
		id: ev.ScriptID, url: ev.URL, frameID: aux.FrameID,
		frameURL: st.frameURL[aux.FrameID], line: ev.StartLine, col: ev.StartColumn,
	}
	if rec.frameURL == "" && aux.FrameID == st.mainFrame && len(st.mainURLs) > 0 {
		rec.frameURL = st.mainURLs[len(st.mainURLs)-1]
	}
	rec.sameDoc = ev.URL != "" && ev.URL == rec.frameURL
	rec.caller, rec.callerAt = stackCaller(ev.StackTrace)
	rec.length, rec.v8Hash = ev.Length, ev.Hash
	rec.again = st.again
	st.scripts = append(st.scripts, rec)
	st.scriptByID[ev.ScriptID] = rec
	s.keepScript(rec)
}

// keepScript decides whether to fetch the text of a script just recorded,
// and queues the fetch. Called with st.mu held.
func (s *scan) keepScript(rec *scriptRec) {
	st := &s.st
	// Whether to fetch is decided here, in the order scripts compile, from
	// the length V8 reports: a page cannot make the crawler pull in text
	// past its bounds, and the same page gives the same decisions.
	lim := s.c.opts.fetchLimits
	switch {
	case rec.length > lim.perScript:
		rec.unfetched = unfetchedSource(rec.length, rec.v8Hash, fmt.Sprintf("too large to fetch: %d characters, over the limit of %d for one script", rec.length, lim.perScript))
		return
	case rec.length > st.fetchLeft:
		rec.unfetched = unfetchedSource(rec.length, rec.v8Hash, fmt.Sprintf("not fetched: its %d characters would exceed the scan's budget of %d characters of script text", rec.length, lim.perScan))
		return
	}
	st.fetchLeft -= rec.length
	s.enqueue(func(ctx context.Context) { s.fetchSource(ctx, rec) })
}

// fetchSource fetches, hashes and keeps (cut) the text of a script.
func (s *scan) fetchSource(ctx context.Context, rec *scriptRec) {
	if rec.length > largeScript {
		select {
		case s.c.largeFetch <- struct{}{}:
			defer func() { <-s.c.largeFetch }()
		case <-ctx.Done():
			return
		}
	}
	res, err := callIn(ctx, s, rec.worker, debugger.GetScriptSource, debugger.GetScriptSourceParams{ScriptID: rec.id})
	if err != nil {
		return
	}
	sha, sri := hashes(res.ScriptSource)
	// Cut before taking the lock, and copied, so that the whole text can
	// be freed when this returns.
	text := strings.Clone(capText(res.ScriptSource, maxSourceStored))
	st := &s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	rec.fetched = true
	rec.source, rec.sha256, rec.sri, rec.size = text, sha, sri, len(res.ScriptSource)
}

// unfetchedSource stands in for the text of a script that was not fetched
// (why says why). The baseline compares scripts by the SHA-256 of their
// text, which V8 gives with the script, and by a fingerprint of their
// normalised text, which here is this note: its last line names the length
// and V8's hash in identifiers, which normalisation keeps (it drops the
// values of literals and comments, and runs of five digits or more), so
// that two different unfetched scripts differ in fingerprint too, and the
// same one on two loads is the same.
func unfetchedSource(length int64, v8Hash, why string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "/* skimguard: script %s. It is identified by its length and V8's SHA-256 of its text. */\n", why)
	b.WriteString("skimguard_unfetched.length_")
	b.WriteString(groupDigits(strconv.FormatInt(length, 10), 3))
	if validHash(v8Hash) {
		b.WriteString(".sha256_")
		b.WriteString(groupDigits(v8Hash, 4))
	}
	b.WriteString(";\n")
	return b.String()
}

// groupDigits puts "_" between groups of n characters of s, from the right.
func groupDigits(s string, n int) string {
	var b strings.Builder
	for i := range len(s) {
		if i > 0 && (len(s)-i)%n == 0 {
			b.WriteByte('_')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// validHash reports whether h is a lower-case hex SHA-256, as V8 gives it.
func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := range len(h) {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// stackCaller returns the URL of the first stack frame that has one,
// following async parents, and where in it the call was.
func stackCaller(stack *runtime.StackTrace) (string, string) {
	for depth := 0; stack != nil && depth < 16; depth++ {
		for _, f := range stack.CallFrames {
			if f.URL != "" && !strings.HasPrefix(f.URL, internalSourceURL) {
				return f.URL, f.URL + ":" + itoa(f.LineNumber+1)
			}
		}
		stack = stack.Parent
	}
	return "", ""
}

// callRec is one script on a request's call chain.
type callRec struct {
	id   cdp.ScriptID
	url  string
	line int64
}

// maxChain bounds the scripts one call chain names.
const maxChain = 8

// callChain lists the scripts on a call stack, once each, the one on top
// first, following async parents (timers, promises, events: the
// debugger's async stack depth says how far): a script that sends through
// another's fetch wrapper or jQuery is on it, below the wrapper.
// skimguard's own code is left out.
func callChain(stack *runtime.StackTrace) []callRec {
	var out []callRec
	for depth := 0; stack != nil && depth < 16 && len(out) < maxChain; depth++ {
		for _, f := range stack.CallFrames {
			if f.ScriptID == "" || strings.HasPrefix(f.URL, internalSourceURL) ||
				slices.ContainsFunc(out, func(c callRec) bool { return c.id == f.ScriptID }) {
				continue
			}
			if out = append(out, callRec{id: f.ScriptID, url: f.URL, line: f.LineNumber}); len(out) == maxChain {
				break
			}
		}
		stack = stack.Parent
	}
	return out
}

// initiatorOf names what started a request: "parser", or the URL of the
// script on top of the initiator's stack.
func initiatorOf(in *network.Initiator) string {
	if in == nil {
		return ""
	}
	switch in.Type {
	case network.InitiatorTypeParser:
		return "parser"
	case network.InitiatorTypeScript:
		if u, _ := stackCaller(in.Stack); u != "" {
			return u
		}
		if in.URL != "" {
			return in.URL
		}
		return "script"
	}
	return ""
}

// onRequest records a request. Called with st.mu held.
func (s *scan) onRequest(ev *network.EventRequestWillBeSent) {
	st := &s.st
	if ev.Request == nil {
		return
	}
	url := ev.Request.URL + ev.Request.URLFragment
	init := initiatorOf(ev.Initiator)
	if ev.Type == network.ResourceTypeDocument && ev.FrameID == st.mainFrame {
		if ev.RedirectResponse != nil {
			st.mainURLs = append(st.mainURLs, ev.RedirectResponse.URL)
			if st.journey && len(st.redirects) < maxFrames {
				st.redirects[ev.LoaderID] = append(st.redirects[ev.LoaderID], ev.RedirectResponse.URL)
			}
		} else {
			st.navSeq++
			st.navLoader, st.navReq, st.navFailed, st.navNoContent = ev.LoaderID, ev.RequestID, "", false
		}
	}
	if ev.Type == network.ResourceTypeScript {
		if _, ok := st.loadedByURL[ev.Request.URL]; !ok && init != "" && len(st.loadedByURL) < maxScripts {
			st.loadedByURL[ev.Request.URL] = init
		}
	}
	rec := &reqRec{
		id: ev.RequestID, loader: ev.LoaderID, url: url, method: ev.Request.Method, typ: string(ev.Type),
		initiator: init, afterTyping: st.typing,
	}
	if ev.Initiator != nil && ev.Initiator.Type == network.InitiatorTypeScript {
		rec.chain = callChain(ev.Initiator.Stack)
	}
	if !st.addRequest(rec) {
		return
	}
	s.keepBody(rec, ev.Request)
}

// keepBody keeps the body of a request kept for the leak search, or
// arranges for it to be fetched. Called with st.mu held.
func (s *scan) keepBody(rec *reqRec, req *network.Request) {
	st := &s.st
	n := 0
	for _, e := range req.PostDataEntries {
		n += len(e.Bytes)
	}
	if n <= maxPostData && st.takeLeakData(int64(n)) {
		for _, e := range req.PostDataEntries {
			rec.body = append(rec.body, e.Bytes...)
		}
	}
	// A body that came without its bytes (larger than Network.enable's
	// inline limit, or a Blob or FormData) is fetched only once its
	// Content-Length shows it is small enough: Network.getRequestPostData
	// returns all of a body, however large.
	if rec.afterTyping && req.HasPostData && len(req.PostDataEntries) == 0 {
		if n, ok := st.bodyLen[rec.id]; ok {
			delete(st.bodyLen, rec.id)
			s.fetchBody(rec, n)
		} else {
			rec.awaitsLength = true
		}
	}
}

// onRequestHeaders reads the Content-Length of a request after typing from
// its raw headers, which may come before or after the request. Called with
// st.mu held.
func (s *scan) onRequestHeaders(ev *network.EventRequestWillBeSentExtraInfo) {
	st := &s.st
	if !st.typing {
		return
	}
	n := contentLength(ev.Headers)
	if rec := st.reqByID[ev.RequestID]; rec != nil {
		if rec.awaitsLength {
			rec.awaitsLength = false
			s.fetchBody(rec, n)
		}
		return
	}
	if len(st.bodyLen) < maxRequests {
		st.bodyLen[ev.RequestID] = n
	}
}

// fetchBody fetches the body of n bytes of a request kept for the leak
// search, when n is within the bounds. Called with st.mu held.
func (s *scan) fetchBody(rec *reqRec, n int64) {
	st := &s.st
	if n <= 0 || n > maxPostData {
		s.log.Debug("request body not searched for the card: too large or of unknown size", "bytes", n, "url", s.mask(stripQuery(rec.url)))
		return
	}
	if !st.takeLeakData(n) {
		return
	}
	s.enqueue(func(ctx context.Context) {
		res, err := callIn(ctx, s, rec.worker, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: rec.cdpRequestID()})
		if err != nil || int64(len(res.PostData)) > n {
			return
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		rec.body = res.PostData
	})
}

// keepFrame keeps a WebSocket frame the page sent, once the card is being
// typed, for the leak search. Called with st.mu held.
func (st *state) keepFrame(id network.RequestID, f *network.WebSocketFrame) {
	if !st.typing || f == nil || len(st.wsFrames) >= maxWSFrames {
		return
	}
	// A frame is searched up to maxPostData: the part kept is copied so
	// that the rest of a large frame can be freed.
	p := f.PayloadData
	if len(p) > maxPostData {
		p = bytes.Clone(p[:maxPostData])
	}
	if st.takeLeakData(int64(len(p))) {
		st.wsFrames = append(st.wsFrames, wsFrame{requestID: id, payload: p})
	}
}

// takeLeakData reports whether n more bytes of URLs, bodies and frames may
// be kept for the leak search, and counts them. Called with st.mu held.
func (st *state) takeLeakData(n int64) bool {
	if n > st.leakLeft {
		st.leakDropped++
		return false
	}
	st.leakLeft -= n
	return true
}

// contentLength returns the Content-Length of raw request headers, -1 when
// there is none.
func contentLength(h network.Headers) int64 {
	for k, v := range h {
		if !strings.EqualFold(k, "Content-Length") {
			continue
		}
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}

// addRequest counts a request towards its destination and keeps it for the
// leak search; it reports whether it kept it. Called with st.mu held.
func (st *state) addRequest(r *reqRec) bool {
	origin := originOf(r.url)
	if origin == "" {
		return false
	}
	c := st.conns[origin]
	if c == nil {
		if len(st.conns) >= maxOrigins {
			st.requestsLost++
			return false
		}
		c = &connRec{origin: origin, types: map[string]bool{}, initiators: map[string]bool{}, example: stripQuery(r.url)}
		st.conns[origin] = c
		st.connOrder = append(st.connOrder, origin)
	}
	c.count++
	if r.typ != "" {
		c.types[r.typ] = true
	}
	if r.initiator != "" {
		c.initiators[r.initiator] = true
	}
	if c.chain == nil {
		c.chain = r.chain
	}
	if r.afterTyping {
		c.afterTyping = true
	}
	if st.journey && len(st.journeyReqs) < maxRequests {
		st.journeyReqs = append(st.journeyReqs, r)
	}
	if !r.afterTyping {
		return false // only requests after typing can carry the card
	}
	if len(st.requests) >= maxRequests || !st.takeLeakData(int64(len(r.url))) {
		st.requestsLost++
		return false
	}
	st.requests = append(st.requests, r)
	if r.id != "" {
		st.reqByID[r.id] = r
	}
	return true
}

// refusedByEgress starts what an Observation and a PageError say of a
// destination the egress policy refused.
const refusedByEgress = "refused by egress policy"

// onRefused records a connection the scan's egress proxy refused. The
// proxy calls it from its own goroutines.
func (s *scan) onRefused(r *egress.Refusal) {
	key := net.JoinHostPort(r.Host, strconv.Itoa(int(r.Addr.Port())))
	st := &s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if rf := st.refused[key]; rf != nil {
		rf.count++
		return
	}
	if len(st.refused) >= maxOrigins {
		return
	}
	dest := r.Addr.String()
	if r.Host != r.Addr.Addr().String() {
		dest = key + " resolved to " + dest
	}
	rf := &refusal{host: r.Host, port: r.Addr.Port(), tunnel: r.Tunnel, count: 1,
		note: refusedByEgress + ": " + r.Why + " (" + dest + ")"}
	st.refused[key] = rf
	st.refusedOrder = append(st.refusedOrder, key)
	s.log.Warn("the page tried to reach a destination the egress policy refuses", "destination", s.mask(key), "why", r.Why)
}

// onDialError records a connection the scan's egress proxy could not make.
// The proxy calls it from its own goroutines.
func (s *scan) onDialError(address string, err error) {
	st := &s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.dialErrs[address]; !ok && len(st.dialErrs) < maxOrigins {
		st.dialErrs[address] = err
	}
}

// failure says why rawURL's destination could not be reached, as the
// browser would have said it without the proxy: the egress policy's note,
// or a net:: error code; "" when the proxy reached it.
func (st *state) failure(rawURL string) string {
	key := hostPort(rawURL)
	st.mu.Lock()
	defer st.mu.Unlock()
	if rf := st.refused[key]; rf != nil {
		return rf.note
	}
	if err := st.dialErrs[key]; err != nil {
		return netError(err)
	}
	return ""
}

// netError names a dial error as Chromium's net:: codes do.
func netError(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "net::ERR_NAME_NOT_RESOLVED"
	case errors.As(err, &dnsErr):
		return "net::ERR_NAME_RESOLUTION_FAILED"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "net::ERR_CONNECTION_REFUSED"
	case errors.Is(err, syscall.ECONNRESET):
		return "net::ERR_CONNECTION_RESET"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "net::ERR_ADDRESS_UNREACHABLE"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "net::ERR_CONNECTION_TIMED_OUT"
	}
	return "net::ERR_CONNECTION_FAILED"
}

// hostPort returns "host:port" of an http(s) or ws(s) URL, the port
// defaulting to the scheme's; "" for other URLs.
func hostPort(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http", "ws":
			port = "80"
		case "https", "wss":
			port = "443"
		default:
			return ""
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// origin is the origin a refusal stands for when no request the page made
// names it: a tunnel carries HTTPS or, on port 80, a WebSocket.
func (rf *refusal) origin() string {
	scheme, def := "http", uint16(80)
	if rf.tunnel {
		scheme, def = "https", 443
		if rf.port == 80 {
			scheme, def = "ws", 80
		}
	}
	host := rf.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if rf.port != def {
		host += ":" + strconv.Itoa(int(rf.port))
	}
	return scheme + "://" + host
}

// onPaused handles a request held by the navigation guard, which is on
// from typing, or from the end of a page's journey: a main-frame navigation
// (a form submit, a redirect by a script) is cancelled so that the page
// stays and nothing is submitted; everything else goes on.
func (s *scan) onPaused(ctx context.Context, ev *fetch.EventRequestPaused) {
	block := ev.ResourceType == network.ResourceTypeDocument && ev.FrameID == s.mainFrame
	if block {
		s.log.Info("blocked a navigation away from the observed page", "url", s.mask(stripQuery(ev.Request.URL)))
	}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
		defer cancel()
		if block {
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonAborted})
			return
		}
		_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
	}()
}
