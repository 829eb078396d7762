package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/metrics"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/web"
)

// reportStore is the store's side that keeps shoppers' reports: every
// database store has one; a lock file's store (--baseline-file) has none.
func reportStore(a *app) (skimguard.ReportStore, error) {
	rs, ok := a.store.(skimguard.ReportStore)
	if !ok {
		return nil, errors.New("this store keeps no shoppers' reports: they need a database, a SQLite file or a PostgreSQL URL (--db), not a lock file (--baseline-file)")
	}
	return rs, nil
}

func runReportsToken(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "reports token", "reports token SITE [--url URL] [flags]",
		"Make the site's report token, or a new one that replaces it (the old one stops working at once), and print\n"+
			"the collector URL shoppers' browsers send reports to: serve's address (--url, as people and browsers reach\n"+
			"it over HTTPS) followed by /reports/SITE/TOKEN. Give that URL to `skimguard csp --report-to`. The token is\n"+
			"shown this once: only its hash is stored.")
	base := fs.String("url", "", "the https:// address browsers reach skimguard serve at (default: a placeholder to replace)")
	by := fs.String("by", currentUser(e), "who makes the token, for the audit log")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usageErr("reports token: give one site: skimguard reports token SITE")
	}
	site := pos[0]
	if *base != "" {
		if u, err := url.Parse(*base); err != nil || u.Scheme != "https" || u.Host == "" {
			return usageErr("--url %q: give the https:// address browsers reach skimguard serve at (they send reports over HTTPS only)", *base)
		}
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.cfg != nil && !slices.ContainsFunc(a.cfg.Sites, func(s config.Site) bool { return s.Name == site }) {
		return fmt.Errorf("reports token: no site %q in %s: the collector takes reports of configured sites only", site, a.cfg.Path)
	}
	rs, err := reportStore(a)
	if err != nil {
		return err
	}
	token, hash := web.NewReportToken()
	if err := rs.SetReportToken(ctx, site, hash, *by); err != nil {
		return err
	}
	collector := strings.TrimSuffix(*base, "/") + web.ReportPath(site, token)
	if *base == "" {
		collector = "https://SKIMGUARD.EXAMPLE" + web.ReportPath(site, token)
	}
	fmt.Fprintf(e.stdout, "Report token of %s made; any earlier one no longer works.\n", site)
	fmt.Fprintf(e.stdout, "Collector URL: %s\n", collector)
	if *base == "" {
		fmt.Fprintln(e.stdout, "Replace https://SKIMGUARD.EXAMPLE with the https:// address browsers reach skimguard serve at.")
	}
	fmt.Fprintf(e.stdout, "Print the headers for the site's pages with:\n  skimguard csp --site %s --report-to %s\n", site, collector)
	fmt.Fprintln(e.stdout, "The token is shown this once: skimguard keeps only its hash.")
	return nil
}

func runReports(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "reports", "reports [--site S] [--page P] [flags]",
		"List what shoppers' browsers reported under each page's policy, most recent first: each script hash,\n"+
			"blocked destination or script without integrity, how many reports and when, and what the baseline made\n"+
			"of it when first reported (approved, finding, volatile, information, unjudged).")
	page := fs.String("page", "", "only this page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	rs, err := reportStore(a)
	if err != nil {
		return err
	}
	var all []skimguard.ShopperReport
	sites := c.sites
	if len(sites) == 0 {
		sites = []string{""}
	}
	for _, s := range sites {
		got, err := rs.Reports(ctx, skimguard.ReportFilter{Site: s, Page: *page})
		if err != nil {
			return err
		}
		all = append(all, got...)
	}
	if len(all) == 0 {
		fmt.Fprintln(e.stdout, "No shoppers' reports: add the headers `skimguard csp` prints to the pages, and run `skimguard serve`.")
		return nil
	}
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "PAGE\tREPORT\tSCRIPT OR DESTINATION\tHASH OR DIRECTIVE\tCOUNT\tFIRST\tLAST\tVERDICT")
	for _, r := range all {
		detail := r.Directive
		if r.Hash != "" {
			detail = short(strings.TrimPrefix(r.Hash, skimguard.ScriptHashPrefix))
		}
		verdict := string(r.Verdict)
		if r.FindingID != 0 {
			verdict += fmt.Sprintf(" #%d", r.FindingID)
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Site, r.Page, r.Type, clip(r.Subject, 60), detail, r.Count,
			r.FirstSeen.Local().Format("2006-01-02 15:04"), r.LastSeen.Local().Format("2006-01-02 15:04"), verdict)
	}
	return tw.Flush()
}

// shoppersCollector is serve's collector of shoppers' reports: they are
// judged and alerted through the daemon's monitor and counted in its
// metrics.
func shoppersCollector(a *app, m *metrics.Metrics, retention time.Duration, rate int) (*web.Collector, error) {
	rs, err := reportStore(a)
	if err != nil {
		return nil, err
	}
	sh := &monitor.Shoppers{Monitor: a.mon, Store: rs}
	return &web.Collector{Reports: rs, Collect: sh.Collect, Retention: retention, Rate: rate, Counter: m}, nil
}
