package baseline

import skimguard "github.com/skimguard/skimguard"

// Match says how an observation showed a baseline item.
type Match uint8

// How an item was shown.
const (
	// NotShown: the observation did not show the item with an accepted
	// value (it was absent, changed, or ran with other integrity or
	// crossorigin attributes).
	NotShown Match = iota
	// ByValue: the observation showed one of the item's accepted values;
	// for a script, an approved text, byte for byte.
	ByValue
	// ByStructure: a script whose text is none of the approved ones but
	// has an approved structural fingerprint: its literal values (tokens,
	// timestamps, build stamps) vary per load.
	ByStructure
)

// Verify says, for each of b's items (same order), how o showed it, by
// the rules of Compare: an item Compare would raise no finding about
// that o showed is ByValue or ByStructure. A nil baseline or observation
// shows nothing.
//
// It is what the evidence calls verification: an approved script ran as
// approved on that load.
func Verify(b *skimguard.Baseline, o *skimguard.Observation) []Match {
	if b == nil {
		return nil
	}
	out := make([]Match, len(b.Items))
	if o == nil {
		return out
	}
	ix := newIndex(b.Items)
	for _, r := range matchAll(ix, takeSnapshot(o, newURLNorm(baselineVolatile(b.Items), o.FinalURL, o.URL))) {
		if r.out != same || r.base < 0 {
			continue
		}
		m := ByValue
		if s := r.obs.script; s != nil {
			it := &ix.items[r.base]
			if attrChanges(it, s) != "" {
				continue // Compare reports script.attributes_changed
			}
			if !hasValue(it.Values, r.obs.hashValue()) {
				m = ByStructure
			}
		}
		// Identical copies of a script may all match one item: the best
		// match counts.
		if out[r.base] == NotShown || m == ByValue {
			out[r.base] = m
		}
	}
	return out
}
