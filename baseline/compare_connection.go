package baseline

import (
	"fmt"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// connection reports a destination the page never contacted before. A
// connection no longer made is no finding: what a page contacts depends on
// what the shopper does.
func (c *comparer) connection(r result) {
	if r.out != added {
		return
	}
	e := r.obs
	cn := e.conn
	it := e.full()
	f := facts{afterTyping: cn.AfterTyping}
	var b strings.Builder
	fmt.Fprintf(&b, "the page sent %d request(s) (%s) to %s, which it never contacted in the approved baseline", cn.Count, strings.Join(cn.Types, ", "), it.Key)
	ini := ""
	if len(cn.Initiators) > 0 {
		ini = cn.Initiators[0]
		fmt.Fprintf(&b, "; started by %s", strings.Join(cn.Initiators, ", "))
	}
	sender, chain := c.sender(cn.Chain, ini)
	if chain != "" {
		fmt.Fprintf(&b, "; the first request's call chain, sender first: %s (named: %s)", chain, sender)
	}
	if f.afterTyping {
		b.WriteString("; a request went out after the test card was typed")
	}
	c.add(skimguard.KindConnectionAdded, f, it.Key, b.String(),
		skimguard.Evidence{After: it.Key, URL: cn.Example, Initiator: sender, CallChain: chain}, it, it.Key)
}
