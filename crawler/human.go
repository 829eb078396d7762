package crawler

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/domdebugger"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	skimguard "github.com/skimguard/skimguard"
)

// A shopper's hands. Loaders that wait for a person (a trusted mousemove,
// a mousemove counter, a scroll or wheel listener) and kits that time the
// keys see trusted input that moves and pauses as a person's does: the
// mouse follows a curve with small pauses, the page is scrolled with the
// wheel (swiped on a phone), fields are clicked (tapped) into, and keys are
// pressed, held and released one at a time with small random gaps.

// Bounds of the pacing, so that a long window does not make the visit
// slow and a short one does not make it inhuman.
const (
	// arrivalDelay is when, after load, the shopper's first move comes.
	arrivalDelay = 120 * time.Millisecond
	// maxArrival bounds the first moves and scroll; minArrivalWindow is
	// the window below which a page that is not typed into gets none.
	maxArrival       = 1200 * time.Millisecond
	minArrivalWindow = 600 * time.Millisecond
	// maxTyping is the most time typing is given: the fields are typed as
	// late as that allows, so that listeners attached late see the keys.
	maxTyping = 2500 * time.Millisecond
	// Gaps between keys, and pauses between the steps of a mouse path.
	minKeyGap, maxKeyGap   = 10 * time.Millisecond, 110 * time.Millisecond
	minStepGap, maxStepGap = 4 * time.Millisecond, 18 * time.Millisecond
	// wheelNotch is one notch of a mouse wheel, in CSS pixels.
	wheelNotch = 100
)

// hand is where the shopper's pointer is and how it moves. The scan's
// goroutine (journey, then observeWindow) alone uses it.
type hand struct {
	rnd *rand.Rand
	// x, y is the pointer in the main frame's viewport, once in is set.
	x, y float64
	in   bool
	// w, h is the viewport's size, once measured.
	w, h float64
	// touch is a phone's: taps and swipes instead of a mouse.
	touch bool
	// step is the pause between the steps of a mouse path, key the mean
	// gap between keys; hurry makes paths shorter and presses briefer,
	// when the time left is short for even the fastest pace.
	step, key time.Duration
	hurry     bool
	// scrolled is set by a wheel turn or a swipe, until the page is seen
	// to have stopped moving.
	scrolled bool
}

// newHand returns a hand with its own randomness, so that no two scans
// move alike. A journey's values are typed briskly, so that long ones fit
// their step's timeout; the card's typing is paced to the window.
func newHand(profile string) hand {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	return hand{rnd: rand.New(rand.NewChaCha8(seed)), touch: profile == skimguard.ProfileMobile, step: maxStepGap, key: 2 * minKeyGap}
}

// jitter returns d scaled by a random factor in [1-f, 1+f].
func (h *hand) jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*h.rnd.Float64()))
}

// between returns a random number in [a, b).
func (h *hand) between(a, b float64) float64 { return a + (b-a)*h.rnd.Float64() }

// hold is how long a button or a finger stays pressed.
func (h *hand) hold() time.Duration {
	if h.hurry {
		return h.jitter(25*time.Millisecond, 0.4)
	}
	return h.jitter(holdPerMove, 0.4)
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// viewport measures the main frame's viewport once.
func (s *scan) viewport(ctx context.Context) (float64, float64) {
	h := &s.hand
	if h.w > 0 {
		return h.w, h.h
	}
	h.w, h.h = 1366, 681
	if m, err := call(ctx, s, page.GetLayoutMetrics, cdp.Empty{}); err == nil && m.CSSVisualViewport != nil && m.CSSVisualViewport.ClientWidth > 0 {
		h.w, h.h = m.CSSVisualViewport.ClientWidth, m.CSSVisualViewport.ClientHeight
	}
	return h.w, h.h
}

// arrive is the shopper's first moves, soon after the page shows: the
// mouse comes in from the toolbar and wanders towards the form, and the
// page is scrolled down a little and back (on a phone, swiped). It is
// paced to end by by; on a machine too busy for that, it still comes in and
// scrolls once, at the fastest pace, since loaders wait for both. Errors
// are only the page's (unresponsive, gone).
func (s *scan) arrive(ctx context.Context, by time.Time) error {
	h := &s.hand
	budget := max(time.Until(by), 0)
	// The path and the scroll share the budget; a long one is not used
	// whole, a shopper does not dawdle.
	h.step = min(max(budget/60, minStepGap), maxStepGap)
	if err := pause(ctx, h.jitter(min(arrivalDelay, budget/8), 0.4)); err != nil {
		return err
	}
	w, vh := s.viewport(ctx)
	if !h.touch {
		if err := s.moveTo(ctx, h.between(0.3, 0.7)*w, h.between(0.3, 0.6)*vh); err != nil {
			return err
		}
	}
	// Down one to three notches, then back, so the page shows as it did;
	// one at least, however late: loaders wait for a scroll.
	notches := 1 + h.rnd.IntN(3)
	if time.Until(by) <= 0 {
		notches = 1
	}
	gap := min(max(time.Until(by)/time.Duration(2*notches+2), 15*time.Millisecond), 140*time.Millisecond)
	if h.touch {
		if err := s.swipe(ctx, float64(notches*wheelNotch)); err != nil {
			return err
		}
		if err := pause(ctx, h.jitter(2*gap, 0.3)); err != nil {
			return err
		}
		return s.swipe(ctx, -float64(notches*wheelNotch))
	}
	for _, dir := range []float64{1, -1} {
		for range notches {
			if err := s.wheel(ctx, dir*wheelNotch); err != nil {
				return err
			}
			if err := pause(ctx, h.jitter(gap, 0.4)); err != nil {
				return err
			}
		}
	}
	return nil
}

// departWait is how long, after the shopper left (the navigation away
// returns once the page's pagehide and unload handlers ran), the scan
// still waits for what they sent to be reported; requests reported by
// then are followed to their end by the drain that comes next.
const departWait = 300 * time.Millisecond

// depart is the end of the visit, once the page is seen: the shopper
// leaves, and the page is hidden (visibilitychange) and unloaded
// (pagehide, unload) as a tab going elsewhere is, while requests are
// still recorded, so that what a skimmer sends with sendBeacon or a
// keepalive fetch on exit is searched like the rest. about:blank is no
// network navigation: the navigation guard leaves it alone.
func (s *scan) depart(ctx context.Context) (left bool) {
	if s.unresponsive.Load() || ctx.Err() != nil {
		return false
	}
	if s.st.isCrashed() {
		return false
	}
	if listens, err := s.listensOnExit(ctx); err == nil && !listens {
		// Nothing in the page runs when it is left: leaving would show
		// nothing, and costs the wait below on every scan.
		return false
	}
	if _, err := call(ctx, s, page.Navigate, page.NavigateParams{URL: "about:blank"}); err != nil {
		s.log.Debug("leaving the page failed", "err", err)
	} else {
		_ = pause(ctx, departWait)
		left = true
	}
	// Chromium's renderer can crash while it unloads a page with a
	// cross-origin frame in it (seen with skimguard's card-field hooks in
	// the frame, site isolation off). The page was seen whole before it
	// was left: such a crash loses what the page would send after it, not
	// the scan.
	s.st.mu.Lock()
	crashed := s.st.crashed
	s.st.crashed = false
	s.st.mu.Unlock()
	if crashed {
		s.log.Warn("the page's renderer crashed as the shopper left it: what it would have sent on exit after that is not seen", "url", s.page.URL)
	}
	return left
}

// moveTo moves the mouse to (x, y) along a curve, a few pixels a step
// with a small pause after each, faster mid-way as a wrist moves. The
// first move enters from the top of the page, where the toolbar is.
func (s *scan) moveTo(ctx context.Context, x, y float64) error {
	h := &s.hand
	w, vh := s.viewport(ctx)
	x, y = clampTo(x, 0, w-1), clampTo(y, 0, vh-1)
	if !h.in {
		h.x, h.y, h.in = h.between(0.2, 0.8)*w, 0, true
		if err := s.mouse(ctx, input.DispatchMouseEventTypeMouseMoved, h.x, h.y, 0); err != nil {
			return err
		}
	}
	dx, dy := x-h.x, y-h.y
	dist := math.Hypot(dx, dy)
	if dist < 1 {
		return nil
	}
	n := int(clampTo(dist/45, 5, 20))
	if h.hurry {
		n = int(clampTo(dist/90, 4, 8))
	}
	// Both control points bend to one side of the straight line.
	nx, ny := -dy/dist, dx/dist
	bend := h.between(-0.25, 0.25) * dist
	x0, y0 := h.x, h.y
	c1x, c1y := x0+dx*0.3+nx*bend, y0+dy*0.3+ny*bend
	c2x, c2y := x0+dx*0.7+nx*bend*0.6, y0+dy*0.7+ny*bend*0.6
	for i := 1; i <= n; i++ {
		t := float64(i) / float64(n)
		t = t * t * (3 - 2*t) // ease in and out
		u := 1 - t
		px := u*u*u*x0 + 3*u*u*t*c1x + 3*u*t*t*c2x + t*t*t*x
		py := u*u*u*y0 + 3*u*u*t*c1y + 3*u*t*t*c2y + t*t*t*y
		if i < n {
			px, py = px+h.between(-1, 1), py+h.between(-1, 1)
		}
		px, py = clampTo(px, 0, w-1), clampTo(py, 0, vh-1)
		if err := s.mouse(ctx, input.DispatchMouseEventTypeMouseMoved, px, py, 0); err != nil {
			return err
		}
		h.x, h.y = px, py
		if err := pause(ctx, h.jitter(h.step, 0.4)); err != nil {
			return err
		}
	}
	h.x, h.y = x, y
	return nil
}

func clampTo(v, lo, hi float64) float64 { return max(lo, min(v, hi)) }

// wheel turns the mouse wheel by dy CSS pixels where the pointer is.
func (s *scan) wheel(ctx context.Context, dy float64) error {
	h := &s.hand
	if !h.in {
		w, vh := s.viewport(ctx)
		if err := s.moveTo(ctx, w/2, vh/2); err != nil {
			return err
		}
	}
	h.scrolled = true
	_, err := call(ctx, s, mouseWheel, wheelParams{Type: input.DispatchMouseEventTypeMouseWheel, X: h.x, Y: h.y, DeltaY: dy})
	return err
}

// swipe drags a finger up the screen by dy CSS pixels (down for a
// negative dy), which scrolls the page down as a phone's shopper does.
func (s *scan) swipe(ctx context.Context, dy float64) error {
	h := &s.hand
	w, vh := s.viewport(ctx)
	x := h.between(0.35, 0.65) * w
	y0 := vh/2 + dy/2
	y0 = clampTo(y0, 20, vh-20)
	y1 := clampTo(y0-dy, 20, vh-20)
	touch := func(typ input.DispatchTouchEventType, x, y float64) error {
		pts := []*input.TouchPoint{}
		if typ != input.DispatchTouchEventTypeTouchEnd {
			pts = append(pts, &input.TouchPoint{X: x, Y: y})
		}
		_, err := call(ctx, s, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: typ, TouchPoints: pts})
		return err
	}
	h.scrolled = true
	if err := touch(input.DispatchTouchEventTypeTouchStart, x, y0); err != nil {
		return err
	}
	const steps = 8
	for i := 1; i <= steps; i++ {
		if err := pause(ctx, h.jitter(h.step, 0.4)); err != nil {
			return err
		}
		if err := touch(input.DispatchTouchEventTypeTouchMove, x+h.between(-1, 1), y0+(y1-y0)*float64(i)/steps); err != nil {
			return err
		}
	}
	// The finger rests before it lifts, so the page does not fling on.
	if err := pause(ctx, h.jitter(100*time.Millisecond, 0.3)); err != nil {
		return err
	}
	return touch(input.DispatchTouchEventTypeTouchEnd, 0, 0)
}

// aim scrolls the element into view as a person would (the wheel, or a
// swipe) and returns a point inside it, near its middle, in the main
// frame's viewport.
func (s *scan) aim(ctx context.Context, obj runtime.RemoteObjectID) (float64, float64, error) {
	h := &s.hand
	_, vh := s.viewport(ctx)
	for range 8 {
		var q dom.Quad
		var err error
		if h.scrolled {
			q, err = s.settle(ctx, obj)
		} else {
			q, err = s.quad(ctx, obj)
		}
		if err != nil {
			return 0, 0, err
		}
		top, bottom := min(q[1], q[3], q[5], q[7]), max(q[1], q[3], q[5], q[7])
		var delta float64
		switch {
		case top < 8:
			delta = top - vh/3
		case bottom > vh-8:
			delta = bottom - vh*2/3
		default:
			left, right := min(q[0], q[2], q[4], q[6]), max(q[0], q[2], q[4], q[6])
			// Off the exact middle, as a hand aims: within the middle
			// half of the box.
			x := (left+right)/2 + h.between(-0.25, 0.25)*(right-left)
			y := (top+bottom)/2 + h.between(-0.25, 0.25)*(bottom-top)
			return x, y, nil
		}
		// At most a few notches at a time, as a wheel turns.
		delta = clampTo(delta, -4*wheelNotch, 4*wheelNotch)
		if h.touch {
			err = s.swipe(ctx, delta)
		} else {
			err = s.wheel(ctx, delta)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	// The wheel moves something else, or the page cannot scroll there.
	_, _ = call(ctx, s, dom.ScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{ObjectID: obj})
	q, err := s.quad(ctx, obj)
	if err != nil {
		return 0, 0, err
	}
	return (q[0] + q[2] + q[4] + q[6]) / 4, (q[1] + q[3] + q[5] + q[7]) / 4, nil
}

// settle waits for the page to stop scrolling (a wheel scrolls smoothly,
// a swipe may fling) and returns the element's box then.
func (s *scan) settle(ctx context.Context, obj runtime.RemoteObjectID) (dom.Quad, error) {
	var last dom.Quad
	for range 12 {
		if err := pause(ctx, 40*time.Millisecond); err != nil {
			return nil, err
		}
		q, err := s.quad(ctx, obj)
		if err != nil {
			return nil, err
		}
		if slices.Equal(q, last) {
			s.hand.scrolled = false
			return q, nil
		}
		last = q
	}
	return last, nil
}

// quad is the element's first content box, in the main frame's viewport.
func (s *scan) quad(ctx context.Context, obj runtime.RemoteObjectID) (dom.Quad, error) {
	res, err := call(ctx, s, dom.GetContentQuads, dom.GetContentQuadsParams{ObjectID: obj})
	if err != nil {
		return nil, err
	}
	for _, q := range res.Quads {
		if len(q) >= 8 {
			return q, nil
		}
	}
	return nil, errNoBox
}

var errNoBox = errors.New("the element has no box on the page")

// clickInto gives the field the focus as a person does: the mouse goes to
// it and clicks (a finger taps it, on a phone). When something else lies
// over the field where the click would land, or the click did not focus
// it, the focus is given without a click: clicking whatever covers a
// field could press a button.
func (s *scan) clickInto(ctx context.Context, obj runtime.RemoteObjectID) error {
	h := &s.hand
	x, y, err := s.aim(ctx, obj)
	if err == nil && !h.touch {
		err = s.moveTo(ctx, x, y)
	}
	if err == nil && s.hits(ctx, obj, x, y) {
		if h.touch {
			err = s.tap(ctx, x, y)
		} else {
			err = s.click(ctx, x, y)
		}
		if err == nil && s.focused(ctx, obj) {
			return nil
		}
	}
	if s.unresponsive.Load() {
		return errUnresponsive
	}
	_, err = call(ctx, s, dom.Focus, dom.FocusParams{ObjectID: obj})
	return err
}

// hits reports whether a click at (x, y) in the viewport lands on the
// element itself.
func (s *scan) hits(ctx context.Context, obj runtime.RemoteObjectID, x, y float64) bool {
	node, err := call(ctx, s, dom.DescribeNode, dom.DescribeNodeParams{ObjectID: obj})
	if err != nil || node.Node == nil {
		return false
	}
	// DOM.getNodeForLocation takes the point in the document, scrolled.
	m, err := call(ctx, s, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil || m.CSSVisualViewport == nil {
		return false
	}
	at, err := call(ctx, s, dom.GetNodeForLocation, dom.GetNodeForLocationParams{
		X: int64(x + m.CSSVisualViewport.PageX), Y: int64(y + m.CSSVisualViewport.PageY),
	})
	return err == nil && at.BackendNodeID == node.Node.BackendNodeID
}

const focusedJS = `function() { return this.getRootNode().activeElement === this;
//# sourceURL=` + internalSourceURL + `focused.js
}`

// focused reports whether the element has the focus in its document.
func (s *scan) focused(ctx context.Context, obj runtime.RemoteObjectID) bool {
	r, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		FunctionDeclaration: focusedJS, ObjectID: obj, ReturnByValue: new(true), Silent: new(true),
	})
	return err == nil && r.Result != nil && string(r.Result.Value) == "true"
}

// click presses and releases the left button where the mouse is, held as
// long as a finger holds it.
func (s *scan) click(ctx context.Context, x, y float64) error {
	if err := s.mouse(ctx, input.DispatchMouseEventTypeMousePressed, x, y, 1); err != nil {
		return err
	}
	if err := pause(ctx, s.hand.hold()); err != nil {
		return err
	}
	return s.mouse(ctx, input.DispatchMouseEventTypeMouseReleased, x, y, 1)
}

// tap touches (x, y) and lifts the finger.
func (s *scan) tap(ctx context.Context, x, y float64) error {
	if _, err := call(ctx, s, input.DispatchTouchEvent, input.DispatchTouchEventParams{
		Type: input.DispatchTouchEventTypeTouchStart, TouchPoints: []*input.TouchPoint{{X: x, Y: y}},
	}); err != nil {
		return err
	}
	if err := pause(ctx, s.hand.hold()); err != nil {
		return err
	}
	_, err := call(ctx, s, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{}})
	return err
}

// typeText types text into what has the focus one key at a time (journeys
// and the test card alike): each
// key pressed, held a moment and released (Shift around capitals), with a
// small random gap before the next. The gaps keep to the hand's pace
// whatever the commands cost.
func (s *scan) typeText(ctx context.Context, text string) error {
	h := &s.hand
	next := time.Now()
	for _, r := range text {
		if err := pause(ctx, time.Until(next)); err != nil {
			return err
		}
		gap := h.jitter(h.key, 0.5)
		next = time.Now().Add(gap)
		keys := kb.Encode(r)
		shift := len(keys) > 0 && keys[0].Modifiers&int64(chromedp.ModifierShift) != 0
		if shift {
			if err := s.key(ctx, shiftKey(input.DispatchKeyEventTypeRawKeyDown)); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if k.Type == input.DispatchKeyEventTypeKeyUp {
				// Held for a part of the gap.
				if err := pause(ctx, h.jitter(gap/3, 0.3)); err != nil {
					return err
				}
			}
			if err := s.key(ctx, k); err != nil {
				return err
			}
		}
		if shift {
			if err := s.key(ctx, shiftKey(input.DispatchKeyEventTypeKeyUp)); err != nil {
				return err
			}
		}
	}
	return nil
}

// key sends one key event.
func (s *scan) key(ctx context.Context, k *input.DispatchKeyEventParams) error {
	_, err := call(ctx, s, input.DispatchKeyEvent, *k)
	return err
}

// shiftKey is the left Shift key going down or up.
func shiftKey(typ input.DispatchKeyEventType) *input.DispatchKeyEventParams {
	k := &input.DispatchKeyEventParams{Type: typ, Key: "Shift", Code: "ShiftLeft", WindowsVirtualKeyCode: 16, NativeVirtualKeyCode: 16, Location: 1}
	if typ != input.DispatchKeyEventTypeKeyUp {
		k.Modifiers = int64(chromedp.ModifierShift)
	}
	return k
}

// exitEvents are the events a page gets as a shopper leaves it: what a
// skimmer that sends on exit listens to.
var exitEvents = []string{"pagehide", "unload", "beforeunload", "visibilitychange", "freeze"}

// documentNode is a document's DOM nodeType.
const documentNode = 9

// maxExitFrames bounds the frames whose listeners listensOnExit reads;
// past it, the page is taken to listen.
const maxExitFrames = 32

// listensOnExit reports whether some frame's window or document has a
// listener (or an on… handler) for an exit event, read with
// DOMDebugger.getEventListeners in the page's own world, without running
// anything in the page. An error means it could not tell.
func (s *scan) listensOnExit(ctx context.Context) (bool, error) {
	root, err := call(ctx, s, dom.GetDocument, dom.GetDocumentParams{Depth: new(int64(-1)), Pierce: new(true)})
	if err != nil {
		return false, err
	}
	var docs []cdp.BackendNodeID
	var walk func(n *cdp.Node)
	walk = func(n *cdp.Node) {
		if n == nil || len(docs) > maxExitFrames {
			return
		}
		if n.NodeType == documentNode {
			docs = append(docs, n.BackendNodeID)
		}
		for _, c := range n.Children {
			walk(c)
		}
		walk(n.ContentDocument)
		for _, c := range n.ShadowRoots {
			walk(c)
		}
	}
	walk(root.Root)
	if len(docs) == 0 || len(docs) > maxExitFrames {
		return true, nil
	}
	for _, id := range docs {
		doc, err := call(ctx, s, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: id})
		if err != nil {
			return false, fmt.Errorf("a frame's document: %w", err)
		}
		if doc.Object == nil || doc.Object.ObjectID == "" {
			return false, errors.New("a frame's document has no object")
		}
		win, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
			FunctionDeclaration: "function() { return this.defaultView;\n//# sourceURL=" + internalSourceURL + "view.js\n}", ObjectID: doc.Object.ObjectID, Silent: new(true),
		})
		if err != nil {
			return false, fmt.Errorf("a frame's window: %w", err)
		}
		if win.ExceptionDetails != nil || win.Result == nil || win.Result.ObjectID == "" {
			return false, errors.New("a frame has no window")
		}
		for _, obj := range []runtime.RemoteObjectID{doc.Object.ObjectID, win.Result.ObjectID} {
			ls, err := call(ctx, s, domdebugger.GetEventListeners, domdebugger.GetEventListenersParams{ObjectID: obj})
			if err != nil {
				return false, err
			}
			if slices.ContainsFunc(ls.Listeners, func(l *domdebugger.EventListener) bool { return slices.Contains(exitEvents, l.Type) }) {
				return true, nil
			}
		}
	}
	return false, nil
}
