package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/recorder"
)

// Bounds of a journey.
const (
	maxSteps        = 100
	maxStepDuration = 5 * time.Minute
	maxScrollY      = 1_000_000
	maxFrameIndex   = 1000
)

// stepDecoding is a step while it is read: the step, and the keys of the
// step kinds written in it, to tell a step with two kinds.
type stepDecoding struct {
	skimguard.Step
	kinds []string
	// frame is the frame: key, which applies to every element of the
	// step, whatever order the keys are written in.
	frame []int
}

// setKind records kind as a kind of the step; the first one written is the
// step's.
func (s *stepDecoding) setKind(kind skimguard.StepKind) {
	if len(s.kinds) == 0 {
		s.Kind = kind
	}
	s.kinds = append(s.kinds, string(kind))
}

// stepFields are the keys of a journey step: one kind, with its value, and
// the step's options.
var stepFields = []field[stepDecoding]{
	{
		key: string(skimguard.StepGoto),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepGoto)
			s.URL = d.gotoURL(v)
		},
	},
	{
		key: string(skimguard.StepClick),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepClick)
			s.Target = d.target(v, "click")
		},
	},
	{
		key: string(skimguard.StepDoubleClick),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepDoubleClick)
			s.Target = d.target(v, "double_click")
		},
	},
	{
		key: string(skimguard.StepFill),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepFill)
			s.Fields = d.fields(v, "fill", `{"#email": "monitor@example.com"}`)
		},
	},
	{
		key: string(skimguard.StepSelect),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepSelect)
			s.Fields = d.fields(v, "select", `{"#country": "DE"}`)
		},
	},
	{
		key: string(skimguard.StepPress),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepPress)
			s.Key = d.key(v)
		},
	},
	{
		key: string(skimguard.StepHover),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepHover)
			s.Target = d.target(v, "hover")
		},
	},
	{
		key: string(skimguard.StepScroll),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepScroll)
			d.scroll(v, &s.Step)
		},
	},
	{
		key: string(skimguard.StepWaitFor),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepWaitFor)
			s.Target = d.target(v, "wait_for")
		},
	},
	{
		key: string(skimguard.StepWaitForExpression),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepWaitForExpression)
			s.Expression, _ = d.str(v, "wait_for_expression", `"window.checkoutReady === true"`)
			if err := checkExpression(s.Expression); err != nil {
				d.errorf(v, "wait_for_expression: %v", err)
			}
		},
	},
	{
		key: string(skimguard.StepWait),
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) {
			s.setKind(skimguard.StepWait)
			s.Duration = d.stepDuration(v, "wait", "2s")
		},
	},
	{
		key:    "timeout",
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) { s.Timeout = d.stepDuration(v, "timeout", "30s") },
	},
	{
		key:    "frame",
		decode: func(d *decoder, s *stepDecoding, v *yaml.Node) { s.frame = d.frame(v) },
	},
}

// stepOptions are the keys of stepFields that are not a step's kind.
var stepOptions = []string{"timeout", "frame"}

// stepKindKeys are the keys of stepFields that name a step's kind.
func stepKindKeys() []string {
	var keys []string
	for _, f := range stepFields {
		if !slices.Contains(stepOptions, f.key) {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// decodeJourney reads a page's steps: the journey that leads to it.
func decodeJourney(d *decoder, n *yaml.Node) *skimguard.Journey {
	j := &skimguard.Journey{File: d.file}
	items := 0
	ok := d.list(n, "steps", "- goto: https://shop.example/cart", func(item *yaml.Node) {
		items++
		if items > maxSteps {
			if items == maxSteps+1 {
				d.errorf(item, "a journey has at most %d steps: shorten it", maxSteps)
			}
			return
		}
		item = d.resolve(item)
		var s stepDecoding
		has, ok := decodeMap(d, item, "a step", stepFields, &s)
		if !ok {
			return
		}
		switch len(s.kinds) {
		case 0:
			// Unknown keys were reported already, with what they may mean.
			if len(has) == 0 || s.Timeout > 0 || s.frame != nil {
				d.errorf(item, "the step does nothing: give it one of %s", strings.Join(stepKindKeys(), ", "))
			}
			return
		case 1:
		default:
			d.errorf(has[s.kinds[1]].key, "a step does one thing, and this one has both %s and %s: split it into two steps", s.kinds[0], s.kinds[1])
			return
		}
		s.Line, s.Column = item.Line, item.Column
		if len(s.frame) > 0 {
			if err := s.setFrame(s.frame); err != nil {
				d.errorf(has["frame"].value, "frame: %v", err)
			}
		}
		if len(j.Steps) == 0 && items == 1 {
			if err := checkStart(s.Step); err != nil {
				d.errorf(item, "%v", err)
			}
		}
		j.Steps = append(j.Steps, s.Step)
	})
	if ok && items == 0 || isNull(d.resolve(n)) {
		d.errorf(n, "steps is empty: list the steps that lead to the page, starting with goto:, or leave steps out")
	}
	return j
}

// gotoURL reads the address of a goto step: absolute http or https, ${NAME}
// references allowed (a sign-in link with a token), no literal password.
func (d *decoder) gotoURL(n *yaml.Node) string {
	s, ok := d.str(n, "goto", "https://shop.example/cart")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "goto is empty: write the address to load, such as https://shop.example/cart")
		}
		return ""
	}
	if err := checkGoto(s); err != nil {
		d.errorf(n, "%v", err)
	}
	return s
}

// checkGoto says what is wrong with the address of a goto step, or nil.
func checkGoto(s string) error {
	if _, err := skimguard.ParseEnvRefs(s); err != nil {
		return fmt.Errorf("goto: %w", err)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("goto %q is not an absolute http or https address: write it in full, such as https://shop.example/cart", s)
	}
	if pw, hasPassword := u.User.Password(); hasPassword && !skimguard.IsEnvRef(pw) {
		return fmt.Errorf("goto %q holds a literal password: write it as ${NAME} and set NAME in the environment, or sign in with fill and click steps", u.Redacted())
	}
	return nil
}

// checkFieldValue says what is wrong with the value a fill or select step
// gives the target, or nil: a malformed reference, or a literal secret.
func checkFieldValue(t skimguard.Target, v string) error {
	if _, err := skimguard.ParseEnvRefs(v); err != nil {
		return fmt.Errorf("the value for %q: %w", t.String(), err)
	}
	if skimguard.IsEnvRef(v) {
		return nil
	}
	for _, chain := range t.Selectors {
		for _, part := range chain {
			if looksSecret(part) {
				return fmt.Errorf("%q gets a literal secret: write its value as \"${NAME}\" and set NAME in the environment; secrets never go in sites.yaml or a recording", t.String())
			}
		}
	}
	return nil
}

// checkKey says what is wrong with the key of a press step, or nil.
func checkKey(s string) error {
	if skimguard.IsKeyName(s) {
		return nil
	}
	keys := strings.Join(skimguard.KeyNames(), ", ")
	if c := closest(s, skimguard.KeyNames()); c != "" {
		return fmt.Errorf("press: unknown key %q; did you mean %q? The keys are %s, and any single character", s, c, keys)
	}
	return fmt.Errorf("press: unknown key %q; the keys are %s, and any single character", s, keys)
}

// checkExpression says what is wrong with a wait_for_expression, or nil.
func checkExpression(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("the expression is empty: write JavaScript that becomes true when the page is ready, such as \"window.checkoutReady === true\"")
	}
	return nil
}

// checkStart says what is wrong with the first step of a journey, or nil.
func checkStart(s skimguard.Step) error {
	if s.Kind != skimguard.StepGoto {
		return errors.New("the journey starts in an empty tab: make its first step goto: followed by the address to start from")
	}
	return nil
}

// setFrame puts every element of the step in the frame at path.
func (s *stepDecoding) setFrame(path []int) error {
	switch s.Kind {
	case skimguard.StepGoto, skimguard.StepPress, skimguard.StepWait:
		return fmt.Errorf("a %s step acts on the page, not on an element of a frame: remove frame", s.Kind)
	case skimguard.StepWaitForExpression:
		return errors.New("wait_for_expression runs in the main page, not in a frame: remove frame")
	case skimguard.StepScroll:
		if s.Target.Selectors == nil {
			return errors.New("scroll to a position scrolls the main page: remove frame, or scroll an element of the frame")
		}
	}
	s.Target.Frame = path
	for i := range s.Fields {
		s.Fields[i].Target.Frame = path
	}
	return nil
}

// checkStep says what is wrong with a step read from a recording: the
// checks a step in sites.yaml gets as it is read.
func checkStep(s skimguard.Step) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch s.Kind {
	case skimguard.StepGoto:
		add(checkGoto(s.URL))
	case skimguard.StepFill, skimguard.StepSelect:
		for _, f := range s.Fields {
			add(checkTarget(f.Target))
			add(checkFieldValue(f.Target, f.Value))
		}
	case skimguard.StepPress:
		add(checkKey(s.Key))
	case skimguard.StepWaitForExpression:
		add(checkExpression(s.Expression))
	case skimguard.StepWait:
	case skimguard.StepScroll:
		if s.Target.Selectors != nil {
			add(checkTarget(s.Target))
		}
	default:
		add(checkTarget(s.Target))
	}
	return errs
}

// target reads the selector of the element a step (key) acts on.
func (d *decoder) target(n *yaml.Node, key string) skimguard.Target {
	s, ok := d.str(n, key, `"#pay"`)
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "%s is empty: write a CSS selector such as \"#pay\"", key)
		}
		return skimguard.Target{}
	}
	chain, err := parseSelector(s)
	if err != nil {
		d.errorf(n, "%s: %v", key, err)
	}
	return skimguard.Target{Selectors: [][]string{chain}}
}

// fields reads the map of a fill or select step (key): selector → value,
// in the order written.
func (d *decoder) fields(n *yaml.Node, key, example string) []skimguard.Field {
	n = d.resolve(n)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		d.errorf(n, "%s must be a map of selectors to values, such as %s, not %s", key, example, kindName(n))
		return nil
	}
	var fs []skimguard.Field
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), d.resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			d.errorf(k, "%s: each key must be a selector, such as \"#email\", not %s", key, kindName(k))
			continue
		}
		sel := k.Value
		if line, dup := seen[sel]; dup {
			d.errorf(k, "%s: %q appears twice in this step (first at line %d): keep one", key, sel, line)
			continue
		}
		seen[sel] = k.Line
		chain, err := parseSelector(sel)
		if err != nil {
			d.errorf(k, "%s: %v", key, err)
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			d.errorf(v, "%s: the value for %q must be the text to give it (\"\" for none), not %s", key, sel, kindName(v))
			continue
		}
		t := skimguard.Target{Selectors: [][]string{chain}}
		if err := checkFieldValue(t, v.Value); err != nil {
			d.errorf(v, "%s: %v", key, err)
		}
		fs = append(fs, skimguard.Field{Target: t, Value: v.Value})
	}
	return fs
}

// key reads the key of a press step.
func (d *decoder) key(n *yaml.Node) string {
	s, ok := d.str(n, "press", "Enter")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "press is empty: write a key such as Enter or Tab")
		}
		return ""
	}
	if err := checkKey(s); err != nil {
		d.errorf(n, "%v", err)
	}
	return s
}

// scroll reads a scroll step: a position in pixels scrolls the page there;
// a selector brings that element into view; a selector and a position
// scroll that element's content there.
func (d *decoder) scroll(n *yaml.Node, s *skimguard.Step) {
	const forms = `a position in pixels (scroll: 600), a selector to bring into view (scroll: "#terms"), or a selector and the position of its content (scroll: {"#list": 300})`
	n = d.resolve(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!int":
		s.ScrollY = d.scrollY(n)
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		s.Target = d.target(n, "scroll")
		s.IntoView = true
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		s.Target = d.target(n.Content[0], "scroll")
		s.ScrollY = d.scrollY(d.resolve(n.Content[1]))
	default:
		d.errorf(n, "scroll takes %s, not %s", forms, kindName(n))
	}
}

// scrollY reads a scroll position in pixels.
func (d *decoder) scrollY(n *yaml.Node) int {
	y, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || y < 0 || y > maxScrollY {
		what := kindName(n)
		if n.Kind == yaml.ScalarNode {
			what = strconv.Quote(n.Value)
		}
		d.errorf(n, "scroll position %s is not a number of pixels from 0 to %d", what, maxScrollY)
		return 0
	}
	return y
}

// frame reads the frame: of a step, a list of child-frame indexes from the
// main frame, as Chrome's Recorder writes it.
func (d *decoder) frame(n *yaml.Node) []int {
	path := []int{}
	bad := false
	d.list(n, "frame", "[0]", func(item *yaml.Node) {
		item = d.resolve(item)
		i, err := strconv.Atoi(item.Value)
		if item.Kind != yaml.ScalarNode || err != nil || i < 0 || i > maxFrameIndex {
			d.errorf(item, "frame: %s is not a frame index (0 for the first frame of the page, 1 for the second...)", kindName(item))
			bad = true
			return
		}
		path = append(path, i)
	})
	switch {
	case bad:
		return nil
	case len(path) == 0 && d.resolve(n).Kind == yaml.SequenceNode:
		d.errorf(n, "frame is empty: list frame indexes, such as [0] for the page's first frame or [0, 1] for the second frame in it")
	}
	return path
}

// stepDuration reads a step's wait or timeout.
func (d *decoder) stepDuration(n *yaml.Node, key, example string) time.Duration {
	s, ok := d.str(n, key, example)
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "%s is empty: write a duration such as %s", key, example)
		}
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(n, "%s %q is not a duration: write a number with a unit, such as %s", key, s, example)
		return 0
	}
	if v <= 0 || v > maxStepDuration {
		d.errorf(n, "%s %s is out of range: use more than 0s and at most %s", key, v, maxStepDuration)
		return 0
	}
	return v
}

// CheckEnv reports, for the journeys of pages, every ${NAME} whose variable
// getenv has no value for, at the step that uses it. Commands that load
// pages call it before they start, so that a missing password is a
// configuration error rather than a failed scan.
func CheckEnv(pages []skimguard.Page, getenv func(string) string) error {
	var errs []error
	seen := map[*skimguard.Journey]bool{}
	for _, p := range pages {
		j := p.Journey
		if j == nil || seen[j] {
			continue
		}
		seen[j] = true
		for i, s := range j.Steps {
			values := []string{s.URL}
			for _, f := range s.Fields {
				values = append(values, f.Value)
			}
			var names []string
			for _, v := range values {
				refs, _ := skimguard.ParseEnvRefs(v)
				for _, r := range refs {
					if getenv(r.Name) == "" && !slices.Contains(names, r.Name) {
						names = append(names, r.Name)
					}
				}
			}
			for _, name := range names {
				errs = append(errs, &Error{File: j.File, Line: s.Line, Column: s.Column,
					Msg: fmt.Sprintf("page %q, step %d (%s): ${%s} is %v: set %s before running skimguard (secrets never go in sites.yaml)", p.Name, i+1, s, name, skimguard.ErrEnvNotSet, name)})
			}
		}
	}
	return errors.Join(errs...)
}

// maxRecording bounds the size of a recording file.
const maxRecording = 4 << 20

// recording reads the journey of a page's recording:, a Chrome Recorder
// export at a path relative to this file. Problems inside the export are
// reported where they are in it.
func (d *decoder) recording(n *yaml.Node) *skimguard.Journey {
	rel, ok := d.str(n, "recording", "checkout.json")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "recording is empty: write the path of a Chrome Recorder export (JSON), relative to this file")
		}
		return nil
	}
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(d.file), path)
	}
	data, err := readRecording(path)
	if err != nil {
		d.errorf(n, "recording %q: %v: export the flow from Chrome DevTools' Recorder as JSON and give its path, relative to this file", rel, err)
		return nil
	}
	return d.journeyOf(path, data)
}

// readRecording reads a recording file, within maxRecording.
func readRecording(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecording+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRecording {
		return nil, fmt.Errorf("it is larger than %d bytes", maxRecording)
	}
	return data, nil
}

// journeyOf reads the recording in data, from the file at path, and checks
// its steps as sites.yaml's are checked, reporting problems at their place
// in the file.
func (d *decoder) journeyOf(path string, data []byte) *skimguard.Journey {
	rec, err := recorder.Parse(data)
	if err != nil {
		for _, e := range joined(err) {
			if re, ok := e.(*recorder.Error); ok {
				msg := re.Msg
				if re.Step >= 0 {
					msg = fmt.Sprintf("steps[%d]: %s", re.Step, re.Msg)
				}
				d.errs = append(d.errs, &Error{File: path, Line: re.Line, Column: re.Column, Msg: msg})
			}
		}
		return nil
	}
	for i, s := range rec.Steps {
		errs := checkStep(s)
		if i == 0 {
			if err := checkStart(s); err != nil {
				errs = append(errs, errors.New("the flow must start with a navigate step: the journey starts in an empty tab"))
			}
		}
		for _, err := range errs {
			msg := err.Error()
			if !strings.HasPrefix(msg, string(s.Kind)) {
				msg = string(s.Kind) + ": " + msg
			}
			d.errs = append(d.errs, &Error{File: path, Line: s.Line, Column: s.Column, Msg: msg})
		}
	}
	if len(rec.Steps) > maxSteps {
		d.errs = append(d.errs, &Error{File: path, Line: 1, Column: 1, Msg: fmt.Sprintf("a journey has at most %d steps: shorten the flow", maxSteps)})
	}
	return &skimguard.Journey{File: path, Steps: rec.Steps}
}

// joined returns the errors errors.Join made err of.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// LoadRecording reads the Chrome Recorder export at path as a journey, its
// steps checked as a page's steps are; the error joins one *Error per
// problem, at its place in the file. The title is the flow's.
func LoadRecording(path string) (j *skimguard.Journey, title string, err error) {
	data, err := readRecording(path)
	if err != nil {
		return nil, "", fmt.Errorf("read recording: %w", err)
	}
	d := &decoder{file: path}
	j = d.journeyOf(path, data)
	if err := d.err(); err != nil {
		return nil, "", err
	}
	if rec, err := recorder.Parse(data); err == nil {
		title = rec.Title
	}
	return j, title, nil
}

// WriteSteps writes steps as the steps: of a page in sites.yaml: the form
// `skimguard journey import` prints a recording in. A target with
// alternatives is written with one of them (see selectorString).
func WriteSteps(w io.Writer, steps []skimguard.Step) error {
	str := func(s string, style yaml.Style) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: style}
	}
	integer := func(i int) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range steps {
		m := &yaml.Node{Kind: yaml.MappingNode}
		add := func(k string, v *yaml.Node) { m.Content = append(m.Content, str(k, 0), v) }
		var frame []int
		switch s.Kind {
		case skimguard.StepGoto:
			add(string(s.Kind), str(s.URL, 0))
		case skimguard.StepFill, skimguard.StepSelect:
			fm := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			for _, f := range s.Fields {
				fm.Content = append(fm.Content, str(selectorString(f.Target), yaml.DoubleQuotedStyle), str(f.Value, yaml.DoubleQuotedStyle))
				frame = f.Target.Frame
			}
			add(string(s.Kind), fm)
		case skimguard.StepPress:
			add(string(s.Kind), str(s.Key, 0))
		case skimguard.StepScroll:
			switch {
			case s.Target.Selectors == nil:
				add(string(s.Kind), integer(s.ScrollY))
			case s.IntoView:
				add(string(s.Kind), str(selectorString(s.Target), yaml.DoubleQuotedStyle))
			default:
				add(string(s.Kind), &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle,
					Content: []*yaml.Node{str(selectorString(s.Target), yaml.DoubleQuotedStyle), integer(s.ScrollY)}})
			}
			frame = s.Target.Frame
		case skimguard.StepWaitForExpression:
			add(string(s.Kind), str(s.Expression, yaml.DoubleQuotedStyle))
		case skimguard.StepWait:
			add(string(s.Kind), str(s.Duration.String(), 0))
		default:
			add(string(s.Kind), str(selectorString(s.Target), yaml.DoubleQuotedStyle))
			frame = s.Target.Frame
		}
		if s.Timeout > 0 {
			add("timeout", str(s.Timeout.String(), 0))
		}
		if len(frame) > 0 {
			fs := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, f := range frame {
				fs.Content = append(fs.Content, integer(f))
			}
			add("frame", fs)
		}
		seq.Content = append(seq.Content, m)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("steps", 0), seq}}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write steps: %w", err)
	}
	return enc.Close()
}
