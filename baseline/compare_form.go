package baseline

import (
	"cmp"
	"fmt"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// form reports a form (or a document's formless card inputs) added,
// removed, or changed in action, method or card fields.
func (c *comparer) form(r result) {
	switch r.out {
	case removed:
		base := c.ix.items[r.base]
		c.add(skimguard.KindFormRemoved, facts{}, base.Subject,
			fmt.Sprintf("form %s is in the approved baseline but was not on this load", base.Key),
			skimguard.Evidence{Before: strings.Join(base.Values, " or "), URL: urlIfAny(base.Subject)}, base, "removed")
	case added:
		e := r.obs
		it := e.full()
		doc := it.Attrs[skimguard.AttrFrame]
		var f facts
		var b strings.Builder
		fmt.Fprintf(&b, "form %s is not in the approved baseline", it.Key)
		if fields := cardFields(e.form); len(fields) > 0 {
			f.cardInputs = true
			fmt.Fprintf(&b, "; it asks for card %s", strings.Join(fields, ", "))
			if doc == "top" && !c.cardDoc("top") {
				f.cardInputsInTop = true
				b.WriteString(" in the top document, where the approved page takes no card data (the card belongs in the provider's iframe)")
			}
		}
		if e.form.Action != "" {
			fmt.Fprintf(&b, "; it posts to %s", e.form.Action)
		}
		c.add(skimguard.KindFormAdded, f, it.Subject, b.String(),
			skimguard.Evidence{After: it.Values[0], URL: e.form.Action}, it, it.Values[0])
	case changed:
		c.formChanged(r)
	}
}

func (c *comparer) formChanged(r result) {
	e, base := r.obs, c.ix.items[r.base]
	it := e.full()
	after := it.Values[0]
	var f facts
	var why []string
	var actions []string
	fieldsBefore := false
	for _, v := range base.Values {
		bv := skimguard.ParseFormValue(v)
		actions = append(actions, urlOrigin(bv.Action))
		fieldsBefore = fieldsBefore || len(bv.Fields) > 0
	}
	if o := urlOrigin(skimguard.ParseFormValue(after).Action); !contains(actions, o) {
		f.originChanged = true
		why = append(why, fmt.Sprintf("its action now posts to %s instead of %s", cmp.Or(o, "(none)"), strings.Join(sortedSet(actions), " or ")))
	}
	if fields := cardFields(e.form); len(fields) > 0 && !fieldsBefore && it.Attrs[skimguard.AttrFrame] == "top" && !c.cardDoc("top") {
		f.cardInputsInTop = true
		why = append(why, "it now asks for card "+strings.Join(fields, ", ")+" in the top document, where the approved page takes no card data")
	}
	if len(why) == 0 {
		why = append(why, "its action, method or card fields changed")
	}
	c.add(skimguard.KindFormChanged, f, it.Subject,
		fmt.Sprintf("form %s: %s", base.Key, strings.Join(why, "; ")),
		skimguard.Evidence{Before: strings.Join(base.Values, " or "), After: after, URL: e.form.Action}, it, after)
}
