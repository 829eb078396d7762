// Package csp makes shoppers' own browsers into sensors. Generate turns a
// page's approved baseline into the headers a merchant adds to the
// payment page: a Content-Security-Policy whose script-src lists the
// baseline's scripts and carries 'report-sha256', so that every browser
// reports the SHA-256 of each script it loads, with Reporting-Endpoints
// naming skimguard's collector and an Integrity-Policy-Report-Only; and the
// Subresource Integrity attributes of the page's stable scripts. Parse
// reads what those browsers send back (the Reporting API's
// application/reports+json and the legacy application/csp-report), and
// Noise tells the reports browser extensions cause from the page's own.
//
// The package is pure: no I/O, no clock.
package csp

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// EndpointName is the name the policy gives skimguard's collector in
// Reporting-Endpoints, report-to and Integrity-Policy.
const EndpointName = "skimguard"

// NoncePlaceholder stands, in a policy for a page that uses nonces, for
// the nonce the merchant's server puts on each response's script elements.
const NoncePlaceholder = "{NONCE}"

// ReportToPlaceholder stands for the collector's URL when none was given.
const ReportToPlaceholder = "https://SKIMGUARD.EXAMPLE/reports/SITE/TOKEN"

// Options say how to write a page's policy.
type Options struct {
	// ReportTo is the collector's URL for the page's site, as `skimguard
	// reports token` prints it; empty writes ReportToPlaceholder.
	ReportTo string
	// Enforce writes Content-Security-Policy, which blocks what the
	// baseline does not allow, instead of
	// Content-Security-Policy-Report-Only, which only reports it.
	Enforce bool
}

// Policy is what a merchant adds to one payment page, with why.
type Policy struct {
	Site, Page, URL string
	// BaselineVersion is the baseline it was made from; Observations how
	// many stored loads of the page told stable scripts from varying ones.
	BaselineVersion int
	Observations    int
	// Directives are the Content-Security-Policy's, in order.
	Directives []Directive
	// Headers are the response headers to add, in order.
	Headers []Header
	// Integrity lists the page's external scripts with the integrity
	// attribute to give each, or why none can be given.
	Integrity []Integrity
	// Warnings say where the policy would break the page as observed, and
	// what the merchant must change.
	Warnings []string
}

// Directive is one directive of the policy.
type Directive struct {
	Name string
	// Why says what the directive does for a payment page.
	Why     string
	Sources []Source
}

// Source is one source of a directive and what in the baseline needs it.
type Source struct {
	Value, Why string
}

// Header is a response header.
type Header struct {
	Name, Value string
}

// Integrity is the Subresource Integrity attribute of one external script.
type Integrity struct {
	// Script names the script as the baseline knows it (see
	// baseline.Identity); URL is the address it was approved at.
	Script, URL string
	// Attribute is the integrity attribute to add, "" when none can be
	// given (Note says why); CrossOrigin is the crossorigin attribute it
	// needs ("anonymous" for a script of another origin, "" for the page's
	// own).
	Attribute   string
	CrossOrigin string
	Note        string
}

// HeaderName is the policy's header: Content-Security-Policy when it
// enforces, else Content-Security-Policy-Report-Only.
func (o Options) HeaderName() string {
	if o.Enforce {
		return "Content-Security-Policy"
	}
	return "Content-Security-Policy-Report-Only"
}

// Fetch types of the crawler's connections (CDP resource types) and the
// directive that governs each.
var directiveOfType = map[string]string{
	"XHR": "connect-src", "Fetch": "connect-src", "Ping": "connect-src", "WebSocket": "connect-src",
	"EventSource": "connect-src", "Preflight": "connect-src", "Image": "img-src",
}

// Generate makes b's policy. obs are stored loads of the page (the
// baseline's samples and later checks, as monitor.RecentObservations
// reads them): a script whose text differs between them is learnt by
// structure (baseline.LearntByStructure) and gets no hash; the request
// types they show put each approved destination under connect-src or
// img-src.
func Generate(b *skimguard.Baseline, obs []*skimguard.Observation, o Options) *Policy {
	g := &generator{
		b: b, o: o,
		p:        &Policy{Site: b.Site, Page: b.Page, URL: b.URL, BaselineVersion: b.Version, Observations: len(obs)},
		volatile: baseline.LearntByStructure(b, obs),
		types:    connectionTypes(obs),
		self:     pageOrigin(b),
		srcs:     map[string]*sourceSet{},
		required: map[string]bool{},
	}
	g.nonces()
	for i := range b.Items {
		it := &b.Items[i]
		switch it.Type {
		case skimguard.ItemScript:
			g.script(i, it)
		case skimguard.ItemConnection:
			g.connection(it)
		case skimguard.ItemFrame:
			g.frame(it)
		case skimguard.ItemForm:
			g.form(it)
		}
	}
	g.finish()
	return g.p
}

type generator struct {
	b        *skimguard.Baseline
	o        Options
	p        *Policy
	volatile []bool
	types    map[string]map[string]bool
	// self is the page's origin, written 'self'.
	self string
	// usesNonce: the page's policies already name a nonce; strictDynamic:
	// its enforced policy trusts scripts by nonce alone ('strict-dynamic').
	usesNonce, strictDynamic bool
	handlers                 bool
	srcs                     map[string]*sourceSet
	// optional lists sources only optional items need, by directive and
	// source; required marks those a required item needs too.
	optional []optionalSource
	required map[string]bool
	// framed counts scripts in frames, which the page's policy does not
	// govern.
	framed int
}

type optionalSource struct{ directive, source, what string }

// sourceSet is one directive's sources in the order met, with what needs
// each.
type sourceSet struct {
	order []string
	why   map[string][]string
}

func (g *generator) add(directive, source, why string) {
	s := g.srcs[directive]
	if s == nil {
		s = &sourceSet{why: map[string][]string{}}
		g.srcs[directive] = s
	}
	if _, ok := s.why[source]; !ok {
		s.order = append(s.order, source)
	}
	if why != "" && !slices.Contains(s.why[source], why) {
		s.why[source] = append(s.why[source], why)
	}
}

// need adds source to directive for item it, noting whether only optional
// items need it.
func (g *generator) need(directive, source string, it *skimguard.Item, what string) {
	g.add(directive, source, what)
	if it.Optional {
		g.optional = append(g.optional, optionalSource{directive, source, what})
	} else {
		g.required[directive+" "+source] = true
	}
}

func (g *generator) warn(format string, a ...any) {
	g.p.Warnings = append(g.p.Warnings, fmt.Sprintf(format, a...))
}

// nonces reads from the baseline's own policies whether the page puts
// nonces on its scripts already.
func (g *generator) nonces() {
	for _, it := range g.b.Items {
		if it.Type != skimguard.ItemHeader || (it.Key != "content-security-policy" && it.Key != "content-security-policy-report-only") {
			continue
		}
		for _, v := range it.Values {
			if !strings.Contains(v, "'nonce-") {
				continue
			}
			g.usesNonce = true
			// Only a policy the browser enforces proves that every
			// script element carries the nonce: a report-only one may
			// be an experiment the page fails.
			if it.Key == "content-security-policy" && strings.Contains(v, "'strict-dynamic'") {
				g.strictDynamic = true
			}
		}
	}
}

// source is how a directive names origin: 'self' for the page's own,
// the scheme alone for data: and blob:, else the origin; "" for none.
func (g *generator) source(origin string) string {
	switch {
	case origin == "" || origin == "(unknown)":
		return ""
	case origin == g.self:
		return "'self'"
	case origin == "data:" || origin == "blob:":
		return origin
	case !strings.Contains(origin, "://"):
		return ""
	}
	return origin
}

func (g *generator) script(i int, it *skimguard.Item) {
	if it.Attrs[skimguard.AttrFrame] != "top" {
		g.framed++
		return
	}
	id := baseline.Identity(*it)
	if _, noURL := it.Attrs[skimguard.AttrOrdinal]; !noURL {
		g.external(i, it, id)
		return
	}
	switch skimguard.ScriptKind(it.ScriptKind()) {
	case skimguard.ScriptJSURL:
		g.warn("%s is a javascript: URL: the policy blocks it (no hash or nonce can allow one); replace it with an event listener added by a script file", id)
		return
	case skimguard.ScriptDynamic:
		g.warn("%s is code compiled at run time (eval, new Function or a string timer): the policy blocks it unless script-src has 'unsafe-eval', which would let injected code run too; replace it with ordinary code", id)
		return
	case skimguard.ScriptHandler:
		if g.hashes(i, it, id, "inline event handler") {
			g.handlers = true
		}
		return
	}
	g.hashes(i, it, id, "inline script")
}

// hashes adds the hash sources of a script without URL, or warns why it
// has none; it reports whether it added any.
func (g *generator) hashes(i int, it *skimguard.Item, id, what string) bool {
	if unfetched(it) {
		g.warn("%s was too large for the crawler to fetch, so its hash for the policy is not known: the policy blocks it; move it into a script file", id)
		return false
	}
	if g.volatile[i] {
		if g.usesNonce {
			g.warn("%s varies on every load (values in its text change), so no hash can allow it: the policy allows it by the page's nonce, so its element must carry the nonce the response's policy names (%s)", id, NoncePlaceholder)
			return false
		}
		g.warn("%s varies on every load (values in its text change), so no hash can allow it and the policy blocks it: move what changes into the HTML (a data- attribute, or a <script type=\"application/json\"> block, which no policy checks) read by a script whose text stays the same, or put a new nonce on its element with each response and add 'nonce-…' to script-src", id)
		return false
	}
	added := false
	for _, v := range it.Values {
		if !skimguard.IsScriptHash(v) {
			continue
		}
		raw, err := hex.DecodeString(strings.TrimPrefix(v, skimguard.ScriptHashPrefix))
		if err != nil || len(raw) != 32 {
			continue
		}
		g.need("script-src", "'sha256-"+base64.StdEncoding.EncodeToString(raw)+"'", it, what+" "+id)
		added = true
	}
	return added
}

// frameName is a frame's key without its parent: its origin and path
// (the subject carries the query, where providers put session ids).
func frameName(key string) string {
	if _, name, ok := strings.Cut(key, " > "); ok {
		return name
	}
	return key
}

// unfetched reports whether a script's approved text is the crawler's note
// for a script too large to fetch, whose hash is V8's, not the text's.
func unfetched(it *skimguard.Item) bool {
	return strings.Contains(it.Source, "skimguard_unfetched.")
}

func (g *generator) external(i int, it *skimguard.Item, id string) {
	switch {
	case strings.HasPrefix(it.Subject, "data:"):
		g.warn("%s is a data: URL: the policy blocks it, and allowing data: in script-src would let injected code run; serve it as a file", id)
		return
	case strings.HasPrefix(it.Subject, "blob:"):
		g.warn("%s is a blob: URL: the policy blocks it unless script-src has blob:, which code already running can use to add more", id)
		return
	}
	if src := g.source(it.Origin); src != "" {
		g.need("script-src", src, it, id)
	}
	in := Integrity{Script: id, URL: it.Subject}
	hashes := 0
	for _, v := range it.Values {
		if skimguard.IsScriptHash(v) {
			hashes++
		}
	}
	switch {
	case g.volatile[i]:
		in.Note = "its text varies on every load, so no integrity attribute can hold it"
	case hashes > 1:
		in.Note = fmt.Sprintf("%d versions of it are approved and an integrity attribute holds one: pin it to one version first", hashes)
	case it.SRI == "" || unfetched(it):
		in.Note = "its text was too large for the crawler to fetch, so its integrity is not known"
	default:
		in.Attribute = it.SRI
		var notes []string
		if strings.Contains(it.Attrs[skimguard.AttrIntegrity], it.SRI) {
			notes = append(notes, "it carries this attribute already")
		}
		if lb := it.Attrs[skimguard.AttrLoadedBy]; lb != "" && lb != "parser" {
			notes = append(notes, "another script inserts it ("+lb+"): that script must set the attribute on the element it makes")
		}
		if it.Origin != g.self {
			// Integrity is checked only on a CORS response.
			in.CrossOrigin = "anonymous"
			notes = append(notes, "its server must send Access-Control-Allow-Origin, or the browser refuses it")
		}
		in.Note = strings.Join(notes, "; ")
	}
	g.p.Integrity = append(g.p.Integrity, in)
}

func (g *generator) connection(it *skimguard.Item) {
	src := g.source(it.Key)
	if src == "" {
		return
	}
	ts := g.types[it.Key]
	what := "requests to " + it.Key
	placed := false
	for _, t := range slices.Sorted(maps.Keys(ts)) {
		if d := directiveOfType[t]; d != "" {
			g.need(d, src, it, what+" ("+t+")")
			placed = true
		}
	}
	if len(ts) == 0 && !placed {
		// Approved, but no load read shows how the page uses it: allow it
		// for both rather than break the page.
		g.need("connect-src", src, it, what+" (type not observed)")
		g.need("img-src", src, it, what+" (type not observed)")
	}
}

func (g *generator) frame(it *skimguard.Item) {
	if it.Attrs[skimguard.AttrParent] != "top" {
		return // a frame's frames answer to its own document's policy
	}
	for _, v := range it.Values {
		if src := g.source(skimguard.ParseFrameValue(v).Origin); src != "" && src != "data:" && src != "blob:" {
			g.need("frame-src", src, it, "iframe "+frameName(it.Key))
		}
	}
}

func (g *generator) form(it *skimguard.Item) {
	if it.Attrs[skimguard.AttrFrame] != "top" {
		return
	}
	for _, v := range it.Values {
		action := skimguard.ParseFormValue(v).Action
		src := "'self'"
		if action != "" {
			src = g.source(skimguard.Origin(action))
		}
		if src != "" {
			g.need("form-action", src, it, "form "+strings.TrimSuffix(it.Key, " in top"))
		}
	}
}

// finish puts the directives, headers and warnings together.
func (g *generator) finish() {
	p := g.p
	report := cmp.Or(g.o.ReportTo, ReportToPlaceholder)
	if g.o.ReportTo == "" {
		g.warn("the collector's address is a placeholder: print the policy again with --report-to and the URL `skimguard reports token %s` gives", p.Site)
	}

	script := Directive{Name: "script-src", Why: "the scripts the page may run: those of its approved baseline"}
	var hosts, hashes []Source
	for _, s := range g.sources("script-src") {
		if strings.HasPrefix(s.Value, "'sha") {
			hashes = append(hashes, s)
		} else {
			hosts = append(hosts, s)
		}
	}
	script.Sources = append(script.Sources, hosts...)
	if g.usesNonce {
		why := "the nonce the page already puts on its script elements: the merchant's server writes each response's nonce here"
		script.Sources = append(script.Sources, Source{"'nonce-" + NoncePlaceholder + "'", why})
	}
	if g.strictDynamic {
		script.Sources = append(script.Sources, Source{"'strict-dynamic'",
			"the page's enforced policy already trusts scripts by nonce and what they load; browsers that know it then ignore the origins above"})
	}
	if g.handlers {
		script.Sources = append(script.Sources, Source{"'unsafe-hashes'",
			"lets the hashes below allow the page's inline event handlers (onclick=...); moving them into a script file would make it unneeded"})
	}
	script.Sources = append(script.Sources, hashes...)
	script.Sources = append(script.Sources, Source{"'report-sha256'",
		"every shopper's browser reports the SHA-256 of each script it loads to skimguard, which compares it with the approved baseline"})
	p.Directives = append(p.Directives, script)

	with := func(name, why string, always ...Source) {
		d := Directive{Name: name, Why: why, Sources: always}
		for _, s := range g.sources(name) {
			if !slices.ContainsFunc(d.Sources, func(a Source) bool { return a.Value == s.Value }) {
				d.Sources = append(d.Sources, s)
			}
		}
		if len(d.Sources) == 0 {
			d.Sources = []Source{{"'none'", "the baseline has none"}}
		}
		p.Directives = append(p.Directives, d)
	}
	self := Source{"'self'", "the page's own origin"}
	with("connect-src", "where scripts may send data (fetch, XMLHttpRequest, beacons, WebSockets): a skimmer's usual way out", self)
	with("img-src", "where images may load from: new Image().src is the other usual way out", self)
	with("frame-src", "which iframes the page may hold: a fake card form in a frame is blocked")
	with("form-action", "where forms may be submitted, redirects included (add a 3-D Secure page's origin if the payment flow redirects to one)", self)
	p.Directives = append(p.Directives,
		Directive{Name: "object-src", Why: "no plugins (<object>, <embed>), an old way around script-src", Sources: []Source{{"'none'", ""}}},
		Directive{Name: "base-uri", Why: "no <base> element may send the page's relative script URLs elsewhere", Sources: []Source{{"'self'", ""}}},
		Directive{Name: "report-uri", Why: "where browsers without the Reporting API send violations (no script hashes)", Sources: []Source{{report, ""}}},
		Directive{Name: "report-to", Why: "where browsers send violations and script hashes: the endpoint Reporting-Endpoints names", Sources: []Source{{EndpointName, ""}}},
	)

	parts := make([]string, 0, len(p.Directives))
	for _, d := range p.Directives {
		vs := make([]string, len(d.Sources))
		for i, s := range d.Sources {
			vs[i] = s.Value
		}
		parts = append(parts, d.Name+" "+strings.Join(vs, " "))
	}
	p.Headers = []Header{
		{g.o.HeaderName(), strings.Join(parts, "; ")},
		{"Reporting-Endpoints", EndpointName + `="` + report + `"`},
		{"Integrity-Policy-Report-Only", "blocked-destinations=(script), endpoints=(" + EndpointName + ")"},
	}

	for _, opt := range g.optional {
		if g.required[opt.directive+" "+opt.source] {
			continue
		}
		g.required[opt.directive+" "+opt.source] = true // one warning each
		g.warn("%s %s was seen in only some of the baseline's samples (%s): another variant of the page may need an origin no sample showed, which the policy would block; learn the baseline from more samples before enforcing",
			opt.directive, opt.source, opt.what)
	}
	switch {
	case g.framed == 1:
		g.warn("a script runs in one of the page's iframes: a frame's document answers to its own policy, not this one")
	case g.framed > 1:
		g.warn("%d scripts run in the page's iframes: a frame's document answers to its own policy, not this one", g.framed)
	}
	switch p.Observations {
	case 0:
		g.warn("no stored load of the page was read, so scripts whose text varies per load cannot be told from stable ones and their hashes are listed as if stable: run `skimguard check` a few times, then print the policy again")
	case 1:
		g.warn("only one stored load of the page was read: a script whose text varies per load only shows when two loads differ; run `skimguard check` a few times, then print the policy again")
	}
}

// sources lists directive's sources: keywords first, then the rest sorted.
func (g *generator) sources(directive string) []Source {
	s := g.srcs[directive]
	if s == nil {
		return nil
	}
	vs := slices.Clone(s.order)
	slices.SortStableFunc(vs, func(a, b string) int {
		ka, kb := strings.HasPrefix(a, "'") && !strings.HasPrefix(a, "'sha"), strings.HasPrefix(b, "'") && !strings.HasPrefix(b, "'sha")
		switch {
		case ka && !kb:
			return -1
		case kb && !ka:
			return 1
		}
		return strings.Compare(a, b)
	})
	out := make([]Source, len(vs))
	for i, v := range vs {
		out[i] = Source{v, summarise(s.why[v])}
	}
	return out
}

// summarise names up to three things that need a source.
func summarise(whys []string) string {
	if len(whys) <= 3 {
		return strings.Join(whys, "; ")
	}
	return strings.Join(whys[:3], "; ") + fmt.Sprintf("; and %d more", len(whys)-3)
}

// pageOrigin is the origin the page ends at: its approved redirect's, else
// its URL's.
func pageOrigin(b *skimguard.Baseline) string {
	for _, it := range b.Items {
		if it.Type == skimguard.ItemRedirect {
			for _, v := range it.Values {
				if o := skimguard.Origin(skimguard.ParseRedirectValue(v).Final); o != "" {
					return o
				}
			}
		}
	}
	return skimguard.Origin(b.URL)
}

// connectionTypes collects, per destination origin, the request types the
// observations show.
func connectionTypes(obs []*skimguard.Observation) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, o := range obs {
		for _, c := range o.Connections {
			origin := strings.ToLower(strings.TrimSpace(c.Origin))
			if out[origin] == nil {
				out[origin] = map[string]bool{}
			}
			for _, t := range c.Types {
				out[origin][t] = true
			}
		}
	}
	return out
}

// Write writes the policy for people and for copying: comment lines (#)
// that explain each directive and source and warn where the page would
// break, the header lines to add, and the integrity attributes.
func (p *Policy) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s/%s  %s\n", p.Site, p.Page, p.URL)
	fmt.Fprintf(&b, "# From baseline version %d and %d stored loads of the page.\n", p.BaselineVersion, p.Observations)
	fmt.Fprintf(&b, "# %s, directive by directive:\n", p.Headers[0].Name)
	for _, d := range p.Directives {
		fmt.Fprintf(&b, "#   %s: %s\n", d.Name, d.Why)
		for _, s := range d.Sources {
			if s.Why != "" {
				fmt.Fprintf(&b, "#     %s  %s\n", s.Value, s.Why)
			}
		}
	}
	b.WriteString("# Reporting-Endpoints names skimguard's collector. Integrity-Policy-Report-Only has browsers report each script\n")
	b.WriteString("# loaded without an integrity attribute; Integrity-Policy would block them, once every script carries one.\n")
	if strings.Contains(p.Headers[0].Value, NoncePlaceholder) {
		fmt.Fprintf(&b, "# Replace %s with the nonce the response's script elements carry: a new one with each response.\n", NoncePlaceholder)
	}
	for _, wn := range p.Warnings {
		fmt.Fprintf(&b, "# WARNING: %s\n", wn)
	}
	for _, h := range p.Headers {
		fmt.Fprintf(&b, "%s: %s\n", h.Name, h.Value)
	}
	if len(p.Integrity) > 0 {
		b.WriteString("# Subresource Integrity: the browser refuses a script whose text is not the approved one.\n")
		for _, in := range p.Integrity {
			switch {
			case in.Attribute == "":
				fmt.Fprintf(&b, "#   %s: no integrity attribute: %s\n", in.Script, in.Note)
			default:
				attrs := fmt.Sprintf("integrity=%q", in.Attribute)
				if in.CrossOrigin != "" {
					attrs += fmt.Sprintf(" crossorigin=%q", in.CrossOrigin)
				}
				fmt.Fprintf(&b, "#   <script src=%q %s>", in.URL, attrs)
				if in.Note != "" {
					fmt.Fprintf(&b, "  (%s)", in.Note)
				}
				b.WriteString("\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
