package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/lockfile"
	"github.com/skimguard/skimguard/report"
)

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

func countFailed(r report.Result) int {
	n := 0
	for _, p := range r.Pages {
		if p.Status == report.PageFailed {
			n++
		}
	}
	return n
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
