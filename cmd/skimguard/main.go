// Command skimguard watches payment pages for card skimmers: it loads them in
// headless Chromium like a shopper, compares what runs and where data goes
// with an approved baseline, and reports what changed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Exit codes: the contract with CI pipelines.
const (
	exitOK       = 0 // pages match their baselines
	exitFindings = 1 // findings
	exitError    = 2 // could not check: bad config, no baseline, page or browser failure
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}

// env is what a command may touch of the outside world, so tests can run
// the CLI in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one entry of the command table. A name of two words
// ("baseline export") is a subcommand: it is run when the arguments start
// with both words, and its run gets the arguments after them.
type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, e env, args []string) error
}

// commands is the one list of commands: usage and dispatch both read it, so
// adding a command is a file with its run function and a line here.
func commands() []command {
	return []command{
		{"demo", "demo [--port N] [--serve] [--planted]", "run the built-in demo shop: baseline it, plant a skimmer, check, show the findings", runDemo},
		{"serve", "serve [--listen ADDR] [--url URL] [--workers N] [--jitter D] [--grace D] [flags]", "run as a daemon: check each site's pages at start and on its schedule, store and alert, serve the web interface; SIGHUP reloads sites.yaml", runServe},
		{"scan", "scan [--workers N] [flags]", "scan the pages and store what each showed, without comparing", runScan},
		{"baseline", "baseline [--samples N] [--by NAME] [--workers N] --reason TEXT [flags]", "load each page several times and approve what it showed as its baseline", runBaseline},
		{"baseline export", "baseline export [--site S] [--out FILE]", "write the approved baselines as a reviewable lock file (skimguard.lock.json)", runBaselineExport},
		{"baseline import", "baseline import FILE --reason TEXT [--by NAME]", "load a lock file as each page's new baseline version", runBaselineImport},
		{"check", "check [--format text|json|sarif|junit|github|markdown] [--out FILE] [--fail-on SEVERITY] [--baseline-file LOCK] [--write-lock FILE] [--workers N] [flags]", "scan, compare with the approved baselines, store and report findings (exit 0 ok, 1 findings, 2 could not check)", runCheck},
		{"findings", "findings [--all] [flags]", "list open findings", runFindings},
		{"approve", "approve ID... --reason TEXT [--by NAME]", "accept findings into the baseline as a new baseline version", runApprove},
		{"reject", "reject ID... --reason TEXT [--by NAME]", "close findings as rejected; the baseline stays", runReject},
		{"report", "report [--from DATE] [--to DATE] [--format html|csv|json] [--out FILE]", "write an auditor's PCI DSS 6.4.3 and 11.6.1 evidence for a period", runReport},
		{"csp", "csp [--site S] [--page P] [--report-to URL] [--enforce]", "print the Content-Security-Policy and integrity attributes that make shoppers' browsers enforce each page's baseline and report to skimguard", runCSP},
		{"reports", "reports [--site S] [--page P]", "list what shoppers' browsers reported under each page's policy, and what the baseline made of it", runReports},
		{"reports token", "reports token SITE [--url URL]", "make or rotate the site's report token and print the collector URL for `csp --report-to`", runReportsToken},
		{"inventory", "inventory [--site S] [flags]", "list each page's approved scripts with hashes, origin and justification (PCI DSS 6.4.3)", runInventory},
		{"user", "user add|list|role|remove [NAME] [ROLE] [--db FILE]", "manage the web interface's users and their roles (bcrypt-hashed passwords)", runUser},
		{"journey import", "journey import FILE", "print the sites.yaml steps that replay a flow recorded with Chrome DevTools' Recorder (JSON export)", runJourneyImport},
		{"migrate", "migrate --from FILE --to postgres://USER@HOST/DATABASE", "copy a SQLite database's whole history into PostgreSQL, ids and times kept, and check the copy", runMigrate},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "skimguard watches payment pages for card skimmers.\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  skimguard %s\n      %s\n", c.usage, c.summary)
	}
	fmt.Fprintf(w, "\nCommon flags: --config FILE (default ./sites.yaml), --db FILE, --site NAME (repeatable),\n--chromium PATH (or $SKIMGUARD_CHROMIUM), --verbose. Run `skimguard COMMAND --help` for more.\n")
}

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	if c, rest, ok := lookup(args); ok {
		return exitCode(e, c.run(ctx, e, rest))
	}
	fmt.Fprintf(e.stderr, "skimguard: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitError
}

// lookup finds the command the arguments name, the one of most words when
// several match ("baseline export" over "baseline"), and returns the
// arguments that follow its name.
func lookup(args []string) (command, []string, bool) {
	var found command
	words := 0
	for _, c := range commands() {
		name := strings.Fields(c.name)
		if len(name) > words && len(args) >= len(name) && slices.Equal(args[:len(name)], name) {
			found, words = c, len(name)
		}
	}
	return found, args[words:], words > 0
}

// errFindings makes a command exit 1 without printing anything more: the
// findings were reported already.
var errFindings = errors.New("findings")

// exitCode maps a command's error to the process's exit status, once.
func exitCode(e env, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errFindings):
		return exitFindings
	default:
		fmt.Fprintf(e.stderr, "skimguard: %v\n", err)
		return exitError
	}
}

// usageErr is an error in how the command was called.
func usageErr(format string, a ...any) error {
	return fmt.Errorf(format, a...)
}

// newLogger logs at level and above, or everything with --verbose.
func newLogger(w io.Writer, level slog.Level, verbose bool) *slog.Logger {
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
