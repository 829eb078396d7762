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

// alertFields are the keys of an alert, whatever its type; each type says
// in alertTypes which of them it takes.
var alertFields = []field[Alert]{
	{
		key: "type",
		decode: func(d *decoder, a *Alert, v *yaml.Node) {
			a.Type, _ = d.str(v, "type", "webhook")
			if alertTypeOf(a.Type) == nil {
				names := alertTypeNames()
				d.errorf(v, "unknown alert type %q: use %s or %s", a.Type, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
			}
		},
		missing: func(*Alert) string {
			names := alertTypeNames()
			return fmt.Sprintf("alert has no type: add type: %s (or %s)", names[0], strings.Join(names[1:], ", "))
		},
	},
	// Read by Alert.decode once the type is known: some types' URLs are
	// secrets, not to be repeated in errors.
	{key: "url"},
	{
		key:    "url_env",
		decode: func(d *decoder, a *Alert, v *yaml.Node) { a.URLEnv = d.envName(v, "url_env") },
	},
	{
		key:    "secret_env",
		decode: func(d *decoder, a *Alert, v *yaml.Node) { a.SecretEnv = d.envName(v, "secret_env") },
	},
	{
		key:    "smtp",
		decode: func(d *decoder, a *Alert, v *yaml.Node) { a.SMTP = d.smtp(v) },
	},
	{
		key:    "from",
		decode: func(d *decoder, a *Alert, v *yaml.Node) { a.From = d.address(v, "from") },
	},
	{
		key:    "to",
		decode: func(d *decoder, a *Alert, v *yaml.Node) { a.To = d.recipients(v) },
	},
	{
		key:    "username_env",
		decode: func(d *decoder, a *Alert, v *yaml.Node) { a.UsernameEnv = d.envName(v, "username_env") },
	},
	{
		key:    "password_env",
		decode: func(d *decoder, a *Alert, v *yaml.Node) { a.PasswordEnv = d.envName(v, "password_env") },
	},
	{
		key: "min_severity",
		decode: func(d *decoder, a *Alert, v *yaml.Node) {
			s, _ := d.str(v, "min_severity", "high")
			sev, err := skimguard.ParseSeverity(s)
			if err != nil {
				d.errorf(v, "min_severity: %v", err)
			}
			a.MinSeverity = sev
		},
	},
	{
		key: "sites",
		decode: func(d *decoder, a *Alert, v *yaml.Node) {
			d.list(v, "sites", "- shop", func(site *yaml.Node) {
				if s, ok := d.str(site, "a site name", "shop"); ok {
					a.Sites = append(a.Sites, s)
					d.routes = append(d.routes, site)
				}
			})
		},
	},
}

// commonAlertKeys are the keys every type of alert takes.
var commonAlertKeys = []string{"type", "min_severity", "sites"}

// An alertType is one type of alert and its rules.
type alertType struct {
	name string
	// takes are the keys it takes beyond commonAlertKeys; the others are
	// refused.
	takes []string
	// requires are the keys it cannot do without, in the order their
	// absence is reported.
	requires []requirement
	// refused says why a key is refused, for keys where "remove it" is
	// not enough.
	refused map[string]string
	// secretURL means a url key holds a secret: it is refused without
	// being read, so that errors do not repeat it.
	secretURL bool
	// check, when set, reports the type's other problems once all keys
	// are read; n is the alert and has its keys.
	check func(d *decoder, n *yaml.Node, has map[string]entry)
}

// A requirement is a key an alert type requires, and what to say when it
// is left out.
type requirement struct{ key, msg string }

// alertTypes are the types of alert, in the order errors list them.
var alertTypes = []alertType{
	{
		name:  AlertWebhook,
		takes: []string{"url", "url_env", "secret_env"},
		check: func(d *decoder, n *yaml.Node, has map[string]entry) {
			_, url := has["url"]
			env, urlEnv := has["url_env"]
			if !url && !urlEnv {
				d.errorf(n, "webhook alert has no destination: add url: https://... or url_env: NAME")
			}
			if url && urlEnv {
				d.errorf(env.key, "webhook alert has both url and url_env: keep one")
			}
		},
	},
	{
		name: AlertConsole,
	},
	{
		name:  AlertSlack,
		takes: []string{"url_env"},
		refused: map[string]string{
			"url":        "a slack alert takes no url: a Slack webhook URL is a secret: use url_env: SLACK_WEBHOOK_URL and set SLACK_WEBHOOK_URL in the environment",
			"secret_env": "a slack alert takes no secret_env (Slack does not check signatures): remove it",
		},
		secretURL: true,
		check: func(d *decoder, n *yaml.Node, has map[string]entry) {
			_, url := has["url"]
			_, urlEnv := has["url_env"]
			if !url && !urlEnv {
				// A url, refused above with what to write instead, is
				// not reported as missing too.
				d.errorf(n, "slack alert has no destination: add url_env: SLACK_WEBHOOK_URL and set SLACK_WEBHOOK_URL in the environment to the incoming webhook's URL")
			}
		},
	},
	{
		name:  AlertEmail,
		takes: []string{"smtp", "from", "to", "username_env", "password_env"},
		requires: []requirement{
			{"smtp", "email alert has no smtp server: add smtp: followed by host:port, such as smtp.example.com:587"},
			{"from", "email alert has no sender: add from: followed by an address, such as skimguard@shop.example"},
			{"to", "email alert has no recipients: add to: with a list of addresses, such as [security@shop.example]"},
		},
		check: func(d *decoder, n *yaml.Node, has map[string]entry) {
			user, hasUser := has["username_env"]
			pass, hasPass := has["password_env"]
			switch {
			case hasUser && !hasPass:
				d.errorf(user.key, "email alert has username_env but no password_env: add password_env: NAME, or remove username_env")
			case hasPass && !hasUser:
				d.errorf(pass.key, "email alert has password_env but no username_env: add username_env: NAME, or remove password_env")
			}
		},
	},
}

// alertTypeOf returns the type of alert named name, or nil.
func alertTypeOf(name string) *alertType {
	if i := slices.IndexFunc(alertTypes, func(t alertType) bool { return t.name == name }); i >= 0 {
		return &alertTypes[i]
	}
	return nil
}

// alertTypeNames returns the names of the types of alert, for errors.
func alertTypeNames() []string {
	names := make([]string, len(alertTypes))
	for i, t := range alertTypes {
		names[i] = t.name
	}
	return names
}

// decode reads an alert from n: its keys, then the rules of its type.
// False means n is no alert.
func (a *Alert) decode(d *decoder, n *yaml.Node) bool {
	has, ok := decodeMap(d, n, "an alert", alertFields, a)
	if !ok {
		return false
	}
	n = d.resolve(n)
	t := alertTypeOf(a.Type)
	if url, ok := has["url"]; ok && (t == nil || !t.secretURL) {
		a.URL = d.url(url.value, "url")
	}
	if t == nil {
		// No type or an unknown one, reported already.
		return true
	}
	for _, f := range alertFields {
		e, ok := has[f.key]
		if !ok || slices.Contains(commonAlertKeys, f.key) || slices.Contains(t.takes, f.key) {
			continue
		}
		if msg, ok := t.refused[f.key]; ok {
			d.errorf(e.key, "%s", msg)
			continue
		}
		d.errorf(e.key, "%s %s alert takes no %s: remove it", article(t.name), t.name, f.key)
	}
	for _, r := range t.requires {
		if _, ok := has[r.key]; !ok {
			d.errorf(n, "%s", r.msg)
		}
	}
	if t.check != nil {
		t.check(d, n, has)
	}
	return true
}

// decodeAlerts reads the list of alerts.
func decodeAlerts(d *decoder, n *yaml.Node) []Alert {
	var alerts []Alert
	d.list(n, "alerts", "- type: webhook", func(item *yaml.Node) {
		var a Alert
		if a.decode(d, item) {
			alerts = append(alerts, a)
		}
	})
	return alerts
}

// article returns the indefinite article for word: "a" or "an".
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
