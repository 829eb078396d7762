// Package skimguard holds the domain types shared by skimguard's packages:
// the pages to watch, what one load of a page observed, the approved
// baseline of a page, the findings of a comparison, and the Store that keeps
// them. It has no dependencies beyond the standard library.
//
// Data flows one way: config → crawl (Observation) → compare with the
// Baseline (Findings) → store and alert.
package skimguard

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Page is one payment page to watch, as configured in sites.yaml.
type Page struct {
	Site string `json:"site"`
	Name string `json:"page"`
	URL  string `json:"url"`
	// Wait is how long the crawler keeps watching after the load and after
	// typing the test card, so that loaders that sleep before acting are seen.
	Wait time.Duration `json:"wait,omitempty"`
	// Interact makes the crawler type a test card into card-like fields,
	// blur them and hover the pay button, without ever submitting.
	Interact bool `json:"interact"`
	// Profile names the browser profile: "desktop" (default) or "mobile".
	Profile string `json:"profile,omitempty"`

	// Journey, when set, is how a shopper reaches the page: its steps run
	// in the scan's fresh profile before the page is observed, and the
	// page is the document open when they end. It is shared between
	// copies of the Page and never changed.
	Journey *Journey `json:"-"`
	// Locale is the shopper's language, a BCP 47 tag such as "ja-JP", for
	// Accept-Language, navigator.languages and Intl; "" is en-US.
	Locale string `json:"locale,omitempty"`
	// Timezone is the shopper's IANA time zone, such as "Asia/Tokyo"; ""
	// is the machine's.
	Timezone string `json:"timezone,omitempty"`
}

// Profiles the crawler knows.
const (
	ProfileDesktop = "desktop"
	ProfileMobile  = "mobile"
)

// Phases is how long each phase of one check took. A phase that did not
// happen is 0.
type Phases struct {
	// Setup is the scan's browser context, tab and egress proxy.
	Setup time.Duration `json:"setup,omitempty"`
	// Load is the main document's navigation, up to its load event.
	Load time.Duration `json:"load,omitempty"`
	// Journey is the steps that reach a page behind a cart or a sign-in.
	Journey time.Duration `json:"journey,omitempty"`
	// Window is the observation window after the load, Typing excluded.
	Window time.Duration `json:"window,omitempty"`
	// Typing is typing the test card.
	Typing time.Duration `json:"typing,omitempty"`
	// Sources is reading the DOM and fetching the scripts' text still
	// pending when the window ended.
	Sources time.Duration `json:"sources,omitempty"`
	// Screenshot is taking the screenshot, alongside Sources.
	Screenshot time.Duration `json:"screenshot,omitempty"`
	// Departure is the shopper leaving the page (hidden, unloaded) while
	// what it sends on exit is still recorded; 0 when nothing in the page
	// listens to its exit, and it is not left.
	Departure time.Duration `json:"departure,omitempty"`
	// Store is saving the scan; the monitor sets it once saved, so the
	// stored copy has 0.
	Store time.Duration `json:"store,omitempty"`
}

// Each calls f with each phase's name, as metrics label it, and duration,
// in the order a check goes through them, zero ones included.
func (p Phases) Each(f func(name string, d time.Duration)) {
	f("setup", p.Setup)
	f("journey", p.Journey)
	f("load", p.Load)
	f("window", p.Window)
	f("typing", p.Typing)
	f("sources", p.Sources)
	f("screenshot", p.Screenshot)
	f("departure", p.Departure)
	f("store", p.Store)
}

// String lists the phases that took time, as "load 1.2s, window 10.5s".
func (p Phases) String() string {
	var parts []string
	p.Each(func(name string, d time.Duration) {
		if d > 0 {
			parts = append(parts, name+" "+roundPhase(d).String())
		}
	})
	return strings.Join(parts, ", ")
}

// roundPhase rounds d for people: to 0.1 s from a second, 1 ms below.
func roundPhase(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// Observation is what one load of a payment page showed a shopper's browser.
type Observation struct {
	Site string `json:"site"`
	Page string `json:"page"`
	// URL is the URL that was requested; FinalURL is where the main document
	// ended after redirects.
	URL      string `json:"url"`
	FinalURL string `json:"final_url"`
	// Redirects lists the main document's URLs before FinalURL, in order.
	Redirects []string `json:"redirects,omitempty"`
	// Status is the HTTP status of the final main document response.
	Status  int    `json:"status"`
	Profile string `json:"profile"`
	// StartedAt is when the scan was admitted and began; Duration is how
	// long it took from then. Queued is how long it waited before, for
	// the browser to have room (see crawler.Crawler.Admit).
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration"`
	Queued    time.Duration `json:"queued,omitempty"`
	// Phases is where Duration went.
	Phases Phases `json:"phases"`
	// Headers holds the main document's security-impacting response headers
	// (see SecurityHeaders), keyed by lower-case name. Repeated headers are
	// joined with ", ".
	Headers map[string]string `json:"headers"`
	Scripts []Script          `json:"scripts"`
	Frames  []Frame           `json:"frames"`
	Forms   []Form            `json:"forms"`
	// Connections are the distinct destinations the page sent requests to.
	Connections []Connection `json:"connections"`
	// Typed reports whether the test card was typed into at least one field.
	Typed bool `json:"typed"`
	// Revisited reports that the page started a service worker and was
	// loaded a second time once it was active, as a returning shopper
	// sees it: what both loads showed is in this observation.
	Revisited bool `json:"revisited,omitempty"`
	// Leaks are the requests that carried the typed test card data.
	Leaks []Leak `json:"leaks,omitempty"`
	// CardAccess lists the scripts that can see card data, whether or not
	// anything they send can be recognised: each script that listens to
	// the events of a card field, of its form or pay button, or of an
	// element, the document or the window above them, and each that read
	// a card field once the test card was typed.
	CardAccess []CardAccess `json:"card_access,omitempty"`
	// Screenshot is a PNG of the page after the observation window, when taken.
	Screenshot []byte `json:"-"`
}

// ScriptKind says how a script came to run.
type ScriptKind string

// Script kinds.
const (
	// ScriptExternal is a script loaded from a URL (<script src>, parser
	// inserted or injected at run time, workers included).
	ScriptExternal ScriptKind = "external"
	// ScriptInline is the text of a <script> element without src.
	ScriptInline ScriptKind = "inline"
	// ScriptHandler is an inline event handler attribute (on*), SVG included.
	ScriptHandler ScriptKind = "handler"
	// ScriptJSURL is a javascript: URL in href, src, action or formaction.
	ScriptJSURL ScriptKind = "javascript-url"
	// ScriptDynamic is code compiled at run time without a URL: eval,
	// new Function, setTimeout(string), script.text and similar.
	ScriptDynamic ScriptKind = "dynamic"
)

// Script is one piece of code that ran (or, for handlers and javascript:
// URLs, that sits ready to run) in the page or one of its frames.
type Script struct {
	Kind ScriptKind `json:"kind"`
	// URL is the script's URL for external scripts, empty otherwise.
	URL string `json:"url,omitempty"`
	// Location says where code without its own URL sits, for people:
	// "line 12 col 4" for inline scripts, "svg#logo[onload]" for handlers,
	// "eval from https://cdn/x.js:3" for dynamic code.
	Location string `json:"location,omitempty"`
	// Frame is the URL of the document the script ran in.
	Frame string `json:"frame"`
	// Ordinal numbers scripts of the same Kind within the same Frame, from 1,
	// in the order they were seen: "inline #2" is Ordinal 2.
	Ordinal int `json:"ordinal"`
	// SHA256 is the hex SHA-256 of Source; SRI is its Subresource Integrity
	// form, "sha384-<base64>". A script too large for the crawler to fetch
	// keeps V8's SHA-256 of its text and no SRI; its Source is a note that
	// says so and names its length and hash, and its Size is its length in
	// characters.
	SHA256 string `json:"sha256"`
	SRI    string `json:"sri"`
	Size   int    `json:"size"`
	Source string `json:"source"`
	// LoadedBy names what brought the script in: "parser" for the HTML
	// parser, else the URL (or Location) of the script that inserted or
	// compiled it.
	LoadedBy string `json:"loaded_by,omitempty"`
	// Integrity and CrossOrigin are the attributes of the script's element,
	// when it has one.
	Integrity   string `json:"integrity,omitempty"`
	CrossOrigin string `json:"crossorigin,omitempty"`
}

// Subject names the script for people: its URL, or "inline #N" and the like
// with its location.
func (s Script) Subject() string {
	if s.URL != "" {
		return s.URL
	}
	subj := string(s.Kind) + " #" + strconv.Itoa(s.Ordinal)
	if s.Kind == ScriptInline {
		subj = "inline #" + strconv.Itoa(s.Ordinal)
	}
	if s.Location != "" {
		subj += " (" + s.Location + ")"
	}
	if s.Frame != "" {
		subj += " in " + s.Frame
	}
	return subj
}

// Frame is an iframe (or frame) in the page, at any depth.
type Frame struct {
	URL    string `json:"url"`
	Origin string `json:"origin"`
	// Parent is the URL of the document that holds the frame element.
	Parent  string `json:"parent"`
	Name    string `json:"name,omitempty"`
	Sandbox string `json:"sandbox,omitempty"`
	Allow   string `json:"allow,omitempty"`
	// Hidden is true when the frame element is not displayed or has no area.
	Hidden bool `json:"hidden,omitempty"`
}

// CardField names the part of a card an input asks for.
type CardField string

// Card fields.
const (
	FieldNumber CardField = "number"
	FieldExpiry CardField = "expiry"
	FieldCVC    CardField = "cvc"
	FieldName   CardField = "name"
)

// Form is a form in the page or a frame, or, with Formless set, the card-like
// inputs of one document that sit in no form.
type Form struct {
	// Frame is the URL of the document the form is in.
	Frame string `json:"frame"`
	// Action is the resolved absolute action URL; Method is upper case.
	Action   string  `json:"action"`
	Method   string  `json:"method"`
	ID       string  `json:"id,omitempty"`
	Name     string  `json:"name,omitempty"`
	Formless bool    `json:"formless,omitempty"`
	Inputs   []Input `json:"inputs"`
}

// Input is a card-like input field.
type Input struct {
	Field        CardField `json:"field"`
	Name         string    `json:"name,omitempty"`
	ID           string    `json:"id,omitempty"`
	Type         string    `json:"type,omitempty"`
	Autocomplete string    `json:"autocomplete,omitempty"`
	Visible      bool      `json:"visible"`
}

// Connection is one destination origin the page (or any frame, worker or
// script in it) sent requests to, with how and by whom.
type Connection struct {
	Origin string `json:"origin"`
	// Types are the resource types seen, sorted: Document, Script, XHR,
	// Fetch, Ping (beacon), Image, WebSocket, ...
	Types []string `json:"types"`
	// Initiators are the scripts (URLs) or "parser" that started requests.
	Initiators []string `json:"initiators,omitempty"`
	// Example is one URL sent there, query string dropped.
	Example string `json:"example"`
	Count   int    `json:"count"`
	// AfterTyping is true when a request went there after the test card was
	// typed.
	AfterTyping bool `json:"after_typing,omitempty"`
	// Chain is the call chain of the first request a script sent there
	// (see Leak.Chain).
	Chain []CallSite `json:"chain,omitempty"`
	// Refused, when set, says that the crawler's egress policy refused to
	// connect there, and why ("refused by egress policy: the cloud
	// metadata address (169.254.169.254:80)"): the page tried, and nothing
	// was sent.
	Refused string `json:"refused,omitempty"`
}

// Leak is a request that carried the typed test card data.
type Leak struct {
	Origin string `json:"origin"`
	// URL is the request URL with card data masked.
	URL    string `json:"url"`
	Method string `json:"method,omitempty"`
	// Type is the transport: XHR, Fetch, Ping, Image, WebSocket, Document...
	Type      string `json:"type"`
	Initiator string `json:"initiator,omitempty"`
	// Fields are the card fields found, sorted.
	Fields []CardField `json:"fields"`
	// Encoding is how the data was found: plain, url, base64, base64-reversed,
	// hex, json...
	Encoding string `json:"encoding"`
	// Where is the part of the request that carried it: url, body, frame.
	Where string `json:"where"`
	// Chain is every script on the call chain that sent the request, once
	// each: the one on top of the stack (Initiator's) first, the one the
	// chain began in last, through timers, promises and events. A skimmer
	// that sends through the page's own fetch wrapper or jQuery is on it
	// below the wrapper.
	Chain []CallSite `json:"chain,omitempty"`
	// Truncated is set when the number left only cut to its first six and
	// last four digits.
	Truncated bool `json:"truncated,omitempty"`
}

// CallSite is one script on a request's call chain.
type CallSite struct {
	// Script is the script's index in Observation.Scripts, -1 when it is
	// not in the inventory.
	Script int `json:"script"`
	// URL is the stack frame's URL (a document's for code without its
	// own) and Line its line, from 1.
	URL  string `json:"url"`
	Line int    `json:"line"`
}

// Culprit picks, on a call chain, the script to name for a request: the
// deepest (the one the chain began nearest to) that unapproved says is
// not approved, else the one the chain began in; -1 for an empty chain.
// A skimmer that sends through the page's approved wrapper is named, not
// the wrapper; with no baseline to judge by (unapproved nil), the
// originating script.
func Culprit(chain []CallSite, unapproved func(script int) bool) int {
	if unapproved != nil {
		for i := len(chain) - 1; i >= 0; i-- {
			if chain[i].Script >= 0 && unapproved(chain[i].Script) {
				return i
			}
		}
	}
	return len(chain) - 1
}

// CardAccess is one way one script can see one card field.
type CardAccess struct {
	// Script is the script's index in Observation.Scripts.
	Script int       `json:"script"`
	Field  CardField `json:"field"`
	// How is AccessListens followed by the event type for a listener,
	// AccessReadsValue or AccessReadsFormData.
	How string `json:"how"`
	// Frame is the URL of the document the field is in.
	Frame string `json:"frame"`
}

// The ways a script can see a card field: CardAccess.How.
const (
	// AccessListens, followed by the event type ("listens:change"): a
	// listener on the field, its form or its pay button, or, for events
	// that carry what is typed (input, change, key presses, blur and focus
	// when capturing, submit...), on an element, the document or the
	// window above it.
	AccessListens = "listens:"
	// AccessReadsValue: the script read the field's value or valueAsNumber
	// while it held data, directly or through code it called.
	AccessReadsValue = "reads value"
	// AccessReadsFormData: the script made a FormData of the field's form
	// while the field held data.
	AccessReadsFormData = "reads form data"
)

// SecurityHeaders are the response headers PCI DSS 11.6.1 calls
// security-impacting, in lower case. Other headers are not compared.
var SecurityHeaders = []string{
	"content-security-policy",
	"content-security-policy-report-only",
	"strict-transport-security",
	"x-frame-options",
	"x-content-type-options",
	"referrer-policy",
	"permissions-policy",
	"cross-origin-opener-policy",
	"cross-origin-embedder-policy",
	"cross-origin-resource-policy",
}

// IsSecurityHeader reports whether name (any case) is one of SecurityHeaders.
func IsSecurityHeader(name string) bool {
	name = strings.ToLower(name)
	for _, h := range SecurityHeaders {
		if h == name {
			return true
		}
	}
	return false
}

// Origin returns the scheme://host[:port] of rawURL, or "" when it has none
// (data:, blob: and about: URLs give their scheme followed by a colon).
func Origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		if u.Scheme != "" {
			return u.Scheme + ":"
		}
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}
