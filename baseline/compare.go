package baseline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// Severities, and why:
//
//   - data.exfiltration: critical. Card data reaching an origin that never
//     received it is the theft itself, whatever code caused it.
//   - script.added: high; critical when the script comes from (or, without
//     a URL, names) an origin new to the page. New code on a payment page is
//     how every skimmer starts, and a never-seen origin (jquery-cdn.pw) is
//     the Magecart signature.
//   - script.changed: high; critical when the new text names an origin new
//     to the page. Appending to an approved file (British Airways) keeps the
//     URL; the body is what runs.
//   - script.attributes_changed: medium when integrity is dropped or
//     changed or crossorigin changes (it disarms Subresource Integrity, the
//     browser's own tamper check, but the code that ran is still approved);
//     low when integrity is added (stricter, still an inventory change).
//   - frame.added: high (a new frame can collect or carry card data);
//     frame.changed: critical when its origin changes (a lookalike of the
//     provider's iframe), high when it becomes hidden (the real iframe
//     hidden under a fake form), else medium.
//   - form.added: critical for card inputs in the top document where the
//     baseline had none there (a fake card form next to the provider's
//     iframe); high for other card forms; medium without card inputs.
//     form.changed: critical when the action's origin changes (form
//     jacking) or the top document gains card inputs; else medium.
//   - connection.added: medium (pages gain analytics endpoints often), high
//     when the request went out after the card was typed.
//   - header.removed: high (CSP, HSTS, X-Frame-Options... are what stop
//     injected code from running or data from leaving), medium for
//     Content-Security-Policy-Report-Only (it never blocked anything).
//     header.changed: high when CSP allows more than before, else medium.
//     header.added: low (stricter, still a change to approve).
//   - page.redirected: high; critical when the final origin changes (a fake
//     "payment failed, retry" page elsewhere).
//   - *.removed: low, and script.removed too: code that no longer runs
//     cannot take card data. It is still reported, since 11.6.1 asks for
//     deletions and a missing anti-fraud script matters. A removed iframe
//     that held the baseline's card fields is medium: card entry has moved
//     somewhere.

// Compare returns the findings of o against b (ID 0, Status open), most
// severe first. An unchanged page gives none. A nil baseline or
// observation gives none: whether a page has a baseline is the caller's
// question.
func Compare(b *skimguard.Baseline, o *skimguard.Observation) []skimguard.Finding {
	if b == nil || o == nil {
		return nil
	}
	n := newURLNorm(baselineVolatile(b.Items), o.FinalURL, o.URL)
	c := &comparer{b: b, o: o, ix: newIndex(b.Items), site: o.Site, page: o.Page}
	if c.site == "" {
		c.site = b.Site
	}
	if c.page == "" {
		c.page = b.Page
	}
	for _, r := range matchAll(c.ix, takeSnapshot(o, n)) {
		c.report(r)
	}
	sortFindings(c.out)
	return c.out
}

// baselineVolatile collects the query parameters learnt to vary on the
// page, recorded on the baseline's items.
func baselineVolatile(items []skimguard.Item) map[string]bool {
	var m map[string]bool
	for i := range items {
		v := items[i].Attrs[attrVolatile]
		if v == "" {
			continue
		}
		if m == nil {
			m = map[string]bool{}
		}
		for _, p := range strings.Split(v, ",") {
			m[p] = true
		}
	}
	return m
}

type comparer struct {
	b          *skimguard.Baseline
	o          *skimguard.Observation
	ix         *index
	site, page string
	known      map[string]bool // hosts the approved page already uses
	out        []skimguard.Finding
}

func (c *comparer) add(kind skimguard.Kind, sev skimguard.Severity, subject, detail string, ev skimguard.Evidence, it skimguard.Item, value string) {
	sum := sha256.Sum256([]byte(c.site + "\x00" + c.page + "\x00" + string(kind) + "\x00" + it.Key + "\x00" + value))
	c.out = append(c.out, skimguard.Finding{
		Kind: kind, Severity: sev, Site: c.site, Page: c.page,
		Subject: subject, Detail: detail, Evidence: ev, Item: it,
		Fingerprint: hex.EncodeToString(sum[:16]),
		Status:      skimguard.StatusOpen,
	})
}

// newHost reports whether origin's host is used by nothing in the approved
// baseline (no script, frame, form action, connection, card sink or the
// page itself). Non-network origins (data:, blob:, about:) are never new.
func (c *comparer) newHost(origin string) bool {
	h := hostOf(origin)
	if h == "" {
		return false
	}
	if c.known == nil {
		c.known = map[string]bool{hostOf(skimguard.Origin(c.b.URL)): true}
		for i := range c.ix.items {
			it := &c.ix.items[i]
			c.known[hostOf(it.Origin)] = true
			if it.Type == skimguard.ItemConnection || it.Type == skimguard.ItemCardSink {
				c.known[hostOf(it.Key)] = true
			}
		}
	}
	return !c.known[h]
}

func hostOf(origin string) string {
	i := strings.Index(origin, "//")
	if i < 0 {
		return ""
	}
	return strings.ToLower(origin[i+2:])
}

func (c *comparer) newHosts(origins []string) (fresh []string) {
	for _, o := range origins {
		if c.newHost(o) {
			fresh = append(fresh, o)
		}
	}
	return fresh
}

func (c *comparer) report(r result) {
	var t skimguard.ItemType
	if r.obs != nil {
		t = r.obs.item.Type
	} else {
		t = c.ix.items[r.base].Type
	}
	switch t {
	case skimguard.ItemScript:
		c.script(r)
	case skimguard.ItemFrame:
		c.frame(r)
	case skimguard.ItemForm:
		c.form(r)
	case skimguard.ItemConnection:
		c.connection(r)
	case skimguard.ItemHeader:
		c.header(r)
	case skimguard.ItemRedirect:
		c.redirect(r)
	case skimguard.ItemCardSink:
		c.sink(r)
	}
}

func shortHash(v string) string {
	v = strings.TrimPrefix(v, "sha256:")
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

func (c *comparer) script(r result) {
	switch r.out {
	case removed:
		base := c.ix.items[r.base]
		c.add(skimguard.KindScriptRemoved, skimguard.SeverityLow, base.Subject,
			fmt.Sprintf("%s %s is in the approved baseline but did not run on this load", kindPhrase(base.Attrs[attrKind]), base.Subject),
			skimguard.Evidence{Before: "sha256:" + base.SHA256, BeforeSource: base.Source, URL: urlIfAny(base.Subject)},
			base, "removed")
	case added:
		e := r.obs
		s := e.script
		it := e.full()
		sev := skimguard.SeverityHigh
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s is not in the approved baseline; %s", kindPhrase(string(s.Kind)), s.Subject(), loaderPhrase(s))
		network := hostOf(it.Origin) != ""
		if network {
			if c.newHost(it.Origin) {
				sev = skimguard.SeverityCritical
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
				if !network {
					sev = skimguard.SeverityCritical
				}
			}
		}
		c.add(skimguard.KindScriptAdded, sev, s.Subject(), b.String(),
			skimguard.Evidence{After: e.hashValue(), AfterSource: s.Source, URL: s.URL, LoadedBy: s.LoadedBy},
			it, e.fingerprint())
	case changed:
		c.scriptChanged(r)
	case same:
		c.scriptAttrs(r)
	}
}

func urlIfAny(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return ""
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
		if strings.HasPrefix(v, "sha256:") {
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
	sev := skimguard.SeverityHigh
	if len(names) > 0 {
		fmt.Fprintf(&b, "; it now names %s", strings.Join(names, ", "))
		if fresh := c.newHosts(names); len(fresh) > 0 {
			sev = skimguard.SeverityCritical
			fmt.Fprintf(&b, " (new to this page: %s)", strings.Join(fresh, ", "))
		}
	}
	if why := attrChanges(&base, s); why != "" {
		fmt.Fprintf(&b, "; also %s", why)
	}
	c.add(skimguard.KindScriptChanged, sev, s.Subject(), b.String(),
		skimguard.Evidence{
			Before: "sha256:" + base.SHA256, After: e.hashValue(),
			BeforeSource: base.Source, AfterSource: s.Source,
			URL: s.URL, LoadedBy: s.LoadedBy,
		},
		it, e.fingerprint())
}

// keepPlace gives an observed script item the baseline item's place
// attributes, so approving a change merges into that item.
func keepPlace(it, base *skimguard.Item) {
	for _, a := range []string{attrOrdinal, attrLocation, attrFrame, attrKind} {
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
	switch attrDiff(base.Attrs[attrIntegrity], s.Integrity) {
	case "dropped":
		why = append(why, "its integrity attribute was removed (was "+base.Attrs[attrIntegrity]+")")
	case "changed":
		why = append(why, "its integrity attribute changed to "+s.Integrity+" (approved: "+base.Attrs[attrIntegrity]+")")
	case "added":
		why = append(why, "it gained an integrity attribute "+s.Integrity)
	}
	switch attrDiff(base.Attrs[attrCrossOrigin], s.CrossOrigin) {
	case "dropped":
		why = append(why, "its crossorigin attribute was removed (was "+base.Attrs[attrCrossOrigin]+")")
	case "changed", "added":
		why = append(why, "its crossorigin attribute is now "+s.CrossOrigin+" (approved: "+orNone(base.Attrs[attrCrossOrigin])+")")
	}
	return strings.Join(why, " and ")
}

func orNone(s string) string {
	if s == "" {
		return attrNone
	}
	return s
}

// attrDiff compares an observed attribute with its accepted values.
func attrDiff(set, observed string) string {
	vs := attrSet(set)
	switch {
	case len(vs) == 0 && observed == "":
		return ""
	case len(vs) == 0:
		return "added"
	case observed == "" && !contains(vs, attrNone):
		return "dropped"
	case observed != "" && !contains(vs, observed):
		return "changed"
	}
	return ""
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
	sev := skimguard.SeverityMedium
	if attrDiff(base.Attrs[attrIntegrity], s.Integrity) == "added" && attrDiff(base.Attrs[attrCrossOrigin], s.CrossOrigin) == "" {
		sev = skimguard.SeverityLow
	}
	it := *base
	it.Attrs = copyAttrs(base.Attrs)
	it.Attrs[attrIntegrity] = orNone(s.Integrity)
	it.Attrs[attrCrossOrigin] = orNone(s.CrossOrigin)
	c.add(skimguard.KindScriptAttributesChanged, sev, s.Subject(),
		fmt.Sprintf("%s runs approved code, but %s", s.Subject(), why),
		skimguard.Evidence{
			Before: "integrity=" + orNone(base.Attrs[attrIntegrity]) + " crossorigin=" + orNone(base.Attrs[attrCrossOrigin]),
			After:  "integrity=" + orNone(s.Integrity) + " crossorigin=" + orNone(s.CrossOrigin),
			URL:    s.URL, LoadedBy: s.LoadedBy,
		},
		it, "integrity="+s.Integrity+"|crossorigin="+s.CrossOrigin)
}

// cardDoc reports whether the baseline had card inputs in document doc.
func (c *comparer) cardDoc(doc string) bool {
	for i := range c.ix.items {
		it := &c.ix.items[i]
		if it.Type != skimguard.ItemForm || it.Attrs[attrFrame] != doc {
			continue
		}
		for _, v := range it.Values {
			if valuePart(v, "fields") != "" {
				return true
			}
		}
	}
	return false
}

func (c *comparer) frame(r result) {
	switch r.out {
	case removed:
		base := c.ix.items[r.base]
		sev, extra := skimguard.SeverityLow, ""
		if c.cardDoc(base.Attrs[attrDoc]) {
			sev, extra = skimguard.SeverityMedium, "; it held the baseline's card fields, so card entry has moved or vanished"
		}
		c.add(skimguard.KindFrameRemoved, sev, base.Subject,
			fmt.Sprintf("iframe %s (in %s) is in the approved baseline but was not on this load%s", base.Subject, base.Attrs[attrParent], extra),
			skimguard.Evidence{Before: strings.Join(base.Values, " or "), URL: base.Subject}, base, "removed")
	case added:
		e := r.obs
		f := e.frame
		it := e.full()
		var b strings.Builder
		fmt.Fprintf(&b, "iframe %s (origin %s) in %s is not in the approved baseline", f.URL, it.Origin, it.Attrs[attrParent])
		if f.Hidden {
			b.WriteString("; it is hidden, as frames that carry data away are")
		}
		if c.newHost(it.Origin) {
			b.WriteString("; its origin is new to this page")
		}
		c.add(skimguard.KindFrameAdded, skimguard.SeverityHigh, f.URL, b.String(),
			skimguard.Evidence{After: it.Values[0], URL: f.URL}, it, it.Values[0])
	case changed:
		e, base := r.obs, c.ix.items[r.base]
		f := e.frame
		it := e.full()
		if it.Key != base.Key {
			it.Attrs[attrReplaces] = base.Key
			it.FirstSeen = base.FirstSeen
		}
		after := it.Values[0]
		sev := skimguard.SeverityMedium
		var why []string
		var origins []string
		hiddenBefore := false
		for _, v := range base.Values {
			origins = append(origins, valuePart(v, "origin"))
			hiddenBefore = hiddenBefore || valuePart(v, "hidden") == "true"
		}
		if !contains(origins, valuePart(after, "origin")) {
			sev = skimguard.SeverityCritical
			why = append(why, fmt.Sprintf("its origin changed from %s to %s", strings.Join(sortedSet(origins), " or "), valuePart(after, "origin")))
		} else if it.Key != base.Key {
			why = append(why, fmt.Sprintf("its address changed from %s to %s", base.Subject, f.URL))
		}
		if f.Hidden && !hiddenBefore {
			if sev != skimguard.SeverityCritical {
				sev = skimguard.SeverityHigh
			}
			why = append(why, "it is now hidden (a fake form may sit in its place)")
		}
		if len(why) == 0 {
			why = append(why, "its state changed from "+strings.Join(base.Values, " or ")+" to "+after)
		}
		c.add(skimguard.KindFrameChanged, sev, f.URL,
			fmt.Sprintf("iframe %s in %s: %s", base.Subject, base.Attrs[attrParent], strings.Join(why, "; ")),
			skimguard.Evidence{Before: strings.Join(base.Values, " or "), After: after, URL: f.URL}, it, it.Key+"|"+after)
	}
}

func (c *comparer) form(r result) {
	switch r.out {
	case removed:
		base := c.ix.items[r.base]
		c.add(skimguard.KindFormRemoved, skimguard.SeverityLow, base.Subject,
			fmt.Sprintf("form %s is in the approved baseline but was not on this load", base.Key),
			skimguard.Evidence{Before: strings.Join(base.Values, " or "), URL: urlIfAny(base.Subject)}, base, "removed")
	case added:
		e := r.obs
		it := e.full()
		doc := it.Attrs[attrFrame]
		sev := skimguard.SeverityMedium
		var b strings.Builder
		fmt.Fprintf(&b, "form %s is not in the approved baseline", it.Key)
		if fields := cardFields(e.form); len(fields) > 0 {
			sev = skimguard.SeverityHigh
			fmt.Fprintf(&b, "; it asks for card %s", strings.Join(fields, ", "))
			if doc == "top" && !c.cardDoc("top") {
				sev = skimguard.SeverityCritical
				b.WriteString(" in the top document, where the approved page takes no card data (the card belongs in the provider's iframe)")
			}
		}
		if e.form.Action != "" {
			fmt.Fprintf(&b, "; it posts to %s", e.form.Action)
		}
		c.add(skimguard.KindFormAdded, sev, it.Subject, b.String(),
			skimguard.Evidence{After: it.Values[0], URL: e.form.Action}, it, it.Values[0])
	case changed:
		e, base := r.obs, c.ix.items[r.base]
		it := e.full()
		after := it.Values[0]
		sev := skimguard.SeverityMedium
		var why []string
		var actions []string
		fieldsBefore := false
		for _, v := range base.Values {
			actions = append(actions, urlOrigin(valuePart(v, "action")))
			fieldsBefore = fieldsBefore || valuePart(v, "fields") != ""
		}
		if o := urlOrigin(valuePart(after, "action")); !contains(actions, o) {
			sev = skimguard.SeverityCritical
			why = append(why, fmt.Sprintf("its action now posts to %s instead of %s", orNone(o), strings.Join(sortedSet(actions), " or ")))
		}
		if fields := cardFields(e.form); len(fields) > 0 && !fieldsBefore && it.Attrs[attrFrame] == "top" && !c.cardDoc("top") {
			sev = skimguard.SeverityCritical
			why = append(why, "it now asks for card "+strings.Join(fields, ", ")+" in the top document, where the approved page takes no card data")
		}
		if len(why) == 0 {
			why = append(why, "its action, method or card fields changed")
		}
		c.add(skimguard.KindFormChanged, sev, it.Subject,
			fmt.Sprintf("form %s: %s", base.Key, strings.Join(why, "; ")),
			skimguard.Evidence{Before: strings.Join(base.Values, " or "), After: after, URL: e.form.Action}, it, after)
	}
}

func (c *comparer) connection(r result) {
	if r.out != added {
		return
	}
	e := r.obs
	cn := e.conn
	it := e.full()
	sev := skimguard.SeverityMedium
	var b strings.Builder
	fmt.Fprintf(&b, "the page sent %d request(s) (%s) to %s, which it never contacted in the approved baseline", cn.Count, strings.Join(cn.Types, ", "), it.Key)
	if len(cn.Initiators) > 0 {
		fmt.Fprintf(&b, "; started by %s", strings.Join(cn.Initiators, ", "))
	}
	if cn.AfterTyping {
		sev = skimguard.SeverityHigh
		b.WriteString("; a request went out after the test card was typed")
	}
	ini := ""
	if len(cn.Initiators) > 0 {
		ini = cn.Initiators[0]
	}
	c.add(skimguard.KindConnectionAdded, sev, it.Key, b.String(),
		skimguard.Evidence{After: it.Key, URL: cn.Example, Initiator: ini}, it, it.Key)
}

func (c *comparer) header(r result) {
	switch r.out {
	case removed:
		base := c.ix.items[r.base]
		sev := skimguard.SeverityHigh
		if base.Key == "content-security-policy-report-only" {
			sev = skimguard.SeverityMedium
		}
		c.add(skimguard.KindHeaderRemoved, sev, base.Key,
			fmt.Sprintf("security header %s is in the approved baseline but the page no longer sends it", base.Key),
			skimguard.Evidence{Before: strings.Join(base.Values, " or ")}, base, "removed")
	case added:
		it := r.obs.full()
		c.add(skimguard.KindHeaderAdded, skimguard.SeverityLow, it.Key,
			fmt.Sprintf("the page now sends security header %s, which the approved baseline does not have", it.Key),
			skimguard.Evidence{After: it.Values[0]}, it, it.Values[0])
	case changed:
		base := c.ix.items[r.base]
		it := r.obs.full()
		after := it.Values[0]
		sev := skimguard.SeverityMedium
		detail := fmt.Sprintf("security header %s changed from its approved value", it.Key)
		if isCSP(it.Key) {
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
				if it.Key == "content-security-policy" {
					sev = skimguard.SeverityHigh
				}
				detail += "; it is weaker: " + weaker
			}
		}
		c.add(skimguard.KindHeaderChanged, sev, it.Key, detail,
			skimguard.Evidence{Before: strings.Join(base.Values, " or "), After: after}, it, after)
	}
}

func (c *comparer) redirect(r result) {
	if r.out != changed {
		return
	}
	base := c.ix.items[r.base]
	it := r.obs.full()
	after := it.Values[0]
	var finals []string
	for _, v := range base.Values {
		finals = append(finals, urlOrigin(valuePart(v, "final")))
	}
	sev := skimguard.SeverityHigh
	detail := fmt.Sprintf("the main document ended at %s, not where the approved page ends (%s)", c.o.FinalURL, strings.Join(base.Values, " or "))
	if o := urlOrigin(valuePart(after, "final")); !contains(finals, o) {
		sev = skimguard.SeverityCritical
		detail += fmt.Sprintf("; its origin changed to %s: the payment step may be a fake page", o)
	}
	if len(c.o.Redirects) > 0 {
		detail += "; redirects: " + strings.Join(c.o.Redirects, " → ")
	}
	c.add(skimguard.KindPageRedirected, sev, c.o.FinalURL, detail,
		skimguard.Evidence{Before: strings.Join(base.Values, " or "), After: after, URL: c.o.FinalURL}, it, after)
}

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
	var approved []string
	for i := range c.ix.items {
		if c.ix.items[i].Type == skimguard.ItemCardSink {
			approved = append(approved, c.ix.items[i].Key)
		}
	}
	how := strings.TrimSpace(l.Type + " " + l.Method)
	detail := fmt.Sprintf("the test card's %s left the page for %s in %d request(s), first by %s in the %s (%s encoding)",
		strings.Join(fields, ", "), it.Key, len(e.leaks), how, l.Where, l.Encoding)
	if l.Initiator != "" {
		detail += ", sent by " + l.Initiator
	}
	if len(approved) > 0 {
		detail += "; only " + strings.Join(approved, ", ") + " receive card data in the approved baseline"
	} else {
		detail += "; no origin receives card data in the approved baseline"
	}
	c.add(skimguard.KindDataExfiltration, skimguard.SeverityCritical, it.Key, detail,
		skimguard.Evidence{Before: strings.Join(approved, ", "), After: it.Key + " (" + strings.Join(fields, ",") + ")", URL: l.URL, Initiator: l.Initiator},
		it, it.Key)
}

var kindOrder = func() map[skimguard.Kind]int {
	m := map[skimguard.Kind]int{}
	for i, k := range skimguard.Kinds {
		m[k] = i
	}
	return m
}()

// sortFindings orders findings most severe first, then by the report
// order of kinds, subject and fingerprint, so output is deterministic.
func sortFindings(fs []skimguard.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if kindOrder[a.Kind] != kindOrder[b.Kind] {
			return kindOrder[a.Kind] < kindOrder[b.Kind]
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Fingerprint < b.Fingerprint
	})
}
