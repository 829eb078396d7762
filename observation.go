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
	Status    int           `json:"status"`
	Profile   string        `json:"profile"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration"`
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
}

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
