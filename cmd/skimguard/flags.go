package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os/user"
	"strings"

	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/egress"
)

// common holds the flags every command takes.
type common struct {
	config string
	db     string
	// baselineFile, when set (check --baseline-file), replaces the
	// database with a lock file.
	baselineFile string
	sites        stringList
	chromium     string
	// browsers (--browser, repeatable) are remote browsers' DevTools
	// endpoints, which replace sites.yaml's browsers:.
	browsers stringList
	verbose  bool
	// logLevel is the least severe level logged without --verbose: warn
	// for a one-shot command, info for the daemon, which says what it does.
	logLevel slog.Level
	// own are skimguard's own listening addresses (serve's --listen), which
	// the crawler's browser must never reach, whatever sites.yaml allows.
	own []egress.Rule
	// workers is --workers, of the commands that load pages: the pages
	// scanned at once, by the crawler, the monitor and serve's scheduler
	// alike; 0 until the flag is added.
	workers int
}

// addWorkers adds --workers to a command that loads pages, defaulting to
// what the machine can run (crawler.DefaultConcurrency).
func (c *common) addWorkers(fs *flag.FlagSet) {
	fs.IntVar(&c.workers, "workers", crawler.DefaultConcurrency(),
		"pages scanned at once, each in its own browser tab (default: 12 per CPU, at most one per 200 MB of available memory, up to 64); "+
			"past it, and while the machine is short of memory or CPU, scans wait for room rather than fail")
}

// checkWorkers refuses a --workers below 1.
func (c *common) checkWorkers() error {
	if c.workers < 1 {
		return usageErr("--workers must be at least 1")
	}
	return nil
}

// stringList is a repeatable flag (--site a --site b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// newFlags makes a command's flag set with the common flags, and its
// --help from usageLine and summary.
func newFlags(e env, name, usageLine, summary string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := &common{logLevel: slog.LevelWarn}
	fs.StringVar(&c.config, "config", "sites.yaml", "the sites.yaml to read")
	fs.StringVar(&c.db, "db", "", "the database: a SQLite file, or postgres://USER@HOST/DATABASE with the password in $PGPASSWORD (default: sites.yaml's database, else skimguard.db beside it)")
	fs.Var(&c.sites, "site", "only this site (repeatable)")
	fs.StringVar(&c.chromium, "chromium", e.getenv("SKIMGUARD_CHROMIUM"), "the Chromium binary (default: found in PATH)")
	fs.Var(&c.browsers, "browser", "scan in the remote Chromium at this DevTools endpoint, such as ws://10.0.0.5:9222 (repeatable; replaces sites.yaml's browsers:)")
	fs.BoolVar(&c.verbose, "verbose", false, "log what the crawler does")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: skimguard %s\n\n%s\n\nFlags:\n", usageLine, summary)
		fs.PrintDefaults()
	}
	return fs, c
}

// currentUser names who runs the command: the default of --by.
func currentUser(e env) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := e.getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments (`approve 3 4 --reason x` and `approve --reason x 3
// 4`), which the flag package alone stops at, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
