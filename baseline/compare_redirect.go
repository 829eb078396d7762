package baseline

import (
	"fmt"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// redirect reports the main document ending elsewhere, or getting there
// through other redirects.
func (c *comparer) redirect(r result) {
	if r.out != changed {
		return
	}
	base := c.ix.items[r.base]
	it := r.obs.full()
	after := it.Values[0]
	var finals []string
	for _, v := range base.Values {
		finals = append(finals, urlOrigin(skimguard.ParseRedirectValue(v).Final))
	}
	var f facts
	detail := fmt.Sprintf("the main document ended at %s, not where the approved page ends (%s)", c.o.FinalURL, strings.Join(base.Values, " or "))
	if o := urlOrigin(skimguard.ParseRedirectValue(after).Final); !contains(finals, o) {
		f.originChanged = true
		detail += fmt.Sprintf("; its origin changed to %s: the payment step may be a fake page", o)
	}
	if len(c.o.Redirects) > 0 {
		detail += "; redirects: " + strings.Join(c.o.Redirects, " → ")
	}
	c.add(skimguard.KindPageRedirected, f, c.o.FinalURL, detail,
		skimguard.Evidence{Before: strings.Join(base.Values, " or "), After: after, URL: c.o.FinalURL}, it, after)
}
