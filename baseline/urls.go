package baseline

import (
	"slices"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// volatileParams are query parameter names that carry per-load values:
// cache busters, timestamps, versions, sessions, tokens and click ids. They
// never identify a resource, so keys drop them; the resource's content is
// still compared, so nothing escapes by hiding behind one.
var volatileParams = map[string]bool{
	"_": true, "cb": true, "cachebust": true, "cachebuster": true, "cache_bust": true, "cache": true,
	"bust": true, "nocache": true, "nc": true, "t": true, "ts": true, "_t": true, "time": true,
	"timestamp": true, "v": true, "ver": true, "version": true, "build": true, "rev": true,
	"hash": true, "rnd": true, "rand": true, "random": true, "r": true, "z": true, "zx": true,
	"ord": true, "correlator": true, "sid": true, "session": true, "sessionid": true,
	"session_id": true, "jsessionid": true, "phpsessid": true, "token": true, "csrf": true,
	"nonce": true, "uid": true, "cid": true, "rid": true, "requestid": true, "request_id": true,
	"gclid": true, "fbclid": true, "msclkid": true, "_ga": true, "_gl": true,
}

// volatileValue reports whether a query value or path piece looks generated
// per load: a timestamp (8+ digits), a UUID, 8+ hex digits mixing digits and
// letters, or a 16+ character token mixing digits and letters.
func volatileValue(v string) bool {
	if len(v) < 8 {
		return false
	}
	digits, hexLetters, letters, other := 0, 0, 0, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			hexLetters++
			letters++
		case c >= 'g' && c <= 'z' || c >= 'G' && c <= 'Z':
			letters++
		case c == '-' || c == '_' || c == '%' || c == '+' || c == '=' || c == '.':
			other++
		default:
			return false
		}
	}
	switch {
	case digits == len(v):
		return true
	case digits+hexLetters == len(v) && digits > 0 && hexLetters > 0:
		return true
	case len(v) >= 32 && digits+hexLetters+other == len(v) && strings.Count(v, "-") == 4:
		return true // UUID
	case len(v) >= 16 && digits > 0 && letters > 0:
		return true
	}
	return false
}

// volatileSegment rewrites a path segment's per-load or per-build pieces
// to "*": the whole segment when it is volatile, else each volatile piece
// between dots, dashes and underscores (app.3f9a8c7d.js → app.*.js), so a
// rebuilt bundle keeps its key and shows as a changed script.
func volatileSegment(seg string) string {
	if volatileValue(seg) {
		return "*"
	}
	if len(seg) < 8 {
		return seg
	}
	var b strings.Builder
	changed := false
	start := 0
	for i := 0; i <= len(seg); i++ {
		if i < len(seg) && seg[i] != '.' && seg[i] != '-' && seg[i] != '_' {
			continue
		}
		piece := seg[start:i]
		if volatileValue(piece) {
			b.WriteByte('*')
			changed = true
		} else {
			b.WriteString(piece)
		}
		if i < len(seg) {
			b.WriteByte(seg[i])
		}
		start = i + 1
	}
	if !changed {
		return seg
	}
	return b.String()
}

// parsedURL is a URL split the cheap way; keys need no more than this and
// url.Parse costs too much on a 5,000-script page.
type parsedURL struct {
	scheme, host, path, query string
	opaque                    bool // no "scheme://" authority: data:, about:, relative...
}

func splitURL(raw string) parsedURL {
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	var p parsedURL
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw, p.query = raw[:i], raw[i+1:]
	}
	i := strings.Index(raw, "://")
	if i <= 0 || !isLetter(raw[0]) || strings.IndexFunc(raw[:i], func(r rune) bool { return r > 127 || !isSchemeByte(byte(r)) }) >= 0 {
		p.opaque = true
		p.path = raw
		return p
	}
	p.scheme = strings.ToLower(raw[:i])
	rest := raw[i+3:]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		p.host, p.path = rest[:j], rest[j:]
	} else {
		p.host = rest
	}
	p.host = strings.ToLower(p.host)
	if at := strings.LastIndexByte(p.host, '@'); at >= 0 {
		p.host = p.host[at+1:]
	}
	if p.scheme == "https" || p.scheme == "wss" {
		p.host = strings.TrimSuffix(p.host, ":443")
	} else if p.scheme == "http" || p.scheme == "ws" {
		p.host = strings.TrimSuffix(p.host, ":80")
	}
	if p.path == "" {
		p.path = "/"
	}
	return p
}

func (p parsedURL) originPath() string {
	if p.opaque {
		return opaqueKey(p.path)
	}
	var buf [128]byte
	return string(p.appendOriginPath(buf[:0]))
}

// appendOriginPath appends originPath to dst.
func (p parsedURL) appendOriginPath(dst []byte) []byte {
	if p.opaque {
		return append(dst, opaqueKey(p.path)...)
	}
	dst = append(dst, p.scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, p.host...)
	// Most paths have nothing volatile: check before rewriting.
	volatile := false
	for rest := p.path; rest != "" && !volatile; {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		volatile = len(seg) >= 8 && volatileSegment(seg) != seg
	}
	if !volatile {
		return append(dst, p.path...)
	}
	for i, seg := range strings.Split(p.path, "/") {
		if i > 0 {
			dst = append(dst, '/')
		}
		dst = append(dst, volatileSegment(seg)...)
	}
	return dst
}

// fastOrigin is urlOrigin without net/url for the common scheme://host
// form.
func fastOrigin(raw string) string {
	p := splitURL(raw)
	if p.opaque || p.host == "" || strings.ContainsAny(p.host, "%[] ") {
		return urlOrigin(raw)
	}
	return p.scheme + "://" + p.host
}

// opaqueKey keys URLs without an authority: a data: URL by its media type
// (its content is compared anyway), a blob: URL by the origin and path shape
// of its inner URL (the UUID changes on every load), others as they are.
func opaqueKey(s string) string {
	switch {
	case strings.HasPrefix(s, "data:"):
		mt := s
		if i := strings.IndexByte(mt, ','); i >= 0 {
			mt = mt[:i]
		}
		if len(mt) > 64 {
			mt = mt[:64]
		}
		return mt
	case strings.HasPrefix(s, "blob:"):
		return "blob:" + splitURL(s[len("blob:"):]).originPath()
	}
	return s
}

// urlOrigin is skimguard.Origin, except that a blob: URL gives the origin
// of the document that made it.
func urlOrigin(raw string) string {
	if strings.HasPrefix(raw, "blob:") {
		return skimguard.Origin(raw[len("blob:"):])
	}
	return skimguard.Origin(raw)
}

// urlNorm makes the URL parts of item keys. learnt holds query parameter
// names found to vary between the baseline's samples; docs caches the
// document names that thousands of scripts share.
type urlNorm struct {
	learnt map[string]bool
	tops   []string // originPaths of the main document: where it ended, what was asked
	docs   map[string]string
}

// newURLNorm makes a normaliser for one observation; its main document is
// the one at any of tops (its final and its requested URL).
func newURLNorm(learnt map[string]bool, tops ...string) *urlNorm {
	n := &urlNorm{learnt: learnt, docs: map[string]string{}}
	for _, t := range tops {
		if t != "" {
			n.tops = append(n.tops, splitURL(t).originPath())
		}
	}
	return n
}

// norm returns raw without its fragment, with volatile path pieces as "*"
// and only its stable query parameters, sorted.
func (n *urlNorm) norm(raw string) string {
	var buf [256]byte
	return string(n.appendNorm(buf[:0], raw))
}

// appendNorm appends norm(raw) to dst.
func (n *urlNorm) appendNorm(dst []byte, raw string) []byte {
	p := splitURL(raw)
	dst = p.appendOriginPath(dst)
	if p.query == "" || p.opaque {
		return dst
	}
	var kept [8]string // on the stack for all but long queries
	keep := kept[:0]
	for rest, more := p.query, true; more; {
		var kv string
		kv, rest, more = strings.Cut(rest, "&")
		name, val, _ := strings.Cut(kv, "=")
		if kv == "" || volatileParams[strings.ToLower(name)] || n.learnt[name] || volatileValue(val) {
			continue
		}
		keep = append(keep, kv)
	}
	if len(keep) == 0 {
		return dst
	}
	slices.Sort(keep)
	for i, kv := range keep {
		if i == 0 {
			dst = append(dst, '?')
		} else {
			dst = append(dst, '&')
		}
		dst = append(dst, kv...)
	}
	return dst
}

// doc names the document a script, form or frame sits in: "top" for the
// main document (whatever its query, fragment or pushState path
// parameters), else its normalised URL.
func (n *urlNorm) doc(raw string) string {
	if raw == "" {
		return "top"
	}
	if d, ok := n.docs[raw]; ok {
		return d
	}
	d := "top"
	if kind, u, ok := skimguard.ParseWorkerFrame(raw); ok {
		// A worker is named by its kind and its script's URL, normalised
		// as any URL (a blob: worker's id, a cache buster).
		d = string(kind) + " " + n.norm(u)
	} else if len(n.tops) == 0 || !contains(n.tops, splitURL(raw).originPath()) {
		d = n.norm(raw)
	}
	n.docs[raw] = d
	return d
}

// learnVolatile returns the query parameter names whose values differ
// between occurrences of the same origin and path across the samples: per
// load ids that the name and value heuristics missed.
func learnVolatile(samples []*skimguard.Observation) map[string]bool {
	seen := map[string]map[string]string{} // originPath → param → first value
	learnt := map[string]bool{}
	add := func(raw string) {
		if raw == "" || !strings.Contains(raw, "?") {
			return
		}
		p := splitURL(raw)
		if p.opaque || p.query == "" {
			return
		}
		op := p.originPath()
		params := seen[op]
		if params == nil {
			params = map[string]string{}
			seen[op] = params
		}
		for _, kv := range strings.Split(p.query, "&") {
			name, val, _ := strings.Cut(kv, "=")
			if first, ok := params[name]; !ok {
				params[name] = val
			} else if first != val {
				learnt[name] = true
			}
		}
	}
	for _, o := range samples {
		add(o.URL)
		add(o.FinalURL)
		for _, r := range o.Redirects {
			add(r)
		}
		for i := range o.Scripts {
			add(o.Scripts[i].URL)
			add(o.Scripts[i].Frame)
		}
		for i := range o.Frames {
			add(o.Frames[i].URL)
			add(o.Frames[i].Parent)
		}
		for i := range o.Forms {
			add(o.Forms[i].Action)
			add(o.Forms[i].Frame)
		}
	}
	return learnt
}
