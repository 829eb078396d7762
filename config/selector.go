package config

import (
	"fmt"

	"github.com/andybalholm/cascadia"
)

// checkSelector says what is wrong with a selector written in a journey,
// or returns nil. The browser is the judge in the end; cascadia catches
// what no browser accepts, before any scan.
func checkSelector(sel string) error {
	if _, err := cascadia.ParseGroup(sel); err != nil {
		return fmt.Errorf("%q is not a CSS selector (%v): write one such as \"#pay\" or \"form.checkout button[type=submit]\"", sel, err)
	}
	return nil
}
