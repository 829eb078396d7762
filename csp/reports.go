package csp

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// Media types of the reports browsers send.
const (
	// ReportsJSON is the Reporting API's: a JSON array of reports.
	ReportsJSON = "application/reports+json"
	// LegacyReport is report-uri's: one {"csp-report": {...}} object.
	LegacyReport = "application/csp-report"
)

// MaxBatch is how many reports of one request are read; browsers send a
// handful, and the rest of a larger batch is ignored.
const MaxBatch = 100

// Report is one report as a browser sent it, reduced to what skimguard
// reads.
type Report struct {
	Type skimguard.ReportType
	// DocumentURL is the page the report is about.
	DocumentURL string
	// URL is the script's (csp-hash: subresourceURL) or what was blocked
	// (csp-violation, integrity-violation: blockedURL; a keyword such as
	// "inline" or "eval" for code without a URL).
	URL string
	// Hash is a csp-hash report's SHA-256, "sha256:<hex>".
	Hash string
	// Directive is the effective directive a violation broke.
	Directive string
	// SourceFile is where the violating code was; Sample its first
	// characters, when the policy asks for them.
	SourceFile, Sample string
	UserAgent          string
}

// ErrMediaType is returned (wrapped) by Parse for a body that is neither
// ReportsJSON nor LegacyReport.
var ErrMediaType = errors.New("not a report")

// Parse reads the reports of one request body of media type contentType:
// the Reporting API's csp-hash, csp-violation and integrity-violation
// reports (others, such as deprecation reports, are skipped and counted in
// skipped), or one legacy CSP report. A report without what its type
// needs (a URL, a well-formed hash) is skipped as well.
func Parse(contentType string, body []byte) (reports []Report, skipped int, err error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, 0, fmt.Errorf("content type %q: %w", contentType, ErrMediaType)
	}
	switch mt {
	case ReportsJSON:
		return parseReports(body)
	case LegacyReport:
		r, err := parseLegacy(body)
		if err != nil {
			return nil, 0, err
		}
		if r.URL == "" {
			return nil, 1, nil
		}
		return []Report{r}, 0, nil
	}
	return nil, 0, fmt.Errorf("content type %q: %w: send %s or %s", mt, ErrMediaType, ReportsJSON, LegacyReport)
}

func parseReports(body []byte) ([]Report, int, error) {
	var batch []struct {
		Type      string          `json:"type"`
		URL       string          `json:"url"`
		UserAgent string          `json:"user_agent"`
		Body      json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		return nil, 0, fmt.Errorf("the body is not a JSON array of reports: %w", err)
	}
	var out []Report
	skipped := 0
	for i, b := range batch {
		if i == MaxBatch {
			skipped += len(batch) - i
			break
		}
		var body struct {
			DocumentURL        string `json:"documentURL"`
			SubresourceURL     string `json:"subresourceURL"`
			BlockedURL         string `json:"blockedURL"`
			Hash               string `json:"hash"`
			Destination        string `json:"destination"`
			EffectiveDirective string `json:"effectiveDirective"`
			SourceFile         string `json:"sourceFile"`
			Sample             string `json:"sample"`
		}
		if json.Unmarshal(b.Body, &body) != nil {
			skipped++
			continue
		}
		r := Report{Type: skimguard.ReportType(b.Type), DocumentURL: body.DocumentURL, Directive: body.EffectiveDirective,
			SourceFile: body.SourceFile, Sample: body.Sample, UserAgent: b.UserAgent}
		if r.DocumentURL == "" {
			r.DocumentURL = b.URL
		}
		switch r.Type {
		case skimguard.ReportScriptHash:
			r.URL, r.Hash = body.SubresourceURL, hexHash(body.Hash)
			if body.Destination != "script" || r.Hash == "" {
				r.URL = ""
			}
		case skimguard.ReportViolation:
			r.URL = body.BlockedURL
		case skimguard.ReportIntegrity:
			r.URL = body.BlockedURL
		default:
			skipped++
			continue
		}
		if r.URL == "" {
			skipped++
			continue
		}
		out = append(out, r)
	}
	return out, skipped, nil
}

func parseLegacy(body []byte) (Report, error) {
	var legacy struct {
		Report struct {
			DocumentURI        string `json:"document-uri"`
			BlockedURI         string `json:"blocked-uri"`
			EffectiveDirective string `json:"effective-directive"`
			ViolatedDirective  string `json:"violated-directive"`
			SourceFile         string `json:"source-file"`
			ScriptSample       string `json:"script-sample"`
		} `json:"csp-report"`
	}
	if err := json.Unmarshal(body, &legacy); err != nil {
		return Report{}, fmt.Errorf(`the body is not a JSON {"csp-report": {...}} object: %w`, err)
	}
	l := legacy.Report
	directive := l.EffectiveDirective
	if directive == "" {
		// Older browsers name the directive as written, sources and all.
		directive, _, _ = strings.Cut(l.ViolatedDirective, " ")
	}
	return Report{Type: skimguard.ReportViolation, DocumentURL: l.DocumentURI, URL: l.BlockedURI, Directive: directive,
		SourceFile: l.SourceFile, Sample: l.ScriptSample}, nil
}

// hexHash turns a reported "sha256-<base64>" into "sha256:<hex>", "" when
// it is not one.
func hexHash(h string) string {
	b64, ok := strings.CutPrefix(h, "sha256-")
	if !ok {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(b64, "=")); err != nil {
			return ""
		}
	}
	if len(raw) != 32 {
		return ""
	}
	return skimguard.ScriptHash(hex.EncodeToString(raw))
}

// Why reports are filtered rather than kept: the values of Noise and
// of the collector's filtered count.
const (
	// NoiseExtension: a browser extension's code, or code it injected.
	NoiseExtension = "extension"
	// NoiseBrowser: the browser's own pages (about:, chrome:).
	NoiseBrowser = "browser"
)

// extensionSchemes are the URL schemes of browser extensions' code
// (Safari masks theirs as webkit-masked-url:).
var extensionSchemes = []string{"chrome-extension:", "moz-extension:", "safari-web-extension:", "safari-extension:",
	"ms-browser-extension:", "webkit-masked-url:"}

// browserSchemes are the schemes of the browser's own documents.
var browserSchemes = []string{"about:", "chrome:", "edge:", "resource:", "view-source:"}

// Noise says why r comes from outside the page, "" when it does not: a
// browser extension's script, code an extension injected into the page
// (its sample or source file names the extension), or a report about the
// browser's own pages. Such reports say nothing about the merchant's page
// and are filtered, counted, before anything is stored.
func Noise(r Report) string {
	for _, s := range []string{r.URL, r.SourceFile, r.Sample} {
		if hasScheme(s, extensionSchemes, true) {
			return NoiseExtension
		}
	}
	if hasScheme(r.DocumentURL, browserSchemes, false) || hasScheme(r.URL, browserSchemes, false) {
		return NoiseBrowser
	}
	return ""
}

// hasScheme reports whether s starts with one of schemes or, with
// anywhere, names one of them anywhere (an injected script's sample).
func hasScheme(s string, schemes []string, anywhere bool) bool {
	ls := strings.ToLower(s)
	for _, sc := range schemes {
		if strings.HasPrefix(ls, sc) || (anywhere && strings.Contains(ls, sc+"//")) {
			return true
		}
	}
	return false
}

// maxField bounds what is kept of a reported URL or user agent.
const maxField = 1024

// Aggregate is r as the aggregate of page p it adds one to, at: what is
// kept of it (the script's URL without fragment, a blocked URL's origin
// only, its user agent), with card numbers masked. It reports false when
// r carries nothing to keep.
func Aggregate(p skimguard.Page, r Report, at time.Time) (skimguard.ShopperReport, bool) {
	a := skimguard.ShopperReport{Site: p.Site, Page: p.Name, Type: r.Type, Count: 1, FirstSeen: at, LastSeen: at}
	if ua := clip(carddata.MaskPANs(r.UserAgent)); ua != "" {
		a.UserAgents = []string{ua}
	}
	switch r.Type {
	case skimguard.ReportScriptHash, skimguard.ReportIntegrity:
		u, ok := webURL(r.URL)
		if !ok {
			return a, false
		}
		u.Fragment, u.RawFragment, u.User = "", "", nil
		a.Subject, a.Hash = clip(carddata.MaskPANs(u.String())), r.Hash
	case skimguard.ReportViolation:
		a.Directive = keyword(r.Directive)
		if u, ok := webURL(r.URL); ok {
			// A blocked URL may carry what a skimmer was sending: only
			// where it went is kept.
			a.Subject = strings.ToLower(u.Scheme + "://" + u.Host)
		} else {
			a.Subject = keyword(r.URL)
		}
	default:
		return a, false
	}
	return a, a.Subject != ""
}

// webURL parses an http or https URL.
func webURL(s string) (*url.URL, bool) {
	if len(s) > 8<<10 {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, false
	}
	return u, true
}

// keyword keeps a reported keyword ("inline", "eval", "script-src-elem")
// when it is one, else "other": a report is not free text to store.
func keyword(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 40 {
		return "other"
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return "other"
		}
	}
	return s
}

func clip(s string) string {
	if len(s) > maxField {
		return strings.ToValidUTF8(s[:maxField], "")
	}
	return s
}

// SamePage reports whether documentURL is the page at pageURL: the same
// origin and path, whatever its query and fragment (order numbers,
// sessions) say.
func SamePage(pageURL, documentURL string) bool {
	p, err1 := url.Parse(pageURL)
	d, err2 := url.Parse(documentURL)
	if err1 != nil || err2 != nil || p.Host == "" {
		return false
	}
	norm := func(u *url.URL) string {
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		return strings.ToLower(u.Scheme+"://"+u.Host) + path
	}
	return norm(p) == norm(d)
}
