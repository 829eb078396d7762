package baseline

import (
	"fmt"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// matchAccess matches what each observed script sees of the card with
// the card access of the baseline script it is: its key becomes that
// script's key, so that an approved inline script that moved keeps what
// it was approved to see. A script whose own key's item accepts it too
// keeps its own key: identical copies of a script each keep theirs.
// Scripts that turn out to be one baseline script see the card together.
// res holds the scripts' results.
func matchAccess(ix *index, list []*entry, res []result, matched []bool) []result {
	if len(list) == 0 {
		return nil
	}
	base := map[*entry]int{}
	for _, r := range res {
		if r.obs != nil && r.obs.script != nil && r.out != added {
			base[r.obs] = r.base
		}
	}
	byKey := map[string]*entry{}
	var keyed []*entry
	for _, e := range list {
		key := e.by.item.Key
		if i, ok := base[e.by]; ok {
			if j, own := ix.lookup(skimguard.ItemScript, key); !own || !ix.accepts(j, e.by) {
				key = ix.items[i].Key
			}
		}
		if k := byKey[key]; k != nil {
			k.item.Values = sortedSet(append(k.item.Values, e.item.Values...))
			continue
		}
		e.item.Key = key
		byKey[key] = e
		keyed = append(keyed, e)
	}
	out := make([]result, 0, len(keyed))
	for _, e := range keyed {
		out = append(out, matchKeyed(ix, e, matched))
	}
	return out
}

// cardAccess reports a script that sees card fields, or ways of seeing
// them, that it did not in the baseline: it listens to their events or
// reads them. This catches skimmers whose sending cannot be recognised
// (encrypted) or happens only when a shopper pays, which a monitor never
// does. A script that no longer sees them is no finding: what runs
// depends on what the shopper does.
func (c *comparer) cardAccess(r result) {
	if r.out != added && r.out != changed {
		return
	}
	e := r.obs
	it := e.full()
	var before []string
	if r.out == changed {
		before = c.ix.items[r.base].Values
	}
	var fresh []string
	for _, v := range it.Values {
		if !hasValue(before, v) {
			fresh = append(fresh, v)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s can now see the card: %s", it.Subject, accessSummary(fresh))
	switch c.scriptOutcome(e.by) {
	case added:
		b.WriteString(" (the script itself is not in the approved baseline)")
	case changed:
		b.WriteString(" (its text changed)")
	}
	if len(before) > 0 {
		fmt.Fprintf(&b, "; in the approved baseline it sees %s", accessSummary(before))
	} else {
		b.WriteString("; in the approved baseline it sees no card field")
	}
	c.add(skimguard.KindCardAccessAdded, facts{}, it.Subject, b.String(),
		skimguard.Evidence{Before: accessSummary(before), After: accessSummary(it.Values), URL: e.by.script.URL},
		it, strings.Join(fresh, ","))
}

// accessSummary is skimguard.CardAccessSummary of stored values.
func accessSummary(values []string) string {
	vs := make([]skimguard.CardAccessValue, 0, len(values))
	for _, v := range values {
		vs = append(vs, skimguard.ParseCardAccessValue(v))
	}
	return skimguard.CardAccessSummary(vs)
}
