package crawler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/domdebugger"
	"github.com/chromedp/cdproto/runtime"

	skimguard "github.com/skimguard/skimguard"
)

// Who can see the card. A skimmer that encrypts what it sends, or sends
// only when a shopper pays, leaves nothing the leak search recognises;
// what it cannot hide is that it listens to the card fields or reads
// them. Two sources tell it, in every frame with card fields:
//
//   - the listeners card data reaches (DOMDebugger.getEventListeners,
//     which names each listener's script without running anything in the
//     page): any listener on a card field, its form or the pay button, and
//     listeners of the events that carry what is typed on an element, the
//     document or the window above a field;
//   - the reads of a card field's value once the test card is in it, and
//     FormData made from its form, which the hidden script (cardHookJS)
//     logs with the scripts on the stack.

// maxAccess bounds the card access one scan records.
const maxAccess = 2000

// accessState is what a scan finds out about the scripts that can see
// card fields. Only the scan's own goroutine uses it.
type accessState struct {
	// hook names the hidden script's API in each document's main world:
	// a global lexical binding, which no page script can list, named at
	// random per scan, so that none can guess it.
	hook string
	// marked is set once card fields were marked for the hook to watch.
	marked bool
	// found is what collectAccess found, for build.
	found []accessRec
}

// accessRec is one way a script sees one card field.
type accessRec struct {
	rec        *scriptRec
	field, how string
	frame      string // URL of the field's document
}

// newHookName names the hidden script's API for one scan.
func newHookName() string {
	var b [8]byte
	rand.Read(b[:])
	return "_" + hex.EncodeToString(b[:])
}

// cardHookJS is the part of the hidden script (gpuJS) that sees who reads
// card fields. The crawler marks each card input before typing; from then
// on, a read of a marked input's value or valueAsNumber while it holds
// data, and a FormData made from its form, log the scripts on the stack:
// V8's hash of each (the hash Debugger.scriptParsed gives) and its URL,
// never the value. The getters it puts in place look native through
// card.shown; an error they pass on carries the stack it would have
// without them. After it ran it calls nothing a page could replace:
// built-ins are taken first, the descriptors it defines later have no
// prototype, the log is a string, and a page's own prepareStackTrace and
// stackTraceLimit are set aside while a stack is taken (one that made
// either an accessor, and so would see that, is left alone).
const cardHookJS = `
  const card = (() => {
    const none = { shown: (s) => s, api: { mark() {}, read() { return ''; } } };
    const E = self.Error, Input = self.HTMLInputElement, W = self.WeakMap, Ev = self.Event, Target = self.EventTarget;
    if (typeof E !== 'function' || typeof Input !== 'function' || typeof W !== 'function' || typeof Ev !== 'function' || typeof Target !== 'function') return none;
    const hasOwn = Object.prototype.hasOwnProperty, protoOf = Object.getPrototypeOf, capture = E.captureStackTrace;
    const wmGet = W.prototype.get, wmSet = W.prototype.set, listen = Target.prototype.addEventListener;
    const valueD = describe(Input.prototype, 'value'), numberD = describe(Input.prototype, 'valueAsNumber');
    const formD = describe(Input.prototype, 'form'), targetD = describe(Ev.prototype, 'target');
    if (!valueD || !numberD || !formD || !targetD) return none;
    const realValue = valueD.get, realNumber = numberD.get, formOf = formD.get, targetOf = targetD.get;
    const plain = (d) => !d || apply(hasOwn, d, ['value']);
    const put = (name, d) => {
      if (d) define(E, name, { __proto__: null, value: d.value, writable: d.writable, enumerable: d.enumerable, configurable: d.configurable });
      else delete E[name];
    };
    const sites = (e, s) => s;
    const stack = () => {
      const p = describe(E, 'prepareStackTrace'), l = describe(E, 'stackTraceLimit');
      if (!plain(p) || !plain(l)) return null;
      try {
        define(E, 'prepareStackTrace', { __proto__: null, value: sites, writable: true, configurable: true });
        define(E, 'stackTraceLimit', { __proto__: null, value: 32, writable: true, enumerable: true, configurable: true });
        return new E().stack;
      } catch (e) {
        return null;
      } finally {
        try { put('prepareStackTrace', p); put('stackTraceLimit', l); } catch (e) {}
      }
    };
    const first = stack();
    const site = first && first.length ? protoOf(first[0]) : null;
    if (!site || typeof site.getScriptHash !== 'function') return none;
    const urlOf = site.getScriptNameOrSourceURL, hashOf = site.getScriptHash;
    const fields = new W(), forms = new W(), seen = { __proto__: null };
    let log = '', lines = 0;
    const record = (field, how, s) => {
      for (let i = 0; i < s.length && lines < 500; i++) {
        const hash = apply(hashOf, s[i], []), url = apply(urlOf, s[i], []);
        const u = typeof url === 'string' ? url : '';
        if (typeof hash !== 'string' || hash === '' || apply(indexOf, u, ['` + internalSourceURL + `']) === 0) continue;
        const line = field + '\t' + how + '\t' + hash + '\t' + u + '\n';
        if (seen[line]) continue;
        seen[line] = true;
        log += line;
        lines++;
      }
    };
    const read = (el, how) => {
      const field = apply(wmGet, fields, [el]);
      if (field === undefined || lines >= 500) return;
      const s = stack();
      if (s) record(field, how, s);
    };
    const passOn = (e, fn) => {
      if (e !== null && (typeof e === 'object' || typeof e === 'function')) try { apply(capture, E, [e, fn]); } catch (x) {}
      return e;
    };
    const getters = {
      get value() {
        let v;
        try { v = apply(realValue, this, arguments); } catch (e) { throw passOn(e, gv); }
        if (typeof v === 'string' && v !== '') read(this, '` + skimguard.AccessReadsValue + `');
        return v;
      },
      get valueAsNumber() {
        let v;
        try { v = apply(realNumber, this, arguments); } catch (e) { throw passOn(e, gn); }
        if (v === v) read(this, '` + skimguard.AccessReadsValue + `');
        return v;
      },
    };
    const gv = describe(getters, 'value').get, gn = describe(getters, 'valueAsNumber').get;
    const textValue = apply(toString, gv, []), textNumber = apply(toString, gn, []);
    valueD.get = gv;
    define(Input.prototype, 'value', valueD);
    numberD.get = gn;
    define(Input.prototype, 'valueAsNumber', numberD);
    // FormData made from a form fires formdata at it, on the maker's stack.
    apply(listen, self, ['formdata', (ev) => {
      const list = lines < 500 && apply(wmGet, forms, [apply(targetOf, ev, [])]);
      if (!list) return;
      let filled = false;
      for (let i = 0; i < list.n; i += 2) {
        const v = apply(realValue, list[i], []);
        filled = filled || (typeof v === 'string' && v !== '');
      }
      const s = filled && stack();
      if (s) for (let i = 1; i < list.n; i += 2) record(list[i], '` + skimguard.AccessReadsFormData + `', s);
    }, true]);
    return {
      shown: (s) => s === textValue ? 'function get value() { [native code] }' : s === textNumber ? 'function get valueAsNumber() { [native code] }' : s,
      api: {
        mark(el, field) {
          apply(wmSet, fields, [el, field]);
          let form = null;
          try { form = apply(formOf, el, []); } catch (e) {}
          if (!form) return;
          let list = apply(wmGet, forms, [form]);
          if (!list) {
            list = { __proto__: null, n: 0 };
            apply(wmSet, forms, [form, list]);
          }
          list[list.n] = el;
          list[list.n + 1] = field;
          list.n += 2;
        },
        read() { return log; },
      },
    };
  })();
`

// markCardFields tells the hidden script of each frame which of its
// inputs are card fields, before the card is typed. A field that cannot be
// marked is typed into all the same.
func (s *scan) markCardFields(ctx context.Context, frames []*frameScan) {
	fn := "function(f) { return " + s.access.hook + ".mark(this, f);\n//# sourceURL=" + internalSourceURL + "mark.js\n}"
	for _, f := range frames {
		if f.res == nil || f.world == 0 {
			continue
		}
		for i, in := range f.res.Inputs {
			if in.Type == "select" || ctx.Err() != nil || s.unresponsive.Load() {
				continue // the hook watches inputs: a select's value is not card data
			}
			obj, err := s.elementObject(ctx, f.world, "inputs", i)
			if err != nil {
				continue
			}
			main, _, err := s.mainWorld(ctx, obj)
			if err != nil {
				continue
			}
			s.access.marked = true
			if _, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
				FunctionDeclaration: fn, ObjectID: main, Silent: new(true),
				Arguments: []*runtime.CallArgument{{Value: jsonString(in.Field)}},
			}); err != nil {
				s.log.Debug("marking a card field failed", "field", in.Field, "err", err)
			}
		}
	}
}

// mainWorld returns the page's own object for a node that obj, from
// skimguard's isolated world, stands for, and the node's backend id.
func (s *scan) mainWorld(ctx context.Context, obj runtime.RemoteObjectID) (runtime.RemoteObjectID, cdp.BackendNodeID, error) {
	d, err := call(ctx, s, dom.DescribeNode, dom.DescribeNodeParams{ObjectID: obj})
	if err != nil {
		return "", 0, err
	}
	if d.Node == nil {
		return "", 0, fmt.Errorf("node %s is gone", obj)
	}
	r, err := call(ctx, s, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: d.Node.BackendNodeID})
	if err != nil {
		return "", 0, err
	}
	if r.Object == nil || r.Object.ObjectID == "" {
		return "", 0, fmt.Errorf("node %d has no object", d.Node.BackendNodeID)
	}
	return r.Object.ObjectID, d.Node.BackendNodeID, nil
}

// accessNodesJS lists, in skimguard's isolated world of a frame, the nodes
// card data reaches (see accessNode), keeps them in the world's globals as
// access, the document first, and describes them.
const accessNodesJS = `(function (fields, buttons) {
  const g = globalThis.__skimguard, nodes = [], info = [], at = new Map();
  const all = fields.filter((f, i) => fields.indexOf(f) === i);
  const add = (n, role, fs) => {
    let i = at.get(n);
    if (i === undefined) {
      i = nodes.length;
      at.set(n, i);
      nodes.push(n);
      info.push({ role, fields: [] });
    }
    for (const f of fs) if (!info[i].fields.includes(f)) info[i].fields.push(f);
  };
  const up = (n) => n.parentNode instanceof ShadowRoot ? n.parentNode.host : n.parentNode;
  add(document, 'above', all);
  g.inputs.forEach((el, i) => {
    add(el, 'field', [fields[i]]);
    if (el.form) add(el.form, 'form', [fields[i]]);
    for (let p = up(el); p && p !== document; p = up(p)) add(p, 'above', [fields[i]]);
  });
  for (const b of buttons) {
    const el = g.buttons[b], fs = fields.filter((f, i) => el.form && g.inputs[i].form === el.form);
    add(el, 'button', fs.length ? fs : all);
  }
  g.access = nodes;
  return JSON.stringify(info);
})`

// accessNode is a node card data reaches: a card field, its form, the pay
// button ("field", "form", "button": every listener there sees the card),
// or an element or document above fields ("above": listeners of the
// events that carry what is typed see it); with the fields it reaches.
type accessNode struct {
	Role   string   `json:"role"`
	Fields []string `json:"fields"`
}

// typedEvents reach listeners above a field with what is typed into it;
// capturedEvents, which do not bubble, only those that capture.
var (
	typedEvents = map[string]bool{
		"input": true, "beforeinput": true, "change": true, "keydown": true, "keyup": true, "keypress": true, "textInput": true,
		"paste": true, "cut": true, "copy": true, "select": true, "compositionend": true, "focusin": true, "focusout": true,
		"submit": true, "formdata": true, "reset": true,
	}
	capturedEvents = map[string]bool{"focus": true, "blur": true, "invalid": true}
)

// seesCard reports whether a listener of typ on a node of role sees what
// is typed into the fields the node reaches.
func seesCard(role, typ string, capture bool) bool {
	return role != "above" || typedEvents[typ] || (capture && capturedEvents[typ])
}

// collectAccess finds, at the end of the window, which scripts can see
// the card fields of each frame.
func (s *scan) collectAccess(ctx context.Context, frames []*frameScan) {
	for _, f := range frames {
		if ctx.Err() != nil || s.unresponsive.Load() {
			return
		}
		if f.res == nil || f.world == 0 || len(f.res.Inputs) == 0 {
			continue
		}
		if err := s.frameAccess(ctx, f); err != nil {
			s.log.Debug("finding who sees the card fields of a frame failed", "frame", s.mask(f.url), "err", err)
		}
	}
}

// frameAccess adds to s.access.found what sees the card fields of frame f.
func (s *scan) frameAccess(ctx context.Context, f *frameScan) error {
	fields := make([]string, len(f.res.Inputs))
	for i, in := range f.res.Inputs {
		fields[i] = in.Field
	}
	// The pay button: the best of the frame's, as interact picks it.
	buttons := []int{}
	best := -1
	for i, b := range f.res.Buttons {
		switch {
		case b.Score > best:
			best, buttons = b.Score, []int{i}
		case b.Score == best:
			buttons = append(buttons, i)
		}
	}
	args, _ := json.Marshal([]any{fields, buttons})
	r, err := call(ctx, s, runtime.Evaluate, runtime.EvaluateParams{
		Expression: accessNodesJS + ".apply(null, " + string(args) + ")\n//# sourceURL=" + internalSourceURL + "access.js",
		ContextID:  f.world, ReturnByValue: new(true), Silent: new(true),
	})
	if err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("listing the nodes card data reaches: %s", exceptionText(r.ExceptionDetails))
	}
	var text string
	var nodes []accessNode
	if r.Result == nil {
		return errors.New("listing the nodes card data reaches gave nothing")
	}
	if err := json.Unmarshal(r.Result.Value, &text); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(text), &nodes); err != nil || len(nodes) == 0 {
		return fmt.Errorf("listing the nodes card data reaches: %q", text)
	}
	doc, err := s.elementObject(ctx, f.world, "access", 0)
	if err != nil {
		return err
	}

	// The document's listeners and those of every node under it, frames
	// and shadow roots included, in every world; and, in parallel, the
	// window's, which only the page's own window object shows, and the
	// hidden script's log.
	var (
		wg                sync.WaitGroup
		below, onWindow   []*domdebugger.EventListener
		log               string
		docID             cdp.BackendNodeID
		belowErr, mainErr error
	)
	wg.Go(func() {
		var res domdebugger.GetEventListenersResult
		res, belowErr = call(ctx, s, domdebugger.GetEventListeners, domdebugger.GetEventListenersParams{ObjectID: doc, Depth: new(int64(-1)), Pierce: new(true)})
		below = res.Listeners
	})
	wg.Go(func() {
		onWindow, log, docID, mainErr = s.mainWorldAccess(ctx, doc)
	})
	wg.Wait()
	if err := errors.Join(belowErr, mainErr); err != nil {
		return err
	}

	// The nodes card data reaches, by backend id: described only when a
	// listener sits on a node other than the document.
	role := map[cdp.BackendNodeID]int{docID: 0}
	if slices.ContainsFunc(below, func(l *domdebugger.EventListener) bool { return l.BackendNodeID != docID }) {
		ids, err := s.accessNodeIDs(ctx, f, len(nodes))
		if err != nil {
			return err
		}
		for i, id := range ids {
			if id != 0 {
				role[id] = i
			}
		}
	}

	st := &s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	add := func(rec *scriptRec, fs []string, how string) {
		if rec == nil {
			return // skimguard's own code, or a script past the inventory's bounds
		}
		for _, field := range fs {
			if len(s.access.found) < maxAccess {
				s.access.found = append(s.access.found, accessRec{rec: rec, field: field, how: how, frame: f.url})
			}
		}
	}
	for _, l := range below {
		i, ok := role[l.BackendNodeID]
		if !ok || !seesCard(nodes[i].Role, l.Type, l.UseCapture) {
			continue
		}
		add(st.scriptByID[l.ScriptID], nodes[i].Fields, skimguard.AccessListens+l.Type)
	}
	for _, l := range onWindow {
		if seesCard("above", l.Type, l.UseCapture) {
			add(st.scriptByID[l.ScriptID], nodes[0].Fields, skimguard.AccessListens+l.Type)
		}
	}
	var byHash map[string][]*scriptRec
	for line := range strings.Lines(log) {
		parts := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(parts) != 4 {
			continue
		}
		if byHash == nil {
			byHash = map[string][]*scriptRec{}
			for _, rec := range st.scripts {
				byHash[rec.v8Hash] = append(byHash[rec.v8Hash], rec)
			}
		}
		add(sameScript(byHash[parts[2]], parts[3], f.id), []string{parts[0]}, parts[1])
	}
	return nil
}

// sameScript picks among the scripts with one hash the one a stack frame
// of url in frame stands for: identical texts can run in several places.
func sameScript(recs []*scriptRec, url string, frame cdp.FrameID) *scriptRec {
	var best *scriptRec
	bestScore := -1
	for _, rec := range recs {
		score := 0
		if rec.url == url {
			score += 2
		}
		if rec.frameID == frame {
			score++
		}
		if score > bestScore {
			best, bestScore = rec, score
		}
	}
	return best
}

// mainWorldAccess reads, through the page's own objects of a frame whose
// document doc is in skimguard's world, the window's listeners and, once
// card fields were marked, the hidden script's log; with the document's
// backend id.
func (s *scan) mainWorldAccess(ctx context.Context, doc runtime.RemoteObjectID) ([]*domdebugger.EventListener, string, cdp.BackendNodeID, error) {
	mainDoc, docID, err := s.mainWorld(ctx, doc)
	if err != nil {
		return nil, "", 0, err
	}
	win, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		FunctionDeclaration: "function() { return window;\n//# sourceURL=" + internalSourceURL + "window.js\n}", ObjectID: mainDoc, Silent: new(true),
	})
	if err != nil {
		return nil, "", 0, err
	}
	if win.ExceptionDetails != nil {
		return nil, "", 0, fmt.Errorf("the frame's window: %s", exceptionText(win.ExceptionDetails))
	}
	if win.Result == nil || win.Result.ObjectID == "" {
		return nil, "", 0, errors.New("the frame has no window")
	}
	ls, err := call(ctx, s, domdebugger.GetEventListeners, domdebugger.GetEventListenersParams{ObjectID: win.Result.ObjectID})
	if err != nil {
		return nil, "", 0, err
	}
	if !s.access.marked {
		return ls.Listeners, "", docID, nil
	}
	r, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		FunctionDeclaration: "function() { return " + s.access.hook + ".read();\n//# sourceURL=" + internalSourceURL + "read.js\n}",
		ObjectID:            mainDoc, ReturnByValue: new(true), Silent: new(true),
	})
	if err != nil {
		return nil, "", 0, err
	}
	var log string
	if r.ExceptionDetails == nil && r.Result != nil {
		_ = json.Unmarshal(r.Result.Value, &log)
	}
	return ls.Listeners, log, docID, nil
}

// accessNodeIDs returns the backend ids of the n nodes accessNodesJS kept,
// 0 for one that could not be described.
func (s *scan) accessNodeIDs(ctx context.Context, f *frameScan, n int) ([]cdp.BackendNodeID, error) {
	list, err := call(ctx, s, runtime.Evaluate, runtime.EvaluateParams{
		Expression: "globalThis.__skimguard.access\n//# sourceURL=" + internalSourceURL + "access.js", ContextID: f.world, Silent: new(true),
	})
	if err != nil {
		return nil, err
	}
	if list.Result == nil || list.Result.ObjectID == "" {
		return nil, fmt.Errorf("the nodes card data reaches are gone")
	}
	props, err := call(ctx, s, runtime.GetProperties, runtime.GetPropertiesParams{ObjectID: list.Result.ObjectID, OwnProperties: new(true)})
	if err != nil {
		return nil, err
	}
	objs := make([]runtime.RemoteObjectID, n)
	for _, p := range props.Result {
		var i int
		if _, err := fmt.Sscanf(p.Name, "%d", &i); err == nil && i >= 0 && i < n && p.Value != nil {
			objs[i] = p.Value.ObjectID
		}
	}
	ids := make([]cdp.BackendNodeID, n)
	// A few at a time: each is one round trip.
	sem := make(chan struct{}, sourceWorkers)
	var wg sync.WaitGroup
	for i, obj := range objs {
		if obj == "" {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if d, err := call(ctx, s, dom.DescribeNode, dom.DescribeNodeParams{ObjectID: obj}); err == nil && d.Node != nil {
				ids[i] = d.Node.BackendNodeID
			}
		})
	}
	wg.Wait()
	return ids, ctx.Err()
}

// cardAccess is the observation's CardAccess from what collectAccess
// found; at gives a script record's index in obs.Scripts. Called with
// st.mu held.
func (s *scan) cardAccess(at func(*scriptRec) (int, bool)) []skimguard.CardAccess {
	var out []skimguard.CardAccess
	seen := map[skimguard.CardAccess]bool{}
	for _, a := range s.access.found {
		i, ok := at(a.rec)
		if !ok {
			continue
		}
		ca := skimguard.CardAccess{Script: i, Field: skimguard.CardField(a.field), How: a.how, Frame: a.frame}
		if !seen[ca] {
			seen[ca] = true
			out = append(out, ca)
		}
	}
	return out
}

// scriptIndex returns where each script record went in obs.Scripts, whose
// first len(from) scripts came from the records from, in order: an inline
// handler's record, which the DOM scan lists instead, is found by its
// text. Called with st.mu held.
func scriptIndex(obs *skimguard.Observation, from []*scriptRec) func(*scriptRec) (int, bool) {
	at := make(map[*scriptRec]int, len(from))
	for i, r := range from {
		at[r] = i
	}
	return func(r *scriptRec) (int, bool) {
		if r == nil {
			return 0, false
		}
		if i, ok := at[r]; ok {
			return i, true
		}
		for i := len(from); i < len(obs.Scripts); i++ {
			if sc := &obs.Scripts[i]; sc.Kind == skimguard.ScriptHandler && r.fetched && sc.Source == r.source && (r.frameURL == "" || sc.Frame == r.frameURL) {
				at[r] = i
				return i, true
			}
		}
		return 0, false
	}
}
