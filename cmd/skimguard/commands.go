package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/evidence"
	"github.com/skimguard/skimguard/lockfile"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/report"
	"github.com/skimguard/skimguard/sqlite"
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
	verbose      bool
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func newFlags(e env, name, usageLine, summary string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := &common{}
	fs.StringVar(&c.config, "config", "sites.yaml", "the sites.yaml to read")
	fs.StringVar(&c.db, "db", "", "the SQLite database (default: sites.yaml's database, else skimguard.db beside it)")
	fs.Var(&c.sites, "site", "only this site (repeatable)")
	fs.StringVar(&c.chromium, "chromium", e.getenv("SKIMGUARD_CHROMIUM"), "the Chromium binary (default: found in PATH)")
	fs.BoolVar(&c.verbose, "verbose", false, "log what the crawler does")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: skimguard %s\n\n%s\n\nFlags:\n", usageLine, summary)
		fs.PrintDefaults()
	}
	return fs, c
}

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

func currentUser(e env) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := e.getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func runScan(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "scan", "scan [flags]", "Scan the pages and store what each showed, without comparing.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(ctx, e, true)
	if err != nil {
		return err
	}
	defer a.Close()
	scans, err := a.mon.Observe(ctx, a.pages)
	for _, s := range scans {
		if s.Observation == nil {
			fmt.Fprintf(e.stdout, "%s/%s  %s\n  COULD NOT SCAN: %s\n\n", s.Site, s.Page, s.URL, s.Error)
			continue
		}
		o := s.Observation
		fmt.Fprintf(e.stdout, "%s/%s  %s  (scan #%d, %s)\n", s.Site, s.Page, s.URL, s.ID, s.Duration.Round(time.Millisecond))
		fmt.Fprintf(e.stdout, "  %d scripts, %d frames, %d card forms, %d destinations, %d security headers",
			len(o.Scripts), len(o.Frames), len(o.Forms), len(o.Connections), len(o.Headers))
		if o.Typed {
			fmt.Fprintf(e.stdout, "; test card typed, reached %d request(s)", len(o.Leaks))
		}
		fmt.Fprintf(e.stdout, "\n\n")
	}
	return err
}

func runBaseline(ctx context.Context, e env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "export":
			return runBaselineExport(ctx, e, args[1:])
		case "import":
			return runBaselineImport(ctx, e, args[1:])
		}
	}
	fs, c := newFlags(e, "baseline", "baseline [--samples N] [--by NAME] --reason TEXT [flags]",
		"Load each page several times (learning what varies between loads) and approve what it showed as\nthe page's new baseline, recording who approved it and why. Older versions are kept.")
	samples := fs.Int("samples", 3, "page loads to learn each baseline from")
	by := fs.String("by", currentUser(e), "who approves the baseline")
	reason := fs.String("reason", "", "why this is the page's approved state (required; e.g. a change ticket)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *reason == "" {
		return usageErr("baseline needs --reason: say why this page state is approved (e.g. --reason \"onboarding, reviewed by ...\")")
	}
	if *samples < 1 || *samples > 20 {
		return usageErr("--samples must be between 1 and 20")
	}
	a, err := c.open(ctx, e, true)
	if err != nil {
		return err
	}
	defer a.Close()
	bs, err := a.mon.Learn(ctx, a.pages, monitor.LearnOptions{Samples: *samples, By: *by, Reason: *reason})
	for _, b := range bs {
		counts := map[skimguard.ItemType]int{}
		for _, it := range b.Items {
			counts[it.Type]++
		}
		fmt.Fprintf(e.stdout, "%s/%s: baseline version %d approved by %s from %d samples: %d scripts, %d frames, %d forms, %d destinations, %d headers, %d card-data receivers\n",
			b.Site, b.Page, b.Version, b.ApprovedBy, b.Samples, counts[skimguard.ItemScript], counts[skimguard.ItemFrame],
			counts[skimguard.ItemForm], counts[skimguard.ItemConnection], counts[skimguard.ItemHeader], counts[skimguard.ItemCardSink])
	}
	return err
}

func runCheck(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "check", "check [--format FORMAT] [--out FILE] [--fail-on SEVERITY] [flags]",
		"Scan the pages, compare each with its approved baseline, store the scan and its findings, and report.\n"+
			"Exit status: 0 the pages match their baselines, 1 findings at or above --fail-on, 2 could not check\n"+
			"(config error, no baseline, page unreachable or HTTP error, timeout, browser failure); 2 wins over 1.")
	format := fs.String("format", "text", "report format: "+strings.Join(report.Formats, ", "))
	out := fs.String("out", "", "write the report in --format to this file; the terminal gets the text report")
	failOn := fs.String("fail-on", string(skimguard.SeverityLow), "lowest severity that makes check exit 1: critical, high, medium or low")
	fs.StringVar(&c.baselineFile, "baseline-file", "", "check against this lock file (skimguard baseline export) instead of the database; nothing is stored")
	writeLock := fs.String("write-lock", "", "also write what this check observed as a lock file, for a reviewer to approve in a pull request")
	by := fs.String("by", currentUser(e), "with --write-lock: who the observed baseline is recorded as proposed by")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !slices.Contains(report.Formats, *format) {
		return usageErr("unknown --format %q: use one of %s", *format, strings.Join(report.Formats, ", "))
	}
	threshold, err := skimguard.ParseSeverity(*failOn)
	if err != nil {
		return usageErr("--fail-on: %v", err)
	}
	a, err := c.open(ctx, e, true)
	if err != nil {
		return err
	}
	defer a.Close()
	var observed lockObservations
	if *writeLock != "" {
		a.mon.Observed = observed.add
	}
	res, err := a.mon.Check(ctx, a.pages)
	if err != nil {
		return err
	}
	if *writeLock != "" {
		if err := observed.write(ctx, a.store, *writeLock, *by); err != nil {
			return err
		}
	}
	if *out != "" {
		if err := writeFile(*out, func(w io.Writer) error { return report.Write(w, *format, res) }); err != nil {
			return err
		}
		*format = "text"
	}
	if err := report.Write(e.stdout, *format, res); err != nil {
		return err
	}
	if n := countFailed(res); n > 0 {
		return fmt.Errorf("%d page(s) could not be checked", n)
	}
	if anyAtLeast(res.Findings, threshold) {
		return errFindings
	}
	return nil
}

// anyAtLeast reports whether a finding is as severe as threshold or more.
func anyAtLeast(fs []skimguard.Finding, threshold skimguard.Severity) bool {
	return slices.ContainsFunc(fs, func(f skimguard.Finding) bool { return f.Severity.Rank() >= threshold.Rank() })
}

// writeFile writes a file whole or not at all: a CI job never reads half a
// report.
func writeFile(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

func countFailed(r report.Result) int {
	n := 0
	for _, p := range r.Pages {
		if p.Status == report.PageFailed {
			n++
		}
	}
	return n
}

func runFindings(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "findings", "findings [--all] [flags]", "List open findings (with --all, approved and rejected ones too).")
	all := fs.Bool("all", false, "include closed findings")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(ctx, e, false)
	if err != nil {
		return err
	}
	defer a.Close()
	filter := skimguard.FindingFilter{Sites: c.sites, Status: skimguard.StatusOpen}
	if *all {
		filter.Status = ""
	}
	list, err := a.store.Findings(ctx, filter)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no open findings")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSEVERITY\tKIND\tPAGE\tSUBJECT\tLAST SEEN")
	for _, f := range report.Sorted(list) {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s/%s\t%s\t%s\n", f.ID, f.Status, f.Severity, f.Kind, f.Site, f.Page,
			truncate(f.Subject, 70), f.LastSeen.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func runApprove(ctx context.Context, e env, args []string) error {
	return resolve(ctx, e, args, skimguard.StatusApproved)
}

func runReject(ctx context.Context, e env, args []string) error {
	return resolve(ctx, e, args, skimguard.StatusRejected)
}

func resolve(ctx context.Context, e env, args []string, status skimguard.FindingStatus) error {
	verb := map[skimguard.FindingStatus]string{skimguard.StatusApproved: "approve", skimguard.StatusRejected: "reject"}[status]
	summary := "Accept findings into their pages' baselines as a new baseline version (older versions are kept)."
	if status == skimguard.StatusRejected {
		summary = "Close findings as rejected: the baseline stays as it is, and the change is flagged again if seen again."
	}
	fs, c := newFlags(e, verb, verb+" ID... --reason TEXT [--by NAME]", summary)
	by := fs.String("by", currentUser(e), "who decides")
	reason := fs.String("reason", "", "the business or technical justification (required)")
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	var ids []int64
	for _, arg := range positional {
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || id <= 0 {
			return usageErr("%s: %q is not a finding id (see `skimguard findings`)", verb, arg)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return usageErr("%s needs finding ids (see `skimguard findings`)", verb)
	}
	if *reason == "" {
		return usageErr("%s needs --reason: PCI DSS 6.4.3 asks for a justification of every script", verb)
	}
	a, err := c.open(ctx, e, false)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.mon.Resolve(ctx, ids, skimguard.Resolution{Status: status, By: *by, Reason: *reason}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%sd %d finding(s) as %s\n", verb, len(ids), *by)
	return nil
}

func runInventory(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "inventory", "inventory [--site S] [flags]",
		"List each page's approved scripts with their hashes, origin, first-seen date, approver and justification:\nthe script inventory PCI DSS 6.4.3 asks for.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(ctx, e, false)
	if err != nil {
		return err
	}
	defer a.Close()
	bs, err := a.approved(ctx, c.sites)
	if err != nil {
		return err
	}
	for _, b := range bs {
		fmt.Fprintf(e.stdout, "%s/%s  %s  (baseline version %d, %s by %s: %s)\n", b.Site, b.Page, b.URL, b.Version,
			b.CreatedAt.Local().Format("2006-01-02"), b.ApprovedBy, b.Reason)
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SCRIPT\tKIND\tORIGIN\tSHA-256\tFIRST SEEN\tAPPROVED BY\tJUSTIFICATION")
		for _, it := range b.Items {
			if it.Type != skimguard.ItemScript {
				continue
			}
			origin := it.Origin
			if origin == "" {
				origin = "(page)"
			}
			opt := ""
			if it.Optional {
				opt = " (sometimes)"
			}
			fmt.Fprintf(tw, "  %s%s\t%s\t%s\t%s\t%s\t%s\t%s\n", truncate(it.Subject, 60), opt, it.ScriptKind(), origin,
				short(it.SHA256), it.FirstSeen.Local().Format("2006-01-02"), it.ApprovedBy, it.Reason)
		}
		tw.Flush()
		fmt.Fprintln(e.stdout)
	}
	return nil
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
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

// exists reports whether path names a file.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// lockObservations collects what a check saw, for --write-lock.
type lockObservations struct {
	mu    sync.Mutex
	pages []skimguard.Page
	obs   []*skimguard.Observation
}

func (l *lockObservations) add(p skimguard.Page, o *skimguard.Observation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pages = append(l.pages, p)
	l.obs = append(l.obs, o)
}

// write proposes each observed page's next baseline: its current baseline
// with this check's changes applied, as approving them would make it (so the
// variation learnt before is kept), or, for a page without a baseline, what
// the check saw. Each changed item says it awaits review.
func (l *lockObservations) write(ctx context.Context, store skimguard.Store, path, by string) error {
	res := skimguard.Resolution{Status: skimguard.StatusApproved, By: by,
		Reason: "observed by skimguard check; approve by merging the pull request", At: time.Now().UTC()}
	var bs []skimguard.Baseline
	for i, o := range l.obs {
		p := l.pages[i]
		current, err := store.Baseline(ctx, p.Site, p.Name)
		var next *skimguard.Baseline
		switch {
		case err == nil:
			next, err = baseline.Apply(current, baseline.Compare(current, o), res)
		case errors.Is(err, skimguard.ErrNoBaseline):
			next, err = baseline.Learn([]*skimguard.Observation{o}, res.By, res.Reason, res.At)
		}
		if err != nil {
			return fmt.Errorf("--write-lock: %s/%s: %w", p.Site, p.Name, err)
		}
		next.Site, next.Page, next.URL = p.Site, p.Name, p.URL
		bs = append(bs, *next)
	}
	return writeFile(path, lockfile.FromBaselines(bs).Write)
}

func readLock(path string) (*lockfile.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	defer f.Close()
	return lockfile.Read(path, f)
}

func runBaselineExport(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "baseline export", "baseline export [--site S] [--out FILE] [flags]",
		"Write the approved baselines as a stable, sorted lock file (one item per line), to commit beside the code\nand check in CI with `skimguard check --baseline-file`.")
	out := fs.String("out", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.open(ctx, e, false)
	if err != nil {
		return err
	}
	defer a.Close()
	bs, err := a.approved(ctx, c.sites)
	if err != nil {
		return err
	}
	lock := lockfile.FromBaselines(bs)
	if *out != "" {
		return writeFile(*out, lock.Write)
	}
	return lock.Write(e.stdout)
}

func runBaselineImport(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "baseline import", "baseline import FILE --reason TEXT [--by NAME] [flags]",
		"Load a lock file's baselines into the database as each page's new baseline version; older versions are kept.")
	by := fs.String("by", currentUser(e), "who approves the import")
	reason := fs.String("reason", "", "why (required; e.g. the pull request that changed the lock file)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageErr("baseline import takes one lock file (see `skimguard baseline export`)")
	}
	file := files[0]
	if *reason == "" {
		return usageErr("baseline import needs --reason: say why these baselines are approved")
	}
	lock, err := readLock(file)
	if err != nil {
		return err
	}
	a, err := c.open(ctx, e, false)
	if err != nil {
		return err
	}
	defer a.Close()
	n := 0
	for _, b := range lock.Baselines() {
		if len(c.sites) > 0 && !slices.Contains(c.sites, b.Site) {
			continue
		}
		b.ApprovedBy, b.Reason, b.CreatedAt = *by, *reason, time.Now().UTC()
		if err := a.store.SaveBaseline(ctx, &b); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s/%s: baseline version %d imported from %s (%d items)\n", b.Site, b.Page, b.Version, file, len(b.Items))
		n++
	}
	if n == 0 {
		return errors.New("the lock file has no page of the selected sites")
	}
	return nil
}

// progressPrinter shows each page's steps with the elapsed time when w is a
// terminal; piped or redirected output (CI logs, reports) gets none.
func progressPrinter(w io.Writer) func(skimguard.Page, string) {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	start := time.Now()
	var mu sync.Mutex
	return func(p skimguard.Page, step string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "  %6.1fs  %s/%s: %s\n", time.Since(start).Seconds(), p.Site, p.Name, step)
	}
}

func runReport(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "report", "report [--from DATE] [--to DATE] [--format html|csv|json] [--out FILE] [flags]",
		"Write the auditor's evidence for a period: the PCI DSS 6.4.3 script inventory with justifications and\n"+
			"approvals, and the 11.6.1 evidence (every scan and its result, every change detected and its review,\n"+
			"and whether each page was checked at least weekly, gaps listed). Dates are YYYY-MM-DD, in UTC; --to\n"+
			"includes its day. HTML is one self-contained file that prints well to PDF.")
	now := time.Now().UTC()
	from := fs.String("from", now.AddDate(0, 0, -30).Format(time.DateOnly), "first day of the period")
	to := fs.String("to", now.Format(time.DateOnly), "last day of the period")
	format := fs.String("format", "html", "html, csv or json")
	out := fs.String("out", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start, err := time.Parse(time.DateOnly, *from)
	if err != nil {
		return usageErr("--from %q: write a date as YYYY-MM-DD", *from)
	}
	end, err := time.Parse(time.DateOnly, *to)
	if err != nil {
		return usageErr("--to %q: write a date as YYYY-MM-DD", *to)
	}
	if !slices.Contains(evidence.Formats, *format) {
		return usageErr("unknown --format %q: use html, csv or json", *format)
	}
	a, err := c.open(ctx, e, false)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := evidence.Build(ctx, a.store, a.pages, start, end.AddDate(0, 0, 1), now)
	if err != nil {
		return err
	}
	write := func(w io.Writer) error { return evidence.Write(w, *format, r) }
	if *out != "" {
		return writeFile(*out, write)
	}
	return write(e.stdout)
}
