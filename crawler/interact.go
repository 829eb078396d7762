package crawler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// selectJS picks the option of a <select> that matches the card's month or
// year, and tells the page as a change would.
const selectJS = `function(part, mm, yy) {
  const want = part === 'month' ? [mm, String(Number(mm))] : [yy, '20' + yy];
  for (const o of this.options) {
    const v = o.value.trim(), t = o.text.trim();
    if (want.includes(v) || want.includes(t) || (part === 'month' && /^\d+$/.test(v) && Number(v) === Number(mm))) {
      this.value = o.value;
      this.dispatchEvent(new Event('input', {bubbles: true}));
      this.dispatchEvent(new Event('change', {bubbles: true}));
      return true;
    }
  }
  return false;
//# sourceURL=` + internalSourceURL + `select.js
}`

const hasValueJS = `function() { return typeof this.value === 'string' && this.value.length > 0;
//# sourceURL=` + internalSourceURL + `value.js
}`

const blurJS = `function() { this.blur();
//# sourceURL=` + internalSourceURL + `blur.js
}`

// interact types the test card into every card-like field of every frame,
// key by key, moves focus away, then hovers the pay button and releases the
// mouse on it without a press, so mouseup listeners fire and nothing is
// clicked or submitted. A main-frame navigation started from now on is
// cancelled.
func (s *scan) interact(ctx context.Context) error {
	frames, err := s.scanFrames(ctx)
	if err != nil {
		return err
	}
	type target struct {
		f  *frameScan
		i  int
		in scannedInput
	}
	var fields []target
	for _, f := range frames {
		if f.res == nil {
			continue
		}
		for i, in := range f.res.Inputs {
			fields = append(fields, target{f, i, in})
		}
	}
	if len(fields) == 0 {
		s.log.Debug("no card-like field to type into")
		return nil
	}

	if err := s.guardNavigation(ctx); err != nil {
		return err
	}
	s.markCardFields(ctx, frames)
	s.st.mu.Lock()
	s.st.typing = true
	s.st.mu.Unlock()

	var last runtime.RemoteObjectID
	typed := false
	for _, t := range fields {
		if !t.in.Visible && t.in.Type != "select" {
			// Shoppers cannot type into hidden fields; a skimmer's
			// decoy stays empty as it would for them.
			continue
		}
		obj, err := s.elementObject(ctx, t.f.world, "inputs", t.i)
		if err != nil {
			if s.unresponsive.Load() {
				return errUnresponsive
			}
			continue
		}
		ok, err := s.fill(ctx, obj, t.in)
		if err != nil {
			if s.unresponsive.Load() {
				return errUnresponsive
			}
			s.log.Debug("typing into a field failed", "field", t.in.Field, "err", err)
			continue
		}
		if ok {
			typed = true
			last = obj
		}
	}
	if last != "" {
		_, _ = call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{FunctionDeclaration: blurJS, ObjectID: last, Silent: new(true)})
	}
	s.st.mu.Lock()
	s.typed = typed
	s.st.mu.Unlock()

	// The pay button: best score over all frames, the first on a tie.
	var best *frameScan
	bi, bs := -1, -1
	for _, f := range frames {
		if f.res == nil {
			continue
		}
		for i, b := range f.res.Buttons {
			if b.Score > bs {
				best, bi, bs = f, i, b.Score
			}
		}
	}
	if best != nil {
		if err := s.mouseUpOn(ctx, best, bi); err != nil {
			s.log.Debug("hovering the pay button failed", "err", err)
		}
	}
	if s.unresponsive.Load() {
		return errUnresponsive
	}
	return nil
}

// guardNavigation turns the navigation guard on: from now on, every
// navigation of the main frame is cancelled (see onPaused), so that the
// page observed stays and nothing is submitted. Turning it on again changes
// nothing.
func (s *scan) guardNavigation(ctx context.Context) error {
	if _, err := call(ctx, s, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{
		URLPattern: "*", ResourceType: network.ResourceTypeDocument, RequestStage: fetch.RequestStageRequest,
	}}}); err != nil {
		return fmt.Errorf("guarding navigation: %w", err)
	}
	return nil
}

// fill types the card's value for one field. It reports whether the field
// holds a value afterwards.
func (s *scan) fill(ctx context.Context, obj runtime.RemoteObjectID, in scannedInput) (bool, error) {
	if in.Type == "select" {
		r, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
			FunctionDeclaration: selectJS, ObjectID: obj, ReturnByValue: new(true), Silent: new(true),
			Arguments: []*runtime.CallArgument{{Value: jsonString(in.Part)}, {Value: jsonString(s.card.ExpMonth)}, {Value: jsonString(s.card.ExpYear)}},
		})
		if err != nil {
			return false, err
		}
		return r.Result != nil && string(r.Result.Value) == "true", nil
	}
	value := s.valueFor(in)
	if value == "" {
		return false, nil
	}
	_, _ = call(ctx, s, dom.ScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{ObjectID: obj})
	if _, err := call(ctx, s, dom.Focus, dom.FocusParams{ObjectID: obj}); err != nil {
		return false, err
	}
	if s.unresponsive.Load() {
		return false, errUnresponsive
	}
	// One trusted key event at a time: skimmers listen on keydown, input,
	// keyup, as shoppers type.
	for _, r := range value {
		kctx, cancel := context.WithTimeout(ctx, cmdTimeout)
		err := chromedp.Do(kctx, chromedp.KeyEvent(string(r)))
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				s.unresponsive.Store(true)
			}
			return false, err
		}
	}
	r, err := call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		FunctionDeclaration: hasValueJS, ObjectID: obj, ReturnByValue: new(true), Silent: new(true),
	})
	if err != nil {
		return false, err
	}
	return r.Result != nil && string(r.Result.Value) == "true", nil
}

// valueFor is what a shopper types into the field.
func (s *scan) valueFor(in scannedInput) string {
	c := s.card
	long := in.MaxLength >= 4 || strings.Contains(strings.ToLower(in.Placeholder), "yyyy")
	switch in.Part {
	case "number":
		return c.Number
	case "exp":
		if in.MaxLength >= 7 || strings.Contains(strings.ToLower(in.Placeholder), "yyyy") {
			return c.ExpMonth + "/20" + c.ExpYear
		}
		return c.Expiry()
	case "month":
		return c.ExpMonth
	case "year":
		if long && in.MaxLength != 2 {
			return "20" + c.ExpYear
		}
		return c.ExpYear
	case "cvc":
		return c.CVC
	case "name":
		return c.Name
	}
	return ""
}

// mouseUpOn moves the mouse over the button and releases it there without
// a press: mouseover and mouseup listeners fire, click and submit do not.
func (s *scan) mouseUpOn(ctx context.Context, f *frameScan, i int) error {
	obj, err := s.elementObject(ctx, f.world, "buttons", i)
	if err != nil {
		return err
	}
	_, _ = call(ctx, s, dom.ScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{ObjectID: obj})
	box, err := call(ctx, s, dom.GetBoxModel, dom.GetBoxModelParams{ObjectID: obj})
	if err != nil {
		return err
	}
	q := box.Model.Border
	if len(q) < 8 {
		return errors.New("pay button has no box")
	}
	x := (q[0] + q[2] + q[4] + q[6]) / 4
	y := (q[1] + q[3] + q[5] + q[7]) / 4
	if _, err := call(ctx, s, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: input.DispatchMouseEventTypeMouseMoved, X: x, Y: y}); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond)
	_, err = call(ctx, s, input.DispatchMouseEvent, input.DispatchMouseEventParams{
		Type: input.DispatchMouseEventTypeMouseReleased, X: x, Y: y, Button: input.MouseButtonLeft, ClickCount: 1,
	})
	return err
}

func jsonString(v string) []byte {
	b, _ := json.Marshal(v)
	return b
}
