package skimguard

import (
	"errors"
	"testing"
)

func TestEnvReferences(t *testing.T) {
	env := map[string]string{"PW": "hunter2", "USER": "monitor", "EMPTY": ""}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		in, want string
		whole    bool
	}{
		{"${PW}", "hunter2", true},
		{"${USER}${PW}", "monitorhunter2", true},
		{"x${PW}", "xhunter2", false},
		{"pa$$word", "pa$$word", false},
		{"$PW", "$PW", false},
		{"", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ExpandEnv(tc.in, getenv)
			if err != nil || got != tc.want {
				t.Errorf("ExpandEnv = %q, %v; want %q", got, err, tc.want)
			}
			if IsEnvRef(tc.in) != tc.whole {
				t.Errorf("IsEnvRef = %v, want %v", !tc.whole, tc.whole)
			}
		})
	}
	t.Run("a variable that is empty or not set is an error naming it", func(t *testing.T) {
		for _, in := range []string{"${EMPTY}", "a${MISSING}b"} {
			if _, err := ExpandEnv(in, getenv); !errors.Is(err, ErrEnvNotSet) {
				t.Errorf("%s: err = %v", in, err)
			}
		}
	})
	t.Run("a malformed reference is an error", func(t *testing.T) {
		for _, in := range []string{"${", "${1A}", "${A-B}", "${}"} {
			if _, err := ParseEnvRefs(in); err == nil {
				t.Errorf("%q parsed", in)
			}
		}
	})
}

func TestIsKeyName(t *testing.T) {
	for _, k := range []string{"Enter", "Tab", "PageDown", "a", "Z", "7", "@", "é"} {
		if !IsKeyName(k) {
			t.Errorf("%q refused", k)
		}
	}
	for _, k := range []string{"", " ", "enter", "Ctrl", "ab", "\x7f", "F5"} {
		if IsKeyName(k) {
			t.Errorf("%q accepted", k)
		}
	}
}

func TestParseSelectorPart(t *testing.T) {
	for _, tc := range []struct {
		part       string
		kind       SelectorKind
		rest       string
		name, role string
	}{
		{"#pay", SelectorCSS, "#pay", "", ""},
		{"aria/Add to cart", SelectorARIA, "Add to cart", "Add to cart", ""},
		{`aria/Pay[role="button"]`, SelectorARIA, `Pay[role="button"]`, "Pay", "button"},
		{`aria/[role="dialog"]`, SelectorARIA, `[role="dialog"]`, "", "dialog"},
		{"text/Continue", SelectorText, "Continue", "", ""},
		{`xpath///*[@id="a"]`, SelectorXPath, `//*[@id="a"]`, "", ""},
		{"pierce/#card", SelectorPierce, "#card", "", ""},
	} {
		kind, rest := ParseSelectorPart(tc.part)
		if kind != tc.kind || rest != tc.rest {
			t.Errorf("ParseSelectorPart(%q) = %s, %q", tc.part, kind, rest)
		}
		if kind == SelectorARIA {
			name, role, ok := ParseARIA(rest)
			if !ok || name != tc.name || role != tc.role {
				t.Errorf("ParseARIA(%q) = %q, %q, %v", rest, name, role, ok)
			}
		}
	}
	for _, bad := range []string{"", "  ", `Pay[role=]`, "Pay[role"} {
		if _, _, ok := ParseARIA(bad); ok {
			t.Errorf("ParseARIA(%q) accepted", bad)
		}
	}
}
