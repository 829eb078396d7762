package baseline

import (
	"fmt"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// header reports a security header added, removed or given another value.
func (c *comparer) header(r result) {
	switch r.out {
	case removed:
		base := c.ix.items[r.base]
		c.add(skimguard.KindHeaderRemoved, facts{reportOnly: base.Key == "content-security-policy-report-only"}, base.Key,
			fmt.Sprintf("security header %s is in the approved baseline but the page no longer sends it", base.Key),
			skimguard.Evidence{Before: strings.Join(base.Values, " or ")}, base, "removed")
	case added:
		it := r.obs.full()
		c.add(skimguard.KindHeaderAdded, facts{}, it.Key,
			fmt.Sprintf("the page now sends security header %s, which the approved baseline does not have", it.Key),
			skimguard.Evidence{After: it.Values[0]}, it, it.Values[0])
	case changed:
		c.headerChanged(r)
	}
}

func (c *comparer) headerChanged(r result) {
	base := c.ix.items[r.base]
	it := r.obs.full()
	after := it.Values[0]
	f := facts{reportOnly: it.Key == "content-security-policy-report-only"}
	detail := fmt.Sprintf("security header %s changed from its approved value", it.Key)
	if isCSP(it.Key) {
		// Weaker only when it allows more than every approved policy.
		weaker := ""
		for _, v := range base.Values {
			w := cspWeakening(v, after)
			if w == "" {
				weaker = ""
				break
			}
			if weaker == "" {
				weaker = w
			}
		}
		if weaker != "" {
			f.weakerCSP = true
			detail += "; it is weaker: " + weaker
		}
	}
	c.add(skimguard.KindHeaderChanged, f, it.Key, detail,
		skimguard.Evidence{Before: strings.Join(base.Values, " or "), After: after}, it, after)
}
