package baseline

import (
	"sort"
	"strconv"

	skimguard "github.com/skimguard/skimguard"
)

// outcome is how one observed entry or baseline item fared in matching.
type outcome uint8

const (
	same    outcome = iota // an accepted value of the matching item
	changed                // matches an item's identity, not its values
	added                  // no item to match
	removed                // a required item nothing matched
)

// result pairs an observed entry with a baseline item (by index).
type result struct {
	out  outcome
	base int    // index into the baseline's items; -1 for added
	obs  *entry // nil for removed
}

// index makes a baseline's items quick to find.
type index struct {
	items []skimguard.Item
	byKey keyTable // item numbers by type and key
	// scriptGroups and frameGroups list the items that pair within a
	// group; groupValues finds scripts without URL by accepted value.
	scriptGroups map[string][]int
	frameGroups  map[string][]int
	groupValues  map[groupValue][]int
}

type groupValue struct{ group, value string }

func newIndex(items []skimguard.Item) *index {
	ix := &index{
		items:        items,
		byKey:        newKeyTable(len(items)),
		scriptGroups: map[string][]int{},
		frameGroups:  map[string][]int{},
		groupValues:  map[groupValue][]int{},
	}
	// Most values belong to one item: their hit lists are cut from one
	// array instead of being allocated one by one.
	var one []int
	var lastKind, lastFrame, lastGroup string
	for i := range items {
		it := &items[i]
		// A later item with the same type and key replaces an earlier one.
		ix.byKey.put(ix.byKey.slot(it.Key, func(j int) bool { return items[j].Key == it.Key && items[j].Type == it.Type }), i)
		switch it.Type {
		case skimguard.ItemScript:
			if _, ok := it.Attrs[skimguard.AttrOrdinal]; ok {
				// A script without URL pairs within its kind and
				// document; the group's name is reused while items
				// (sorted by key) stay in one group.
				kind, frame := it.Attrs[skimguard.AttrKind], it.Attrs[skimguard.AttrFrame]
				if lastGroup == "" || kind != lastKind || frame != lastFrame {
					lastKind, lastFrame, lastGroup = kind, frame, kind+" in "+frame
				}
				g := lastGroup
				ix.scriptGroups[g] = append(ix.scriptGroups[g], i)
				for _, v := range it.Values {
					k := groupValue{g, v}
					if hits, ok := ix.groupValues[k]; ok {
						ix.groupValues[k] = append(hits, i)
						continue
					}
					if len(one) == cap(one) {
						one = make([]int, 0, 256)
					}
					one = append(one, i)
					ix.groupValues[k] = one[len(one)-1 : len(one) : len(one)]
				}
			}
		case skimguard.ItemFrame:
			g := it.Attrs[skimguard.AttrParent]
			ix.frameGroups[g] = append(ix.frameGroups[g], i)
		}
	}
	return ix
}

func (ix *index) lookup(t skimguard.ItemType, key string) (int, bool) {
	i := ix.byKey.slot(key, func(j int) bool { return ix.items[j].Key == key && ix.items[j].Type == t }).number()
	return i, i >= 0
}

// accepts reports whether item i accepts the observed entry's values. For
// scripts the exact hash is tried first: the fingerprint costs a
// tokenization and is only needed when the bytes differ.
func (ix *index) accepts(i int, e *entry) bool {
	vals := ix.items[i].Values
	if e.script != nil {
		for _, v := range vals {
			// Compared in place: building "sha256:<hex>" for each of
			// thousands of matching scripts would dominate Compare.
			const prefix = skimguard.ScriptHashPrefix
			if len(v) == len(prefix)+len(e.sum) && v[len(prefix):] == e.sum && v[:len(prefix)] == prefix {
				return true
			}
		}
		for _, v := range vals {
			if skimguard.IsScriptFingerprint(v) {
				return hasValue(vals, e.fingerprint())
			}
		}
		return false
	}
	for _, v := range e.item.Values {
		if !hasValue(vals, v) {
			return false
		}
	}
	return true
}

func hasValue(sorted []string, v string) bool {
	i := sort.SearchStrings(sorted, v)
	if i < len(sorted) && sorted[i] == v {
		return true
	}
	// Values should be sorted; tolerate hand-edited baselines.
	if !sort.StringsAreSorted(sorted) {
		return contains(sorted, v)
	}
	return false
}

// matchAll matches a snapshot against the index: every observed entry
// gets one result, and so does every required baseline item left unmatched
// (of the types whose absence is a finding).
func matchAll(ix *index, s *snapshot) []result {
	res := make([]result, 0, len(s.scripts)+len(s.frames)+len(s.forms)+len(s.headers)+len(s.conns)+len(s.sinks)+len(s.access)+1)
	matched := make([]bool, len(ix.items))

	// Scripts with a URL match by key.
	groups := map[string][]*entry{}
	var groupOrder []string
	for _, e := range s.scripts {
		if e.group != "" {
			if _, ok := groups[e.group]; !ok {
				groupOrder = append(groupOrder, e.group)
			}
			groups[e.group] = append(groups[e.group], e)
			continue
		}
		res = append(res, matchKeyed(ix, e, matched))
	}
	// Scripts without a URL: by accepted value anywhere in their kind and
	// document first (an approved script that moved is the same), then
	// leftovers pair by place, else they are added.
	for _, g := range groupOrder {
		var left []*entry
		for _, e := range groups[g] {
			hits := ix.valueHits(e)
			if len(hits) == 0 {
				left = append(left, e)
				continue
			}
			res = append(res, result{out: same, base: bestHit(ix, hits, e, matched), obs: e})
			for _, h := range hits {
				matched[h] = true
			}
		}
		res = append(res, pair(ix, left, ix.scriptGroups[g], matched)...)
	}

	// Frames: by key, then leftovers pair within their parent document (a
	// provider iframe whose origin was swapped), else added.
	fgroups := map[string][]*entry{}
	var fgroupOrder []string
	for _, e := range s.frames {
		i, ok := ix.lookup(skimguard.ItemFrame, e.item.Key)
		if ok && !matched[i] {
			matched[i] = true
			if ix.accepts(i, e) {
				res = append(res, result{out: same, base: i, obs: e})
			} else {
				res = append(res, result{out: changed, base: i, obs: e})
			}
			continue
		}
		if _, ok := fgroups[e.group]; !ok {
			fgroupOrder = append(fgroupOrder, e.group)
		}
		fgroups[e.group] = append(fgroups[e.group], e)
	}
	for _, g := range fgroupOrder {
		res = append(res, pair(ix, fgroups[g], ix.frameGroups[g], matched)...)
	}

	res = append(res, matchAccess(ix, s.access, res, matched)...)
	for _, list := range [][]*entry{s.forms, s.headers, s.conns, s.sinks} {
		for _, e := range list {
			res = append(res, matchKeyed(ix, e, matched))
		}
	}
	if s.redirect != nil {
		// Added when the baseline has no redirect item: Learn takes it,
		// Compare has nothing to compare it with and says nothing.
		res = append(res, matchKeyed(ix, s.redirect, matched))
	}

	// Required items nothing matched. Connections and card sinks come and
	// go with what the shopper does; their absence is no change to report.
	for i := range ix.items {
		it := &ix.items[i]
		if matched[i] || it.Optional {
			continue
		}
		switch it.Type {
		case skimguard.ItemScript, skimguard.ItemFrame, skimguard.ItemForm, skimguard.ItemHeader:
			res = append(res, result{out: removed, base: i})
		}
	}
	return res
}

// valueHits returns the items of a script without URL's group that accept
// its text: by exact hash, else by fingerprint. matchAll pairs the script
// with one of them and counts them all as matched, so that identical
// copies need not be as many on every load.
func (ix *index) valueHits(e *entry) []int {
	if e.group == "" || e.script == nil {
		return nil
	}
	hits := ix.groupValues[groupValue{e.group, e.hashValue()}]
	if len(hits) == 0 && len(ix.scriptGroups[e.group]) > 0 {
		hits = ix.groupValues[groupValue{e.group, e.fingerprint()}]
	}
	return hits
}

// matchKeyed matches an entry by its key.
func matchKeyed(ix *index, e *entry, matched []bool) result {
	i, ok := ix.lookup(e.item.Type, e.item.Key)
	if !ok {
		return result{out: added, base: -1, obs: e}
	}
	matched[i] = true
	if ix.accepts(i, e) {
		return result{out: same, base: i, obs: e}
	}
	return result{out: changed, base: i, obs: e}
}

// pair matches leftover observed entries with the group's unmatched,
// required baseline items: same slot (a handler's element and attribute, a
// frame's name) first, then same ordinal, then in order. Each pair is a
// change; the rest are additions. Optional items do not pair: an absent A/B
// variant must not make a newly injected script look like its new version.
func pair(ix *index, left []*entry, group []int, matched []bool) []result {
	var res []result
	var free []int
	for _, i := range group {
		if !matched[i] && !ix.items[i].Optional {
			free = append(free, i)
		}
	}
	take := func(e *entry, pick func(it *skimguard.Item) bool) bool {
		for k, i := range free {
			if pick(&ix.items[i]) {
				matched[i] = true
				free = append(free[:k:k], free[k+1:]...)
				if e.frame == nil && ix.accepts(i, e) {
					res = append(res, result{out: same, base: i, obs: e})
				} else {
					res = append(res, result{out: changed, base: i, obs: e})
				}
				return true
			}
		}
		return false
	}
	var rest []*entry
	for _, e := range left {
		if e.slot != "" && take(e, func(it *skimguard.Item) bool {
			if e.frame != nil {
				return digitsOut(it.Attrs[skimguard.AttrName]) == e.slot
			}
			return it.Attrs[skimguard.AttrLocation] == e.slot
		}) {
			continue
		}
		rest = append(rest, e)
	}
	var rest2 []*entry
	for _, e := range rest {
		if e.frame == nil && take(e, func(it *skimguard.Item) bool {
			return it.Attrs[skimguard.AttrOrdinal] == strconv.Itoa(e.ordinal)
		}) {
			continue
		}
		rest2 = append(rest2, e)
	}
	for _, e := range rest2 {
		if !take(e, func(*skimguard.Item) bool { return true }) {
			res = append(res, result{out: added, base: -1, obs: e})
		}
	}
	return res
}

// bestHit picks, among items that accept a script's content, one whose
// integrity and crossorigin also fit, preferring one no other script took:
// identical scripts then map one to one.
func bestHit(ix *index, hits []int, e *entry, matched []bool) int {
	best, bestScore := hits[0], -1
	for _, h := range hits {
		score := 0
		if attrChanges(&ix.items[h], e.script) == "" {
			score += 2
		}
		if !matched[h] {
			score++
		}
		if score > bestScore {
			best, bestScore = h, score
		}
	}
	return best
}
