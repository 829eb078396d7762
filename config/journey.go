package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	skimguard "github.com/skimguard/skimguard"
)

// Bounds of a journey.
const (
	maxSteps        = 100
	maxStepDuration = 5 * time.Minute
	maxScrollY      = 1_000_000
)

// stepDecoding is a step while it is read: the step, and the keys of the
// step kinds written in it, to tell a step with two kinds.
type stepDecoding struct {
	skimguard.Step
	kinds []string
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
}

// stepKindKeys are the keys of stepFields that name a step's kind.
func stepKindKeys() []string {
	var keys []string
	for _, f := range stepFields {
		if f.key != "timeout" {
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
			if len(has) == 0 || s.Timeout > 0 {
				d.errorf(item, "the step does nothing: give it one of %s", strings.Join(stepKindKeys(), ", "))
			}
			return
		case 1:
		default:
			d.errorf(has[s.kinds[1]].key, "a step does one thing, and this one has both %s and %s: split it into two steps", s.kinds[0], s.kinds[1])
			return
		}
		s.Line, s.Column = item.Line, item.Column
		if len(j.Steps) == 0 && items == 1 && s.Kind != skimguard.StepGoto {
			d.errorf(item, "the journey starts in an empty tab: make its first step goto: followed by the address to start from")
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
	if _, err := skimguard.ParseEnvRefs(s); err != nil {
		d.errorf(n, "goto: %v", err)
		return s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(n, "goto %q is not an absolute http or https address: write it in full, such as https://shop.example/cart", s)
		return s
	}
	if pw, hasPassword := u.User.Password(); hasPassword && !skimguard.IsEnvRef(pw) {
		d.errorf(n, "goto %q holds a literal password: write it as ${NAME} and set NAME in the environment, or sign in with fill and click steps", u.Redacted())
	}
	return s
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
	if err := checkSelector(s); err != nil {
		d.errorf(n, "%s: %v", key, err)
	}
	return skimguard.Target{Selectors: [][]string{{s}}}
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
		if err := checkSelector(sel); err != nil {
			d.errorf(k, "%s: %v", key, err)
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			d.errorf(v, "%s: the value for %q must be the text to give it (\"\" for none), not %s", key, sel, kindName(v))
			continue
		}
		if _, err := skimguard.ParseEnvRefs(v.Value); err != nil {
			d.errorf(v, "%s: the value for %q: %v", key, sel, err)
		} else if looksSecret(sel) && !skimguard.IsEnvRef(v.Value) {
			d.errorf(v, "%q gets a literal secret: write its value as \"${NAME}\" and set NAME in the environment; secrets never go in sites.yaml", sel)
		}
		fs = append(fs, skimguard.Field{Target: skimguard.Target{Selectors: [][]string{{sel}}}, Value: v.Value})
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
	if !skimguard.IsKeyName(s) {
		keys := strings.Join(skimguard.KeyNames(), ", ")
		if c := closest(s, skimguard.KeyNames()); c != "" {
			d.errorf(n, "press: unknown key %q; did you mean %q? The keys are %s, and any single character", s, c, keys)
		} else {
			d.errorf(n, "press: unknown key %q; the keys are %s, and any single character", s, keys)
		}
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
