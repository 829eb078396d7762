package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/lockfile"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/report"
)

func runCheck(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "check", "check [--format FORMAT] [--out FILE] [--fail-on SEVERITY] [--workers N] [flags]",
		"Scan the pages, compare each with its approved baseline, store the scan and its findings, and report.\n"+
			"Exit status: 0 the pages match their baselines, 1 findings at or above --fail-on, 2 could not check\n"+
			"(config error, no baseline, page unreachable or HTTP error, timeout, browser failure, a scan the database\n"+
			"would not store: it is reported all the same); 2 wins over 1.")
	format := fs.String("format", "text", "report format: "+strings.Join(report.Formats, ", "))
	out := fs.String("out", "", "write the report in --format to this file; the terminal gets the text report")
	failOn := fs.String("fail-on", string(skimguard.SeverityLow), "lowest severity that makes check exit 1: critical, high, medium or low")
	fs.StringVar(&c.baselineFile, "baseline-file", "", "check against this lock file (skimguard baseline export) instead of the database; nothing is stored")
	writeLock := fs.String("write-lock", "", "also write what this check observed as a lock file, for a reviewer to approve in a pull request")
	by := fs.String("by", currentUser(e), "with --write-lock: who the observed baseline is recorded as proposed by")
	saveRetry := fs.Duration("save-retry", monitor.DefaultSaveRetry, "how long to keep trying to store a scan while the database is locked or full (0: once)")
	c.addWorkers(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.checkWorkers(); err != nil {
		return err
	}
	if !slices.Contains(report.Formats, *format) {
		return usageErr("unknown --format %q: use one of %s", *format, strings.Join(report.Formats, ", "))
	}
	threshold, err := skimguard.ParseSeverity(*failOn)
	if err != nil {
		return usageErr("--fail-on: %v", err)
	}
	a, err := c.openCrawler(ctx, e, sendAlerts)
	if err != nil {
		return err
	}
	defer a.Close()
	var seen monitor.Observations
	if *writeLock != "" {
		a.mon.Observed = seen.Add
	}
	a.mon.SaveRetry = *saveRetry
	if *saveRetry <= 0 {
		a.mon.SaveRetry = -1
	}
	// A scan the store would not take is reported all the same: the pages
	// were loaded, and what they showed must reach people.
	res, checkErr := a.mon.Check(ctx, a.pages)
	if *writeLock != "" {
		bs, err := a.mon.ProposeBaselines(ctx, &seen, *by, "observed by skimguard check; approve by merging the pull request")
		if err != nil {
			return fmt.Errorf("--write-lock: %w", err)
		}
		if err := writeFile(*writeLock, lockfile.FromBaselines(bs).Write); err != nil {
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
	if n := res.NotStored(); n > 0 {
		return fmt.Errorf("the scans of %d page(s) could not be stored, so the report is their only record: %w", n, checkErr)
	}
	if checkErr != nil {
		return checkErr
	}
	if n := res.Failed(); n > 0 {
		return fmt.Errorf("%d page(s) could not be checked", n)
	}
	if anyAtLeast(res.Findings(), threshold) {
		return errFindings
	}
	return nil
}

// anyAtLeast reports whether a finding is as severe as threshold or more.
func anyAtLeast(fs []skimguard.Finding, threshold skimguard.Severity) bool {
	return slices.ContainsFunc(fs, func(f skimguard.Finding) bool { return f.Severity.Rank() >= threshold.Rank() })
}
