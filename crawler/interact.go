package crawler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
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

// interact types the scan's card into every card-like field of every frame
// as a shopper does: the mouse goes to each field and clicks into it, and
// the keys follow one at a time with small random gaps. Then the focus
// leaves the last field (Tab), and the mouse goes to the pay button and is
// released there without a press, so mouseup listeners fire and nothing is
// clicked or submitted. The pace is set so that all of it ends at by,
// within a person's bounds. A main-frame navigation started from now on is
// cancelled.
func (s *scan) interact(ctx context.Context, by time.Time) error {
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
	keys := 0
	for _, f := range frames {
		if f.res == nil {
			continue
		}
		for i, in := range f.res.Inputs {
			if !in.Visible && in.Type != "select" {
				// Shoppers cannot type into hidden fields; a skimmer's
				// decoy stays empty as it would for them.
				continue
			}
			fields = append(fields, target{f, i, in})
			keys += len([]rune(s.valueFor(in)))
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
	for i, t := range fields {
		s.paceFor(by, keys, len(fields)-i+1)
		keys -= len([]rune(s.valueFor(t.in)))
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
			if t.in.Type != "select" {
				last = obj
			}
		}
	}
	if last != "" {
		s.leave(ctx, last)
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
		s.paceFor(by, 0, 1)
		if err := s.mouseUpOn(ctx, best, bi); err != nil {
			s.log.Debug("hovering the pay button failed", "err", err)
		}
	}
	if s.unresponsive.Load() {
		return errUnresponsive
	}
	return nil
}

// paceFor sets the hand's pace so that typing keys and moving to moves
// targets ends by by. It is set again before each field, so that a page
// or a machine slower than planned makes the rest faster, not later.
func (s *scan) paceFor(by time.Time, keys, moves int) {
	h := &s.hand
	h.step, h.key, h.hurry = pace(time.Until(by), keys, moves)
}

// Per target: the steps of a mouse path, and a click's press.
const (
	stepsPerMove = 12
	holdPerMove  = 70 * time.Millisecond
)

// pace shares avail between moves mouse paths and keys keys: about a third
// for the mouse, the rest for the keys, within a person's bounds. hurry
// says that even the fastest pace does not fit.
func pace(avail time.Duration, keys, moves int) (step, key time.Duration, hurry bool) {
	avail = max(avail, 0)
	moves, keys = max(moves, 1), max(keys, 1)
	step = min(max(avail/3/time.Duration(moves*stepsPerMove), minStepGap), maxStepGap)
	rest := avail - time.Duration(moves)*(stepsPerMove*step+holdPerMove)
	key = min(max(rest/time.Duration(keys), minKeyGap), maxKeyGap)
	hurry = time.Duration(moves)*(stepsPerMove*minStepGap+holdPerMove)+time.Duration(keys)*minKeyGap > avail
	return step, key, hurry
}

// leave moves the focus out of the last field typed into, as a person
// does with Tab; should the field keep the focus (a page that traps it),
// it is blurred.
func (s *scan) leave(ctx context.Context, obj runtime.RemoteObjectID) {
	if err := s.typeText(ctx, "\t"); err == nil && !s.focused(ctx, obj) {
		return
	}
	_, _ = call(ctx, s, runtime.CallFunctionOn, runtime.CallFunctionOnParams{FunctionDeclaration: blurJS, ObjectID: obj, Silent: new(true)})
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

// fill types the card's value for one field: the mouse goes to it and
// clicks into it, then the keys follow (a <select> is chosen from). It
// reports whether the field holds a value afterwards.
func (s *scan) fill(ctx context.Context, obj runtime.RemoteObjectID, in scannedInput) (bool, error) {
	if in.Type == "select" {
		// Its list is chosen from without opening it: a shopper's mouse
		// passes over it on the way.
		if x, y, err := s.aim(ctx, obj); err == nil && !s.hand.touch {
			_ = s.moveTo(ctx, x, y)
		}
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
	if err := s.clickInto(ctx, obj); err != nil {
		return false, err
	}
	if s.unresponsive.Load() {
		return false, errUnresponsive
	}
	// One trusted key event at a time: skimmers listen on keydown, input,
	// keyup, as shoppers type.
	if err := s.typeText(ctx, value); err != nil {
		return false, err
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

// mouseUpOn moves the mouse to the button along a path, rests on it a
// moment and releases it there without a press: mouseover and mouseup
// listeners fire, click and submit do not.
func (s *scan) mouseUpOn(ctx context.Context, f *frameScan, i int) error {
	obj, err := s.elementObject(ctx, f.world, "buttons", i)
	if err != nil {
		return err
	}
	x, y, err := s.aim(ctx, obj)
	if err != nil {
		return err
	}
	if err := s.moveTo(ctx, x, y); err != nil {
		return err
	}
	if err := pause(ctx, s.hand.jitter(120*time.Millisecond, 0.5)); err != nil {
		return err
	}
	_, err = call(ctx, s, input.DispatchMouseEvent, input.DispatchMouseEventParams{
		Type: input.DispatchMouseEventTypeMouseReleased, X: x, Y: y, Button: input.MouseButtonLeft, ClickCount: 1,
	})
	return err
}

func jsonString(v string) []byte {
	b, _ := json.Marshal(v)
	return b
}
