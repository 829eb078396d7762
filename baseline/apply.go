package baseline

import (
	"errors"
	"fmt"

	skimguard "github.com/skimguard/skimguard"
)

// Apply is a skimguard.ApplyFunc: it returns the page's new baseline after
// approving the findings. Additions are added (a data.exfiltration adds its
// origin as a card sink, a card.access_added what the script sees);
// changes are merged into the matching item as an
// extra accepted value, with Source, SHA256 and SRI updated for scripts; a
// frame whose address changed replaces the old frame; removals are
// removed; header values are replaced; a redirect's new destination is
// accepted. Each touched item is stamped with res.By, Reason and At;
// untouched items keep their approval. current may be nil: the baseline is
// then built from the findings' items. current is not modified.
//
// Rejected findings are never passed here (the store resolves them without
// calling Apply), and scan.failed findings carry no item and change
// nothing.
func Apply(current *skimguard.Baseline, approved []skimguard.Finding, res skimguard.Resolution) (*skimguard.Baseline, error) {
	nb := &skimguard.Baseline{}
	if current != nil {
		*nb = *current
		nb.Items = make([]skimguard.Item, len(current.Items))
		for i, it := range current.Items {
			nb.Items[i] = cloneItem(it)
		}
	} else {
		if len(approved) == 0 {
			return nil, errors.New("apply approval: no current baseline and no findings to build one from")
		}
		nb.Site, nb.Page = approved[0].Site, approved[0].Page
	}
	nb.ID, nb.Version = 0, 0
	nb.CreatedAt, nb.ApprovedBy, nb.Reason = res.At, res.By, res.Reason

	pos := map[string]int{}
	reindex := func() {
		clear(pos)
		for i := range nb.Items {
			pos[string(nb.Items[i].Type)+"\x00"+nb.Items[i].Key] = i
		}
	}
	reindex()
	stamp := func(it *skimguard.Item) {
		it.ApprovedBy, it.Reason, it.ApprovedAt = res.By, res.Reason, res.At
	}
	remove := func(t skimguard.ItemType, key string) (skimguard.Item, bool) {
		i, ok := pos[string(t)+"\x00"+key]
		if !ok {
			return skimguard.Item{}, false
		}
		old := nb.Items[i]
		nb.Items = append(nb.Items[:i], nb.Items[i+1:]...)
		reindex()
		return old, true
	}
	insert := func(it skimguard.Item) {
		if it.FirstSeen.IsZero() {
			it.FirstSeen = res.At
		}
		it.Values = sortedSet(it.Values)
		stamp(&it)
		nb.Items = append(nb.Items, it)
		pos[string(it.Type)+"\x00"+it.Key] = len(nb.Items) - 1
	}

	for k, f := range approved {
		if f.Kind == skimguard.KindScanFailed {
			continue // a failed scan observed nothing to approve
		}
		if current != nil && (f.Site != current.Site || f.Page != current.Page) {
			return nil, fmt.Errorf("apply approval: finding %d (%s) is of %s/%s, not %s/%s; approve each page's findings against its own baseline",
				f.ID, f.Kind, f.Site, f.Page, current.Site, current.Page)
		}
		if f.Item.Type == "" || f.Item.Key == "" {
			return nil, fmt.Errorf("apply approval: finding %d (%s, %s) carries no baseline item; rescan the page and approve the new finding",
				f.ID, f.Kind, f.Subject)
		}
		it := cloneItem(f.Item)
		key := string(it.Type) + "\x00" + it.Key
		i, exists := pos[key]

		switch f.Kind {
		case skimguard.KindScriptRemoved, skimguard.KindFrameRemoved, skimguard.KindFormRemoved, skimguard.KindHeaderRemoved:
			remove(it.Type, it.Key)
			if it.Type == skimguard.ItemScript {
				// What a gone script could see of the card goes with it: a
				// script that takes its place must show its own.
				remove(skimguard.ItemCardAccess, it.Key)
			}

		case skimguard.KindHeaderChanged, skimguard.KindHeaderAdded:
			// A header has one approved policy; approving a new one
			// retires the old.
			if exists {
				nb.Items[i].Values = sortedSet(it.Values)
				stamp(&nb.Items[i])
			} else {
				insert(it)
			}

		case skimguard.KindFrameChanged:
			if old := it.Attrs[skimguard.AttrReplaces]; old != "" && old != it.Key {
				delete(it.Attrs, skimguard.AttrReplaces)
				if prev, ok := remove(it.Type, old); ok {
					it.FirstSeen = prev.FirstSeen
				}
				if j, ok := pos[key]; ok {
					mergeItem(&nb.Items[j], it)
					stamp(&nb.Items[j])
				} else {
					insert(it)
				}
				continue
			}
			fallthrough

		case skimguard.KindScriptAdded, skimguard.KindScriptChanged, skimguard.KindScriptAttributesChanged,
			skimguard.KindFrameAdded, skimguard.KindFormAdded, skimguard.KindFormChanged,
			skimguard.KindConnectionAdded, skimguard.KindPageRedirected, skimguard.KindDataExfiltration,
			skimguard.KindCardAccessAdded:
			delete(it.Attrs, skimguard.AttrReplaces)
			if exists {
				mergeItem(&nb.Items[i], it)
				stamp(&nb.Items[i])
			} else {
				insert(it)
			}

		default:
			return nil, fmt.Errorf("apply approval: finding %d has unknown kind %q (approved finding #%d)", f.ID, f.Kind, k+1)
		}
	}
	sortItems(nb.Items)
	return nb, nil
}

// mergeItem folds an approved observed item into the baseline item of the
// same key: its values become accepted next to the old ones (an earlier
// approved version stays acceptable, as an A/B variant would), a script's
// latest text, hash and SRI replace the old ones, and its integrity and
// crossorigin join the accepted attribute values.
func mergeItem(dst *skimguard.Item, src skimguard.Item) {
	dst.Values = sortedSet(append(dst.Values, src.Values...))
	if src.Subject != "" {
		dst.Subject = src.Subject
	}
	if src.Origin != "" {
		dst.Origin = src.Origin
	}
	if dst.Type != skimguard.ItemScript {
		return
	}
	if src.SHA256 != "" {
		dst.Source, dst.SHA256, dst.SRI = src.Source, src.SHA256, src.SRI
	}
	mergeScriptAttrsFrom(dst, src.Attrs)
	if lb := src.Attrs[skimguard.AttrLoadedBy]; lb != "" {
		if dst.Attrs == nil {
			dst.Attrs = map[string]string{}
		}
		dst.Attrs[skimguard.AttrLoadedBy] = lb
	}
}

// mergeScriptAttrsFrom accepts each value of src's integrity and
// crossorigin sets (absent meaning skimguard.AttrNone).
func mergeScriptAttrsFrom(dst *skimguard.Item, src map[string]string) {
	for _, name := range [...]string{skimguard.AttrIntegrity, skimguard.AttrCrossOrigin} {
		vs := attrSet(src[name])
		if len(vs) == 0 {
			vs = []string{""}
		}
		for _, v := range vs {
			if v == skimguard.AttrNone {
				v = ""
			}
			acceptAttr(dst, name, v)
		}
	}
}

func cloneItem(it skimguard.Item) skimguard.Item {
	c := it
	c.Values = append([]string(nil), it.Values...)
	c.Attrs = copyAttrs(it.Attrs)
	return c
}
