package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/lockfile"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/sqlite"
)

// app is what a command works with, opened from the common flags.
type app struct {
	cfg   *config.Config
	pages []skimguard.Page
	store skimguard.Store
	crawl *crawler.Crawler
	mon   *monitor.Monitor
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

// open loads the config, opens the store and, when withCrawler, starts the
// browser. The caller closes the app.
func (c *common) open(ctx context.Context, e env, withCrawler bool) (*app, error) {
	var cfg *config.Config
	var err error
	if !withCrawler && c.db != "" && !exists(c.config) {
		// Reviewing findings needs only the database.
		cfg = &config.Config{Path: c.config}
	} else if cfg, err = config.Load(c.config); err != nil {
		return nil, err
	}
	a := &app{cfg: cfg}
	if a.pages, err = cfg.Pages(c.sites); err != nil {
		return nil, err
	}
	if c.baselineFile != "" {
		lock, err := readLock(c.baselineFile)
		if err != nil {
			return nil, err
		}
		a.store = lockfile.NewStore(lock)
	} else if a.store, err = sqlite.Open(ctx, c.dbPath(cfg)); err != nil {
		return nil, err
	}
	logger := newLogger(e.stderr, c.verbose)
	// A one-shot command alerts the first failure it meets; serve waits for
	// failures in a row.
	a.mon = &monitor.Monitor{Store: a.store, Logger: logger, Progress: progressPrinter(e.stderr), FailureAlertAfter: 1}
	for _, ac := range cfg.Alerts {
		s, err := alerts.New(ac, e.getenv)
		if err != nil {
			a.Close()
			return nil, err
		}
		a.mon.Sinks = append(a.mon.Sinks, s)
	}
	if withCrawler {
		a.crawl, err = crawler.New(ctx, crawler.Options{ExecPath: c.chromium, Logger: logger})
		if err != nil {
			a.Close()
			return nil, err
		}
		a.mon.Scanner = a.crawl
	}
	return a, nil
}

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

// exists reports whether path names a file.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readLock(path string) (*lockfile.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	defer f.Close()
	return lockfile.Read(path, f)
}
