package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/andybalholm/cascadia"

	skimguard "github.com/skimguard/skimguard"
)

// Selectors in journeys are those of Chrome's Recorder (see
// skimguard.Target): CSS, or a prefix and what follows it. A chain through
// shadow roots is written as its parts joined by " >>> ".

// parseSelector reads a selector as sites.yaml writes it: a chain of parts
// joined by skimguard.ChainSeparator.
func parseSelector(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("the selector is empty: write one such as \"#pay\"")
	}
	var chain []string
	for _, part := range strings.Split(s, ">>>") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%q has an empty part: write the parts of a chain through shadow roots as \"host-element >>> #inner\"", s)
		}
		chain = append(chain, part)
	}
	return chain, checkTarget(skimguard.Target{Selectors: [][]string{chain}})
}

// checkTarget says what is wrong with the selectors of a target, or
// returns nil. The browser is the judge in the end; this catches what no
// browser accepts, before any scan.
func checkTarget(t skimguard.Target) error {
	if len(t.Selectors) == 0 {
		return errors.New("it has no selector")
	}
	for _, chain := range t.Selectors {
		for _, part := range chain {
			if err := checkSelectorPart(part); err != nil {
				return err
			}
		}
	}
	for _, f := range t.Frame {
		if f < 0 {
			return fmt.Errorf("frame index %d is negative", f)
		}
	}
	return nil
}

// checkSelectorPart checks one part of a chain.
func checkSelectorPart(part string) error {
	kind, rest := skimguard.ParseSelectorPart(part)
	switch kind {
	case skimguard.SelectorARIA:
		if _, _, ok := skimguard.ParseARIA(rest); !ok {
			return fmt.Errorf("%q is not an ARIA selector: write aria/NAME, or aria/NAME[role=\"button\"]", part)
		}
		return nil
	case skimguard.SelectorText, skimguard.SelectorXPath:
		if strings.TrimSpace(rest) == "" {
			return fmt.Errorf("%q is empty after %s/", part, kind)
		}
		return nil
	}
	if _, err := cascadia.ParseGroup(rest); err != nil {
		return fmt.Errorf("%q is not a CSS selector (%v): write one such as \"#pay\" or \"form.checkout button[type=submit]\"", part, err)
	}
	return nil
}

// selectorString writes a target as sites.yaml does: of its alternatives,
// the first made of CSS only (what people write), else the first; its
// parts joined by skimguard.ChainSeparator.
func selectorString(t skimguard.Target) string {
	if len(t.Selectors) == 0 {
		return ""
	}
	pick := t.Selectors[0]
	for _, chain := range t.Selectors {
		css := true
		for _, part := range chain {
			kind, _ := skimguard.ParseSelectorPart(part)
			css = css && kind == skimguard.SelectorCSS
		}
		if css {
			pick = chain
			break
		}
	}
	return strings.Join(pick, skimguard.ChainSeparator)
}
