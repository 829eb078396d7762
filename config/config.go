// Package config reads and validates sites.yaml: the sites and payment pages
// to watch, when to scan them, where the database lives and where alerts go.
//
// Every problem found is reported with the file, line and column it sits
// at, what is wrong and what to write instead; all problems of a file are
// reported at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	skimguard "github.com/skimguard/skimguard"
)

// Config is a parsed and validated sites.yaml.
type Config struct {
	// Database is the SQLite file; a relative path in the file is resolved
	// against the file's directory. Empty when not set.
	Database string
	Sites    []Site
	// Alerts are the places findings are delivered to, in file order.
	Alerts []Alert
	// Path is the file the configuration was read from.
	Path string
}

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

// Alert types.
const (
	AlertWebhook = "webhook"
	AlertConsole = "console"
	AlertSlack   = "slack"
	AlertEmail   = "email"
)

// Alert is one alert destination.
type Alert struct {
	// Type is AlertWebhook, AlertConsole, AlertSlack or AlertEmail.
	Type string
	// URL is the destination; URLEnv names an environment variable holding
	// it instead, for URLs that are themselves secrets.
	URL    string
	URLEnv string
	// SecretEnv names the environment variable holding the signing secret.
	SecretEnv string
	// SMTP is an email alert's server, host:port.
	SMTP string
	// From is an email alert's sender and To its recipients, as RFC 5322
	// addresses.
	From string
	To   []string
	// UsernameEnv and PasswordEnv name the environment variables holding
	// an email alert's SMTP credentials; both or neither are set.
	UsernameEnv string
	PasswordEnv string
	// MinSeverity drops findings below it; empty sends all.
	MinSeverity skimguard.Severity
	// Sites limits the alert to these sites; empty means all.
	Sites []string
}

// Limits on values.
const (
	// DefaultSchedule is a site's schedule when none is set.
	DefaultSchedule = "@hourly"
	// MinWait and MaxWait bound a page's wait.
	MinWait = time.Second
	MaxWait = 5 * time.Minute
	// maxNodes bounds the YAML nodes walked, aliases expanded.
	maxNodes = 100000
)

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
	p := &parser{file: path}
	cfg := p.parse(data)
	if len(p.errs) > 0 {
		// In file order, whatever order the checks ran in.
		slices.SortStableFunc(p.errs, func(a, b error) int {
			ea, eb := a.(*Error), b.(*Error)
			if ea.Line != eb.Line {
				return ea.Line - eb.Line
			}
			return ea.Column - eb.Column
		})
		return nil, errors.Join(p.errs...)
	}
	cfg.Path = path
	if cfg.Database != "" && !filepath.IsAbs(cfg.Database) && cfg.Database != ":memory:" && !strings.HasPrefix(cfg.Database, "file:") {
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
			})
		}
	}
	return pages, nil
}

// ParseSchedule parses a schedule: a standard 5-field cron spec
// ("0 * * * *", optionally prefixed with "TZ=Area/City ") or a descriptor
// ("@hourly", "@daily", "@weekly", "@every 15m"). A spec that never fires is
// an error.
func ParseSchedule(spec string) (sched cron.Schedule, err error) {
	defer func() {
		// The cron parser is not ours; a panic in it is a bad spec.
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("cannot parse %q", spec)
		}
	}()
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		// cron turns intervals under a second, negative ones included,
		// into one second.
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err == nil && d < time.Second {
			return nil, fmt.Errorf("interval %s is under one second", d)
		}
	}
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, errors.New("it never fires (no such date)")
	}
	return sched, nil
}

// LongestGap returns the longest time between two runs of sched over the
// horizon after from, so that callers can check a schedule runs at least,
// say, weekly. A schedule that does not fire again within the horizon gives
// the horizon.
func LongestGap(sched cron.Schedule, from time.Time, horizon time.Duration) time.Duration {
	end := from.Add(horizon)
	var longest time.Duration
	prev := from
	for i := 0; i < 100000; i++ {
		next := sched.Next(prev)
		if next.IsZero() || next.After(end) {
			if gap := end.Sub(prev); gap > longest {
				longest = gap
			}
			break
		}
		if gap := next.Sub(prev); gap > longest && prev != from {
			longest = gap
		}
		prev = next
	}
	if prev == from {
		return horizon
	}
	return longest
}

type parser struct {
	file  string
	errs  []error // all *Error
	nodes int
	// alertSites remembers the site names alerts route to, checked once
	// all sites are known.
	alertSites []*yaml.Node
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) parse(data []byte) *Config {
	cfg := &Config{}
	if len(bytes.TrimSpace(data)) == 0 {
		p.errs = append(p.errs, &Error{File: p.file, Line: 1, Column: 1, Msg: "the file is empty: it needs a sites: list, for example\n  sites:\n    - name: shop\n      pages:\n        - name: checkout\n          url: https://shop.example/checkout"})
		return cfg
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		p.yamlError(err)
		return cfg
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "a second YAML document starts here: keep the whole configuration in one document (remove the \"---\")")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			p.errorf(root, "the file has no content: it needs a sites: list")
			return cfg
		}
		root = root.Content[0]
	}
	root = p.resolve(root)
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		p.errorf(root, "the file has no content: it needs a sites: list")
		return cfg
	}
	var sitesNode *yaml.Node
	p.mapping(root, "the top level", []string{"database", "sites", "alerts"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "database":
			cfg.Database, _ = p.str(v, "database", "skimguard.db")
		case "sites":
			sitesNode = k
			cfg.Sites = p.sites(v)
		case "alerts":
			cfg.Alerts = p.alerts(v)
		}
	})
	if root.Kind == yaml.MappingNode && sitesNode == nil {
		p.errorf(root, "no sites: add a sites: list with at least one site and its pages")
	}
	p.checkAlertSites(cfg.Sites)
	return cfg
}

// yamlError turns an error of the YAML parser into an Error with its line.
func (p *parser) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		e := &Error{File: p.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = "invalid YAML: " + m[2]
		}
		p.errs = append(p.errs, e)
	}
}

// resolve follows aliases and counts nodes, so that alias bombs stop.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	p.nodes++
	return n
}

func (p *parser) tooBig() bool {
	if p.nodes > maxNodes {
		if !slices.ContainsFunc(p.errs, func(e error) bool { return strings.Contains(e.Error(), "too many entries") }) {
			p.errs = append(p.errs, &Error{File: p.file, Msg: fmt.Sprintf("too many entries (more than %d once aliases are expanded): list each site and page once", maxNodes)})
		}
		return true
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "something else"
}

// mapping walks the keys of a map, reporting duplicate, unknown and secret
// keys, and calls fn for each known key.
func (p *parser) mapping(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	n = p.resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a map of keys (%s), not %s", what, strings.Join(known, ", "), kindName(n))
		return false
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if p.tooBig() {
			return false
		}
		k, v := p.resolve(n.Content[i]), p.resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "keys in %s must be plain words, not %s", what, kindName(k))
			continue
		}
		key := k.Value
		if prev, ok := seen[key]; ok {
			p.errorf(k, "key %q appears twice in %s (first at line %d): keep one", key, what, prev.Line)
			continue
		}
		seen[key] = k
		if isSecretKey(key) && !slices.Contains(known, key) {
			p.secret(k, v, known)
			continue
		}
		if !slices.Contains(known, key) {
			msg := fmt.Sprintf("unknown key %q in %s", key, what)
			if s := closest(key, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; known keys are " + strings.Join(known, ", ")
			}
			p.errorf(k, "%s", msg)
			p.scanSecrets(v, 0)
			continue
		}
		fn(key, k, v)
	}
	return true
}

// secretWords are the parts of key names that say the value is a secret.
var secretWords = []string{"secret", "password", "passwd", "token", "api_key", "apikey", "private_key", "credential"}

func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "_env") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// secret reports a secret-looking key: refused with a literal value,
// unknown otherwise. It points to the key's _env form when the map takes
// one (password: to password_env:), to secret_env otherwise.
func (p *parser) secret(k, v *yaml.Node, known []string) {
	envKey := "secret_env"
	if slices.Contains(known, k.Value+"_env") {
		envKey = k.Value + "_env"
	}
	if v.Kind == yaml.ScalarNode && v.Tag != "!!null" && v.Value != "" {
		p.errorf(v, "%q holds a literal secret: put secrets in environment variables: use %s: NAME and set NAME in the environment", k.Value, envKey)
		return
	}
	p.errorf(k, "unknown key %q: put secrets in environment variables: use %s: NAME", k.Value, envKey)
}

// scanSecrets looks for literal secrets under an unknown key, so that a
// secret is refused wherever it was written. It does not follow aliases.
func (p *parser) scanSecrets(n *yaml.Node, depth int) {
	if depth > 20 || p.tooBig() {
		return
	}
	p.nodes++
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && isSecretKey(k.Value) && v.Kind == yaml.ScalarNode && v.Tag != "!!null" && v.Value != "" {
				p.errorf(v, "%q holds a literal secret: put secrets in environment variables: use secret_env: NAME and set NAME in the environment", k.Value)
				continue
			}
			p.scanSecrets(v, depth+1)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			p.scanSecrets(c, depth+1)
		}
	}
}

// str reads a scalar as a string. Empty values give "", false without an
// error; lists and maps are errors that say what to write.
func (p *parser) str(n *yaml.Node, key, example string) (string, bool) {
	n = p.resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a single value such as %s, not %s", key, example, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

// list walks a list of maps.
func (p *parser) list(n *yaml.Node, what, example string, fn func(i int, item *yaml.Node)) bool {
	n = p.resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list, each item starting with \"- \" (%s), not %s", what, example, kindName(n))
		return false
	}
	for i, item := range n.Content {
		if p.tooBig() {
			return false
		}
		fn(i, item)
	}
	return true
}

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

// url reads an absolute http or https URL.
func (p *parser) url(n *yaml.Node, key string) string {
	s, ok := p.str(n, key, "https://shop.example/checkout")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			p.errorf(n, "%s is empty: write an absolute address such as https://shop.example/checkout", key)
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(n, "%s %q is not an absolute http or https address: write it in full, such as https://shop.example/checkout", key, s)
		return s
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		p.errorf(n, "%s %q holds a password: put secrets in environment variables: use url_env: NAME and set NAME in the environment", key, u.Redacted())
	}
	return s
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

func (p *parser) boolean(n *yaml.Node, key string, def bool) bool {
	s, ok := p.str(n, key, "true")
	if !ok {
		return def
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	p.errorf(n, "%s must be true or false, not %q", key, s)
	return def
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (p *parser) envName(n *yaml.Node, key string) string {
	s, ok := p.str(n, key, "SKIMGUARD_WEBHOOK_SECRET")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			p.errorf(n, "%s is empty: write the name of an environment variable, such as SKIMGUARD_WEBHOOK_SECRET", key)
		}
		return ""
	}
	if !envNameRE.MatchString(s) {
		p.errorf(n, "%s %q is not an environment variable name: use letters, digits and '_', such as SKIMGUARD_WEBHOOK_SECRET", key, s)
	}
	return s
}

// alertKeys are the keys an alert takes, and alertTypeKeys those each type
// takes beyond type, min_severity and sites.
var (
	alertKeys     = []string{"type", "url", "url_env", "secret_env", "smtp", "from", "to", "username_env", "password_env", "min_severity", "sites"}
	alertTypeKeys = map[string][]string{
		AlertWebhook: {"url", "url_env", "secret_env"},
		AlertConsole: {},
		AlertSlack:   {"url_env"},
		AlertEmail:   {"smtp", "from", "to", "username_env", "password_env"},
	}
)

func (p *parser) alerts(n *yaml.Node) []Alert {
	var alerts []Alert
	p.list(n, "alerts", "- type: webhook", func(_ int, item *yaml.Node) {
		item = p.resolve(item)
		var a Alert
		// The keys present, and their values.
		nodes, values := map[string]*yaml.Node{}, map[string]*yaml.Node{}
		if !p.mapping(item, "an alert", alertKeys, func(key string, k, v *yaml.Node) {
			nodes[key], values[key] = k, v
			switch key {
			case "type":
				a.Type, _ = p.str(v, "type", "webhook")
				switch a.Type {
				case AlertWebhook, AlertConsole, AlertSlack, AlertEmail:
				default:
					p.errorf(v, "unknown alert type %q: use webhook, console, slack or email", a.Type)
				}
			case "url":
				// Read once the type is known: a Slack URL is a secret
				// and must not be repeated in errors.
			case "url_env":
				a.URLEnv = p.envName(v, "url_env")
			case "secret_env":
				a.SecretEnv = p.envName(v, "secret_env")
			case "smtp":
				a.SMTP = p.smtp(v)
			case "from":
				a.From = p.address(v, "from")
			case "to":
				a.To = p.recipients(v)
			case "username_env":
				a.UsernameEnv = p.envName(v, "username_env")
			case "password_env":
				a.PasswordEnv = p.envName(v, "password_env")
			case "min_severity":
				s, _ := p.str(v, "min_severity", "high")
				sev, err := skimguard.ParseSeverity(s)
				if err != nil {
					p.errorf(v, "min_severity: %v", err)
				}
				a.MinSeverity = sev
			case "sites":
				p.list(v, "sites", "- shop", func(_ int, site *yaml.Node) {
					s, ok := p.str(site, "a site name", "shop")
					if ok {
						a.Sites = append(a.Sites, s)
						p.alertSites = append(p.alertSites, site)
					}
				})
			}
		}) {
			return
		}
		if v := values["url"]; v != nil && a.Type != AlertSlack {
			a.URL = p.url(v, "url")
		}
		if nodes["type"] == nil {
			p.errorf(item, "alert has no type: add type: webhook (or console, slack, email)")
			alerts = append(alerts, a)
			return
		}
		takes, known := alertTypeKeys[a.Type]
		if !known {
			alerts = append(alerts, a)
			return
		}
		for _, key := range alertKeys {
			k := nodes[key]
			if k == nil || key == "type" || key == "min_severity" || key == "sites" || slices.Contains(takes, key) {
				continue
			}
			switch {
			case a.Type == AlertSlack && key == "url":
				p.errorf(k, "a slack alert takes no url: a Slack webhook URL is a secret: use url_env: SLACK_WEBHOOK_URL and set SLACK_WEBHOOK_URL in the environment")
			case a.Type == AlertSlack && key == "secret_env":
				p.errorf(k, "a slack alert takes no secret_env (Slack does not check signatures): remove it")
			default:
				p.errorf(k, "%s %s alert takes no %s: remove it", article(a.Type), a.Type, key)
			}
		}
		switch a.Type {
		case AlertWebhook:
			if nodes["url"] == nil && nodes["url_env"] == nil {
				p.errorf(item, "%s alert has no destination: add url: https://... or url_env: NAME", a.Type)
			}
			if nodes["url"] != nil && nodes["url_env"] != nil {
				p.errorf(nodes["url_env"], "%s alert has both url and url_env: keep one", a.Type)
			}
		case AlertSlack:
			if nodes["url_env"] == nil && nodes["url"] == nil {
				p.errorf(item, "slack alert has no destination: add url_env: SLACK_WEBHOOK_URL and set SLACK_WEBHOOK_URL in the environment to the incoming webhook's URL")
			}
		case AlertEmail:
			if nodes["smtp"] == nil {
				p.errorf(item, "email alert has no smtp server: add smtp: followed by host:port, such as smtp.example.com:587")
			}
			if nodes["from"] == nil {
				p.errorf(item, "email alert has no sender: add from: followed by an address, such as skimguard@shop.example")
			}
			if nodes["to"] == nil {
				p.errorf(item, "email alert has no recipients: add to: with a list of addresses, such as [security@shop.example]")
			}
			switch {
			case nodes["username_env"] != nil && nodes["password_env"] == nil:
				p.errorf(nodes["username_env"], "email alert has username_env but no password_env: add password_env: NAME, or remove username_env")
			case nodes["password_env"] != nil && nodes["username_env"] == nil:
				p.errorf(nodes["password_env"], "email alert has password_env but no username_env: add username_env: NAME, or remove password_env")
			}
		}
		alerts = append(alerts, a)
	})
	return alerts
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// smtp reads an SMTP server's host:port.
func (p *parser) smtp(n *yaml.Node) string {
	s, ok := p.str(n, "smtp", "smtp.example.com:587")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			p.errorf(n, "smtp is empty: write the server as host:port, such as smtp.example.com:587")
		}
		return ""
	}
	if strings.Contains(s, "@") {
		// Likely user:password@host; do not repeat it.
		p.errorf(n, "smtp holds an '@': write only host:port, such as smtp.example.com:587, and put credentials in environment variables named by username_env and password_env")
		return s
	}
	host, port, err := net.SplitHostPort(s)
	if num, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || num < 1 || num > 65535 {
		p.errorf(n, "smtp %q is not host:port: write it with the port, such as smtp.example.com:587", s)
	}
	return s
}

// address reads one email address.
func (p *parser) address(n *yaml.Node, key string) string {
	s, ok := p.str(n, key, "skimguard@shop.example")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			p.errorf(n, "%s is empty: write an email address, such as skimguard@shop.example", key)
		}
		return ""
	}
	if _, err := mail.ParseAddress(s); err != nil {
		p.errorf(n, "%s %q is not an email address (%v): write one such as skimguard@shop.example or \"Skimguard <skimguard@shop.example>\"", key, s, err)
	}
	return s
}

// recipients reads to: a list of addresses, or a single one.
func (p *parser) recipients(n *yaml.Node) []string {
	n = p.resolve(n)
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if s := p.address(n, "recipient"); s != "" {
			return []string{s}
		}
		return nil
	}
	var to []string
	ok := p.list(n, "to", "- security@shop.example", func(_ int, item *yaml.Node) {
		if s := p.address(item, "recipient"); s != "" {
			to = append(to, s)
		}
	})
	if isNull(n) || ok && len(n.Content) == 0 {
		p.errorf(n, "to is empty: list at least one address, such as [security@shop.example]")
	}
	return to
}

// checkAlertSites reports alert routes to sites the file does not define.
func (p *parser) checkAlertSites(sites []Site) {
	var known []string
	for _, s := range sites {
		known = append(known, s.Name)
	}
	for _, n := range p.alertSites {
		if !slices.Contains(known, n.Value) {
			msg := fmt.Sprintf("alert routes to unknown site %q", n.Value)
			if s := closest(n.Value, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if len(known) > 0 {
				msg += "; known sites are " + strings.Join(known, ", ")
			}
			p.errorf(n, "%s", msg)
		}
	}
}

// closest returns the candidate nearest to s in edit distance, when near
// enough to be a typo.
func closest(s string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > max(2, len(best)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
