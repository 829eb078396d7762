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

// ScriptState says how an observed script stands against a baseline.
type ScriptState uint8

// Script states.
const (
	// ScriptApproved: the script runs approved code with approved
	// attributes.
	ScriptApproved ScriptState = iota + 1
	// ScriptAttributesChanged: approved code, run with other integrity or
	// crossorigin attributes.
	ScriptAttributesChanged
	// ScriptChanged: the script takes an approved script's place (its
	// URL, or for code without one its place in the document) with other
	// code.
	ScriptChanged
	// ScriptNew: no approved script matches it.
	ScriptNew
)

// String returns "approved", "attributes changed", "changed" or "new".
func (s ScriptState) String() string {
	switch s {
	case ScriptApproved:
		return "approved"
	case ScriptAttributesChanged:
		return "attributes changed"
	case ScriptChanged:
		return "changed"
	case ScriptNew:
		return "new"
	}
	return ""
}

// ScriptMatch is how one observed script stands against a baseline.
type ScriptMatch struct {
	State ScriptState
	// Key is the key of the baseline item the script is, or would be
	// once approved: findings about the script carry it as Item.Key.
	Key string
}

// Scripts says, for each of o's scripts (same order), how it stands
// against b, by the rules of Compare: a script Compare reports as added
// is ScriptNew, as changed ScriptChanged. A nil baseline or observation
// gives nil.
func Scripts(b *skimguard.Baseline, o *skimguard.Observation) []ScriptMatch {
	if b == nil || o == nil {
		return nil
	}
	ix := newIndex(b.Items)
	at := make(map[*skimguard.Script]int, len(o.Scripts))
	for i := range o.Scripts {
		at[&o.Scripts[i]] = i
	}
	out := make([]ScriptMatch, len(o.Scripts))
	for _, r := range matchAll(ix, takeSnapshot(o, newURLNorm(baselineVolatile(b.Items), o.FinalURL, o.URL))) {
		if r.obs == nil || r.obs.script == nil {
			continue
		}
		m := ScriptMatch{State: ScriptNew, Key: r.obs.item.Key}
		switch r.out {
		case same:
			m = ScriptMatch{State: ScriptApproved, Key: ix.items[r.base].Key}
			if attrChanges(&ix.items[r.base], r.obs.script) != "" {
				m.State = ScriptAttributesChanged
			}
		case changed:
			m = ScriptMatch{State: ScriptChanged, Key: ix.items[r.base].Key}
		}
		out[at[r.obs.script]] = m
	}
	return out
}
