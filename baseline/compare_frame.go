package baseline

import (
	"fmt"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// frame reports an iframe added, removed, or changed in origin, address,
// sandbox or visibility.
func (c *comparer) frame(r result) {
	switch r.out {
	case removed:
		base := c.ix.items[r.base]
		f := facts{heldCardFields: c.cardDoc(base.Attrs[skimguard.AttrDoc])}
		extra := ""
		if f.heldCardFields {
			extra = "; it held the baseline's card fields, so card entry has moved or vanished"
		}
		c.add(skimguard.KindFrameRemoved, f, base.Subject,
			fmt.Sprintf("iframe %s (in %s) is in the approved baseline but was not on this load%s", base.Subject, base.Attrs[skimguard.AttrParent], extra),
			skimguard.Evidence{Before: strings.Join(base.Values, " or "), URL: base.Subject}, base, "removed")
	case added:
		e := r.obs
		fr := e.frame
		it := e.full()
		var b strings.Builder
		fmt.Fprintf(&b, "iframe %s (origin %s) in %s is not in the approved baseline", fr.URL, it.Origin, it.Attrs[skimguard.AttrParent])
		if fr.Hidden {
			b.WriteString("; it is hidden, as frames that carry data away are")
		}
		if c.newHost(it.Origin) {
			b.WriteString("; its origin is new to this page")
		}
		c.add(skimguard.KindFrameAdded, facts{}, fr.URL, b.String(),
			skimguard.Evidence{After: it.Values[0], URL: fr.URL}, it, it.Values[0])
	case changed:
		c.frameChanged(r)
	}
}

func (c *comparer) frameChanged(r result) {
	e, base := r.obs, c.ix.items[r.base]
	fr := e.frame
	it := e.full()
	if it.Key != base.Key {
		it.Attrs[skimguard.AttrReplaces] = base.Key
		it.FirstSeen = base.FirstSeen
	}
	after := it.Values[0]
	var f facts
	var why []string
	var origins []string
	hiddenBefore := false
	for _, v := range base.Values {
		bv := skimguard.ParseFrameValue(v)
		origins = append(origins, bv.Origin)
		hiddenBefore = hiddenBefore || bv.Hidden
	}
	if o := skimguard.ParseFrameValue(after).Origin; !contains(origins, o) {
		f.originChanged = true
		why = append(why, fmt.Sprintf("its origin changed from %s to %s", strings.Join(sortedSet(origins), " or "), o))
	} else if it.Key != base.Key {
		why = append(why, fmt.Sprintf("its address changed from %s to %s", base.Subject, fr.URL))
	}
	if fr.Hidden && !hiddenBefore {
		f.becameHidden = true
		why = append(why, "it is now hidden (a fake form may sit in its place)")
	}
	if len(why) == 0 {
		why = append(why, "its state changed from "+strings.Join(base.Values, " or ")+" to "+after)
	}
	c.add(skimguard.KindFrameChanged, f, fr.URL,
		fmt.Sprintf("iframe %s in %s: %s", base.Subject, base.Attrs[skimguard.AttrParent], strings.Join(why, "; ")),
		skimguard.Evidence{Before: strings.Join(base.Values, " or "), After: after, URL: fr.URL}, it, it.Key+"|"+after)
}
