package baseline

import (
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// Identity names a script item for people by what Compare recognises it
// by from load to load, where Subject names one load of it: for a script
// with a URL, the URL with its volatile parts (per-build path pieces,
// cache busters, session ids, parameters learnt to vary) shown as "*"
// (https://shop.test/app.*.js?v=*), followed by the frame's origin when it
// runs in a frame; for code without a URL, its kind and place ("#2" or an
// element's handler attribute) in the page or in the frame's document.
// Other items are named by their Key.
func Identity(it skimguard.Item) string {
	if it.Type != skimguard.ItemScript {
		return it.Key
	}
	// A second script with the same identity has " (2)" after its key.
	repeat := ""
	if i := strings.LastIndex(it.Key, " ("); i >= 0 && strings.HasSuffix(it.Key, ")") && strings.Trim(it.Key[i+2:len(it.Key)-1], "0123456789") == "" {
		repeat = it.Key[i:]
	}
	learnt := map[string]bool{}
	for p := range strings.SplitSeq(it.Attrs[skimguard.AttrVolatile], ",") {
		learnt[p] = p != ""
	}
	frame := it.Attrs[skimguard.AttrFrame]
	if _, noURL := it.Attrs[skimguard.AttrOrdinal]; !noURL {
		id := markVolatile(it.Subject, learnt)
		if frame != "" && frame != "top" {
			id += " in frame " + frame
		}
		return id + repeat
	}
	kind := it.Attrs[skimguard.AttrKind]
	place := "#" + it.Attrs[skimguard.AttrOrdinal]
	if loc := it.Attrs[skimguard.AttrLocation]; loc != "" && (kind == string(skimguard.ScriptHandler) || kind == string(skimguard.ScriptJSURL)) {
		place = loc
	}
	doc := "the page"
	if frame != "top" {
		doc = frame
		// The subject ends with the document's URL as loaded (see
		// skimguard.Script.Subject): mark its volatile parts rather than
		// hide them, as for script URLs.
		if i := strings.LastIndex(it.Subject, " in "); i >= 0 && frame != "" {
			doc = markVolatile(it.Subject[i+len(" in "):], learnt)
		}
	}
	return kind + " " + place + " in " + doc + repeat
}

// markVolatile is raw as keys see it (see urlNorm.norm), except that the
// volatile query parameters keys drop are kept, in their order, with "*"
// for their values.
func markVolatile(raw string, learnt map[string]bool) string {
	p := splitURL(raw)
	id := p.originPath()
	if p.query == "" || p.opaque {
		return id
	}
	var kept []string
	for kv := range strings.SplitSeq(p.query, "&") {
		if kv == "" {
			continue
		}
		name, val, _ := strings.Cut(kv, "=")
		if volatileParams[strings.ToLower(name)] || learnt[name] || volatileValue(val) {
			kv = name + "=*"
		}
		kept = append(kept, kv)
	}
	if len(kept) == 0 {
		return id
	}
	return id + "?" + strings.Join(kept, "&")
}
