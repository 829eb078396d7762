// Package recorder reads the user flows that Chrome DevTools' Recorder
// exports as JSON (the format @puppeteer/replay reads) as skimguard
// journeys, so that a way to a payment page recorded in Chrome replays as
// the page's journey.
//
// A flow is {"title", "timeout", "steps": [...]}. Its steps map to journey
// steps: navigate to goto, click and doubleClick to click and
// double_click, change to fill, a keyDown followed by the keyUp of the same
// key to press, scroll, hover, waitForElement to wait_for and
// waitForExpression to wait_for_expression. A step's selectors are
// alternatives, each a string or a chain of strings through shadow roots,
// in CSS or with the aria/, text/, xpath/ and pierce/ prefixes; frame is a
// path of child-frame indexes. setViewport is read and left to the page's
// browser profile, which sets the window. Whatever skimguard cannot replay
// as recorded (another tab, a held modifier key, a right click, network
// emulation, custom steps) is an error naming the step's index and line.
//
// The syntax of selectors is checked where journeys are validated, in
// package config; this package reads the format.
package recorder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// maxSize bounds an export: a flow is a few kilobytes.
const maxSize = 4 << 20

// Recording is a flow read from an export.
type Recording struct {
	// Title is the flow's title as recorded.
	Title string
	// Steps are the journey steps the flow's steps replay as. Each one's
	// Line and Column are those of the recorded step it comes from.
	Steps []skimguard.Step
}

// Error is one problem of an export.
type Error struct {
	// Line and Column are where the problem is in the export; Step is the
	// index of the step in the flow's steps, -1 for the flow itself.
	Line, Column, Step int
	Msg                string
}

func (e *Error) Error() string {
	if e.Step < 0 {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%d:%d: steps[%d]: %s", e.Line, e.Column, e.Step, e.Msg)
}

// flow is the JSON of a flow.
type flow struct {
	Title   string            `json:"title"`
	Timeout *float64          `json:"timeout"`
	Steps   []json.RawMessage `json:"steps"`
}

// step is the JSON of one step, every type's fields together.
type step struct {
	Type           string            `json:"type"`
	Target         string            `json:"target"`
	Frame          []int             `json:"frame"`
	Selectors      []json.RawMessage `json:"selectors"`
	Timeout        *float64          `json:"timeout"`
	AssertedEvents []struct {
		Type string `json:"type"`
	} `json:"assertedEvents"`

	URL        string   `json:"url"`
	Value      *string  `json:"value"`
	Key        string   `json:"key"`
	Y          *float64 `json:"y"`
	Button     string   `json:"button"`
	Operator   string   `json:"operator"`
	Count      *int     `json:"count"`
	Visible    *bool    `json:"visible"`
	Attributes any      `json:"attributes"`
	Properties any      `json:"properties"`
	Expression *string  `json:"expression"`
}

// Parse reads a Recorder export. The error, when not nil, joins one *Error
// per problem, every step's problems included.
func Parse(data []byte) (*Recording, error) {
	if len(data) > maxSize {
		return nil, &Error{Line: 1, Column: 1, Step: -1, Msg: fmt.Sprintf("the export is larger than %d bytes: it is not a Recorder flow", maxSize)}
	}
	var f flow
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(data, err)
	}
	if f.Steps == nil {
		return nil, &Error{Line: 1, Column: 1, Step: -1, Msg: `it has no "steps": export the flow from Chrome DevTools' Recorder as JSON`}
	}
	at := stepOffsets(data)
	p := parser{data: data, at: at}
	def := time.Duration(0)
	if f.Timeout != nil {
		def = p.timeout(-1, *f.Timeout)
	}
	rec := &Recording{Title: f.Title}
	for i := 0; i < len(f.Steps); i++ {
		var s step
		if err := json.Unmarshal(f.Steps[i], &s); err != nil {
			p.errorf(i, "it is not a step: %v", err)
			continue
		}
		at := i
		if s.Type == "keyDown" {
			// A key press is recorded as its keyDown and keyUp.
			var up step
			if i+1 >= len(f.Steps) || json.Unmarshal(f.Steps[i+1], &up) != nil || up.Type != "keyUp" || up.Key != s.Key {
				p.errorf(i, "keyDown %q is not followed by its keyUp: skimguard replays whole key presses, not keys held across other steps", s.Key)
				continue
			}
			i++
		}
		st, ok := p.convert(at, s)
		if !ok {
			continue
		}
		if st.Timeout == 0 {
			st.Timeout = def
		}
		st.Line, st.Column = p.pos(at)
		rec.Steps = append(rec.Steps, st)
	}
	if len(rec.Steps) == 0 && len(p.errs) == 0 {
		p.errorf(-1, "the flow has no step skimguard replays: record the way to the payment page")
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return rec, nil
}

// parser collects the problems of one export.
type parser struct {
	data []byte
	at   []int // offset of each step in data
	errs []error
}

// pos is the line and column of step i, or of the flow for -1.
func (p *parser) pos(i int) (int, int) {
	off := 0
	if i >= 0 && i < len(p.at) {
		off = p.at[i]
	}
	return lineCol(p.data, off)
}

func (p *parser) errorf(i int, format string, args ...any) {
	line, col := p.pos(i)
	p.errs = append(p.errs, &Error{Line: line, Column: col, Step: i, Msg: fmt.Sprintf(format, args...)})
}

// convert makes the journey step that replays s, step i of the flow.
func (p *parser) convert(i int, s step) (skimguard.Step, bool) {
	var out skimguard.Step
	if s.Target != "" && s.Target != "main" {
		p.errorf(i, "%s acts in another tab (%s): skimguard replays the flow in one tab; record it without opening another", s.Type, s.Target)
		return out, false
	}
	for _, e := range s.AssertedEvents {
		// A navigation the step starts is waited for whether asserted
		// or not.
		if e.Type != "navigation" {
			p.errorf(i, "asserted event %q cannot be replayed: skimguard waits for navigations only", e.Type)
			return out, false
		}
	}
	if s.Timeout != nil {
		out.Timeout = p.timeout(i, *s.Timeout)
	}
	ok := true
	target := func() skimguard.Target {
		t, good := p.target(i, s)
		ok = ok && good
		return t
	}
	switch s.Type {
	case "setViewport":
		// The page's browser profile sets the window; a recording's
		// size must not undo it.
		return out, false
	case "navigate":
		out.Kind, out.URL = skimguard.StepGoto, s.URL
		if s.URL == "" {
			p.errorf(i, `navigate has no "url"`)
			ok = false
		}
	case "click", "doubleClick":
		out.Kind = skimguard.StepClick
		if s.Type == "doubleClick" {
			out.Kind = skimguard.StepDoubleClick
		}
		if s.Button != "" && s.Button != "primary" {
			p.errorf(i, "%s with the %s button cannot be replayed: skimguard clicks with the primary button", s.Type, s.Button)
			ok = false
		}
		out.Target = target()
	case "hover":
		out.Kind, out.Target = skimguard.StepHover, target()
	case "change":
		out.Kind = skimguard.StepFill
		if s.Value == nil {
			p.errorf(i, `change has no "value"`)
			ok = false
		}
		out.Fields = []skimguard.Field{{Target: target(), Value: deref(s.Value)}}
	case "keyDown":
		out.Kind, out.Key = skimguard.StepPress, keyName(s.Key)
		if !skimguard.IsKeyName(out.Key) {
			p.errorf(i, "key %q cannot be pressed: skimguard presses %s, and single characters", s.Key, strings.Join(skimguard.KeyNames(), ", "))
			ok = false
		}
	case "keyUp":
		p.errorf(i, "keyUp %q comes without its keyDown: record the key press again", s.Key)
		ok = false
	case "scroll":
		out.Kind = skimguard.StepScroll
		if s.Y != nil && *s.Y > 0 {
			out.ScrollY = int(math.Round(*s.Y))
		}
		if len(s.Selectors) > 0 {
			out.Target = target()
		} else if len(s.Frame) > 0 {
			p.errorf(i, "scroll of a frame's page cannot be replayed: skimguard scrolls the main page or an element")
			ok = false
		}
	case "waitForElement":
		out.Kind, out.Target = skimguard.StepWaitFor, target()
		count := 1
		if s.Count != nil {
			count = *s.Count
		}
		switch {
		case count != 1 || (s.Operator != "" && s.Operator != ">=" && s.Operator != "=="):
			p.errorf(i, "waitForElement for %s %d elements cannot be replayed: skimguard waits for one visible element", cmpText(s.Operator), count)
			ok = false
		case s.Visible != nil && !*s.Visible:
			p.errorf(i, "waitForElement for a hidden element cannot be replayed: skimguard waits for one visible element")
			ok = false
		case s.Attributes != nil || s.Properties != nil:
			p.errorf(i, "waitForElement with attributes or properties cannot be replayed: skimguard waits for one visible element")
			ok = false
		}
	case "waitForExpression":
		out.Kind = skimguard.StepWaitForExpression
		if s.Expression == nil || strings.TrimSpace(*s.Expression) == "" {
			p.errorf(i, `waitForExpression has no "expression"`)
			ok = false
		} else {
			out.Expression = *s.Expression
		}
		if len(s.Frame) > 0 {
			p.errorf(i, "waitForExpression in a frame cannot be replayed: skimguard runs expressions in the main page")
			ok = false
		}
	case "close", "emulateNetworkConditions", "customStep":
		p.errorf(i, "%s cannot be replayed: remove the step from the recording", s.Type)
		ok = false
	case "":
		p.errorf(i, `the step has no "type"`)
		ok = false
	default:
		p.errorf(i, "unknown step type %q: skimguard replays navigate, click, doubleClick, change, keyDown and keyUp, scroll, hover, waitForElement and waitForExpression", s.Type)
		ok = false
	}
	return out, ok
}

// target reads the selectors and frame of step i.
func (p *parser) target(i int, s step) (skimguard.Target, bool) {
	t := skimguard.Target{Frame: s.Frame}
	for _, f := range s.Frame {
		if f < 0 {
			p.errorf(i, "frame %v has a negative index", s.Frame)
			return t, false
		}
	}
	if len(s.Selectors) == 0 {
		p.errorf(i, `%s has no "selectors"`, s.Type)
		return t, false
	}
	for _, raw := range s.Selectors {
		var one string
		var chain []string
		switch {
		case json.Unmarshal(raw, &one) == nil:
			chain = []string{one}
		case json.Unmarshal(raw, &chain) == nil:
		default:
			p.errorf(i, "selector %s is neither a string nor a list of strings", raw)
			return t, false
		}
		if len(chain) == 0 || chain[0] == "" {
			p.errorf(i, "a selector of %s is empty", s.Type)
			return t, false
		}
		t.Selectors = append(t.Selectors, chain)
	}
	return t, true
}

// timeout reads a timeout in milliseconds.
func (p *parser) timeout(i int, ms float64) time.Duration {
	d := time.Duration(ms * float64(time.Millisecond))
	if ms <= 0 || d > 5*time.Minute {
		p.errorf(i, "timeout %v ms is out of range: use more than 0 and at most 300000", ms)
		return 0
	}
	return d
}

// keyName is the press step's name of a recorded key.
func keyName(k string) string {
	switch k {
	case "\r", "\n", "NumpadEnter":
		return "Enter"
	case " ":
		return "Space"
	}
	return k
}

func cmpText(op string) string {
	switch op {
	case "<=":
		return "at most"
	case "==":
		return "exactly"
	}
	return "at least"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// stepOffsets returns the offset in data of each element of the top-level
// "steps" array, in order; nil when data is not such an object.
func stepOffsets(data []byte) []int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		if key != "steps" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return nil
		}
		var at []int
		for dec.More() {
			off := int(dec.InputOffset())
			for off < len(data) && (data[off] == ',' || data[off] == ' ' || data[off] == '\t' || data[off] == '\n' || data[off] == '\r') {
				off++
			}
			at = append(at, off)
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return at
			}
		}
		return at
	}
	return nil
}

// lineCol is the line and column, from 1, of offset off in data.
func lineCol(data []byte, off int) (int, int) {
	off = min(off, len(data))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// jsonError says where the JSON of an export is broken.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := 0
	switch {
	case errors.As(err, &se):
		off = int(se.Offset) - 1 // the offset is after the byte at fault
	case errors.As(err, &te):
		off = int(te.Offset)
	}
	line, col := lineCol(data, max(off, 0))
	return &Error{Line: line, Column: col, Step: -1, Msg: "it is not a Recorder export (" + err.Error() + "): export the flow from Chrome DevTools' Recorder as JSON"}
}
