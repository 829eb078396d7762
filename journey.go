package skimguard

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Journey is how a shopper reaches a payment page that its URL alone does
// not show: a cart to fill, a sign-in, a shipping step before the payment
// step. The crawler plays its steps in the scan's fresh browser profile,
// then observes the document that is open when they end, from its
// navigation on.
type Journey struct {
	// File is where the steps are written: sites.yaml, or a Chrome
	// Recorder export. Each Step's Line and Column are in it.
	File  string
	Steps []Step
}

// StepKind says what a step does. Its value is the step's key in
// sites.yaml.
type StepKind string

// Step kinds.
const (
	// StepGoto loads URL in the tab, as typing it in the address bar.
	StepGoto StepKind = "goto"
	// StepClick scrolls Target into view, moves the mouse to it and clicks
	// it with trusted input events.
	StepClick StepKind = "click"
	// StepDoubleClick is StepClick with two clicks.
	StepDoubleClick StepKind = "double_click"
	// StepFill types each Field's value into its element key by key,
	// replacing what it held; a <select> gets the option of that value.
	StepFill StepKind = "fill"
	// StepSelect chooses, in each Field's <select>, the option of its value.
	StepSelect StepKind = "select"
	// StepPress presses Key in the element that has the focus.
	StepPress StepKind = "press"
	// StepHover moves the mouse over Target.
	StepHover StepKind = "hover"
	// StepScroll scrolls the page, or Target's content, to ScrollY, or
	// brings Target into view (IntoView), with the mouse wheel.
	StepScroll StepKind = "scroll"
	// StepWaitFor waits until Target is visible.
	StepWaitFor StepKind = "wait_for"
	// StepWaitForExpression waits until the JavaScript Expression, run in
	// the page, is truthy.
	StepWaitForExpression StepKind = "wait_for_expression"
	// StepWait waits for Duration.
	StepWait StepKind = "wait"
)

// StepKinds returns the step kinds in the order sites.yaml documents them.
func StepKinds() []StepKind {
	return []StepKind{StepGoto, StepClick, StepDoubleClick, StepFill, StepSelect, StepPress, StepHover,
		StepScroll, StepWaitFor, StepWaitForExpression, StepWait}
}

// DefaultStepTimeout bounds a step whose Timeout is 0.
const DefaultStepTimeout = 15 * time.Second

// Step is one action of a Journey. Which fields count depends on Kind.
type Step struct {
	Kind StepKind
	// URL is where goto goes. It may hold ${NAME} references.
	URL string
	// Target is the element click, double_click, hover, wait_for and
	// scroll act on; a scroll without one scrolls the page.
	Target Target
	// Fields are the elements fill and select set, in order, each with
	// its value, which may hold ${NAME} references.
	Fields []Field
	// Key is what press presses: a key name (see IsKeyName).
	Key string
	// ScrollY is where scroll moves the page's or Target's vertical
	// scroll position, in CSS pixels, unless IntoView is set: then it
	// scrolls until Target is in view.
	ScrollY  int
	IntoView bool
	// Expression is wait_for_expression's JavaScript.
	Expression string
	// Duration is how long wait waits.
	Duration time.Duration
	// Timeout bounds the step; 0 means DefaultStepTimeout.
	Timeout time.Duration
	// Line and Column say where the step is written in its Journey's File.
	Line, Column int
}

// Target says how to find one element of the page.
type Target struct {
	// Selectors are alternatives, tried in order until one finds an
	// element. Each is a chain: every part after the first is looked up
	// in the shadow root of the element the part before found, or within
	// that element when it hosts no shadow root. A part is a CSS selector,
	// or, as Chrome's Recorder writes them, aria/NAME (an accessible name,
	// optionally followed by [role="ROLE"]), text/TEXT, xpath/EXPRESSION or
	// pierce/CSS (CSS through every shadow root).
	Selectors [][]string
	// Frame is the path of child-frame indexes from the main frame to the
	// frame the element is in; empty for the main frame.
	Frame []int
}

// Field is an element a fill or select step sets, and its value.
type Field struct {
	Target Target
	Value  string
}

// ChainSeparator joins the parts of a selector chain when it is written as
// one string, as in "checkout-form >>> #card".
const ChainSeparator = " >>> "

// String names the target for people: its first selector, a chain's parts
// joined by ChainSeparator, and its frame when not the main one.
func (t Target) String() string {
	if len(t.Selectors) == 0 {
		return ""
	}
	s := strings.Join(t.Selectors[0], ChainSeparator)
	if len(t.Frame) > 0 {
		parts := make([]string, len(t.Frame))
		for i, f := range t.Frame {
			parts[i] = strconv.Itoa(f)
		}
		s += " in frame " + strings.Join(parts, ".")
	}
	return s
}

// String says what the step does for people, in sites.yaml's words. It
// names selectors and URLs as written, ${NAME} references unexpanded, and
// never the values typed.
func (s Step) String() string {
	switch s.Kind {
	case StepGoto:
		return "goto " + s.URL
	case StepFill, StepSelect:
		names := make([]string, len(s.Fields))
		for i, f := range s.Fields {
			names[i] = strconv.Quote(f.Target.String())
		}
		return string(s.Kind) + " " + strings.Join(names, ", ")
	case StepPress:
		return "press " + s.Key
	case StepScroll:
		switch {
		case s.Target.Selectors == nil:
			return fmt.Sprintf("scroll to %dpx", s.ScrollY)
		case s.IntoView:
			return "scroll " + strconv.Quote(s.Target.String()) + " into view"
		}
		return fmt.Sprintf("scroll %q to %dpx", s.Target.String(), s.ScrollY)
	case StepWaitForExpression:
		return "wait_for_expression " + strconv.Quote(s.Expression)
	case StepWait:
		return "wait " + s.Duration.String()
	}
	return string(s.Kind) + " " + strconv.Quote(s.Target.String())
}

// TimeoutOrDefault is how long the step may take.
func (s Step) TimeoutOrDefault() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultStepTimeout
}

// EnvRef is one ${NAME} reference in a value: NAME is read from the
// environment when the journey runs.
type EnvRef struct {
	Name       string
	Start, End int // byte offsets of "${" and after "}"
}

// ParseEnvRefs returns the ${NAME} references in s, in order. NAME is a
// letter or '_' followed by letters, digits and '_'; a "${" that does not
// start one is an error. A '$' not followed by '{' is just a '$'.
func ParseEnvRefs(s string) ([]EnvRef, error) {
	var refs []EnvRef
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			break
		}
		start := i + j
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%q opens ${ without closing it: write ${NAME}", s[start:])
		}
		name := s[start+2 : start+end]
		if !isEnvName(name) {
			return nil, fmt.Errorf("${%s} is not a reference to an environment variable: write ${NAME}, NAME made of letters, digits and '_'", name)
		}
		refs = append(refs, EnvRef{Name: name, Start: start, End: start + end + 1})
		i = start + end + 1
	}
	return refs, nil
}

// IsEnvRef reports whether s is made only of ${NAME} references: a value
// that holds no literal text.
func IsEnvRef(s string) bool {
	refs, err := ParseEnvRefs(s)
	if err != nil || len(refs) == 0 {
		return false
	}
	at := 0
	for _, r := range refs {
		if r.Start != at {
			return false
		}
		at = r.End
	}
	return at == len(s)
}

// ErrEnvNotSet is returned (wrapped) by ExpandEnv for a variable with no
// value.
var ErrEnvNotSet = errors.New("not set in the environment")

// ExpandEnv replaces each ${NAME} in s with getenv(NAME). A variable that
// is empty or not set is an error naming it, never an empty value: a
// journey must not sign in with an empty password.
func ExpandEnv(s string, getenv func(string) string) (string, error) {
	refs, err := ParseEnvRefs(s)
	if err != nil || len(refs) == 0 {
		return s, err
	}
	var b strings.Builder
	at := 0
	for _, r := range refs {
		v := getenv(r.Name)
		if v == "" {
			return "", fmt.Errorf("${%s}: %w: set %s before running skimguard", r.Name, ErrEnvNotSet, r.Name)
		}
		b.WriteString(s[at:r.Start])
		b.WriteString(v)
		at = r.End
	}
	b.WriteString(s[at:])
	return b.String(), nil
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// keyNames are the named keys a press step can press, as Chrome's
// Recorder and Puppeteer name them.
var keyNames = []string{"Enter", "Tab", "Escape", "Backspace", "Delete", "Space",
	"ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"}

// KeyNames returns the named keys a press step can press; any single
// printable character can be pressed too.
func KeyNames() []string { return append([]string(nil), keyNames...) }

// IsKeyName reports whether a press step can press key: one of KeyNames,
// or a single printable character.
func IsKeyName(key string) bool {
	for _, k := range keyNames {
		if k == key {
			return true
		}
	}
	r, n := utf8.DecodeRuneInString(key)
	return n == len(key) && r != utf8.RuneError && r > ' ' && r != 0x7f
}

// SelectorKind is how one part of a selector chain finds its element.
type SelectorKind string

// Selector kinds, and the prefixes Chrome's Recorder writes them with.
const (
	SelectorCSS    SelectorKind = "css"    // no prefix
	SelectorARIA   SelectorKind = "aria"   // aria/NAME or aria/NAME[role="ROLE"]
	SelectorText   SelectorKind = "text"   // text/TEXT
	SelectorXPath  SelectorKind = "xpath"  // xpath/EXPRESSION
	SelectorPierce SelectorKind = "pierce" // pierce/CSS, through every shadow root
)

// ParseSelectorPart splits one part of a selector chain into its kind and
// what follows the kind's prefix.
func ParseSelectorPart(part string) (SelectorKind, string) {
	for _, k := range []SelectorKind{SelectorARIA, SelectorText, SelectorXPath, SelectorPierce} {
		if rest, ok := strings.CutPrefix(part, string(k)+"/"); ok {
			return k, rest
		}
	}
	return SelectorCSS, part
}

// ParseARIA splits what follows aria/ into the accessible name and the
// role of an optional trailing [role="ROLE"]; ok is false when it names
// neither, or its role is malformed.
func ParseARIA(s string) (name, role string, ok bool) {
	i := strings.LastIndex(s, "[role=")
	if i < 0 || !strings.HasSuffix(s, "]") {
		name = strings.TrimSpace(s)
		return name, "", name != "" && !strings.Contains(s, "[role")
	}
	role = strings.Trim(s[i+len("[role="):len(s)-1], `"'`)
	return strings.TrimSpace(s[:i]), role, role != ""
}
