package crawler

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chromedp/cdproto/cdp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// build fills the observation from the events and the final DOM scan.
func (s *scan) build(obs *skimguard.Observation, frames []*frameScan) {
	st := &s.st
	st.mu.Lock()
	defer st.mu.Unlock()

	byID := map[cdp.FrameID]*frameScan{}
	for _, f := range frames {
		byID[f.id] = f
	}

	// Main document.
	var mains []string
	for _, u := range st.mainURLs {
		if u == "" || u == "about:blank" || (len(mains) > 0 && mains[len(mains)-1] == u) {
			continue
		}
		mains = append(mains, u)
	}
	if len(mains) > 0 {
		obs.FinalURL = mains[len(mains)-1]
		obs.Redirects = mains[:len(mains)-1]
	}
	if len(frames) > 0 && frames[0].url != "" && frames[0].url != "about:blank" {
		obs.FinalURL = frames[0].url
	}
	if st.docResp != nil {
		obs.Status = int(st.docResp.Status)
		for k, v := range st.docResp.Headers {
			if !skimguard.IsSecurityHeader(k) {
				continue
			}
			k = strings.ToLower(k)
			val := strings.ReplaceAll(headerString(v), "\n", ", ")
			if old, ok := obs.Headers[k]; ok {
				val = old + ", " + val
			}
			obs.Headers[k] = val
		}
	}
	obs.Typed = s.typed

	// Scripts, in the order they were compiled, then handlers and
	// javascript: URLs from the final DOM.
	ordinal := map[string]int{}
	add := func(sc skimguard.Script) {
		key := sc.Frame + "\x00" + string(sc.Kind)
		ordinal[key]++
		sc.Ordinal = ordinal[key]
		obs.Scripts = append(obs.Scripts, sc)
	}
	withText := func(sc skimguard.Script, text string) skimguard.Script {
		sc.SHA256, sc.SRI = hashes(text)
		sc.Size = len(text)
		sc.Source = capText(text, maxSourceStored)
		return sc
	}
	unfetched := 0
	var from []*scriptRec // the records of obs.Scripts, in order, while they come from records
	// A script the second load ran again, the same text in the same
	// frame, is listed once: only what the second load adds is new.
	firstLoad := map[string]bool{}
	for _, r := range st.scripts {
		frameURL := r.frameURL
		if frameURL == "" {
			if f := byID[r.frameID]; f != nil {
				frameURL = f.url
			} else {
				frameURL = obs.FinalURL
			}
		}
		sc := skimguard.Script{Frame: frameURL}
		f := byID[r.frameID]
		switch {
		case r.url == "":
			sc.Kind = skimguard.ScriptDynamic
			sc.LoadedBy = r.caller
			if r.callerAt != "" {
				sc.Location = "eval from " + r.callerAt
			}
		case r.sameDoc:
			if f != nil && f.res != nil && r.fetched && isHandler(f.res, r.source) {
				continue // the DOM scan lists it as a handler
			}
			sc.Kind = skimguard.ScriptInline
			sc.Location = "line " + itoa(r.line+1) + " col " + itoa(r.col+1)
			sc.LoadedBy = "parser"
			if r.caller != "" {
				sc.LoadedBy = r.caller
			}
		default:
			sc.Kind = skimguard.ScriptExternal
			sc.URL = r.url
			sc.LoadedBy = st.loadedByURL[r.url]
			if sc.LoadedBy == "" {
				sc.LoadedBy = r.caller
			}
			if f != nil && f.res != nil {
				for _, e := range f.res.Scripts {
					if e.Src == r.url {
						sc.Integrity, sc.CrossOrigin = e.Integrity, e.CrossOrigin
						break
					}
				}
			}
		}
		switch {
		case r.fetched:
			sc.SHA256, sc.SRI, sc.Size, sc.Source = r.sha256, r.sri, r.size, r.source
		case r.unfetched != "":
			// V8's hash is the SHA-256 of the text as the crawler would
			// have hashed it; without the text there is no SRI.
			if validHash(r.v8Hash) {
				sc.SHA256 = r.v8Hash
			}
			sc.Size, sc.Source = int(r.length), r.unfetched
			unfetched++
		}
		same := sc.Frame + "\x00" + string(sc.Kind) + "\x00" + sc.URL + "\x00" + sc.SHA256
		if r.again && firstLoad[same] {
			continue
		}
		if !r.again {
			firstLoad[same] = true
		}
		from = append(from, r)
		add(sc)
	}
	if st.scriptsLost > 0 {
		s.log.Warn("too many scripts: some were not recorded", "kept", len(st.scripts), "dropped", st.scriptsLost)
	}
	if unfetched > 0 {
		s.log.Warn("scripts too large to fetch were inventoried by length and hash only", "scripts", unfetched)
	}
	for _, f := range frames {
		if f.res == nil {
			continue
		}
		for _, h := range f.res.Handlers {
			add(withText(skimguard.Script{Kind: skimguard.ScriptHandler, Location: h.Where, Frame: f.url, LoadedBy: "parser"}, h.Source))
		}
		for _, h := range f.res.JSURLs {
			add(withText(skimguard.Script{Kind: skimguard.ScriptJSURL, Location: h.Where, Frame: f.url, LoadedBy: "parser"}, h.Source))
		}
	}

	at := scriptIndex(obs, from)
	obs.CardAccess = s.cardAccess(at)
	sites := func(chain []callRec) []skimguard.CallSite {
		var out []skimguard.CallSite
		for _, c := range chain {
			i, ok := at(st.scriptByID[c.id])
			if !ok {
				i = -1
			}
			out = append(out, skimguard.CallSite{Script: i, URL: c.url, Line: int(c.line) + 1})
		}
		return out
	}

	// Frames.
	for _, f := range frames {
		if f.parentID == "" {
			continue
		}
		fr := skimguard.Frame{URL: f.url, Origin: skimguard.Origin(f.url), Name: f.name}
		if p := byID[f.parentID]; p != nil {
			fr.Parent = p.url
		}
		if f.owner != nil {
			fr.Name, fr.Sandbox, fr.Allow, fr.Hidden = f.owner.Name, f.owner.Sandbox, f.owner.Allow, f.owner.Hidden
		}
		obs.Frames = append(obs.Frames, fr)
	}

	// Forms with card-like inputs, and the formless inputs of each document.
	for _, f := range frames {
		if f.res == nil || len(f.res.Inputs) == 0 {
			continue
		}
		forms := make([]*skimguard.Form, len(f.res.Forms))
		var formless *skimguard.Form
		var order []*skimguard.Form
		for _, in := range f.res.Inputs {
			var form *skimguard.Form
			if in.Form >= 0 && in.Form < len(forms) {
				if forms[in.Form] == nil {
					sf := f.res.Forms[in.Form]
					forms[in.Form] = &skimguard.Form{Frame: f.url, Action: sf.Action, Method: strings.ToUpper(sf.Method), ID: sf.ID, Name: sf.Name}
					if forms[in.Form].Action == "" {
						forms[in.Form].Action = f.url
					}
					if forms[in.Form].Method == "" {
						forms[in.Form].Method = "GET"
					}
					order = append(order, forms[in.Form])
				}
				form = forms[in.Form]
			} else {
				if formless == nil {
					formless = &skimguard.Form{Frame: f.url, Formless: true}
					order = append(order, formless)
				}
				form = formless
			}
			typ := in.Type
			form.Inputs = append(form.Inputs, skimguard.Input{
				Field: skimguard.CardField(in.Field), Name: in.Name, ID: in.ID, Type: typ,
				Autocomplete: in.Autocomplete, Visible: in.Visible,
			})
		}
		for _, form := range order {
			obs.Forms = append(obs.Forms, *form)
		}
	}

	// Connections.
	for _, o := range st.connOrder {
		c := st.conns[o]
		conn := skimguard.Connection{Origin: c.origin, Example: c.example, Count: c.count, AfterTyping: c.afterTyping}
		for t := range c.types {
			conn.Types = append(conn.Types, t)
		}
		slices.Sort(conn.Types)
		for i := range c.initiators {
			conn.Initiators = append(conn.Initiators, i)
		}
		slices.Sort(conn.Initiators)
		conn.Chain = sites(c.chain)
		obs.Connections = append(obs.Connections, conn)
	}
	// Refused destinations: on the connections the page's requests name,
	// or as connections of their own when none does (a request the
	// browser made without telling, such as a service worker's).
	for _, key := range st.refusedOrder {
		rf := st.refused[key]
		named := false
		for i := range obs.Connections {
			if c := &obs.Connections[i]; hostPort(c.Origin) == key {
				c.Refused, named = rf.note, true
			}
		}
		if !named {
			o := rf.origin()
			obs.Connections = append(obs.Connections, skimguard.Connection{Origin: o, Example: o, Count: rf.count, Refused: rf.note})
		}
	}

	// Leaks: requests and WebSocket frames after typing began that carry
	// the card. Typing that began but did not finish (a slow page, a field
	// that timed out) still sends keys a skimmer can read.
	if !st.typing {
		return
	}
	if st.leakDropped > 0 {
		s.log.Warn("the page sent more data after typing than a scan keeps: some requests, bodies or WebSocket frames were not searched for the card", "dropped", st.leakDropped, "kept_bytes", maxLeakData)
	}
	leak := func(r *reqRec, method, typ, where string, data []byte) {
		m, ok := s.card.Find(data)
		if !ok || len(obs.Leaks) >= 1000 {
			return
		}
		obs.Leaks = append(obs.Leaks, skimguard.Leak{
			Origin: originOf(r.url), URL: s.mask(r.url), Method: method, Type: typ,
			Initiator: r.initiator, Fields: m.Fields, Encoding: m.Encoding, Where: where, Chain: sites(r.chain),
			Truncated: m.Truncated,
		})
	}
	for _, r := range st.requests {
		leak(r, r.method, r.typ, "url", []byte(r.url))
		if len(r.body) > 0 {
			leak(r, r.method, r.typ, "body", r.body)
		}
	}
	for _, f := range st.wsFrames {
		r := st.wsInit[f.requestID]
		if r == nil {
			r = &reqRec{url: st.wsURL[f.requestID]}
		}
		typ := "WebSocket"
		if f.typ != "" {
			typ = f.typ
		}
		leak(r, "", typ, "frame", f.payload)
	}
}

// maskObservation masks the test card and the journey's secrets wherever a
// page could have put them: in URLs and origins (a hidden iframe's src, a
// script's src, a redirect, a host name), in the text of code made at run
// time, and in the names of initiators; secrets in the text of external
// scripts too, which a server may write them into. The observation is stored and shown to people;
// card data and secrets must not be. Hashes stay those of the real texts.
func maskObservation(obs *skimguard.Observation, card carddata.Card, sec *secrets) {
	m := func(s string) string { return sec.mask(card.Mask(s)) }
	obs.FinalURL = m(obs.FinalURL)
	for k, v := range obs.Headers {
		obs.Headers[k] = m(v)
	}
	for i := range obs.Redirects {
		obs.Redirects[i] = m(obs.Redirects[i])
	}
	for i := range obs.Scripts {
		sc := &obs.Scripts[i]
		sc.URL, sc.Frame, sc.LoadedBy, sc.Location = m(sc.URL), m(sc.Frame), m(sc.LoadedBy), m(sc.Location)
		if sc.Kind != skimguard.ScriptExternal {
			sc.Source = m(sc.Source)
		} else {
			sc.Source = sec.mask(sc.Source)
		}
	}
	for i := range obs.Frames {
		f := &obs.Frames[i]
		f.URL, f.Origin, f.Parent, f.Name = m(f.URL), m(f.Origin), m(f.Parent), m(f.Name)
	}
	for i := range obs.Forms {
		obs.Forms[i].Frame, obs.Forms[i].Action = m(obs.Forms[i].Frame), m(obs.Forms[i].Action)
	}
	for i := range obs.Connections {
		c := &obs.Connections[i]
		// The host too: a skimmer may send the card as a DNS name.
		c.Origin, c.Example, c.Refused = m(c.Origin), m(c.Example), m(c.Refused)
		for j := range c.Initiators {
			c.Initiators[j] = m(c.Initiators[j])
		}
	}
	chain := func(cs []skimguard.CallSite) {
		for j := range cs {
			cs[j].URL = m(cs[j].URL)
		}
	}
	for i := range obs.Leaks {
		obs.Leaks[i].Origin, obs.Leaks[i].Initiator = m(obs.Leaks[i].Origin), m(obs.Leaks[i].Initiator)
		chain(obs.Leaks[i].Chain)
	}
	for i := range obs.Connections {
		chain(obs.Connections[i].Chain)
	}
	for i := range obs.CardAccess {
		obs.CardAccess[i].Frame = m(obs.CardAccess[i].Frame)
	}
}

// isHandler reports whether a script compiled with the document's URL is in
// fact an inline event handler: Chromium reports a handler that ran as a
// script of the document, its source the attribute's value.
func isHandler(res *scanResult, source string) bool {
	for _, e := range res.Scripts {
		if e.Src == "" && e.Text == source {
			return false
		}
	}
	for _, h := range res.Handlers {
		if h.Source == source {
			return true
		}
	}
	return false
}

// hashes returns the hex SHA-256 and the SRI sha384 form of text.
func hashes(text string) (string, string) {
	h := sha256.Sum256([]byte(text))
	h384 := sha512.Sum384([]byte(text))
	return hex.EncodeToString(h[:]), "sha384-" + base64.StdEncoding.EncodeToString(h384[:])
}

// capText cuts text to at most n bytes on a rune boundary.
func capText(text string, n int) string {
	if len(text) <= n {
		return text
	}
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return text[:n]
}

func headerString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b := strings.TrimSpace(strings.Trim(strings.TrimSpace(toString(v)), `"`))
		return b
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// originOf is the origin of a network destination, "" for data:, blob:,
// about: and other URLs that go nowhere.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ws", "wss",
		"stun", "stuns", "turn", "turns", "webrtc": // WebRTC's, as webrtc.go writes them
		return skimguard.Origin(raw)
	}
	return ""
}

// stripQuery drops the query string and fragment of a URL.
func stripQuery(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
