package baseline

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// redirectKey is the key of a page's single redirect item.
const redirectKey = "main document"

// itemHead is the part of an item an observation fills in; entries keep
// only this (an Item is large, and a page has thousands of entries).
type itemHead struct {
	Type    skimguard.ItemType
	Key     string
	Subject string
	Origin  string
	Values  []string
	Attrs   map[string]string
}

// entry is one thing an observation shows, as a baseline item with the
// observation's values plus what matching and findings need.
type entry struct {
	item itemHead
	// group and slot drive pairing of leftovers: scripts without URL pair
	// within kind+document, frames within their parent document.
	group   string
	slot    string
	ordinal int

	script *skimguard.Script
	frame  *skimguard.Frame
	form   *skimguard.Form
	conn   *skimguard.Connection
	leaks  []*skimguard.Leak
	by     *entry // card access: the entry of the script that sees the card
	// Fields kept lean: a page has thousands of entries. A form's card
	// fields and a script's exact-hash value are derived again when a
	// finding needs them.
	sum string    // scripts: hex SHA-256 of the text
	fp  string    // scripts: structural fingerprint, built on demand
	n   *urlNorm  // for attributes built on demand
	val [1]string // backs item.Values for one-value items
}

// hashValue returns the script's exact-hash value.
func (e *entry) hashValue() string {
	return skimguard.ScriptHash(e.sum)
}

// fingerprint computes the script's structural fingerprint once.
func (e *entry) fingerprint() string {
	if e.fp == "" && e.script != nil {
		e.fp = Fingerprint(e.script.Source)
	}
	return e.fp
}

// full returns the item as approval would add it, with every value filled
// in (the script fingerprint and SRI are computed here, lazily, because
// Compare only needs them for scripts that changed).
func (e *entry) full() skimguard.Item {
	h := &e.item
	it := skimguard.Item{Type: h.Type, Key: h.Key, Subject: h.Subject, Origin: h.Origin, Values: h.Values, Attrs: copyAttrs(h.Attrs)}
	if f := e.frame; f != nil {
		it.Attrs = map[string]string{skimguard.AttrParent: e.group, skimguard.AttrDoc: e.n.doc(f.URL)}
		if f.Name != "" {
			it.Attrs[skimguard.AttrName] = f.Name
		}
	}
	if sc := e.script; sc != nil {
		it.Subject = sc.Subject()
		it.Source, it.SHA256, it.SRI = sc.Source, e.sum, sc.SRI
		if sc.URL != "" {
			it.Origin = fastOrigin(sc.URL)
		}
		// Built here rather than in takeSnapshot: Compare never needs the
		// attributes of the thousands of scripts that match.
		it.Attrs = map[string]string{skimguard.AttrKind: scriptKind(sc), skimguard.AttrFrame: e.n.scriptFrame(sc)}
		if sc.URL == "" {
			it.Attrs[skimguard.AttrOrdinal] = strconv.Itoa(sc.Ordinal)
			if sc.Location != "" {
				it.Attrs[skimguard.AttrLocation] = sc.Location
			}
		}
		for name, v := range map[string]string{skimguard.AttrLoadedBy: sc.LoadedBy, skimguard.AttrIntegrity: sc.Integrity, skimguard.AttrCrossOrigin: sc.CrossOrigin} {
			if v != "" {
				it.Attrs[name] = v
			}
		}
		it.Values = []string{e.fingerprint(), e.hashValue()}
		// A script too large to fetch has a note for its source (Size is
		// then its real length): its SRI cannot be computed from the note.
		if it.SRI == "" && e.script.Source != "" && e.script.Size <= len(e.script.Source) {
			sum := sha512.Sum384([]byte(e.script.Source))
			it.SRI = "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
		}
	}
	it.Values = sortedSet(it.Values)
	return it
}

// snapshot is an observation turned into entries.
type snapshot struct {
	scripts  []*entry
	frames   []*entry
	forms    []*entry
	conns    []*entry
	headers  []*entry
	redirect *entry
	sinks    []*entry
	access   []*entry
}

// scriptKind is a script's AttrKind.
func scriptKind(sc *skimguard.Script) string {
	if sc.Kind == "" {
		return "script"
	}
	return string(sc.Kind)
}

// scriptFrame is a script's AttrFrame: for a script with URL the
// frame's origin, not its URL (iframe URLs carry session ids, and a
// script's identity does not depend on them); else its document.
func (n *urlNorm) scriptFrame(sc *skimguard.Script) string {
	doc := n.doc(sc.Frame)
	if sc.URL == "" || doc == "top" {
		return doc
	}
	if _, _, ok := skimguard.ParseWorkerFrame(sc.Frame); ok {
		return doc // a worker's script URL is no session id
	}
	if frame := urlOrigin(sc.Frame); frame != "" {
		return frame
	}
	return doc
}

// keyCounter makes the keys of one list of entries unique: the n-th
// entry with a key gets " (n)" after it. The first entry with a key keeps
// it unchanged, so the table holds entry numbers, not strings; repeats,
// which are rare, are counted in a map.
type keyCounter struct {
	table   keyTable
	repeats map[int]int // by the number of the key's first entry
}

// unique returns the key for an entry about to be appended to list.
func (c *keyCounter) unique(list []*entry, key string) string {
	p := c.table.slot(key, func(i int) bool { return list[i].item.Key == key })
	if first := p.number(); first >= 0 {
		if c.repeats == nil {
			c.repeats = map[int]int{}
		}
		c.repeats[first]++
		return key + " (" + strconv.Itoa(c.repeats[first]+1) + ")"
	}
	c.table.put(p, len(list))
	return key
}

func takeSnapshot(o *skimguard.Observation, n *urlNorm) *snapshot {
	s := &snapshot{}

	ents := make([]entry, len(o.Scripts)) // one allocation, not thousands
	s.scripts = make([]*entry, 0, len(o.Scripts))
	scriptKeys := keyCounter{table: newKeyTable(len(o.Scripts))}
	// Keys are put together in buf and become one string each.
	var buf [256]byte
	// Scripts without URL mostly share a few groups: their names are
	// reused while the kind and document stay the same.
	var lastKind, lastDoc, lastGroup string
	for i := range o.Scripts {
		sc := &o.Scripts[i]
		e := &ents[i]
		e.script, e.n = sc, n
		kind := scriptKind(sc)
		key := append(append(buf[:0], kind...), ' ')
		if sc.URL != "" {
			key = n.appendNorm(key, sc.URL)
			key = append(key, " in "...)
			key = append(key, n.scriptFrame(sc)...)
		} else {
			doc := n.doc(sc.Frame)
			if lastGroup == "" || kind != lastKind || doc != lastDoc {
				lastKind, lastDoc, lastGroup = kind, doc, kind+" in "+doc
			}
			e.group = lastGroup
			e.ordinal = sc.Ordinal
			if (sc.Kind == skimguard.ScriptHandler || sc.Kind == skimguard.ScriptJSURL) && sc.Location != "" {
				// An element's attribute is a stable place; line numbers
				// and ordinals are not.
				e.slot = sc.Location
				key = append(key, sc.Location...)
			} else {
				key = strconv.AppendInt(append(key, '#'), int64(sc.Ordinal), 10)
			}
			key = append(key, " in "...)
			key = append(key, doc...)
		}
		sum := sc.SHA256
		if sum == "" {
			h := sha256.Sum256([]byte(sc.Source))
			sum = hex.EncodeToString(h[:])
		}
		e.sum = lowerASCII(sum)
		e.item.Type = skimguard.ItemScript
		e.item.Key = scriptKeys.unique(s.scripts, string(key))
		s.scripts = append(s.scripts, e)
	}

	frames := make([]entry, len(o.Frames))
	s.frames = make([]*entry, 0, len(o.Frames))
	frameKeys := keyCounter{table: newKeyTable(len(o.Frames))}
	for i := range o.Frames {
		f := &o.Frames[i]
		parent := n.doc(f.Parent)
		origin := strings.ToLower(f.Origin)
		if origin == "" {
			origin = urlOrigin(f.URL)
		}
		key := append(append(buf[:0], parent...), " > "...)
		if f.URL == "" {
			key = append(key, origin...)
		} else {
			key = splitURL(f.URL).appendOriginPath(key)
		}
		e := &frames[i]
		*e = entry{frame: f, group: parent, slot: digitsOut(f.Name), ordinal: i, n: n}
		e.val[0] = frameValue(origin, f)
		e.item = itemHead{
			Type:    skimguard.ItemFrame,
			Key:     frameKeys.unique(s.frames, string(key)),
			Subject: f.URL,
			Origin:  origin,
			Values:  e.val[:],
		}
		s.frames = append(s.frames, e)
	}

	formKeys := keyCounter{table: newKeyTable(len(o.Forms))}
	formOrd := map[string]int{}
	for i := range o.Forms {
		f := &o.Forms[i]
		doc := n.doc(f.Frame)
		var id string
		switch {
		case f.ID != "":
			id = "form#" + f.ID
		case f.Name != "":
			id = "form[name=" + f.Name + "]"
		case f.Formless:
			id = "formless inputs"
		default:
			formOrd[doc]++
			id = "form #" + strconv.Itoa(formOrd[doc])
		}
		fields := cardFields(f)
		subject := f.Action
		if subject == "" {
			subject = id + " in " + doc
		}
		e := &entry{form: f}
		e.item = itemHead{
			Type:    skimguard.ItemForm,
			Key:     formKeys.unique(s.forms, id+" in "+doc),
			Subject: subject,
			Origin:  urlOrigin(f.Action),
			Values:  []string{formValue(n, f, fields)},
			Attrs:   map[string]string{skimguard.AttrFrame: doc},
		}
		s.forms = append(s.forms, e)
	}

	conns := newKeyTable(len(o.Connections)) // entries by origin
	connEnts := make([]entry, len(o.Connections))
	s.conns = make([]*entry, 0, len(o.Connections))
	for i := range o.Connections {
		c := &o.Connections[i]
		origin := strings.ToLower(strings.TrimSpace(c.Origin))
		if origin == "" {
			origin = orUnknown(urlOrigin(c.Example))
		}
		p := conns.slot(origin, func(j int) bool { return s.conns[j].item.Key == origin })
		if j := p.number(); j >= 0 {
			e := s.conns[j]
			// Keep the copy that went out after typing: it is the one
			// that matters for severity.
			if c.AfterTyping && !e.conn.AfterTyping {
				e.conn = c
			}
			continue
		}
		e := &connEnts[len(s.conns)]
		e.conn = c
		e.val[0] = origin
		e.item = itemHead{Type: skimguard.ItemConnection, Key: origin, Subject: origin, Origin: origin, Values: e.val[:]}
		conns.put(p, len(s.conns))
		s.conns = append(s.conns, e)
	}

	names := make([]string, 0, len(o.Headers))
	for name := range o.Headers {
		names = append(names, name)
	}
	sort.Strings(names) // map order must not leak into keys or findings
	seenHeader := map[string]*entry{}
	for _, name := range names {
		lname := strings.ToLower(strings.TrimSpace(name))
		if !skimguard.IsSecurityHeader(lname) {
			continue // Set-Cookie, Date, X-Request-Id...: not security-impacting
		}
		v := normHeader(lname, o.Headers[name])
		if e, ok := seenHeader[lname]; ok { // same name in two cases
			e.item.Values[0] = normHeader(lname, e.item.Values[0]+", "+v)
			continue
		}
		e := &entry{}
		e.item = itemHead{Type: skimguard.ItemHeader, Key: lname, Subject: lname, Values: []string{v}}
		seenHeader[lname] = e
		s.headers = append(s.headers, e)
	}

	if o.FinalURL != "" {
		s.redirect = &entry{}
		s.redirect.item = itemHead{
			Type:    skimguard.ItemRedirect,
			Key:     redirectKey,
			Subject: o.FinalURL,
			Origin:  urlOrigin(o.FinalURL),
			Values:  []string{redirectValue(n, o)},
		}
	}

	sinks := map[string]*entry{}
	for i := range o.Leaks {
		l := &o.Leaks[i]
		origin := strings.ToLower(strings.TrimSpace(l.Origin))
		if origin == "" {
			origin = orUnknown(urlOrigin(l.URL))
		}
		if e, ok := sinks[origin]; ok {
			e.leaks = append(e.leaks, l)
			continue
		}
		e := &entry{leaks: []*skimguard.Leak{l}}
		e.item = itemHead{Type: skimguard.ItemCardSink, Key: origin, Subject: origin, Origin: origin, Values: []string{origin}}
		sinks[origin] = e
		s.sinks = append(s.sinks, e)
	}

	// What each script can see of the card, keyed for now by the script's
	// own key: matchAll keys it by the baseline script it matches.
	byScript := map[int]*entry{}
	for _, a := range o.CardAccess {
		if a.Script < 0 || a.Script >= len(s.scripts) || a.Field == "" || a.How == "" {
			continue
		}
		e := byScript[a.Script]
		if e == nil {
			se := s.scripts[a.Script]
			e = &entry{by: se}
			e.item = itemHead{Type: skimguard.ItemCardAccess, Key: se.item.Key, Subject: se.script.Subject()}
			if se.script.URL != "" {
				e.item.Origin = fastOrigin(se.script.URL)
			}
			byScript[a.Script] = e
			s.access = append(s.access, e)
		}
		e.item.Values = append(e.item.Values, skimguard.CardAccessValue{Field: string(a.Field), How: a.How}.Format())
	}
	for _, e := range s.access {
		e.item.Values = sortedSet(e.item.Values)
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// frameValue is a frame's comparable state.
func frameValue(origin string, f *skimguard.Frame) string {
	sb := strings.Fields(strings.ToLower(f.Sandbox))
	sort.Strings(sb)
	return skimguard.FrameValue{Origin: origin, Sandbox: strings.Join(sb, " "), Hidden: f.Hidden}.Format()
}

// formValue is a form's comparable state: where it posts, how, and which
// card fields it asks for.
func formValue(n *urlNorm, f *skimguard.Form, fields []string) string {
	action := ""
	if f.Action != "" {
		action = n.norm(f.Action)
	}
	return skimguard.FormValue{Action: action, Method: strings.ToUpper(f.Method), Fields: fields}.Format()
}

func cardFields(f *skimguard.Form) []string {
	var out []string
	for _, in := range f.Inputs {
		if in.Field != "" {
			out = append(out, string(in.Field))
		}
	}
	if out == nil {
		return nil
	}
	return sortedSet(out)
}

// redirectValue is where the main document ended and how it got there.
func redirectValue(n *urlNorm, o *skimguard.Observation) string {
	chain := make([]string, 0, len(o.Redirects))
	for _, r := range o.Redirects {
		chain = append(chain, splitURL(r).originPath())
	}
	return skimguard.RedirectValue{Final: n.norm(o.FinalURL), Chain: chain}.Format()
}

func digitsOut(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
}

// copyAttrs copies m. The copy is never nil, so callers may add to it: a
// baseline item can come without attributes (an imported or hand-edited
// lock file).
func copyAttrs(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// sortedSet returns the values sorted without duplicates, in a new slice.
func sortedSet(vs []string) []string {
	out := make([]string, 0, len(vs))
	out = append(out, vs...)
	sort.Strings(out)
	w := 0
	for i, v := range out {
		if i > 0 && v == out[w-1] {
			continue
		}
		out[w] = v
		w++
	}
	return out[:w]
}

// attrSet splits an attribute holding accepted values.
func attrSet(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, skimguard.AttrSep)
}

// mergeAttrSet adds value (skimguard.AttrNone for absence) to an accepted-values
// attribute.
func mergeAttrSet(set, value string) string {
	vs := attrSet(set)
	if contains(vs, value) {
		return set
	}
	return strings.Join(sortedSet(append(vs, value)), skimguard.AttrSep)
}

// lowerASCII lower-cases s without allocating when it is already lower
// case, as crawler hashes are.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
