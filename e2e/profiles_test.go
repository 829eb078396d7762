package e2e

import (
	"slices"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// TestDeviceAndCountryKitsHideFromOtherShoppers: the phone-only and
// Japan-only kits are real gates. Scanned as another shopper, or as one
// whose signs disagree, their attacker receives nothing although the card
// was typed; so their technique tests prove the profile, not luck.
func TestDeviceAndCountryKitsHideFromOtherShoppers(t *testing.T) {
	cr := browser(t)
	w := newWorld(t)
	for _, tc := range techniques() {
		if tc.name == "mobile-only" || tc.name == "japan-only" {
			w.add(tc)
			w.plant(tc.name, true)
		}
	}
	for _, tt := range []struct {
		name, technique string
		page            skimguard.Page
	}{
		{"the phone kit to a desktop shopper", "mobile-only", skimguard.Page{Profile: skimguard.ProfileDesktop}},
		{"the Japan kit to an American shopper", "japan-only", skimguard.Page{}},
		{"the Japan kit to a Japanese speaker outside Japan", "japan-only", skimguard.Page{Locale: "ja-JP", Timezone: "America/Los_Angeles"}},
		{"the Japan kit to an English speaker in Tokyo", "japan-only", skimguard.Page{Timezone: "Asia/Tokyo"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w.mu.Lock()
			tc := w.techniques[tt.technique]
			w.mu.Unlock()
			p := tt.page
			p.Site, p.Name, p.URL, p.Wait, p.Interact = "e2e", tc.name, w.checkoutURL(tc), 2*time.Second, true
			before := len(w.received(tc.name))
			o := scan(t, cr, p)
			if !o.Typed {
				t.Fatal("the test card was not typed: the kit had nothing to take")
			}
			// A beacon reaches the server a moment after it is sent.
			time.Sleep(500 * time.Millisecond)
			if got := w.received(tc.name)[before:]; len(got) > 0 {
				t.Errorf("the kit fired for a shopper it does not target: its server received %q", got)
			}
			if slices.ContainsFunc(o.Leaks, func(l skimguard.Leak) bool { return l.Origin == w.evil.URL }) {
				t.Errorf("the scan saw the card reach the attacker: %+v", o.Leaks)
			}
		})
	}
}
