package baseline

import (
	"cmp"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// Learn makes a page's first baseline from one or more observations of it
// (the samples of `skimguard baseline`), approved by `by` for `reason` at
// `at`. Version and ID are left for the store. It is Relearn without a
// current baseline.
//
// The first sample gives the items; each further sample is matched against
// them the way Compare would, and what would have been a finding is
// learnt instead: another accepted version of a script, form, frame state,
// header value or redirect, or a new item. Items not seen in every sample
// are Optional (A/B variants, lazily loaded widgets), so their absence is
// no finding. Query parameters whose values differ between samples at the
// same origin and path are dropped from keys, and recorded on the items
// (skimguard.AttrVolatile) so that Compare drops them too.
func Learn(samples []*skimguard.Observation, by, reason string, at time.Time) (*skimguard.Baseline, error) {
	return Relearn(nil, samples, by, reason, at)
}

// Relearn learns a page's baseline again from new samples, as Learn does,
// starting from its current baseline (nil for none), so that re-learning
// an unchanged page changes nothing. The samples are matched against the
// current items the way Compare would:
//   - an item they show as Compare accepts it is kept as it is: its key,
//     values, text, first-seen time and approval;
//   - an item they show changed keeps its key and first-seen time, gains
//     what they show as accepted values (a header's value replaces the old
//     one, as approving its change would), and is approved by `by` for
//     `reason` at `at`; so is an item found optional that was required (an
//     optional one stays optional: it was seen missing before);
//   - items of the current baseline that no sample shows are dropped, and
//     new items are learnt as Learn learns them.
//
// Query parameters learnt to vary before stay learnt. current is not
// modified.
func Relearn(current *skimguard.Baseline, samples []*skimguard.Observation, by, reason string, at time.Time) (*skimguard.Baseline, error) {
	if len(samples) == 0 {
		return nil, errors.New("learn baseline: no samples; observe the page at least once (several loads let volatile values be learnt)")
	}
	for i, o := range samples {
		if o == nil {
			return nil, fmt.Errorf("learn baseline: sample %d is nil", i+1)
		}
		if o.Site != samples[0].Site || o.Page != samples[0].Page {
			return nil, fmt.Errorf("learn baseline: sample %d is of %s/%s, not %s/%s; learn each page from its own samples",
				i+1, o.Site, o.Page, samples[0].Site, samples[0].Page)
		}
	}
	learnt := learnVolatile(samples)

	var items []skimguard.Item
	var seen []int // per item: in how many samples it matched
	// The current baseline's items come first: carried[i] for those.
	var carried []carry
	if current != nil {
		if s := samples[0]; (s.Site != "" && s.Site != current.Site) || (s.Page != "" && s.Page != current.Page) {
			return nil, fmt.Errorf("learn baseline: the samples are of %s/%s, not %s/%s; learn each page from its own samples",
				s.Site, s.Page, current.Site, current.Page)
		}
		for p := range baselineVolatile(current.Items) {
			learnt[p] = true
		}
		items = make([]skimguard.Item, len(current.Items))
		carried = make([]carry, len(current.Items))
		for i, it := range current.Items {
			items[i] = cloneItem(it)
			carried[i].attrs = it.Attrs[skimguard.AttrIntegrity] + "\x00" + it.Attrs[skimguard.AttrCrossOrigin]
		}
		seen = make([]int, len(items))
	}
	for _, o := range samples {
		snap := takeSnapshot(o, newURLNorm(learnt, o.FinalURL, o.URL))
		ix := newIndex(items)
		hit := make([]bool, len(items))
		var fresh []skimguard.Item
		for _, r := range matchAll(ix, snap) {
			switch r.out {
			case same, changed:
				base := &items[r.base]
				if r.out == changed && r.obs.item.Type == skimguard.ItemFrame && r.obs.item.Key != base.Key {
					// A frame at another address is another frame (an A/B
					// choice of provider), not a version of this one, and
					// this one was not seen.
					fresh = append(fresh, r.obs.full())
					continue
				}
				if !hit[r.base] {
					hit[r.base] = true
					seen[r.base]++
				}
				if r.base < len(carried) {
					if r.out == same {
						// Identical copies of a script match one item;
						// the others Compare counts as matched are seen
						// too.
						for _, h := range ix.valueHits(r.obs) {
							if h < len(carried) {
								carried[h].shown = true
							}
						}
					} else if c := &carried[r.base]; !c.changed {
						// The first change of a current item: what the
						// samples show replaces its text, as approving
						// the change would.
						c.changed = true
						if base.Type == skimguard.ItemHeader {
							base.Values = nil
						}
						mergeItem(base, r.obs.full())
						continue
					}
				}
				learnInto(base, r.obs, r.out == changed)
			case added:
				fresh = append(fresh, r.obs.full())
			}
		}
		for _, it := range fresh {
			items = append(items, it)
			seen = append(seen, 1)
		}
	}

	volatile := make([]string, 0, len(learnt))
	for p := range learnt {
		volatile = append(volatile, p)
	}
	sort.Strings(volatile)
	kept := items[:0]
	for i := range items {
		it := items[i]
		if i < len(carried) {
			c := carried[i]
			if seen[i] == 0 && !c.shown {
				continue // gone from the page
			}
			optional := it.Optional || seen[i] < len(samples)
			touched := c.changed || optional != it.Optional ||
				c.attrs != it.Attrs[skimguard.AttrIntegrity]+"\x00"+it.Attrs[skimguard.AttrCrossOrigin]
			it.Optional = optional
			if touched {
				it.ApprovedBy, it.Reason, it.ApprovedAt = by, reason, at
			}
			if it.FirstSeen.IsZero() {
				it.FirstSeen = at
			}
		} else {
			it.Optional = seen[i] < len(samples)
			it.FirstSeen, it.ApprovedBy, it.Reason, it.ApprovedAt = at, by, reason, at
		}
		if len(volatile) > 0 {
			if it.Attrs == nil {
				it.Attrs = map[string]string{}
			}
			it.Attrs[skimguard.AttrVolatile] = strings.Join(volatile, ",")
		}
		kept = append(kept, it)
	}
	items = kept
	sortItems(items)
	return &skimguard.Baseline{
		Site:       samples[0].Site,
		Page:       samples[0].Page,
		URL:        samples[0].URL,
		Samples:    len(samples),
		CreatedAt:  at,
		ApprovedBy: by,
		Reason:     reason,
		Items:      items,
	}, nil
}

// carry is what Relearn notes of a current baseline item.
type carry struct {
	// changed: a sample showed it changed; shown: a sample showed an
	// identical copy of it (see index.valueHits).
	changed, shown bool
	// attrs are its integrity and crossorigin attributes before learning.
	attrs string
}

// learnInto accepts what a further sample showed of an item. Script bodies
// that only differ in literal values share a fingerprint, so their exact
// hashes are not piled up; a structurally different body is another
// accepted version.
func learnInto(base *skimguard.Item, e *entry, isChange bool) {
	switch base.Type {
	case skimguard.ItemScript:
		if isChange {
			base.Values = sortedSet(append(base.Values, e.fingerprint(), e.hashValue()))
		}
		mergeScriptAttrs(base, e.script.Integrity, e.script.CrossOrigin)
	default:
		if isChange {
			base.Values = sortedSet(append(base.Values, e.item.Values...))
		}
	}
}

// mergeScriptAttrs accepts a script's integrity and crossorigin
// attributes as seen next to those already accepted.
func mergeScriptAttrs(it *skimguard.Item, integrity, crossorigin string) {
	acceptAttr(it, skimguard.AttrIntegrity, integrity)
	acceptAttr(it, skimguard.AttrCrossOrigin, crossorigin)
}

// acceptAttr adds v ("" meaning absent, stored as skimguard.AttrNone) to the
// accepted values of attribute name. An item without the attribute was
// approved without it, so absence stays accepted when a value joins.
func acceptAttr(it *skimguard.Item, name, v string) {
	cur := it.Attrs[name]
	if cur == "" && v == "" {
		return
	}
	if it.Attrs == nil {
		it.Attrs = map[string]string{}
	}
	if cur == "" {
		cur = skimguard.AttrNone
	}
	it.Attrs[name] = mergeAttrSet(cur, cmp.Or(v, skimguard.AttrNone))
}

func sortItems(items []skimguard.Item) {
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Type != items[j].Type {
			return items[i].Type < items[j].Type
		}
		return items[i].Key < items[j].Key
	})
}
