package crawler

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
)

// scanJS inventories one frame's document: script elements, inline event
// handlers, javascript: URLs, card-like inputs with their forms, and pay
// buttons. It runs in an isolated world and keeps the inputs and buttons it
// found in that world's globals for the interaction.
//
//go:embed scan.js
var scanJS string

// ownerJS describes a frame's owner element (iframe or frame). It runs in
// the parent frame's world after scanJS, and tells hidden owners with the
// test scanJS left there, so that frames and inputs are hidden alike.
const ownerJS = `function() {
  const a = (n) => this.getAttribute(n) || '';
  return JSON.stringify({name: a('name'), sandbox: this.hasAttribute('sandbox') ? (a('sandbox') || '(empty)') : '', allow: a('allow'),
    hidden: globalThis.__skimguard.hidden(this)});
//# sourceURL=` + internalSourceURL + `owner.js
}`

// worldName names skimguard's isolated worlds.
const worldName = "skimguard"

type scanResult struct {
	URL     string `json:"url"`
	Scripts []struct {
		Src         string `json:"src"`
		Integrity   string `json:"integrity"`
		CrossOrigin string `json:"crossorigin"`
		Text        string `json:"text"`
	} `json:"scripts"`
	Handlers []attrScript `json:"handlers"`
	JSURLs   []attrScript `json:"jsurls"`
	Forms    []struct {
		Action string `json:"action"`
		Method string `json:"method"`
		ID     string `json:"id"`
		Name   string `json:"name"`
	} `json:"forms"`
	Inputs  []scannedInput `json:"inputs"`
	Buttons []struct {
		Score   int  `json:"score"`
		Visible bool `json:"visible"`
	} `json:"buttons"`
}

type attrScript struct {
	Where  string `json:"where"`
	Source string `json:"source"`
}

type scannedInput struct {
	Field        string     `json:"field"`
	Part         string     `json:"part"` // number, exp, month, year, cvc, name
	Form         int        `json:"form"` // index in Forms, -1 when none
	Name         string     `json:"name"`
	ID           string     `json:"id"`
	Type         string     `json:"type"`
	Autocomplete string     `json:"autocomplete"`
	Visible      bool       `json:"visible"`
	MaxLength    int        `json:"maxlength"`
	Placeholder  string     `json:"placeholder"`
	Options      [][]string `json:"options"`
}

type ownerInfo struct {
	Name    string `json:"name"`
	Sandbox string `json:"sandbox"`
	Allow   string `json:"allow"`
	Hidden  bool   `json:"hidden"`
}

// frameScan is one frame of the page and what its document holds.
type frameScan struct {
	id       cdp.FrameID
	parentID cdp.FrameID
	url      string
	name     string
	world    runtime.ExecutionContextID
	res      *scanResult // nil when the scan failed
	owner    *ownerInfo
}

// scanFrames inventories every frame of the page, in tree order.
func (s *scan) scanFrames(ctx context.Context) ([]*frameScan, error) {
	tree, err := call(ctx, s, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		return nil, fmt.Errorf("reading the frame tree: %w", err)
	}
	var frames []*frameScan
	var walk func(t *page.FrameTree, parent cdp.FrameID)
	walk = func(t *page.FrameTree, parent cdp.FrameID) {
		if t == nil || t.Frame == nil || len(frames) >= maxFrames {
			return
		}
		frames = append(frames, &frameScan{id: t.Frame.ID, parentID: parent, url: t.Frame.URL + t.Frame.URLFragment, name: t.Frame.Name})
		for _, c := range t.ChildFrames {
			walk(c, t.Frame.ID)
		}
	}
	walk(tree.FrameTree, "")
	byID := map[cdp.FrameID]*frameScan{}
	for _, f := range frames {
		byID[f.id] = f
		if ctx.Err() != nil || s.unresponsive.Load() {
			break
		}
		w, err := call(ctx, s, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{
			FrameID: f.id, WorldName: worldName, GrantUniveralAccess: new(true),
		})
		if err != nil {
			s.log.Debug("no isolated world for frame", "frame", s.mask(f.url), "err", err)
			continue
		}
		f.world = w.ExecutionContextID
		r, err := call(ctx, s, runtime.Evaluate, runtime.EvaluateParams{
			Expression: scanJS, ContextID: f.world, ReturnByValue: new(true), Silent: new(true),
		})
		if err != nil || r.ExceptionDetails != nil || r.Result == nil {
			s.log.Debug("scanning frame failed", "frame", s.mask(f.url), "err", err)
			continue
		}
		var text string
		if err := json.Unmarshal(r.Result.Value, &text); err != nil {
			continue
		}
		var res scanResult
		if err := json.Unmarshal([]byte(text), &res); err != nil {
			continue
		}
		f.res = &res
	}
	// Owner elements: name, sandbox, allow and whether they are hidden.
	for _, f := range frames[1:] {
		p := byID[f.parentID]
		if p == nil || p.world == 0 || ctx.Err() != nil || s.unresponsive.Load() {
			continue
		}
		own, err := call(ctx, s, dom.GetFrameOwner, dom.GetFrameOwnerParams{FrameID: f.id})
		if err != nil {
			continue
		}
		obj, err := call(ctx, s, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: own.BackendNodeID, ExecutionContextID: p.world})
		if err != nil || obj.Object == nil {
			continue
		}
		r, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
			FunctionDeclaration: ownerJS, ObjectID: obj.Object.ObjectID, ReturnByValue: new(true), Silent: new(true),
		})
		if err != nil || r.ExceptionDetails != nil || r.Result == nil {
			continue
		}
		var text string
		var info ownerInfo
		if json.Unmarshal(r.Result.Value, &text) == nil && json.Unmarshal([]byte(text), &info) == nil {
			f.owner = &info
		}
	}
	return frames, nil
}

// collectDOM inventories the frames at the end of the window, within
// collectTimeout.
func (s *scan) collectDOM(ctx context.Context) []*frameScan {
	if s.unresponsive.Load() || ctx.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, collectTimeout)
	defer cancel()
	frames, err := s.scanFrames(ctx)
	if err != nil {
		s.log.Warn("reading the page's frames failed", "err", err)
	}
	s.collectAccess(ctx, frames)
	return frames
}

// elementObject returns a remote object for an element kept by scanJS in
// the isolated world: list is "inputs" or "buttons".
func (s *scan) elementObject(ctx context.Context, world runtime.ExecutionContextID, list string, i int) (runtime.RemoteObjectID, error) {
	r, err := call(ctx, s, runtime.Evaluate, runtime.EvaluateParams{
		Expression: fmt.Sprintf("globalThis.__skimguard.%s[%d]\n//# sourceURL=%selement.js", list, i, internalSourceURL),
		ContextID:  world, Silent: new(true),
	})
	if err != nil {
		return "", err
	}
	if r.ExceptionDetails != nil || r.Result == nil || r.Result.ObjectID == "" {
		return "", fmt.Errorf("element %s[%d] is gone", list, i)
	}
	return r.Result.ObjectID, nil
}
