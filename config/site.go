package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	skimguard "github.com/skimguard/skimguard"
)

// Site is a shop with its payment pages, scanned on one schedule.
type Site struct {
	Name string
	// Schedule is a cron spec (5 fields) or descriptor ("@hourly",
	// "@every 15m"); "@hourly" when not set. ParseSchedule reads it.
	Schedule string
	Pages    []Page

	// The shopper's locale and time zone for the site's pages; a page may
	// set its own. Empty when not set.
	Locale   string
	Timezone string
}

// DefaultSchedule is a site's schedule when none is set.
const DefaultSchedule = "@hourly"

// siteFields are the keys of a site.
var siteFields = []field[Site]{
	{
		key:    "name",
		decode: func(d *decoder, s *Site, v *yaml.Node) { s.Name = d.name(v, "site") },
		missing: func(*Site) string {
			return "site has no name: add name: followed by a short name such as shop"
		},
	},
	{
		key: "schedule",
		decode: func(d *decoder, s *Site, v *yaml.Node) {
			spec, ok := d.str(v, "schedule", `"@hourly" or "0 * * * *"`)
			if !ok {
				d.errorf(v, "schedule is empty: write a cron spec such as \"0 * * * *\" or a descriptor such as \"@hourly\" or \"@every 15m\", or leave it out for @hourly")
				return
			}
			if _, err := ParseSchedule(spec); err != nil {
				d.errorf(v, "bad schedule %q: %v; write a cron spec such as \"0 * * * *\" or a descriptor such as \"@hourly\" or \"@every 15m\"", spec, err)
			}
			s.Schedule = spec
		},
	},
	{
		key:    "pages",
		decode: func(d *decoder, s *Site, v *yaml.Node) { s.Pages = decodePages(d, v) },
		missing: func(s *Site) string {
			return fmt.Sprintf("site %q has no pages: add pages: with at least one page (name: and url:)", s.Name)
		},
	},

	// The shopper's locale and time zone, for every page of the site.
	{
		key:    "locale",
		decode: func(d *decoder, s *Site, v *yaml.Node) { s.Locale = d.locale(v) },
	},
	{
		key:    "timezone",
		decode: func(d *decoder, s *Site, v *yaml.Node) { s.Timezone = d.timezone(v) },
	},
}

// decode reads a site from n, defaults first; false means n is no site.
func (s *Site) decode(d *decoder, n *yaml.Node) (map[string]entry, bool) {
	*s = Site{Schedule: DefaultSchedule}
	return decodeMap(d, n, "a site", siteFields, s)
}

// decodeSites reads the list of sites, each with its own name.
func decodeSites(d *decoder, n *yaml.Node) []Site {
	return decodeNamed(d, n, namedList[Site]{
		key: "sites", example: "- name: shop", what: "site",
		empty:  "sites is empty: list at least one site with its pages",
		decode: (*Site).decode, name: func(s *Site) string { return s.Name },
	})
}

// Page is one payment page of a site.
type Page struct {
	Name string
	URL  string
	// Wait is how long to keep watching after load and typing; 0 leaves the
	// crawler's default.
	Wait time.Duration
	// Interact makes the crawler type the test card; true when not set.
	Interact bool
	// Profile is the browser profile, skimguard.ProfileDesktop (default) or
	// skimguard.ProfileMobile.
	Profile string

	// Journey is the way a shopper reaches the page, from steps: or
	// recording:; nil when the page is reached by its URL.
	Journey *skimguard.Journey
	// Locale (a BCP 47 tag) and Timezone (an IANA name) of the shopper's
	// browser, as written for this page; empty takes the site's (see
	// Config.Pages).
	Locale   string
	Timezone string
}

// MinWait and MaxWait bound a page's wait.
const (
	MinWait = time.Second
	MaxWait = 5 * time.Minute
)

// pageFields are the keys of a page.
var pageFields = []field[Page]{
	{
		key:    "name",
		decode: func(d *decoder, pg *Page, v *yaml.Node) { pg.Name = d.name(v, "page") },
		missing: func(*Page) string {
			return "page has no name: add name: followed by a short name such as checkout"
		},
	},
	{
		key:    "url",
		decode: func(d *decoder, pg *Page, v *yaml.Node) { pg.URL = d.url(v, "url") },
		missing: func(pg *Page) string {
			return fmt.Sprintf("page %q has no url: add url: with the payment page's address, such as https://shop.example/checkout", pg.Name)
		},
	},
	{
		key:    "wait",
		decode: func(d *decoder, pg *Page, v *yaml.Node) { pg.Wait = d.wait(v) },
	},
	{
		key:    "interact",
		decode: func(d *decoder, pg *Page, v *yaml.Node) { pg.Interact = d.boolean(v, "interact", true) },
	},
	{
		key: "profile",
		decode: func(d *decoder, pg *Page, v *yaml.Node) {
			s, _ := d.str(v, "profile", "desktop")
			switch s {
			case skimguard.ProfileDesktop, skimguard.ProfileMobile:
				pg.Profile = s
			default:
				d.errorf(v, "unknown profile %q: use desktop or mobile", s)
			}
		},
	},

	// The journey to the page (journey.go): steps, or a Chrome Recorder
	// export.
	{
		key:    "steps",
		decode: func(d *decoder, pg *Page, v *yaml.Node) { pg.Journey = decodeJourney(d, v) },
	},
	{
		key:    "recording",
		decode: func(d *decoder, pg *Page, v *yaml.Node) { pg.Journey = d.recording(v) },
	},
	// The shopper's locale and time zone, over the site's.
	{
		key:    "locale",
		decode: func(d *decoder, pg *Page, v *yaml.Node) { pg.Locale = d.locale(v) },
	},
	{
		key:    "timezone",
		decode: func(d *decoder, pg *Page, v *yaml.Node) { pg.Timezone = d.timezone(v) },
	},
}

// decode reads a page from n, defaults first; false means n is no page.
func (pg *Page) decode(d *decoder, n *yaml.Node) (map[string]entry, bool) {
	*pg = Page{Interact: true, Profile: skimguard.ProfileDesktop}
	has, ok := decodeMap(d, n, "a page", pageFields, pg)
	if _, steps := has["steps"]; steps {
		if r, rec := has["recording"]; rec {
			d.errorf(r.key, "a page takes steps or a recording, not both: keep one")
		}
	}
	return has, ok
}

// decodePages reads a site's list of pages, each with its own name.
func decodePages(d *decoder, n *yaml.Node) []Page {
	return decodeNamed(d, n, namedList[Page]{
		key: "pages", example: "- name: checkout", what: "page", where: " in this site",
		empty:  "pages is empty: list at least one page with name: and url:",
		decode: (*Page).decode, name: func(pg *Page) string { return pg.Name },
	})
}

// namedList says how to read a list of named things (sites, pages).
type namedList[T any] struct {
	key, example string // the list's key, and an item for the error
	what, where  string // what an item is, and the scope its name is unique in
	empty        string // the error for an empty list
	decode       func(*T, *decoder, *yaml.Node) (map[string]entry, bool)
	name         func(*T) string
}

// decodeNamed reads the list l describes, each item with its own name.
func decodeNamed[T any](d *decoder, n *yaml.Node, l namedList[T]) []T {
	var out []T
	seen := map[string]int{}
	items := 0
	ok := d.list(n, l.key, l.example, func(item *yaml.Node) {
		items++
		var v T
		has, ok := l.decode(&v, d, item)
		if !ok {
			return
		}
		d.uniqueName(has["name"].value, l.name(&v), seen, l.what, l.where)
		out = append(out, v)
	})
	if ok && items == 0 || isNull(n) {
		d.errorf(n, "%s", l.empty)
	}
	return out
}

// uniqueName reports a site or page name (what) already used in its list
// (where, e.g. " in this site"); seen maps the names met so far to their
// lines. Missing and empty names are reported where they are read.
func (d *decoder) uniqueName(n *yaml.Node, name string, seen map[string]int, what, where string) {
	if n == nil || name == "" {
		return
	}
	if line, dup := seen[name]; dup {
		d.errorf(n, "%s name %q is used twice%s (first at line %d): give each %s its own name", what, name, where, line, what)
		return
	}
	seen[name] = n.Line
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// name reads a site or page (what) name.
func (d *decoder) name(n *yaml.Node, what string) string {
	example := "checkout"
	if what == "site" {
		example = "shop"
	}
	v, _ := d.str(n, what+" name", example)
	if v == "" {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "%s name is empty: write a short name such as %s", what, example)
		}
		return ""
	}
	if !nameRE.MatchString(v) {
		d.errorf(n, "%s name %q has characters other than letters, digits, '.', '_' and '-': write it as %q", what, v, suggestName(v))
	}
	return v
}

// suggestName turns a name with bad characters into one without.
func suggestName(v string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(v) {
		switch {
		case r < 0x80 && (nameRE.MatchString(string(r))):
			b.WriteRune(r)
		case r == ' ' || r == '/':
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "site-1"
	}
	return b.String()
}

// wait reads a page's wait, a duration between MinWait and MaxWait.
func (d *decoder) wait(n *yaml.Node) time.Duration {
	s, ok := d.str(n, "wait", "12s")
	if !ok {
		return 0
	}
	w, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(n, "wait %q is not a duration: write a number with a unit, such as 12s or 1m30s", s)
		return 0
	}
	if w < MinWait || w > MaxWait {
		d.errorf(n, "wait %s is out of range: use between %s and %s", w, MinWait, MaxWait)
		return 0
	}
	return w
}
