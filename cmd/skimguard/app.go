package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/lockfile"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/postgres"
	"github.com/skimguard/skimguard/sqlite"
)

// app is what a command works with, opened from the common flags by
// openStore or openCrawler. The caller closes it.
type app struct {
	// cfg is sites.yaml. It is nil only when a command that uses just the
	// store was given --db and there is no sites.yaml.
	cfg *config.Config
	// pages are the configured pages of the --site sites, all without
	// --site; none when cfg is nil.
	pages []skimguard.Page
	store skimguard.Store
	// crawl is the browser; nil for a command that loads no pages.
	crawl *crawler.Crawler
	mon   *monitor.Monitor
	// log is the command's one logger: two handlers on standard error
	// would write to it at once.
	log *slog.Logger
}

// approved returns the current baselines of the sites, or an error saying
// how to take one when there are none.
func (a *app) approved(ctx context.Context, sites []string) ([]skimguard.Baseline, error) {
	bs, err := a.store.Baselines(ctx, sites)
	if err == nil && len(bs) == 0 {
		err = errors.New("no approved baselines yet: take one with `skimguard baseline --reason TEXT`")
	}
	return bs, err
}

func (a *app) Close() {
	if a.crawl != nil {
		a.crawl.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
}

// openStore opens what a command needs that only reads and writes the
// store: findings, approve, reject, inventory, report, user, baseline
// export and import. sites.yaml names the database and the sites, but with
// --db it may be missing, so that findings can be reviewed with the
// database alone (the demo suggests `findings --db FILE`). Without it there
// are no pages (report then covers every site in the database, with no
// per-page coverage), and --site is refused: there are no sites to check
// its names against.
func (c *common) openStore(ctx context.Context, e env) (*app, error) {
	a := &app{}
	var err error
	switch {
	case c.db == "" || !missing(c.config):
		if a.cfg, a.pages, err = c.load(); err != nil {
			return nil, err
		}
	case len(c.sites) > 0:
		return nil, fmt.Errorf("--site %s: %s does not exist, so there are no sites to choose from: give --config FILE", &c.sites, c.config)
	}
	if a.store, err = openDatabase(ctx, e, c.dbPath(a.cfg), a.cfg); err != nil {
		return nil, err
	}
	// Resolving findings sends no alert, so approve and reject need no
	// alert channel either.
	a.log = newLogger(e.stderr, c.logLevel, c.verbose)
	a.mon = newMonitor(a.log, a.store, e.stderr)
	a.mon.Approvals = func() skimguard.Approvals { return approvals(a.cfg) }
	return a, nil
}

// approvals is sites.yaml's approval rule. Without sites.yaml (a command
// given only --db) the rule cannot be known, and the stricter one applies:
// approve must not become a way around the two-person rule.
func approvals(cfg *config.Config) skimguard.Approvals {
	if cfg == nil {
		return skimguard.ApprovalsTwoPerson
	}
	return cfg.Approvals
}

// alerting says whether a command delivers alerts. Only check and serve
// do, so only they build the alert channels, and only they need the
// channels' secrets in the environment.
type alerting bool

const (
	noAlerts   alerting = false
	sendAlerts alerting = true
)

// openCrawler opens what a command needs that loads pages (scan, baseline,
// check, serve): sites.yaml, which it requires, the store (with check
// --baseline-file, a read-only one over the lock file) and Chromium. With
// sendAlerts, the monitor delivers alerts through sites.yaml's channels,
// built before the browser starts so that a missing secret fails at once.
func (c *common) openCrawler(ctx context.Context, e env, al alerting) (*app, error) {
	cfg, pages, err := c.load()
	if err != nil {
		return nil, err
	}
	browsers, err := c.remoteBrowsers(cfg)
	if err != nil {
		return nil, err
	}
	// A journey's password missing from the environment is a configuration
	// error now, not a failed scan later.
	if err := config.CheckEnv(pages, e.getenv); err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, pages: pages}
	if c.baselineFile != "" {
		lock, err := readLock(c.baselineFile)
		if err != nil {
			return nil, err
		}
		a.store = lockfile.NewStore(lock)
	} else if a.store, err = openDatabase(ctx, e, c.dbPath(cfg), cfg); err != nil {
		return nil, err
	}
	a.log = newLogger(e.stderr, c.logLevel, c.verbose)
	a.mon = newMonitor(a.log, a.store, e.stderr)
	a.mon.Approvals = func() skimguard.Approvals { return approvals(a.cfg) }
	if al == sendAlerts {
		sinks, err := alertSinks(a.cfg, e.getenv)
		if err != nil {
			a.Close()
			return nil, err
		}
		a.mon.SetSinks(sinks)
	}
	policy := cfg.Egress
	policy.Own = append(policy.Own, c.own...)
	// The browser, the monitor and serve's scheduler run as many pages at
	// once as --workers says: any one of them lower would be the cap.
	a.crawl, err = crawler.New(ctx, crawler.Options{ExecPath: c.chromium, Logger: a.log, Egress: policy, Getenv: e.getenv, MaxConcurrent: c.workers,
		Remote: crawler.Remote{Browsers: browsers, ProxyAddr: cfg.BrowserProxy}})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.mon.Scanner = a.crawl
	a.mon.Concurrency = c.workers
	return a, nil
}

// remoteBrowsers are the remote browsers to scan in: --browser's, else
// sites.yaml's browsers:; none for a local Chromium.
func (c *common) remoteBrowsers(cfg *config.Config) ([]string, error) {
	if len(c.browsers) == 0 {
		return cfg.Browsers, nil
	}
	for _, b := range c.browsers {
		if err := config.CheckBrowser(b); err != nil {
			return nil, fmt.Errorf("--browser: %w", err)
		}
	}
	return c.browsers, nil
}

// load reads sites.yaml and selects the pages of the --site sites.
func (c *common) load() (*config.Config, []skimguard.Page, error) {
	cfg, err := config.Load(c.config)
	if err != nil {
		return nil, nil, err
	}
	pages, err := cfg.Pages(c.sites)
	if err != nil {
		return nil, nil, err
	}
	return cfg, pages, nil
}

// newMonitor makes a monitor over store, without alert channels, showing
// its progress on stderr when that is a terminal.
func newMonitor(log *slog.Logger, store skimguard.Store, stderr io.Writer) *monitor.Monitor {
	// A one-shot command alerts the first failure it meets; serve waits for
	// failures in a row.
	return &monitor.Monitor{Store: store, Logger: log, Progress: progressPrinter(stderr), FailureAlertAfter: 1}
}

// alertSinks builds sites.yaml's alert channels, reading their secrets from
// the environment.
func alertSinks(cfg *config.Config, getenv func(string) string) ([]alerts.Sink, error) {
	var sinks []alerts.Sink
	for _, ac := range cfg.Alerts {
		s, err := alerts.New(ac, getenv)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	return sinks, nil
}

// openDatabase opens the store dsn names: PostgreSQL for a postgres:// URL,
// with the role's password from the environment variable sites.yaml's
// database_password_env names (cfg may be nil), else PGPASSWORD; the
// SQLite file at that path otherwise.
func openDatabase(ctx context.Context, e env, dsn string, cfg *config.Config) (skimguard.Store, error) {
	if !postgres.IsURL(dsn) {
		return sqlite.Open(ctx, dsn)
	}
	password := e.getenv("PGPASSWORD")
	if cfg != nil && cfg.DatabasePasswordEnv != "" {
		if password = e.getenv(cfg.DatabasePasswordEnv); password == "" {
			return nil, fmt.Errorf("%s: database_password_env names %s, which is not set: set it to the PostgreSQL role's password", cfg.Path, cfg.DatabasePasswordEnv)
		}
	}
	return postgres.Open(ctx, dsn, postgres.Options{Password: password})
}

// dbPath is the database to open: --db, else sites.yaml's database, else
// skimguard.db beside sites.yaml. cfg may be nil only when --db is given.
func (c *common) dbPath(cfg *config.Config) string {
	switch {
	case c.db != "":
		return c.db
	case cfg.Database != "":
		return cfg.Database
	default:
		return filepath.Join(filepath.Dir(cfg.Path), "skimguard.db")
	}
}

// missing reports whether there is no file at path.
func missing(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

func readLock(path string) (*lockfile.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	defer f.Close()
	return lockfile.Read(path, f)
}
