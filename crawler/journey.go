package crawler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	skimguard "github.com/skimguard/skimguard"
)

// Timing of a journey's steps.
const (
	// pollEvery is how often a step looks again for the element it waits
	// for.
	pollEvery = 100 * time.Millisecond
	// navStartWindow is how long after a click or a key press a
	// navigation it caused may take to start; the step then waits until
	// the new page has loaded. Anything slower is for a wait_for step.
	navStartWindow = 500 * time.Millisecond
	// waitSlack is what a wait step may take beyond its duration.
	waitSlack = 5 * time.Second
)

// JourneyError says that a step of a page's journey could not complete,
// so the page could not be reached as a shopper reaches it and was not
// checked. Its message names the step and what happened, never a secret.
type JourneyError struct {
	// URL is the page the journey leads to.
	URL string
	// Step is the failed step's number, from 1, of Steps; 0 when every
	// step completed but the journey ended elsewhere than on URL.
	Step, Steps int
	// What is the step in sites.yaml's words, At where it is written.
	What, At string
	// Reason says what happened.
	Reason string
}

func (e *JourneyError) Error() string {
	if e.Step == 0 {
		return fmt.Sprintf("page %s could not be reached: its journey (%s) %s; check that a shopper still gets there this way, and fix the steps or the page's url", e.URL, e.At, e.Reason)
	}
	return fmt.Sprintf("page %s could not be reached: journey step %d of %d (%s, at %s) failed: %s; check that a shopper still gets there this way, and fix the step",
		e.URL, e.Step, e.Steps, e.What, e.At, e.Reason)
}

// journeyBudget is the longest the page's journey may take.
func journeyBudget(j *skimguard.Journey) time.Duration {
	if j == nil {
		return 0
	}
	var d time.Duration
	for _, s := range j.Steps {
		d += stepTimeout(s)
	}
	return d
}

// stepTimeout bounds one step; a wait step may always wait its duration.
func stepTimeout(s skimguard.Step) time.Duration {
	if s.Kind == skimguard.StepWait {
		return max(s.TimeoutOrDefault(), s.Duration+waitSlack)
	}
	return s.TimeoutOrDefault()
}

// playJourney plays the page's steps in the tab of ctx. Navigations and
// form submissions are allowed while they run (a sign-in must submit);
// once they end, the navigation guard is on, and the document open then is
// the one observed: what earlier documents loaded is forgotten as each new
// document of the main frame commits (see state.newDocument).
func (s *scan) playJourney(ctx context.Context) error {
	j := s.page.Journey
	s.st.mu.Lock()
	s.st.navigating, s.st.journey = true, true
	s.st.mu.Unlock()
	for i, step := range j.Steps {
		s.log.Debug("journey step", "step", i+1, "of", len(j.Steps), "what", s.mask(step.String()))
		sctx, cancel := context.WithTimeout(ctx, stepTimeout(step))
		err := s.playStep(sctx, step)
		cancel()
		if err == nil {
			continue
		}
		if terr := s.tabErr(ctx); terr != nil {
			return terr
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("it did not complete within %s", stepTimeout(step))
		}
		return &JourneyError{URL: s.page.URL, Step: i + 1, Steps: len(j.Steps), What: s.mask(step.String()),
			At: fmt.Sprintf("%s:%d", j.File, step.Line), Reason: s.mask(err.Error())}
	}
	// The guard first: no document may replace this one once it is the
	// one observed.
	if err := s.guardNavigation(ctx); err != nil {
		return fmt.Errorf("after the journey: %w", err)
	}
	s.st.mu.Lock()
	s.st.endJourney()
	s.st.mu.Unlock()
	// The frame tree has the URL a single-page checkout pushed, which no
	// navigation event tells.
	tree, err := call(ctx, s, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		return fmt.Errorf("after the journey: reading the frame tree: %w", err)
	}
	if final := tree.FrameTree.Frame.URL; !samePage(final, s.page.URL) {
		return &JourneyError{URL: s.page.URL, Steps: len(j.Steps), At: j.File,
			Reason: fmt.Sprintf("ended on %s, not on the page", s.mask(stripQuery(final)))}
	}
	return nil
}

// samePage reports whether the document at got is the page at want: the
// same host and path. The query and fragment may vary per load.
func samePage(got, want string) bool {
	g, err1 := url.Parse(got)
	w, err2 := url.Parse(want)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(g.Host, w.Host) && strings.TrimSuffix(g.Path, "/") == strings.TrimSuffix(w.Path, "/")
}

// playStep plays one step; ctx bounds it.
func (s *scan) playStep(ctx context.Context, step skimguard.Step) error {
	switch step.Kind {
	case skimguard.StepGoto:
		return s.gotoStep(ctx, step.URL)
	case skimguard.StepClick:
		return s.clickStep(ctx, step.Target, 1)
	case skimguard.StepDoubleClick:
		return s.clickStep(ctx, step.Target, 2)
	case skimguard.StepHover:
		obj, err := s.waitElement(ctx, step.Target)
		if err != nil {
			return err
		}
		x, y, err := s.pointOf(ctx, obj)
		if err != nil {
			return err
		}
		return s.mouse(ctx, input.DispatchMouseEventTypeMouseMoved, x, y, 0)
	case skimguard.StepFill, skimguard.StepSelect:
		for _, f := range step.Fields {
			if err := s.fillField(ctx, f, step.Kind == skimguard.StepSelect); err != nil {
				return err
			}
		}
		return nil
	case skimguard.StepPress:
		before := s.st.navCount()
		if err := s.typeText(ctx, keyText(step.Key)); err != nil {
			return err
		}
		return s.followNavigation(ctx, before)
	case skimguard.StepScroll:
		return s.scrollStep(ctx, step)
	case skimguard.StepWaitFor:
		_, err := s.waitElement(ctx, step.Target)
		return err
	case skimguard.StepWaitForExpression:
		return s.waitExpression(ctx, step.Expression)
	case skimguard.StepWait:
		t := time.NewTimer(step.Duration)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("skimguard cannot play a %q step", step.Kind)
}

// expand reads a value's ${NAME} references from the environment; the
// values read are secrets from then on.
func (s *scan) expand(v string) (string, error) {
	return skimguard.ExpandEnv(v, func(name string) string {
		val := s.c.getenv(name)
		s.secrets.add(val)
		return val
	})
}

// gotoStep loads rawURL (as written, references unexpanded) as the address
// bar does.
func (s *scan) gotoStep(ctx context.Context, rawURL string) error {
	u, err := s.expand(rawURL)
	if err != nil {
		return err
	}
	res, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: u})
	if err != nil {
		return err
	}
	if res.ErrorText != "" {
		reason := res.ErrorText
		if why := s.st.failure(u); why != "" {
			reason = why
		}
		if st := s.st.docStatusOf(res.LoaderID); st >= 400 {
			reason = fmt.Sprintf("HTTP %d", st)
		}
		return fmt.Errorf("%s could not be loaded (%s)", rawURL, reason)
	}
	if err := s.st.waitLoad(ctx, res.LoaderID); err != nil {
		if s.st.isCrashed() {
			return errors.New("the page's renderer crashed")
		}
		return fmt.Errorf("%s did not finish loading: %w", rawURL, err)
	}
	if st := s.st.docStatusOf(res.LoaderID); st >= 400 {
		return fmt.Errorf("%s answered HTTP %d", rawURL, st)
	}
	return nil
}

// clickStep clicks the target count times, like a person: the mouse moves
// to the middle of the element, then presses and releases. On a phone a
// finger taps it instead, as a phone-only skimmer that waits for touch
// events expects.
func (s *scan) clickStep(ctx context.Context, t skimguard.Target, count int) error {
	obj, err := s.waitElement(ctx, t)
	if err != nil {
		return err
	}
	x, y, err := s.pointOf(ctx, obj)
	if err != nil {
		return err
	}
	before := s.st.navCount()
	if s.hand.touch {
		for range count {
			if err := s.tap(ctx, x, y); err != nil {
				return err
			}
		}
		return s.followNavigation(ctx, before)
	}
	if err := s.mouse(ctx, input.DispatchMouseEventTypeMouseMoved, x, y, 0); err != nil {
		return err
	}
	for n := int64(1); n <= int64(count); n++ {
		if err := s.mouse(ctx, input.DispatchMouseEventTypeMousePressed, x, y, n); err != nil {
			return err
		}
		time.Sleep(40 * time.Millisecond)
		if err := s.mouse(ctx, input.DispatchMouseEventTypeMouseReleased, x, y, n); err != nil {
			return err
		}
	}
	return s.followNavigation(ctx, before)
}

// mouse sends one trusted mouse event at (x, y); clicks > 0 makes it a
// left-button press or release.
func (s *scan) mouse(ctx context.Context, typ input.DispatchMouseEventType, x, y float64, clicks int64) error {
	p := input.DispatchMouseEventParams{Type: typ, X: x, Y: y}
	if clicks > 0 {
		p.Button, p.Buttons, p.ClickCount = input.MouseButtonLeft, 1, clicks
		if typ == input.DispatchMouseEventTypeMouseReleased {
			p.Buttons = 0
		}
	}
	_, err := call(ctx, s, input.DispatchMouseEvent, p)
	return err
}

// pointOf scrolls the element into view if needed and returns the middle
// of its first box, in the main frame's viewport.
func (s *scan) pointOf(ctx context.Context, obj runtime.RemoteObjectID) (float64, float64, error) {
	_, _ = call(ctx, s, dom.ScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{ObjectID: obj})
	res, err := call(ctx, s, dom.GetContentQuads, dom.GetContentQuadsParams{ObjectID: obj})
	if err != nil {
		return 0, 0, fmt.Errorf("finding where the element is: %w", err)
	}
	for _, q := range res.Quads {
		if len(q) < 8 {
			continue
		}
		x := (q[0] + q[2] + q[4] + q[6]) / 4
		y := (q[1] + q[3] + q[5] + q[7]) / 4
		return x, y, nil
	}
	return 0, 0, errors.New("the element has no box on the page")
}

// fillField types a field's value into its element key by key, replacing
// what it held, or, for a <select> (or with onlySelect), chooses the
// option of that value.
func (s *scan) fillField(ctx context.Context, f skimguard.Field, onlySelect bool) error {
	v, err := s.expand(f.Value)
	if err != nil {
		return err
	}
	obj, err := s.waitElement(ctx, f.Target)
	if err != nil {
		return err
	}
	var kind struct{ Tag, Type string }
	if err := s.callOn(ctx, obj, elementKindJS, &kind); err != nil {
		return err
	}
	if kind.Type == "password" {
		s.secrets.add(v) // whether it came from the environment or not
	}
	if kind.Tag == "select" {
		var res string
		if err := s.callOn(ctx, obj, selectOptionJS, &res, v); err != nil {
			return err
		}
		if res != "ok" {
			return fmt.Errorf("%q has no option %q", f.Target.String(), s.mask(f.Value))
		}
		return nil
	}
	if onlySelect {
		return fmt.Errorf("%q is a <%s>, not a <select>: use fill", f.Target.String(), kind.Tag)
	}
	if _, err := call(ctx, s, dom.Focus, dom.FocusParams{ObjectID: obj}); err != nil {
		return fmt.Errorf("focusing %q: %w", f.Target.String(), err)
	}
	// What the field held is selected, so that the first key replaces it.
	if err := s.callOn(ctx, obj, selectTextJS, nil); err != nil {
		return err
	}
	if v == "" {
		return s.typeText(ctx, kb.Backspace)
	}
	return s.typeText(ctx, v)
}

// scrollStep scrolls with the mouse wheel, as a person does: the page, or
// the target's content, to a position, or until the target is in view.
func (s *scan) scrollStep(ctx context.Context, step skimguard.Step) error {
	var obj runtime.RemoteObjectID
	if step.Target.Selectors != nil {
		var err error
		if obj, err = s.waitElement(ctx, step.Target); err != nil {
			return err
		}
	}
	for range 20 {
		var pos struct {
			Delta, X, Y float64
		}
		var err error
		if obj == "" {
			err = s.callOnDocument(ctx, nil, scrollDeltaJS, &pos, step.ScrollY, false)
		} else {
			err = s.callOn(ctx, obj, scrollDeltaJS, &pos, step.ScrollY, step.IntoView)
		}
		if err != nil {
			return err
		}
		if pos.Delta > -1 && pos.Delta < 1 {
			return nil
		}
		if _, err := call(ctx, s, mouseWheel, wheelParams{
			Type: input.DispatchMouseEventTypeMouseWheel, X: pos.X, Y: pos.Y, DeltaY: max(min(pos.Delta, 800), -800),
		}); err != nil {
			return err
		}
		time.Sleep(60 * time.Millisecond)
	}
	// The page cannot scroll that far, or the wheel moves something else:
	// scrolled as far as a person could.
	if step.IntoView && obj != "" {
		_, _ = call(ctx, s, dom.ScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{ObjectID: obj})
	}
	return nil
}

// wheelParams are Input.dispatchMouseEvent's for a wheel event, which
// Chromium refuses without deltaX, a zero that cdproto's own parameters
// leave out.
type wheelParams struct {
	Type   input.DispatchMouseEventType `json:"type"`
	X      float64                      `json:"x"`
	Y      float64                      `json:"y"`
	DeltaX float64                      `json:"deltaX"`
	DeltaY float64                      `json:"deltaY"`
}

var mouseWheel = cdp.Command[wheelParams, cdp.Empty]{Method: input.CommandDispatchMouseEvent}

// followNavigation waits, after an action, for a navigation of the main
// frame the action started: if one starts within navStartWindow of the
// action, until the new page has loaded. before is navCount before the
// action.
func (s *scan) followNavigation(ctx context.Context, before int) error {
	deadline := time.Now().Add(navStartWindow)
	for s.st.navCount() == before {
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	for {
		nav := s.st.lastNavigation()
		switch {
		case nav.loaded || nav.noContent:
			return nil
		case nav.failed == "net::ERR_ABORTED":
			// Cancelled, by the page or a newer navigation.
		case nav.failed != "":
			return fmt.Errorf("the page it opened could not be loaded (%s)", nav.failed)
		}
		select {
		case <-ctx.Done():
			if nav.failed != "" {
				return nil // cancelled, and nothing newer came
			}
			return fmt.Errorf("the page it opened did not finish loading: %w", ctx.Err())
		case <-s.st.loadCh:
		case <-s.st.crashCh:
			return errors.New("the page's renderer crashed")
		case <-time.After(50 * time.Millisecond):
		}
		if nav.failed != "" && s.st.navCount() == nav.seq {
			return nil
		}
	}
}

// keyText is what chromedp types for a key name of a press step.
func keyText(name string) string {
	switch name {
	case "Enter":
		return kb.Enter
	case "Tab":
		return kb.Tab
	case "Escape":
		return kb.Escape
	case "Backspace":
		return kb.Backspace
	case "Delete":
		return kb.Delete
	case "Space":
		return " "
	case "ArrowUp":
		return kb.ArrowUp
	case "ArrowDown":
		return kb.ArrowDown
	case "ArrowLeft":
		return kb.ArrowLeft
	case "ArrowRight":
		return kb.ArrowRight
	case "Home":
		return kb.Home
	case "End":
		return kb.End
	case "PageUp":
		return kb.PageUp
	case "PageDown":
		return kb.PageDown
	}
	return name
}

// Functions run on elements in skimguard's isolated world.
const (
	elementKindJS = `function() { return {tag: this.localName || '', type: (this.type || '').toLowerCase()};
//# sourceURL=` + internalSourceURL + `kind.js
}`
	selectOptionJS = `function(value) {
  const pick = (o) => { this.value = o.value; o.selected = true;
    this.dispatchEvent(new Event('input', {bubbles: true})); this.dispatchEvent(new Event('change', {bubbles: true})); return 'ok'; };
  for (const o of this.options) if (o.value === value) return pick(o);
  for (const o of this.options) if (o.text.trim() === value) return pick(o);
  return 'none';
//# sourceURL=` + internalSourceURL + `option.js
}`
	selectTextJS = `function() { if (typeof this.select === 'function') this.select();
//# sourceURL=` + internalSourceURL + `selecttext.js
}`
	// scrollDeltaJS says how far the wheel must still move, and where to
	// turn it: over the element (its content to y, or itself into view)
	// or, called on the document, over the page.
	scrollDeltaJS = `function(y, intoView) {
  const vh = innerHeight, vw = innerWidth;
  if (this.nodeType === Node.DOCUMENT_NODE) return {delta: y - scrollY, x: vw / 2, y: vh / 2};
  const r = this.getBoundingClientRect();
  const x = Math.min(Math.max(r.left + r.width / 2, 1), vw - 1);
  if (intoView) {
    if (r.top >= 0 && r.bottom <= vh) return {delta: 0, x: 0, y: 0};
    return {delta: r.top + r.height / 2 - vh / 2, x: vw / 2, y: vh / 2};
  }
  return {delta: y - this.scrollTop, x: x, y: Math.min(Math.max(r.top + r.height / 2, 1), vh - 1)};
//# sourceURL=` + internalSourceURL + `scroll.js
}`
	// queryJS finds, within this (a document, shadow root or element),
	// the first element a selector of the kind matches (aria is asked of
	// the browser's accessibility tree instead). text finds the deepest
	// element showing the text, and pierce CSS, through shadow roots as
	// Puppeteer's do.
	queryJS = `function(kind, sel) {
  const deep = (root, each) => {
    for (const el of root.querySelectorAll('*')) {
      const hit = each(el);
      if (hit) return hit;
      if (el.shadowRoot) { const h = deep(el.shadowRoot, each); if (h) return h; }
    }
    return null;
  };
  switch (kind) {
  case 'pierce':
    return this.querySelector(sel) || deep(this, (el) => el.shadowRoot && el.shadowRoot.querySelector(sel));
  case 'text': {
    const norm = (s) => (s || '').replace(/\s+/g, ' ').trim(), want = norm(sel);
    const shows = (el) => el.localName !== 'script' && el.localName !== 'style' &&
      norm(el.localName === 'input' || el.localName === 'textarea' ? el.value : el.innerText || el.textContent).includes(want);
    return deep(this, (el) => shows(el) && !Array.prototype.some.call(el.children, shows) ? el : null);
  }
  case 'xpath': {
    const n = (this.ownerDocument || this).evaluate(sel, this, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
    return n && n.nodeType !== Node.ELEMENT_NODE ? n.parentElement : n;
  }
  }
  return this.querySelector(sel);
//# sourceURL=` + internalSourceURL + `query.js
}`
	// intoJS is where the next part of a chain is looked up.
	intoJS = `function() { return this.shadowRoot || this;
//# sourceURL=` + internalSourceURL + `into.js
}`
	// visibleJS is whether a shopper can see the element, as scan.js
	// judges it.
	visibleJS = `function() {
  if (!this.isConnected) return false;
  const cs = getComputedStyle(this);
  if (cs.display === 'none' || cs.visibility === 'hidden' || cs.visibility === 'collapse' || parseFloat(cs.opacity) === 0) return false;
  const r = this.getBoundingClientRect();
  return r.width * r.height > 0;
//# sourceURL=` + internalSourceURL + `visible.js
}`
)

// callOn runs fn on obj with args, and decodes what it returns into out
// (nil for nothing).
func (s *scan) callOn(ctx context.Context, obj runtime.RemoteObjectID, fn string, out any, args ...any) error {
	return s.callFn(ctx, runtime.CallFunctionOnParams{ObjectID: obj}, fn, out, args...)
}

// callOnDocument runs fn on the document of the frame at path (nil: the
// main frame).
func (s *scan) callOnDocument(ctx context.Context, path []int, fn string, out any, args ...any) error {
	w, why, err := s.frameWorld(ctx, path)
	if err != nil {
		return err
	}
	if w == nil {
		return errors.New(why)
	}
	return s.callOn(ctx, w.document, fn, out, args...)
}

func (s *scan) callFn(ctx context.Context, p runtime.CallFunctionOnParams, fn string, out any, args ...any) error {
	p.FunctionDeclaration, p.Silent, p.ReturnByValue = fn, new(true), new(true)
	for _, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		p.Arguments = append(p.Arguments, &runtime.CallArgument{Value: b})
	}
	r, err := call(ctx, s, runtime.CallFunctionOn, p)
	if err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("the page threw %s", r.ExceptionDetails.Text)
	}
	if out == nil || r.Result == nil {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// world is skimguard's isolated world in one document of a frame.
type world struct {
	frame    cdp.FrameID
	loader   cdp.LoaderID
	id       runtime.ExecutionContextID
	document runtime.RemoteObjectID
}

// frameWorld returns skimguard's isolated world in the document of the
// frame at path (child-frame indexes from the main frame), made once per
// document. It returns nil and why when there is no such frame yet.
func (s *scan) frameWorld(ctx context.Context, path []int) (*world, string, error) {
	tree, err := call(ctx, s, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		return nil, "", fmt.Errorf("reading the frame tree: %w", err)
	}
	ft := tree.FrameTree
	for i, idx := range path {
		if ft == nil || idx < 0 || idx >= len(ft.ChildFrames) {
			return nil, fmt.Sprintf("the page has no frame %s", framePath(path[:i+1])), nil
		}
		ft = ft.ChildFrames[idx]
	}
	if ft == nil || ft.Frame == nil {
		return nil, "the page has no main frame", nil
	}
	f := ft.Frame
	if w := s.worlds[f.ID]; w != nil && w.loader == f.LoaderID {
		return w, "", nil
	}
	cw, err := call(ctx, s, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{
		FrameID: f.ID, WorldName: worldName, GrantUniveralAccess: new(true),
	})
	if err != nil {
		return nil, "the frame's document is not ready", nil
	}
	doc, err := call(ctx, s, runtime.Evaluate, runtime.EvaluateParams{
		Expression: "document\n//# sourceURL=" + internalSourceURL + "document.js", ContextID: cw.ExecutionContextID, Silent: new(true),
	})
	if err != nil || doc.Result == nil || doc.Result.ObjectID == "" {
		return nil, "the frame's document is not ready", nil
	}
	w := &world{frame: f.ID, loader: f.LoaderID, id: cw.ExecutionContextID, document: doc.Result.ObjectID}
	s.worlds[f.ID] = w
	return w, "", nil
}

func framePath(path []int) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

// waitElement waits, within ctx, until the target is on the page and
// visible, and returns it.
func (s *scan) waitElement(ctx context.Context, t skimguard.Target) (runtime.RemoteObjectID, error) {
	start := time.Now()
	var why string
	for {
		obj, w, err := s.findElement(ctx, t)
		if err != nil {
			return "", err
		}
		if obj != "" {
			return obj, nil
		}
		// A look cut short by the deadline says less than the one before
		// it (on a busy machine, reading the frames is what it cut).
		if why == "" || ctx.Err() == nil {
			why = w
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return "", fmt.Errorf("%s after %s", why, time.Since(start).Round(100*time.Millisecond))
			}
			return "", ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// findElement looks for the target once. It returns the element, or why
// there is none yet; err is for a page that stopped responding.
func (s *scan) findElement(ctx context.Context, t skimguard.Target) (runtime.RemoteObjectID, string, error) {
	w, why, err := s.frameWorld(ctx, t.Frame)
	if err != nil || w == nil {
		if s.unresponsive.Load() {
			return "", "", errUnresponsive
		}
		if why == "" {
			why = "the page's frames could not be read"
		}
		return "", why, nil
	}
	why = fmt.Sprintf("no element matches %q", t.String())
	for _, chain := range t.Selectors {
		obj, err := s.queryChain(ctx, w, chain)
		if s.unresponsive.Load() {
			return "", "", errUnresponsive
		}
		var se *selectorError
		if errors.As(err, &se) {
			return "", "", err
		}
		if err != nil {
			// The document went away (a navigation): look again in the
			// next one.
			delete(s.worlds, w.frame)
			return "", why, nil
		}
		if obj == "" {
			continue
		}
		var visible bool
		if err := s.callOn(ctx, obj, visibleJS, &visible); err == nil && visible {
			return obj, "", nil
		}
		why = fmt.Sprintf("%q is on the page but not visible", strings.Join(chain, skimguard.ChainSeparator))
	}
	return "", why, nil
}

// queryChain finds the element a selector chain leads to in the world's
// document, or "" when a part finds none.
func (s *scan) queryChain(ctx context.Context, w *world, chain []string) (runtime.RemoteObjectID, error) {
	root := w.document
	for i, part := range chain {
		el, err := s.queryPart(ctx, w, root, part)
		if err != nil || el == "" {
			return "", err
		}
		if i == len(chain)-1 {
			return el, nil
		}
		r, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{FunctionDeclaration: intoJS, ObjectID: el, Silent: new(true)})
		if err != nil || r.Result == nil || r.Result.ObjectID == "" {
			return "", err
		}
		root = r.Result.ObjectID
	}
	return "", nil
}

// queryPart finds the first element one part of a chain matches within
// root, in the world w.
func (s *scan) queryPart(ctx context.Context, w *world, root runtime.RemoteObjectID, part string) (runtime.RemoteObjectID, error) {
	kind, sel := skimguard.ParseSelectorPart(part)
	if kind == skimguard.SelectorARIA {
		return s.queryARIA(ctx, w, root, sel)
	}
	k, _ := json.Marshal(string(kind))
	arg, _ := json.Marshal(sel)
	r, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		FunctionDeclaration: queryJS, ObjectID: root, Silent: new(true),
		Arguments: []*runtime.CallArgument{{Value: k}, {Value: arg}},
	})
	if err != nil {
		return "", err
	}
	if r.ExceptionDetails != nil {
		return "", &selectorError{part: part, why: exceptionText(r.ExceptionDetails)}
	}
	if r.Result == nil {
		return "", nil
	}
	return r.Result.ObjectID, nil
}

// queryARIA finds the first element within root whose accessible name and
// role, as the browser computes them, are those of sel (what follows
// aria/).
func (s *scan) queryARIA(ctx context.Context, w *world, root runtime.RemoteObjectID, sel string) (runtime.RemoteObjectID, error) {
	name, role, _ := skimguard.ParseARIA(sel)
	res, err := call(ctx, s, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{ObjectID: root, AccessibleName: name, Role: role})
	if err != nil {
		return "", err
	}
	for _, n := range res.Nodes {
		if n.BackendDOMNodeID == 0 || n.Role != nil && (axString(n.Role) == "StaticText" || axString(n.Role) == "InlineTextBox") {
			continue // text, not an element
		}
		r, err := call(ctx, s, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: n.BackendDOMNodeID, ExecutionContextID: w.id})
		if err != nil || r.Object == nil {
			continue
		}
		return r.Object.ObjectID, nil
	}
	return "", nil
}

// axString is the string an accessibility value holds, "" when none.
func axString(v *accessibility.Value) string {
	var str string
	_ = json.Unmarshal(v.Value, &str)
	return str
}

// waitExpression waits until the JavaScript expr, run in the main page,
// is truthy. A promise it gives is waited for, a second at a time.
func (s *scan) waitExpression(ctx context.Context, expr string) error {
	src := "Promise.race([Promise.resolve().then(() => (" + expr + "\n)), new Promise((r) => setTimeout(() => r(false), 1000))]).then((v) => !!v)\n" +
		"//# sourceURL=" + internalSourceURL + "expression.js"
	why := "it stayed false"
	for {
		r, err := call(ctx, s, runtime.Evaluate, runtime.EvaluateParams{Expression: src, AwaitPromise: new(true), ReturnByValue: new(true), Silent: new(true)})
		switch {
		case s.unresponsive.Load():
			return errUnresponsive
		case err != nil && ctx.Err() != nil:
			// The step's time ran out during the call.
		case err != nil:
			why = err.Error()
		case r.ExceptionDetails != nil:
			why = "it threw " + exceptionText(r.ExceptionDetails)
		case r.Result != nil && string(r.Result.Value) == "true":
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait_for_expression: %s until the step's time ran out", why)
		case <-time.After(pollEvery):
		}
	}
}

// exceptionText says what a page's exception was.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		line, _, _ := strings.Cut(d.Exception.Description, "\n")
		return line
	}
	return d.Text
}

// selectorError is a selector the browser refuses: looking again will not
// help.
type selectorError struct{ part, why string }

func (e *selectorError) Error() string {
	return fmt.Sprintf("the browser refuses the selector %q (%s)", e.part, e.why)
}
