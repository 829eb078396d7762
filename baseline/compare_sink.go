package baseline

import (
	"fmt"
	"slices"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// sink reports test card data reaching an origin that never received it.
// An approved sink that got nothing this time is no finding.
func (c *comparer) sink(r result) {
	if r.out != added {
		return
	}
	e := r.obs
	it := e.full()
	l := e.leaks[0]
	var fields []string
	for _, lk := range e.leaks {
		for _, f := range lk.Fields {
			fields = append(fields, string(f))
		}
	}
	fields = sortedSet(fields)
	if !slices.ContainsFunc(e.leaks, func(l *skimguard.Leak) bool { return !l.Truncated }) {
		// Kits that send the first six and last four digits tell cards
		// apart, or slip past searches for the whole number.
		for i, f := range fields {
			if f == string(skimguard.FieldNumber) {
				fields[i] = "first six and last four digits"
			}
		}
	}
	var approved []string
	for i := range c.ix.items {
		if c.ix.items[i].Type == skimguard.ItemCardSink {
			approved = append(approved, c.ix.items[i].Key)
		}
	}
	how := strings.TrimSpace(l.Type + " " + l.Method)
	detail := fmt.Sprintf("the test card's %s left the page for %s in %d request(s), first by %s in the %s (%s encoding)",
		strings.Join(fields, ", "), it.Key, len(e.leaks), how, l.Where, l.Encoding)
	sender, chain := c.sender(l.Chain, l.Initiator)
	if sender != "" {
		detail += ", sent by " + sender
	}
	if chain != "" {
		detail += " (call chain, sender first: " + chain + ")"
	}
	if len(approved) > 0 {
		detail += "; only " + strings.Join(approved, ", ") + " receive card data in the approved baseline"
	} else {
		detail += "; no origin receives card data in the approved baseline"
	}
	c.add(skimguard.KindDataExfiltration, facts{}, it.Key, detail,
		skimguard.Evidence{Before: strings.Join(approved, ", "), After: it.Key + " (" + strings.Join(fields, ",") + ")", URL: l.URL, Initiator: sender, CallChain: chain},
		it, it.Key)
}
