package baseline

import (
	"cmp"
	"fmt"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// script reports a script added, changed, removed, or run with other
// integrity or crossorigin attributes.
func (c *comparer) script(r result) {
	switch r.out {
	case removed:
		base := c.ix.items[r.base]
		c.add(skimguard.KindScriptRemoved, facts{}, base.Subject,
			fmt.Sprintf("%s %s is in the approved baseline but did not run on this load", kindPhrase(base.Attrs[skimguard.AttrKind]), base.Subject),
			skimguard.Evidence{Before: skimguard.ScriptHash(base.SHA256), BeforeSource: base.Source, URL: urlIfAny(base.Subject)},
			base, "removed")
	case added:
		c.scriptAdded(r)
	case changed:
		c.scriptChanged(r)
	case same:
		c.scriptAttrs(r)
	}
}

func (c *comparer) scriptAdded(r result) {
	e := r.obs
	s := e.script
	it := e.full()
	var f facts
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s is not in the approved baseline; %s", kindPhrase(string(s.Kind)), s.Subject(), loaderPhrase(s))
	// A script from the network is judged by where it comes from; code
	// without a URL by the origins its text names.
	network := hostOf(it.Origin) != ""
	if network {
		if c.newHost(it.Origin) {
			f.newOrigin = true
			fmt.Fprintf(&b, "; its origin %s is new to this page (no approved script, frame, form, connection or card sink uses it)", it.Origin)
		} else {
			fmt.Fprintf(&b, "; its origin %s is already used by the page", it.Origin)
		}
	}
	if names := scriptOrigins(s.Source); len(names) > 0 {
		fresh := c.newHosts(names)
		fmt.Fprintf(&b, "; its text names %s", strings.Join(names, ", "))
		if len(fresh) > 0 {
			fmt.Fprintf(&b, " (new to this page: %s)", strings.Join(fresh, ", "))
			f.newOrigin = f.newOrigin || !network
		}
	}
	c.add(skimguard.KindScriptAdded, f, s.Subject(), b.String(),
		skimguard.Evidence{After: e.hashValue(), AfterSource: s.Source, URL: s.URL, LoadedBy: s.LoadedBy},
		it, e.fingerprint())
}

func (c *comparer) scriptChanged(r result) {
	e, base := r.obs, c.ix.items[r.base]
	s := e.script
	it := e.full()
	it.Key = base.Key
	it.Optional = base.Optional
	keepPlace(&it, &base)

	versions := 0
	for _, v := range base.Values {
		if skimguard.IsScriptHash(v) {
			versions++
		}
	}
	plural := "s"
	if versions == 1 {
		plural = ""
	}
	var b strings.Builder
	if s.URL != "" {
		fmt.Fprintf(&b, "body of %s changed", s.URL)
	} else {
		fmt.Fprintf(&b, "%s %s matches no approved %s there; compared with approved %s at the same place, its body changed",
			kindPhrase(string(s.Kind)), s.Subject(), kindPhrase(string(s.Kind)), base.Subject)
	}
	fmt.Fprintf(&b, ": hash %s is not among the %d approved version%s", shortHash(e.hashValue()), versions, plural)
	plus, minus, names := tokenDelta(base.Source, s.Source)
	if plus == 0 && minus == 0 {
		b.WriteString(" and its tokens were reordered or code-like literal text changed")
	} else {
		fmt.Fprintf(&b, " and its structure differs (%d tokens added, %d removed)", plus, minus)
	}
	var f facts
	if len(names) > 0 {
		fmt.Fprintf(&b, "; it now names %s", strings.Join(names, ", "))
		if fresh := c.newHosts(names); len(fresh) > 0 {
			f.newOrigin = true
			fmt.Fprintf(&b, " (new to this page: %s)", strings.Join(fresh, ", "))
		}
	}
	if why := attrChanges(&base, s); why != "" {
		fmt.Fprintf(&b, "; also %s", why)
	}
	c.add(skimguard.KindScriptChanged, f, s.Subject(), b.String(),
		skimguard.Evidence{
			Before: skimguard.ScriptHash(base.SHA256), After: e.hashValue(),
			BeforeSource: base.Source, AfterSource: s.Source,
			URL: s.URL, LoadedBy: s.LoadedBy,
		},
		it, e.fingerprint())
}

func (c *comparer) scriptAttrs(r result) {
	// By pointer: this runs for every matching script, and an Item is
	// large.
	e, base := r.obs, &c.ix.items[r.base]
	s := e.script
	why := attrChanges(base, s)
	if why == "" {
		return
	}
	wasIntegrity, wasCrossOrigin := base.Attrs[skimguard.AttrIntegrity], base.Attrs[skimguard.AttrCrossOrigin]
	f := facts{integrityOnlyAdded: attrDiff(wasIntegrity, s.Integrity) == "added" && attrDiff(wasCrossOrigin, s.CrossOrigin) == ""}
	// An absent attribute is accepted, and shown, as AttrNone.
	integrity, crossOrigin := cmp.Or(s.Integrity, skimguard.AttrNone), cmp.Or(s.CrossOrigin, skimguard.AttrNone)
	it := *base
	it.Attrs = copyAttrs(base.Attrs)
	it.Attrs[skimguard.AttrIntegrity] = integrity
	it.Attrs[skimguard.AttrCrossOrigin] = crossOrigin
	c.add(skimguard.KindScriptAttributesChanged, f, s.Subject(),
		fmt.Sprintf("%s runs approved code, but %s", s.Subject(), why),
		skimguard.Evidence{
			Before: "integrity=" + cmp.Or(wasIntegrity, skimguard.AttrNone) + " crossorigin=" + cmp.Or(wasCrossOrigin, skimguard.AttrNone),
			After:  "integrity=" + integrity + " crossorigin=" + crossOrigin,
			URL:    s.URL, LoadedBy: s.LoadedBy,
		},
		it, "integrity="+s.Integrity+"|crossorigin="+s.CrossOrigin)
}

// keepPlace gives an observed script item the baseline item's place
// attributes, so approving a change merges into that item.
func keepPlace(it, base *skimguard.Item) {
	for _, a := range []string{skimguard.AttrOrdinal, skimguard.AttrLocation, skimguard.AttrFrame, skimguard.AttrKind} {
		if v, ok := base.Attrs[a]; ok {
			if it.Attrs == nil {
				it.Attrs = map[string]string{}
			}
			it.Attrs[a] = v
		}
	}
}

// attrChanges describes how a script's integrity and crossorigin
// attributes differ from the accepted ones, "" when they do not.
func attrChanges(base *skimguard.Item, s *skimguard.Script) string {
	var why []string
	switch attrDiff(base.Attrs[skimguard.AttrIntegrity], s.Integrity) {
	case "dropped":
		why = append(why, "its integrity attribute was removed (was "+base.Attrs[skimguard.AttrIntegrity]+")")
	case "changed":
		why = append(why, "its integrity attribute changed to "+s.Integrity+" (approved: "+base.Attrs[skimguard.AttrIntegrity]+")")
	case "added":
		why = append(why, "it gained an integrity attribute "+s.Integrity)
	}
	switch attrDiff(base.Attrs[skimguard.AttrCrossOrigin], s.CrossOrigin) {
	case "dropped":
		why = append(why, "its crossorigin attribute was removed (was "+base.Attrs[skimguard.AttrCrossOrigin]+")")
	case "changed", "added":
		why = append(why, "its crossorigin attribute is now "+s.CrossOrigin+" (approved: "+cmp.Or(base.Attrs[skimguard.AttrCrossOrigin], skimguard.AttrNone)+")")
	}
	return strings.Join(why, " and ")
}

// attrDiff compares an observed attribute with its accepted values.
func attrDiff(set, observed string) string {
	vs := attrSet(set)
	switch {
	case len(vs) == 0 && observed == "":
		return ""
	case len(vs) == 0:
		return "added"
	case observed == "" && !contains(vs, skimguard.AttrNone):
		return "dropped"
	case observed != "" && !contains(vs, observed):
		return "changed"
	}
	return ""
}

func shortHash(v string) string {
	v = strings.TrimPrefix(v, skimguard.ScriptHashPrefix)
	if len(v) > 12 {
		return v[:12] + "…"
	}
	return v
}

func kindPhrase(kind string) string {
	switch skimguard.ScriptKind(kind) {
	case skimguard.ScriptInline:
		return "inline script"
	case skimguard.ScriptHandler:
		return "inline event handler"
	case skimguard.ScriptJSURL:
		return "javascript: URL"
	case skimguard.ScriptDynamic:
		return "run-time compiled code (eval, new Function, string timer or script.text)"
	case skimguard.ScriptExternal:
		return "script"
	}
	return kind + " script"
}

func loaderPhrase(s *skimguard.Script) string {
	switch {
	case s.LoadedBy == "parser":
		return "it was inserted by the HTML parser"
	case s.LoadedBy == "" && s.Kind == skimguard.ScriptDynamic && s.Location != "":
		return "it was compiled by " + s.Location
	case s.LoadedBy == "":
		return "its loader is unknown"
	case s.Kind == skimguard.ScriptDynamic:
		return "it was compiled at run time by " + s.LoadedBy
	}
	return "it was inserted by " + s.LoadedBy
}
