package config

import (
	"fmt"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	skimguard "github.com/skimguard/skimguard"
)

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

// alertFields are the keys an alert takes, and alertTypeKeys those each
// type takes beyond type, min_severity and sites.
var (
	alertFields = []field[Alert]{
		{key: "type",
			decode: func(d *decoder, a *Alert, v *yaml.Node) {
				a.Type, _ = d.str(v, "type", "webhook")
				switch a.Type {
				case AlertWebhook, AlertConsole, AlertSlack, AlertEmail:
				default:
					d.errorf(v, "unknown alert type %q: use webhook, console, slack or email", a.Type)
				}
			},
			missing: func(*Alert) string { return "alert has no type: add type: webhook (or console, slack, email)" }},
		// Read once the type is known: a Slack URL is a secret and must not
		// be repeated in errors.
		{key: "url"},
		{key: "url_env", decode: func(d *decoder, a *Alert, v *yaml.Node) { a.URLEnv = d.envName(v, "url_env") }},
		{key: "secret_env", decode: func(d *decoder, a *Alert, v *yaml.Node) { a.SecretEnv = d.envName(v, "secret_env") }},
		{key: "smtp", decode: func(d *decoder, a *Alert, v *yaml.Node) { a.SMTP = d.smtp(v) }},
		{key: "from", decode: func(d *decoder, a *Alert, v *yaml.Node) { a.From = d.address(v, "from") }},
		{key: "to", decode: func(d *decoder, a *Alert, v *yaml.Node) { a.To = d.recipients(v) }},
		{key: "username_env", decode: func(d *decoder, a *Alert, v *yaml.Node) { a.UsernameEnv = d.envName(v, "username_env") }},
		{key: "password_env", decode: func(d *decoder, a *Alert, v *yaml.Node) { a.PasswordEnv = d.envName(v, "password_env") }},
		{key: "min_severity", decode: func(d *decoder, a *Alert, v *yaml.Node) {
			s, _ := d.str(v, "min_severity", "high")
			sev, err := skimguard.ParseSeverity(s)
			if err != nil {
				d.errorf(v, "min_severity: %v", err)
			}
			a.MinSeverity = sev
		}},
		{key: "sites", decode: func(d *decoder, a *Alert, v *yaml.Node) {
			d.list(v, "sites", "- shop", func(site *yaml.Node) {
				s, ok := d.str(site, "a site name", "shop")
				if ok {
					a.Sites = append(a.Sites, s)
					d.routes = append(d.routes, site)
				}
			})
		}},
	}
	alertTypeKeys = map[string][]string{
		AlertWebhook: {"url", "url_env", "secret_env"},
		AlertConsole: {},
		AlertSlack:   {"url_env"},
		AlertEmail:   {"smtp", "from", "to", "username_env", "password_env"},
	}
)

func decodeAlerts(d *decoder, n *yaml.Node) []Alert {
	var alerts []Alert
	d.list(n, "alerts", "- type: webhook", func(item *yaml.Node) {
		var a Alert
		has, ok := decodeMap(d, item, "an alert", alertFields, &a)
		if !ok {
			return
		}
		item = d.resolve(item)
		nodes := func(key string) *yaml.Node { return has[key].key }
		if v := has["url"].value; v != nil && a.Type != AlertSlack {
			a.URL = d.url(v, "url")
		}
		if nodes("type") == nil {
			alerts = append(alerts, a)
			return
		}
		takes, known := alertTypeKeys[a.Type]
		if !known {
			alerts = append(alerts, a)
			return
		}
		for _, f := range alertFields {
			key := f.key
			k := nodes(key)
			if k == nil || key == "type" || key == "min_severity" || key == "sites" || slices.Contains(takes, key) {
				continue
			}
			switch {
			case a.Type == AlertSlack && key == "url":
				d.errorf(k, "a slack alert takes no url: a Slack webhook URL is a secret: use url_env: SLACK_WEBHOOK_URL and set SLACK_WEBHOOK_URL in the environment")
			case a.Type == AlertSlack && key == "secret_env":
				d.errorf(k, "a slack alert takes no secret_env (Slack does not check signatures): remove it")
			default:
				d.errorf(k, "%s %s alert takes no %s: remove it", article(a.Type), a.Type, key)
			}
		}
		switch a.Type {
		case AlertWebhook:
			if nodes("url") == nil && nodes("url_env") == nil {
				d.errorf(item, "%s alert has no destination: add url: https://... or url_env: NAME", a.Type)
			}
			if nodes("url") != nil && nodes("url_env") != nil {
				d.errorf(nodes("url_env"), "%s alert has both url and url_env: keep one", a.Type)
			}
		case AlertSlack:
			if nodes("url_env") == nil && nodes("url") == nil {
				d.errorf(item, "slack alert has no destination: add url_env: SLACK_WEBHOOK_URL and set SLACK_WEBHOOK_URL in the environment to the incoming webhook's URL")
			}
		case AlertEmail:
			if nodes("smtp") == nil {
				d.errorf(item, "email alert has no smtp server: add smtp: followed by host:port, such as smtp.example.com:587")
			}
			if nodes("from") == nil {
				d.errorf(item, "email alert has no sender: add from: followed by an address, such as skimguard@shop.example")
			}
			if nodes("to") == nil {
				d.errorf(item, "email alert has no recipients: add to: with a list of addresses, such as [security@shop.example]")
			}
			switch {
			case nodes("username_env") != nil && nodes("password_env") == nil:
				d.errorf(nodes("username_env"), "email alert has username_env but no password_env: add password_env: NAME, or remove username_env")
			case nodes("password_env") != nil && nodes("username_env") == nil:
				d.errorf(nodes("password_env"), "email alert has password_env but no username_env: add username_env: NAME, or remove password_env")
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
func (d *decoder) smtp(n *yaml.Node) string {
	s, ok := d.str(n, "smtp", "smtp.example.com:587")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "smtp is empty: write the server as host:port, such as smtp.example.com:587")
		}
		return ""
	}
	if strings.Contains(s, "@") {
		// Likely user:password@host; do not repeat it.
		d.errorf(n, "smtp holds an '@': write only host:port, such as smtp.example.com:587, and put credentials in environment variables named by username_env and password_env")
		return s
	}
	host, port, err := net.SplitHostPort(s)
	if num, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || num < 1 || num > 65535 {
		d.errorf(n, "smtp %q is not host:port: write it with the port, such as smtp.example.com:587", s)
	}
	return s
}

// address reads one email address.
func (d *decoder) address(n *yaml.Node, key string) string {
	s, ok := d.str(n, key, "skimguard@shop.example")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "%s is empty: write an email address, such as skimguard@shop.example", key)
		}
		return ""
	}
	if _, err := mail.ParseAddress(s); err != nil {
		d.errorf(n, "%s %q is not an email address (%v): write one such as skimguard@shop.example or \"Skimguard <skimguard@shop.example>\"", key, s, err)
	}
	return s
}

// recipients reads to: a list of addresses, or a single one.
func (d *decoder) recipients(n *yaml.Node) []string {
	n = d.resolve(n)
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if s := d.address(n, "recipient"); s != "" {
			return []string{s}
		}
		return nil
	}
	var to []string
	ok := d.list(n, "to", "- security@shop.example", func(item *yaml.Node) {
		if s := d.address(item, "recipient"); s != "" {
			to = append(to, s)
		}
	})
	if isNull(n) || ok && len(n.Content) == 0 {
		d.errorf(n, "to is empty: list at least one address, such as [security@shop.example]")
	}
	return to
}

// checkRoutes reports alert routes to sites the file does not define.
func (d *decoder) checkRoutes(sites []Site) {
	var known []string
	for _, s := range sites {
		known = append(known, s.Name)
	}
	for _, n := range d.routes {
		if !slices.Contains(known, n.Value) {
			msg := fmt.Sprintf("alert routes to unknown site %q", n.Value)
			if s := closest(n.Value, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if len(known) > 0 {
				msg += "; known sites are " + strings.Join(known, ", ")
			}
			d.errorf(n, "%s", msg)
		}
	}
}
