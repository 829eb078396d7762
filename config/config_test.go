package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/egress"
)

func TestLoadGood(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Path != f {
				t.Errorf("Path = %q, want %q", cfg.Path, f)
			}
			if len(cfg.Sites) == 0 {
				t.Error("no sites")
			}
		})
	}
}

func TestLoadPostgres(t *testing.T) {
	cfg, err := Load("testdata/good/postgres.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://skimguard@db.example:5432/skimguard?sslmode=require"; cfg.Database != want {
		t.Errorf("Database = %q, want the URL as written, %q", cfg.Database, want)
	}
	if cfg.DatabasePasswordEnv != "SKIMGUARD_DB_PASSWORD" {
		t.Errorf("DatabasePasswordEnv = %q", cfg.DatabasePasswordEnv)
	}
}

func TestLoadBrowsers(t *testing.T) {
	cfg, err := Load("testdata/good/browsers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ws://10.0.0.5:9222", "http://chrome-2:9222", "wss://browsers.example/devtools/browser/4f1c"}
	if !slices.Equal(cfg.Browsers, want) {
		t.Errorf("Browsers = %q, want %q in file order", cfg.Browsers, want)
	}
	if cfg.BrowserProxy != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("BrowserProxy = %v, want 10.0.0.2", cfg.BrowserProxy)
	}
	local, err := Load("testdata/good/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if local.Browsers != nil || local.BrowserProxy.IsValid() {
		t.Errorf("without browsers: Browsers = %q, BrowserProxy = %v; want none (a local Chromium)", local.Browsers, local.BrowserProxy)
	}
}

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("relative database resolves against the file's directory", func(t *testing.T) {
		if want := filepath.Join("testdata", "good", "data", "skimguard.db"); cfg.Database != want {
			t.Errorf("Database = %q, want %q", cfg.Database, want)
		}
	})
	t.Run("the two-person rule", func(t *testing.T) {
		if cfg.Approvals != skimguard.ApprovalsTwoPerson {
			t.Errorf("Approvals = %q, want two-person", cfg.Approvals)
		}
	})
	t.Run("values and defaults", func(t *testing.T) {
		want := []Site{
			{Name: "outfitters", Schedule: "@every 1h", Locale: "de-DE", Timezone: "Europe/Berlin", Pages: []Page{
				{Name: "checkout", URL: "https://shop.example/checkout", Wait: 12 * time.Second, Interact: true, Profile: "desktop"},
				{Name: "checkout-mobile", URL: "https://shop.example/checkout?step=payment", Wait: 90 * time.Second, Interact: false, Profile: "mobile",
					Locale: "ja-JP", Timezone: "Asia/Tokyo"},
			}},
			{Name: "tickets.example", Schedule: "*/15 * * * *", Pages: []Page{
				{Name: "pay_2", URL: "http://127.0.0.1:8080/pay", Interact: true, Profile: "desktop"},
			}},
			{Name: "weekly", Schedule: "@weekly", Pages: []Page{
				{Name: "pay", URL: "https://weekly.example/pay", Interact: true, Profile: "desktop"},
			}},
		}
		if !slices.EqualFunc(cfg.Sites, want, func(a, b Site) bool {
			return a.Name == b.Name && a.Schedule == b.Schedule && a.Locale == b.Locale && a.Timezone == b.Timezone && slices.Equal(a.Pages, b.Pages)
		}) {
			t.Errorf("Sites =\n%+v\nwant\n%+v", cfg.Sites, want)
		}
	})
	t.Run("alerts", func(t *testing.T) {
		want := []Alert{
			{Type: "webhook", URL: "https://hooks.example/skimguard", SecretEnv: "SKIMGUARD_WEBHOOK_SECRET", MinSeverity: skimguard.SeverityHigh, Sites: []string{"outfitters", "weekly"}},
			{Type: "console"},
			{Type: "slack", URLEnv: "SLACK_WEBHOOK_URL"},
			{Type: "email", SMTP: "smtp.shop.example:587", From: "skimguard <skimguard@shop.example>",
				To:          []string{"security@shop.example", "On call <oncall@shop.example>"},
				UsernameEnv: "SMTP_USERNAME", PasswordEnv: "SMTP_PASSWORD", MinSeverity: skimguard.SeverityCritical, Sites: []string{"outfitters"}},
		}
		if !slices.EqualFunc(cfg.Alerts, want, alertEqual) {
			t.Errorf("Alerts =\n%+v\nwant\n%+v", cfg.Alerts, want)
		}
	})
}

func alertEqual(a, b Alert) bool {
	return a.Type == b.Type && a.URL == b.URL && a.URLEnv == b.URLEnv && a.SecretEnv == b.SecretEnv &&
		a.SMTP == b.SMTP && a.From == b.From && slices.Equal(a.To, b.To) &&
		a.UsernameEnv == b.UsernameEnv && a.PasswordEnv == b.PasswordEnv &&
		a.MinSeverity == b.MinSeverity && slices.Equal(a.Sites, b.Sites)
}

func TestLoadEmailMinimal(t *testing.T) {
	cfg, err := Load("testdata/good/email_minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a single recipient may be written without a list", func(t *testing.T) {
		want := []Alert{{Type: "email", SMTP: "localhost:25", From: "skimguard@shop.example", To: []string{"security@shop.example"}}}
		if !slices.EqualFunc(cfg.Alerts, want, alertEqual) {
			t.Errorf("Alerts =\n%+v\nwant\n%+v", cfg.Alerts, want)
		}
	})
}

func TestSlackURLIsNotRepeated(t *testing.T) {
	// The URL is the secret that lets anyone post to the channel: errors
	// must not carry it into logs and CI output.
	_, err := Load("testdata/bad/slack.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "XXXXXXXX") || strings.Contains(err.Error(), "hooks.slack.com") {
		t.Errorf("error repeats the Slack URL:\n%s", err)
	}
}

func TestSMTPCredentialsAreNotRepeated(t *testing.T) {
	_, err := Load("testdata/bad/email.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error repeats a password:\n%s", err)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse("sites.yaml", []byte("sites:\n  - name: s\n    pages:\n      - name: p\n        url: https://s.example/p\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sites[0]
	if s.Schedule != "@hourly" {
		t.Errorf("Schedule = %q, want @hourly", s.Schedule)
	}
	if p := s.Pages[0]; !p.Interact || p.Profile != skimguard.ProfileDesktop || p.Wait != 0 {
		t.Errorf("page defaults = %+v", p)
	}
	if cfg.Database != "" {
		t.Errorf("Database = %q, want empty", cfg.Database)
	}
	if cfg.Approvals != skimguard.ApprovalsOnePerson {
		t.Errorf("Approvals = %q, want one-person", cfg.Approvals)
	}
}

// badFixtures maps each file in testdata/bad to substrings its error must
// hold, file, line and column included.
var badFixtures = map[string][]string{
	"unknown_key.yaml": {
		`unknown_key.yaml:3:5: unknown key "shedule" in a site; did you mean "schedule"?`,
		`unknown_key.yaml:7:9: unknown key "wiat" in a page; did you mean "wait"?`,
		`unknown_key.yaml:8:9: unknown key "colour" in a page; known keys are name, url, wait, interact, profile, steps, recording, locale, timezone`,
		`unknown_key.yaml:9:1: unknown key "datbase" in the top level; did you mean "database"?`,
	},
	"names.yaml": {
		`names.yaml:2:5: site has no name: add name:`,
		`names.yaml:4:9: page has no name`,
		`names.yaml:5:11: site name is empty`,
		`names.yaml:7:15: page name "my checkout" has characters other than letters, digits, '.', '_' and '-': write it as "my-checkout"`,
		`names.yaml:9:11: site name "shop/eu" has characters`,
		`names.yaml:11:14: page name is empty`,
	},
	"duplicates.yaml": {
		`duplicates.yaml:6:15: page name "checkout" is used twice in this site (first at line 4)`,
		`duplicates.yaml:8:11: site name "shop" is used twice (first at line 2)`,
		`duplicates.yaml:12:9: key "url" appears twice in a page (first at line 11)`,
	},
	"urls.yaml": {
		`urls.yaml:4:9: page "nourl" has no url: add url:`,
		`urls.yaml:6:14: url "/checkout" is not an absolute http or https address`,
		`urls.yaml:8:14: url "ftp://shop.example/checkout" is not an absolute http or https address`,
		`urls.yaml:10:13: url is empty`,
		`urls.yaml:12:14: url must be a single value such as https://shop.example/checkout, not a list`,
	},
	"schedule.yaml": {
		`schedule.yaml:3:15: bad schedule "every hour": expected exactly 5 fields`,
		`schedule.yaml:8:15: bad schedule "61 * * * *": end of range (61) above maximum (59)`,
		`schedule.yaml:13:15: bad schedule "0 0 30 2 *": it never fires`,
		`such as "@hourly" or "@every 15m"`,
	},
	"locale.yaml": {
		`locale.yaml:3:13: locale "ja_JP" is not a BCP 47 language tag: write it with hyphens, as ja-JP`,
		`locale.yaml:4:15: timezone "asia/tokyo" is not an IANA time zone: write one such as Europe/Berlin`,
		`locale.yaml:8:17: locale "english" is not a BCP 47 language tag`,
		`locale.yaml:9:19: timezone Local is this machine's zone, the default: leave timezone out`,
		`locale.yaml:12:17: locale "x-shopper" names no language`,
		`locale.yaml:13:19: timezone "Mars/Olympus_Mons" is not an IANA time zone`,
		`locale.yaml:16:16: locale is empty`,
		`locale.yaml:17:18: timezone is empty`,
		`locale.yaml:20:17: locale must be a single value such as ja-JP, not a list`,
		`locale.yaml:21:19: timezone "../../etc/passwd" is not an IANA time zone`,
		`locale.yaml:24:17: locale "zz-JP" has an unknown subtag "zz"`,
		`locale.yaml:25:9: unknown key "timezon" in a page; did you mean "timezone"?`,
	},
	"page_values.yaml": {
		`page_values.yaml:6:15: wait "12" is not a duration: write a number with a unit, such as 12s`,
		`page_values.yaml:9:15: wait 10m0s is out of range: use between 1s and 5m0s`,
		`page_values.yaml:12:15: wait 500ms is out of range`,
		`page_values.yaml:13:18: unknown profile "tablet": use desktop or mobile`,
		`page_values.yaml:14:19: interact must be true or false, not "yes"`,
	},
	"types.yaml": {
		`types.yaml:1:11: database must be a single value such as skimguard.db, not a list`,
		`types.yaml:3:3: sites must be a list, each item starting with "- " (- name: shop), not a map`,
	},
	"pages_type.yaml": {
		`pages_type.yaml:3:12: pages must be a list`,
		`pages_type.yaml:6:9: a page must be a map of keys (name, url, wait, interact, profile, steps, recording, locale, timezone), not the value "checkout"`,
		`pages_type.yaml:7:5: a site must be a map of keys`,
	},
	"empty_sites.yaml": {`empty_sites.yaml:2:8: sites is empty: list at least one site`},
	"no_sites.yaml":    {`no_sites.yaml:1:1: no sites: add a sites: list`},
	"empty_pages.yaml": {
		`empty_pages.yaml:3:11: pages is empty`,
		`empty_pages.yaml:4:5: site "other" has no pages`,
	},
	"syntax.yaml":   {`syntax.yaml:3: invalid YAML: did not find expected '-' indicator`},
	"tabs.yaml":     {`tabs.yaml:2: invalid YAML: found character that cannot start any token`},
	"empty.yaml":    {`empty.yaml:1:1: the file is empty: it needs a sites: list`},
	"top_list.yaml": {`top_list.yaml:1:1: the top level must be a map of keys (database, database_password_env, sites, alerts, egress, approvals, browsers, browser_proxy), not a list`},
	"database.yaml": {
		`database.yaml:1:11: database "postgres://skimguard@db.example:5432/skimguard" holds a password: put secrets in environment variables: use database_password_env: NAME (or PGPASSWORD)`,
		`database.yaml:2:24: database_password_env "not a name" is not an environment variable name`,
	},
	"browsers.yaml": {
		`browsers.yaml:2:5: browser "ftp://10.0.0.5:9222" is not a DevTools endpoint: write ws://HOST:PORT`,
		`browsers.yaml:3:5: browser "10.0.0.5:9222" is not a DevTools endpoint`,
		`browsers.yaml:4:5: browser "ws://:9222" has no host`,
		`browsers.yaml:5:5: browser "http://admin:xxxxx@chrome-2:9222" holds a user name or password`,
		`browsers.yaml:6:4: a browser is empty`,
		`browsers.yaml:7:5: a browser must be a single value such as ws://10.0.0.5:9222, not a list`,
		`browsers.yaml:9:5: browser "ws://10.0.0.6:9222" is listed twice (first at line 8)`,
		`browsers.yaml:10:16: browser_proxy "chrome-host" is not an IP address of this machine`,
	},
	"browsers_empty.yaml": {
		`browsers_empty.yaml:1:11: browsers is empty: list DevTools endpoints such as ws://10.0.0.5:9222, or leave browsers out`,
		`browsers_empty.yaml:2:16: browser_proxy "0.0.0.0" is not an IP address of this machine`,
	},
	"database_query.yaml": {`database_query.yaml:1:11: database "postgresql://skimguard@db.example/skimguard" holds a password`},
	"two_docs.yaml":       {`two_docs.yaml:6:1: a second YAML document starts here`},
	"secrets.yaml": {
		`secrets.yaml:9:13: "secret" holds a literal secret: put secrets in environment variables: use secret_env: NAME`,
		`secrets.yaml:11:10: url "https://user:xxxxx@hooks.example/y" holds a password: put secrets in environment variables: use url_env: NAME`,
		`secrets.yaml:12:14: "api_key" holds a literal secret: put secrets in environment variables`,
		`secrets.yaml:15:5: unknown key "headers" in an alert`,
		`secrets.yaml:17:19: "auth_token" holds a literal secret`,
	},
	"alerts.yaml": {
		`alerts.yaml:7:11: unknown alert type "pager": use webhook, console, slack or email`,
		`alerts.yaml:8:5: webhook alert has no destination: add url: https://... or url_env: NAME`,
		`alerts.yaml:9:19: min_severity: unknown severity "urgent": use critical, high, medium or low`,
		`alerts.yaml:10:5: alert has no type: add type: webhook`,
		`alerts.yaml:13:5: webhook alert has both url and url_env: keep one`,
		`alerts.yaml:14:17: secret_env "my-secret" is not an environment variable name`,
		`alerts.yaml:15:13: alert routes to unknown site "shopp"; did you mean "shop"?`,
		`alerts.yaml:15:20: alert routes to unknown site "elsewhere"; known sites are shop`,
		`alerts.yaml:17:5: a console alert takes no url: remove it`,
		`alerts.yaml:19:10: url "hooks.example/x" is not an absolute http or https address`,
		`alerts.yaml:20:1: unknown key "alerts_extra" in the top level`,
	},
	"slack.yaml": {
		`slack.yaml:8:5: a slack alert takes no url: a Slack webhook URL is a secret: use url_env: SLACK_WEBHOOK_URL and set SLACK_WEBHOOK_URL in the environment`,
		`slack.yaml:9:5: slack alert has no destination: add url_env: SLACK_WEBHOOK_URL`,
		`slack.yaml:12:5: a slack alert takes no secret_env (Slack does not check signatures): remove it`,
		`slack.yaml:13:5: a slack alert takes no smtp: remove it`,
		`slack.yaml:15:14: url_env "slack-url" is not an environment variable name`,
		`slack.yaml:18:5: a webhook alert takes no to: remove it`,
	},
	"email.yaml": {
		`email.yaml:7:5: email alert has no smtp server: add smtp: followed by host:port, such as smtp.example.com:587`,
		`email.yaml:7:5: email alert has no sender: add from:`,
		`email.yaml:7:5: email alert has no recipients: add to:`,
		`email.yaml:9:11: smtp "smtp.shop.example" is not host:port: write it with the port, such as smtp.example.com:587`,
		`email.yaml:10:11: from "not an address" is not an email address`,
		`email.yaml:11:33: recipient "bob at shop" is not an email address`,
		`email.yaml:12:5: email alert has username_env but no password_env: add password_env: NAME, or remove username_env`,
		`email.yaml:14:11: smtp holds an '@': write only host:port`,
		`email.yaml:16:9: to is empty: list at least one address`,
		`email.yaml:17:5: email alert has password_env but no username_env`,
		`email.yaml:18:5: an email alert takes no url: remove it`,
		`email.yaml:20:11: smtp "smtp.shop.example:99999" is not host:port`,
		`email.yaml:21:11: from must be a single value such as skimguard@shop.example, not a list`,
		`email.yaml:23:15: "password" holds a literal secret: put secrets in environment variables: use password_env: NAME`,
		`email.yaml:27:8: to is empty: list at least one address`,
		`email.yaml:28:5: an email alert takes no secret_env: remove it`,
		`email.yaml:30:5: a console alert takes no from: remove it`,
	},
	"structure.yaml": {
		`structure.yaml:4:8: a page must be a map of keys (name, url, wait, interact, profile, steps, recording, locale, timezone), not empty`,
		`structure.yaml:7:11: keys in a page must be plain words, not a list`,
		`structure.yaml:10:9: unknown key "token": put secrets in environment variables: use secret_env: NAME`,
		`structure.yaml:12:22: "api_key" holds a literal secret`,
		`structure.yaml:15:11: site name "***" has characters other than letters, digits, '.', '_' and '-': write it as "site-1"`,
	},
	"values.yaml": {
		`values.yaml:3:14: schedule is empty: write a cron spec`,
		`values.yaml:9:17: unknown profile "": use desktop or mobile`,
		`values.yaml:13:18: profile must be a single value such as desktop, not a list`,
	},
	"alert_values.yaml": {
		`alert_values.yaml:7:5: an alert must be a map of keys (type, url, url_env, secret_env, smtp, from, to, username_env, password_env, min_severity, sites), not the value "webhook"`,
		`alert_values.yaml:10:13: url_env is empty: write the name of an environment variable`,
		`alert_values.yaml:15:10: smtp is empty: write the server as host:port`,
		`alert_values.yaml:16:10: from is empty: write an email address`,
		`alert_values.yaml:25:11: unknown alert type "": use webhook, console, slack or email`,
		`alert_values.yaml:33:5: key "type" appears twice in an alert (first at line 31): keep one`,
	},
	"egress.yaml": {
		`egress.yaml:8:7: egress allow entry "http://shop.internal/": it is a URL: write only the host name or address`,
		`egress.yaml:9:7: egress allow entry "10.1.2.3/8": it has bits set past the /8 prefix: write 10.0.0.0/8`,
		`egress.yaml:10:7: egress allow entry "10.0.0.0/33": it is not an address range`,
		`egress.yaml:11:7: egress allow entry "10.0.0.0/8:443": a port can only follow one address or host name, not a range`,
		`egress.yaml:12:7: egress allow entry "shop.internal:99999": port "99999" is not a number from 1 to 65535`,
		`egress.yaml:13:7: egress allow entry "shop.internal:": it has a colon but no port after it`,
		`egress.yaml:14:7: egress allow entry "shop.internal/checkout": it is not an address range, and a host name has no path`,
		`egress.yaml:15:7: egress allow entry "bad host!": it is not an address range, an address or a host name`,
		`egress.yaml:16:6: empty entry in egress allow`,
		`egress.yaml:17:7: an egress allow entry must be a single value such as 10.0.0.0/8 or shop.internal:8443, not a list`,
		`egress.yaml:18:9: egress deny must be a list`,
		`egress.yaml:19:3: unknown key "alow" in egress; did you mean "allow"?`,
	},
	"egress_type.yaml": {`egress_type.yaml:6:9: egress must be a map of keys (allow, deny), not a list`},
	"approvals.yaml": {
		`approvals.yaml:3:5: unknown key "approvals" in a site; known keys are name, schedule, pages, locale, timezone`,
		`approvals.yaml:7:12: unknown approvals "four-eyes": use one-person (one reviewer approves any finding) or two-person (approving a critical or high finding needs a second reviewer)`,
	},
	"approvals_empty.yaml": {`approvals_empty.yaml:1:11: approvals is empty: write one-person or two-person, or leave it out for one-person`},
	"steps.yaml": {
		`steps.yaml:7:13: unknown key "clik" in a step; did you mean "click"?`,
		`steps.yaml:9:13: a step does one thing, and this one has both click and fill: split it into two steps`,
		`steps.yaml:10:19: goto "ftp://shop.example/a" is not an absolute http or https address`,
		`steps.yaml:11:20: click: "#a[" is not a CSS selector`,
		`steps.yaml:12:33: fill: "#password" gets a literal secret: write its value as "${NAME}" and set NAME in the environment`,
		`steps.yaml:13:19: wait "12" is not a duration`,
		`steps.yaml:15:22: timeout 10m0s is out of range`,
		`steps.yaml:16:20: press: unknown key "Entr"; did you mean "Enter"?`,
		`steps.yaml:17:21: scroll takes a position in pixels (scroll: 600), a selector to bring into view`,
		`steps.yaml:18:21: scroll position "-5" is not a number of pixels`,
		`steps.yaml:19:26: fill: the value for "#x": ${lower-case} is not a reference to an environment variable`,
		`steps.yaml:20:21: select must be a map of selectors to values`,
		`steps.yaml:21:13: the step does nothing: give it one of goto, click, double_click, fill`,
		`steps.yaml:25:13: the journey starts in an empty tab: make its first step goto:`,
		`steps.yaml:28:16: steps is empty`,
		`steps.yaml:32:19: goto "https://u:xxxxx@shop.example/d" holds a literal password`,
		`steps.yaml:33:29: fill: "#pass" gets a literal secret`,
	},
	"recordings.yaml": {
		`recordings.yaml:6:20: recording "no-such-flow.json": open testdata/bad/no-such-flow.json: no such file or directory: export the flow from Chrome DevTools' Recorder as JSON`,
		`recordings.yaml:11:9: a page takes steps or a recording, not both: keep one`,
		`recordings.yaml:16:20: click: "#host >>> " has an empty part`,
		`recordings.yaml:17:20: hover: "aria/" is not an ARIA selector`,
		`recordings.yaml:18:23: wait_for: "text/" is empty after text/`,
		`recordings.yaml:20:21: frame: the value "a" is not a frame index`,
		`recordings.yaml:22:20: frame: a goto step acts on the page, not on an element of a frame`,
		`recordings.yaml:23:34: wait_for_expression: the expression is empty`,
	},
	"top_values.yaml": {
		`top_values.yaml:7:9: alerts must be a list, each item starting with "- " (- type: webhook), not a map`,
		`top_values.yaml:8:1: key "sites" appears twice in the top level (first at line 2): keep one`,
		`top_values.yaml:9:9: "secret" holds a literal secret`,
	},
}

func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, ok := badFixtures[name]
			if !ok {
				t.Fatalf("fixture %s has no expected errors in badFixtures", name)
			}
			cfg, err := Load(f)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			msg := err.Error()
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q; got:\n%s", w, msg)
				}
			}
			// Every line that starts a problem names the file and a line.
			for _, line := range strings.Split(msg, "\n") {
				if strings.HasPrefix(line, " ") {
					continue
				}
				if !strings.HasPrefix(line, f+":") {
					t.Errorf("line %q does not start with %q", line, f+":")
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.File != f || e.Line == 0 {
				t.Errorf("errors.As(*Error) = %+v", e)
			}
		})
	}
	for name := range badFixtures {
		if _, err := os.Stat(filepath.Join("testdata", "bad", name)); err != nil {
			t.Errorf("badFixtures names a missing fixture: %v", err)
		}
	}
}

func TestParseReportsErrorsInFileOrder(t *testing.T) {
	_, err := Load("testdata/bad/names.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if !strings.Contains(lines[0], ":2:5:") || !strings.Contains(lines[1], ":4:9:") {
		t.Errorf("errors not in file order:\n%s", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want os.ErrNotExist", err)
	}
}

func TestAliasBomb(t *testing.T) {
	// Each level doubles the pages: 2^20 once expanded.
	var b strings.Builder
	b.WriteString("x0: &a0 [{name: p, url: https://a.example/}]\n")
	for i := 1; i <= 20; i++ {
		b.WriteString("x" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [*a" + strconv.Itoa(i-1) + ", *a" + strconv.Itoa(i-1) + "]\n")
	}
	b.WriteString("sites:\n  - name: s\n    pages: *a20\n")
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("alias bomb parsed")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("alias bomb took %s", time.Since(start))
	}
}

func TestPages(t *testing.T) {
	cfg, err := Load("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("all sites when none named", func(t *testing.T) {
		pages, err := cfg.Pages(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(pages) != 4 {
			t.Fatalf("got %d pages, want 4: %+v", len(pages), pages)
		}
		want := skimguard.Page{Site: "outfitters", Name: "checkout-mobile", URL: "https://shop.example/checkout?step=payment", Wait: 90 * time.Second, Interact: false, Profile: "mobile",
			Locale: "ja-JP", Timezone: "Asia/Tokyo"}
		if pages[1] != want {
			t.Errorf("pages[1] = %+v, want %+v", pages[1], want)
		}
	})
	t.Run("a page takes its site's locale and time zone unless it sets its own", func(t *testing.T) {
		pages, err := cfg.Pages(nil)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(pages))
		for i, p := range pages {
			got[i] = p.Name + ":" + p.Locale + ":" + p.Timezone
		}
		// The crawler takes "" as en-US and the machine's zone.
		want := []string{"checkout:de-DE:Europe/Berlin", "checkout-mobile:ja-JP:Asia/Tokyo", "pay_2::", "pay::"}
		if !slices.Equal(got, want) {
			t.Errorf("page locale:timezone = %v, want %v", got, want)
		}
	})
	t.Run("named sites only in file order", func(t *testing.T) {
		pages, err := cfg.Pages([]string{"weekly", "tickets.example"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range pages {
			got = append(got, p.Site+"/"+p.Name)
		}
		if want := []string{"tickets.example/pay_2", "weekly/pay"}; !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
	t.Run("unknown site lists the known ones", func(t *testing.T) {
		_, err := cfg.Pages([]string{"outfitters", "outfiters"})
		if err == nil {
			t.Fatal("no error")
		}
		want := `unknown site "outfiters" in testdata/good/full.yaml: known sites are outfitters, tickets.example, weekly`
		if err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "sites.yaml", Line: 12, Column: 5, Msg: "bad"}, "sites.yaml:12:5: bad"},
		{Error{File: "sites.yaml", Line: 3, Msg: "bad"}, "sites.yaml:3: bad"},
		{Error{File: "sites.yaml", Msg: "bad"}, "sites.yaml: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

var recordingLine = regexp.MustCompile(`^\S+\.json:\d+:\d+: `)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil {
			if len(cfg.Sites) == 0 {
				t.Fatal("accepted a configuration without sites")
			}
			if _, err := cfg.Pages(nil); err != nil {
				t.Fatal(err)
			}
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			// A recording the file names has its problems at its own
			// lines.
			if line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "fuzz.yaml:") && !recordingLine.MatchString(line) {
				t.Fatalf("error line without file: %q", line)
			}
		}
	})
}

func TestLoadEgress(t *testing.T) {
	cfg, err := Load("testdata/good/egress.yaml")
	if err != nil {
		t.Fatal(err)
	}
	str := func(rules []egress.Rule) []string {
		var out []string
		for _, r := range rules {
			out = append(out, r.String())
		}
		return out
	}
	if got, want := str(cfg.Egress.Allow), []string{"shop.internal:8443", "10.20.0.0/16", "[fd00::10]:443"}; !slices.Equal(got, want) {
		t.Errorf("Allow = %q, want %q", got, want)
	}
	if got, want := str(cfg.Egress.Deny), []string{"10.0.0.0/8", "fd00::/8", "192.168.1.1", "tracker.example"}; !slices.Equal(got, want) {
		t.Errorf("Deny = %q, want %q", got, want)
	}
	if len(cfg.Egress.Own) != 0 {
		t.Errorf("Own = %q: the configuration does not know skimguard's own addresses", str(cfg.Egress.Own))
	}
	t.Run("empty or absent means the built-in policy", func(t *testing.T) {
		for _, extra := range []string{"", "egress:\n", "egress: {}\n", "egress:\n  allow: []\n  deny:\n"} {
			cfg, err := Parse("sites.yaml", []byte("sites:\n  - name: s\n    pages:\n      - name: p\n        url: https://s.example/p\n"+extra))
			if err != nil {
				t.Fatalf("%q: %v", extra, err)
			}
			if len(cfg.Egress.Allow)+len(cfg.Egress.Deny) != 0 {
				t.Errorf("%q: Egress = %+v", extra, cfg.Egress)
			}
		}
	})
}

// A reload names the changed settings that serve reads only at start, and
// only those: pages, alert channels and approvals are reloaded.
func TestNeedsRestartNamesTheChangedStartOnlySettings(t *testing.T) {
	const base = "sites:\n  - name: shop\n    pages:\n      - name: checkout\n        url: https://shop.example/checkout\n"
	parse := func(extra string) *Config {
		t.Helper()
		c, err := Parse("sites.yaml", []byte(base+extra))
		if err != nil {
			t.Fatalf("Parse(%q): %v", extra, err)
		}
		return c
	}
	started := parse("egress:\n  deny: [10.0.0.0/8]\n")
	for _, tc := range []struct {
		extra string
		want  []string
	}{
		{"egress:\n  deny: [10.0.0.0/8]\n", nil},
		{"egress:\n  deny: [10.0.0.0/8]\napprovals: two-person\nalerts:\n  - type: webhook\n    url: https://hooks.example/x\n", nil},
		{"", []string{"egress"}},
		{"egress:\n  deny: [10.0.0.0/8, 192.0.2.0/24]\n", []string{"egress"}},
		{"database: other.db\negress:\n  deny: [10.0.0.0/8]\nbrowsers: [ws://10.0.0.5:9222]\nbrowser_proxy: 10.0.0.2\n", []string{"database", "browsers", "browser_proxy"}},
	} {
		if got := started.NeedsRestart(parse(tc.extra)); !slices.Equal(got, tc.want) {
			t.Errorf("after reloading with %q: NeedsRestart = %q, want %q", tc.extra, got, tc.want)
		}
	}
}
