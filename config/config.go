// Package config reads and validates sites.yaml: the sites and payment pages
// to watch, when to scan them, where the database lives and where alerts go.
//
// Every problem found is reported with the file, line and column it sits
// at, what is wrong and what to write instead; all problems of a file are
// reported at once.
package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/egress"
)

// Config is a parsed and validated sites.yaml.
type Config struct {
	// Database is the SQLite file, or a PostgreSQL URL (postgres://...); a
	// relative path in the file is resolved against the file's directory.
	// Empty when not set.
	Database string
	// DatabasePasswordEnv names the environment variable that holds the
	// PostgreSQL role's password (default PGPASSWORD); the password never
	// goes in the file or the URL.
	DatabasePasswordEnv string
	Sites               []Site
	// Alerts are the places findings are delivered to, in file order.
	Alerts []Alert
	// Egress is where the crawler's browser may connect: the egress: allow
	// and deny lists, on top of the built-in refusals (link-local and
	// cloud metadata addresses). Its Own addresses are not set here: they
	// are skimguard's listening addresses, which the caller knows.
	Egress egress.Policy
	// Approvals is how many reviewers approve a change of any site:
	// skimguard.ApprovalsOnePerson (the default) or ApprovalsTwoPerson, under
	// which a critical or high finding needs a second reviewer. One rule for
	// every site: separation of duties is an organisation's control, and a
	// site added later cannot be left out of it.
	Approvals skimguard.Approvals
	// Browsers are the DevTools endpoints of remote Chromium browsers to
	// scan in (ws://10.0.0.5:9222, http://chrome-2:9222), instead of
	// starting one; --browser overrides them. Empty for a local browser.
	Browsers []string
	// BrowserProxy is this machine's address at which those browsers reach
	// skimguard's egress proxy; the zero value is the address skimguard
	// connects to each browser from.
	BrowserProxy netip.Addr
	// Path is the file the configuration was read from.
	Path string
}

// configFields are the keys of the top level.
var configFields = []field[Config]{
	{
		key:     "database",
		decode:  func(d *decoder, c *Config, v *yaml.Node) { c.Database = d.database(v) },
		atStart: func(c *Config) any { return c.Database },
	},
	{
		key: "database_password_env",
		decode: func(d *decoder, c *Config, v *yaml.Node) {
			c.DatabasePasswordEnv = d.envName(v, "database_password_env")
		},
		atStart: func(c *Config) any { return c.DatabasePasswordEnv },
	},
	{
		key:    "sites",
		decode: func(d *decoder, c *Config, v *yaml.Node) { c.Sites = decodeSites(d, v) },
		missing: func(*Config) string {
			return "no sites: add a sites: list with at least one site and its pages"
		},
	},
	{
		key:    "alerts",
		decode: func(d *decoder, c *Config, v *yaml.Node) { c.Alerts = decodeAlerts(d, v) },
	},
	{
		key:     "egress",
		decode:  func(d *decoder, c *Config, v *yaml.Node) { c.Egress = decodeEgress(d, v) },
		atStart: func(c *Config) any { return c.Egress },
	},
	{
		key: "approvals",
		decode: func(d *decoder, c *Config, v *yaml.Node) {
			s, ok := d.str(v, "approvals", "two-person")
			switch a := skimguard.Approvals(s); {
			case a == skimguard.ApprovalsOnePerson || a == skimguard.ApprovalsTwoPerson:
				c.Approvals = a
			case !ok && v.Kind == yaml.ScalarNode:
				d.errorf(v, "approvals is empty: write one-person or two-person, or leave it out for one-person")
			case ok:
				d.errorf(v, "unknown approvals %q: use one-person (one reviewer approves any finding) or two-person (approving a critical or high finding needs a second reviewer)", s)
			}
		},
	},
	{
		key:     "browsers",
		decode:  func(d *decoder, c *Config, v *yaml.Node) { c.Browsers = decodeBrowsers(d, v) },
		atStart: func(c *Config) any { return c.Browsers },
	},
	{
		key:     "browser_proxy",
		decode:  func(d *decoder, c *Config, v *yaml.Node) { c.BrowserProxy = decodeBrowserProxy(d, v) },
		atStart: func(c *Config) any { return c.BrowserProxy },
	},
}

// NeedsRestart returns the top-level keys whose values differ between c,
// the configuration serve started with, and next, a reloaded one, among
// those that serve reads only at start (their fields' atStart): a SIGHUP
// leaves the running values, and serve says which changes wait.
func (c *Config) NeedsRestart(next *Config) []string {
	var keys []string
	for _, f := range configFields {
		if f.atStart != nil && !reflect.DeepEqual(f.atStart(c), f.atStart(next)) {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// decode reads the top level from n, defaults first.
func (c *Config) decode(d *decoder, n *yaml.Node) {
	c.Approvals = skimguard.ApprovalsOnePerson
	decodeMap(d, n, "the top level", configFields, c)
	// Alerts may come before sites in the file.
	d.checkRoutes(c.Sites)
}

// isDatabaseURL reports whether a database: value is a PostgreSQL URL, as
// postgres.IsURL does, rather than a SQLite file's path.
func isDatabaseURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// database reads database: a SQLite file's path, or a PostgreSQL URL
// without a password.
func (d *decoder) database(n *yaml.Node) string {
	s, _ := d.str(n, "database", "skimguard.db")
	if !isDatabaseURL(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		d.errorf(n, "database is not a URL that can be read: write postgres://USER@HOST:5432/DATABASE?sslmode=require")
		return s
	}
	if _, has := u.User.Password(); has || u.Query().Has("password") {
		safe := *u
		safe.User, safe.RawQuery = url.User(u.User.Username()), ""
		d.errorf(n, "database %q holds a password: put secrets in environment variables: use database_password_env: NAME (or PGPASSWORD) and set NAME in the environment", safe.String())
	}
	return s
}

// Error is one problem in a configuration file.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

// Error returns "file:line:col: message", or "file:line: message" when the
// column is not known.
func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return e.File + ": " + e.Msg
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates data, the contents of the file at path. The
// error, when not nil, joins one *Error per problem (see errors.Join), one
// per line of its message.
func Parse(path string, data []byte) (*Config, error) {
	d := &decoder{file: path}
	cfg := &Config{}
	if root := d.document(data); root != nil {
		cfg.decode(d, root)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	cfg.Path = path
	if cfg.Database != "" && !filepath.IsAbs(cfg.Database) && cfg.Database != ":memory:" && !strings.HasPrefix(cfg.Database, "file:") &&
		!isDatabaseURL(cfg.Database) {
		cfg.Database = filepath.Join(filepath.Dir(path), cfg.Database)
	}
	return cfg, nil
}

// Pages returns the pages of the named sites, all sites when sites is
// empty, in file order. An unknown site name is an error that lists the
// known ones.
func (c *Config) Pages(sites []string) ([]skimguard.Page, error) {
	known := make([]string, len(c.Sites))
	for i, s := range c.Sites {
		known[i] = s.Name
	}
	var unknown []string
	for _, name := range sites {
		if !slices.Contains(known, name) && !slices.Contains(unknown, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		quoted := make([]string, len(unknown))
		for i, u := range unknown {
			quoted[i] = strconv.Quote(u)
		}
		noun := "site"
		if len(unknown) > 1 {
			noun = "sites"
		}
		return nil, fmt.Errorf("unknown %s %s in %s: known sites are %s", noun, strings.Join(quoted, ", "), c.Path, strings.Join(known, ", "))
	}
	var pages []skimguard.Page
	for _, s := range c.Sites {
		if len(sites) > 0 && !slices.Contains(sites, s.Name) {
			continue
		}
		for _, pg := range s.Pages {
			pages = append(pages, skimguard.Page{
				Site:     s.Name,
				Name:     pg.Name,
				URL:      pg.URL,
				Wait:     pg.Wait,
				Interact: pg.Interact,
				Profile:  pg.Profile,
				Journey:  pg.Journey,
				Locale:   cmp.Or(pg.Locale, s.Locale),
				Timezone: cmp.Or(pg.Timezone, s.Timezone),
			})
		}
	}
	return pages, nil
}
