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

// Learn makes a page's baseline from one or more observations of it (the
// samples of `skimguard baseline`), approved by `by` for `reason` at `at`.
// Version and ID are left for the store.
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
	for i := range items {
		it := &items[i]
		it.Optional = seen[i] < len(samples)
		it.FirstSeen, it.ApprovedBy, it.Reason, it.ApprovedAt = at, by, reason, at
		if len(volatile) > 0 {
			if it.Attrs == nil {
				it.Attrs = map[string]string{}
			}
			it.Attrs[skimguard.AttrVolatile] = strings.Join(volatile, ",")
		}
	}
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
