package crawler

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/debugger"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
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
	conns        map[string]*connRec
	connOrder    []string
	wsURL        map[network.RequestID]string
	wsInit       map[network.RequestID]string
	wsFrames     []wsFrame

	typing bool // the test card is being typed or was typed
}

func (st *state) init() {
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
	st.wsInit = map[network.RequestID]string{}
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
	source   string // full text, once fetched
	fetched  bool
}

// reqRec is a request the page made.
type reqRec struct {
	id          network.RequestID
	url         string
	method      string
	typ         string
	initiator   string
	afterTyping bool
	body        []byte
}

type connRec struct {
	origin      string
	types       map[string]bool
	initiators  map[string]bool
	example     string
	count       int
	afterTyping bool
}

type wsFrame struct {
	requestID network.RequestID
	payload   []byte
}

func (st *state) docStatus() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.docResp == nil {
		return 0
	}
	return int(st.docResp.Status)
}

func (st *state) isCrashed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.crashed
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
				st.docResp = ev.Response
			}
		}
	case *network.EventWebSocketCreated:
		init := initiatorOf(ev.Initiator)
		st.wsURL[ev.RequestID] = ev.URL
		st.wsInit[ev.RequestID] = init
		st.addRequest(&reqRec{id: ev.RequestID, url: ev.URL, method: "GET", typ: "WebSocket", initiator: init, afterTyping: st.typing})
	case *network.EventWebSocketFrameSent:
		if st.typing && ev.Response != nil && len(st.wsFrames) < maxWSFrames {
			st.wsFrames = append(st.wsFrames, wsFrame{requestID: ev.RequestID, payload: ev.Response.PayloadData})
		}
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
	st.scripts = append(st.scripts, rec)
	st.scriptByID[ev.ScriptID] = rec
	s.enqueue(func(ctx context.Context) {
		res, err := call(ctx, s, debugger.GetScriptSource, debugger.GetScriptSourceParams{ScriptID: rec.id})
		st.mu.Lock()
		defer st.mu.Unlock()
		if err == nil {
			rec.source = res.ScriptSource
			rec.fetched = true
		}
	})
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
	if ev.Type == network.ResourceTypeDocument && ev.FrameID == st.mainFrame && ev.RedirectResponse != nil {
		st.mainURLs = append(st.mainURLs, ev.RedirectResponse.URL)
	}
	if ev.Type == network.ResourceTypeScript {
		if _, ok := st.loadedByURL[ev.Request.URL]; !ok && init != "" {
			st.loadedByURL[ev.Request.URL] = init
		}
	}
	rec := &reqRec{
		id: ev.RequestID, url: url, method: ev.Request.Method, typ: string(ev.Type),
		initiator: init, afterTyping: st.typing,
	}
	for _, e := range ev.Request.PostDataEntries {
		if len(rec.body)+len(e.Bytes) > maxPostData {
			break
		}
		rec.body = append(rec.body, e.Bytes...)
	}
	st.addRequest(rec)
	if rec.afterTyping && ev.Request.HasPostData && len(ev.Request.PostDataEntries) == 0 {
		id := ev.RequestID
		s.enqueue(func(ctx context.Context) {
			res, err := call(ctx, s, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: id})
			if err != nil {
				return
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			if len(res.PostData) <= maxPostData {
				rec.body = res.PostData
			}
		})
	}
}

// addRequest counts a request towards its destination and keeps it for the
// leak search. Called with st.mu held.
func (st *state) addRequest(r *reqRec) {
	origin := originOf(r.url)
	if origin == "" {
		return
	}
	c := st.conns[origin]
	if c == nil {
		if len(st.conns) >= maxOrigins {
			st.requestsLost++
			return
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
	if r.afterTyping {
		c.afterTyping = true
	}
	if !r.afterTyping {
		return // only requests after typing can carry the card
	}
	if len(st.requests) >= maxRequests {
		st.requestsLost++
		return
	}
	st.requests = append(st.requests, r)
	if r.id != "" {
		st.reqByID[r.id] = r
	}
}

// onPaused handles a request held by the navigation guard, which is on only
// after typing: a main-frame navigation (a form submit, a redirect by a
// script) is cancelled so that the page stays and nothing is submitted;
// everything else goes on.
func (s *scan) onPaused(ctx context.Context, ev *fetch.EventRequestPaused) {
	block := ev.ResourceType == network.ResourceTypeDocument && ev.FrameID == s.mainFrame
	if block {
		s.log.Info("blocked a navigation away from the page after typing", "url", s.card.Mask(stripQuery(ev.Request.URL)))
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
