package config

import (
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
}

// Limits on values.
const (
	// DefaultSchedule is a site's schedule when none is set.
	DefaultSchedule = "@hourly"
	// MinWait and MaxWait bound a page's wait.
	MinWait = time.Second
	MaxWait = 5 * time.Minute
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// name checks a site or page name.
func (p *parser) name(n *yaml.Node, what string) string {
	example := "checkout"
	if what == "site" {
		example = "shop"
	}
	v, _ := p.str(n, what+" name", example)
	if v == "" {
		if n.Kind == yaml.ScalarNode {
			p.errorf(n, "%s name is empty: write a short name such as %s", what, example)
		}
		return ""
	}
	if !nameRE.MatchString(v) {
		p.errorf(n, "%s name %q has characters other than letters, digits, '.', '_' and '-': write it as %q", what, v, suggestName(v))
		return v
	}
	return v
}

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

func (p *parser) sites(n *yaml.Node) []Site {
	var sites []Site
	seen := map[string]int{}
	items := 0
	ok := p.list(n, "sites", "- name: shop", func(_ int, item *yaml.Node) {
		items++
		item = p.resolve(item)
		s := Site{Schedule: DefaultSchedule}
		var nameNode, pagesNode *yaml.Node
		if !p.mapping(item, "a site", []string{"name", "schedule", "pages"}, func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				nameNode = v
				s.Name = p.name(v, "site")
			case "schedule":
				spec, ok := p.str(v, "schedule", `"@hourly" or "0 * * * *"`)
				if !ok {
					p.errorf(v, "schedule is empty: write a cron spec such as \"0 * * * *\" or a descriptor such as \"@hourly\" or \"@every 15m\", or leave it out for @hourly")
					return
				}
				if _, err := ParseSchedule(spec); err != nil {
					p.errorf(v, "bad schedule %q: %v; write a cron spec such as \"0 * * * *\" or a descriptor such as \"@hourly\" or \"@every 15m\"", spec, err)
				}
				s.Schedule = spec
			case "pages":
				pagesNode = k
				s.Pages = p.pages(v)
			}
		}) {
			return
		}
		p.uniqueName(item, nameNode, s.Name, seen, "site", "", "shop")
		if pagesNode == nil {
			p.errorf(item, "site %q has no pages: add pages: with at least one page (name: and url:)", s.Name)
		}
		sites = append(sites, s)
	})
	if ok && items == 0 || isNull(n) {
		p.errorf(n, "sites is empty: list at least one site with its pages")
	}
	return sites
}

func (p *parser) pages(n *yaml.Node) []Page {
	var pages []Page
	seen := map[string]int{}
	items := 0
	ok := p.list(n, "pages", "- name: checkout", func(_ int, item *yaml.Node) {
		items++
		item = p.resolve(item)
		pg := Page{Interact: true, Profile: skimguard.ProfileDesktop}
		var nameNode, urlNode *yaml.Node
		if !p.mapping(item, "a page", []string{"name", "url", "wait", "interact", "profile"}, func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				nameNode = v
				pg.Name = p.name(v, "page")
			case "url":
				urlNode = v
				pg.URL = p.url(v, "url")
			case "wait":
				pg.Wait = p.wait(v)
			case "interact":
				pg.Interact = p.boolean(v, "interact", true)
			case "profile":
				s, _ := p.str(v, "profile", "desktop")
				switch s {
				case skimguard.ProfileDesktop, skimguard.ProfileMobile:
					pg.Profile = s
				default:
					p.errorf(v, "unknown profile %q: use desktop or mobile", s)
				}
			}
		}) {
			return
		}
		p.uniqueName(item, nameNode, pg.Name, seen, "page", " in this site", "checkout")
		if urlNode == nil {
			p.errorf(item, "page %q has no url: add url: with the payment page's address, such as https://shop.example/checkout", pg.Name)
		}
		pages = append(pages, pg)
	})
	if ok && items == 0 || isNull(n) {
		p.errorf(n, "pages is empty: list at least one page with name: and url:")
	}
	return pages
}

func (p *parser) wait(n *yaml.Node) time.Duration {
	s, ok := p.str(n, "wait", "12s")
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errorf(n, "wait %q is not a duration: write a number with a unit, such as 12s or 1m30s", s)
		return 0
	}
	if d < MinWait || d > MaxWait {
		p.errorf(n, "wait %s is out of range: use between %s and %s", d, MinWait, MaxWait)
		return 0
	}
	return d
}

// uniqueName reports a site or page (what) without a name, or with a name
// already used in its scope (where, e.g. " in this site"); seen maps the
// names met so far to their lines.
func (p *parser) uniqueName(item, nameNode *yaml.Node, name string, seen map[string]int, what, where, example string) {
	switch {
	case nameNode == nil:
		p.errorf(item, "%s has no name: add name: followed by a short name such as %s", what, example)
	case name == "":
	default:
		if line, dup := seen[name]; dup {
			p.errorf(nameNode, "%s name %q is used twice%s (first at line %d): give each %s its own name", what, name, where, line, what)
			return
		}
		seen[name] = nameNode.Line
	}
}
