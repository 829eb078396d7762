package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/csp"
	"github.com/skimguard/skimguard/monitor"
)

// cspObservations is how many stored loads of a page the csp command reads
// to tell stable scripts from varying ones: a day of hourly checks.
const cspObservations = 24

func runCSP(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "csp", "csp [--site S] [--page P] [--report-to URL] [--enforce] [flags]",
		"Print, for each page with an approved baseline, the headers to add to the payment page so that shoppers'\n"+
			"browsers enforce the baseline and report what they run to skimguard: a Content-Security-Policy (Report-Only\n"+
			"unless --enforce) listing the baseline's scripts, destinations, frames and form targets with 'report-sha256',\n"+
			"Reporting-Endpoints naming the collector, Integrity-Policy-Report-Only, and the integrity attributes of its\n"+
			"stable scripts. Comment lines (#) explain each directive and warn where the policy would break the page as\n"+
			"observed. --report-to is the collector URL `skimguard reports token SITE` prints.")
	page := fs.String("page", "", "only this page")
	reportTo := fs.String("report-to", "", "the collector's URL for the site (from `skimguard reports token SITE`)")
	enforce := fs.Bool("enforce", false, "print the blocking Content-Security-Policy instead of the Report-Only one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("csp takes no arguments, got %q: name pages with --site and --page", fs.Args())
	}
	if *reportTo != "" {
		if u, err := url.Parse(*reportTo); err != nil || u.Scheme != "https" || u.Host == "" {
			return usageErr("--report-to %q: give the https:// URL `skimguard reports token SITE` prints (browsers send reports to HTTPS only)", *reportTo)
		}
	}
	a, err := c.openStore(ctx, e)
	if err != nil {
		return err
	}
	defer a.Close()
	bs, err := a.approved(ctx, c.sites)
	if err != nil {
		return err
	}
	if *page != "" {
		bs = slices.DeleteFunc(bs, func(b skimguard.Baseline) bool { return b.Page != *page })
		if len(bs) == 0 {
			return fmt.Errorf("--page %s: no approved baseline of a page of that name: take one with `skimguard baseline`", *page)
		}
	}
	if *reportTo != "" {
		for _, b := range bs[1:] {
			if b.Site != bs[0].Site {
				return usageErr("--report-to is one site's collector, and these pages are of %s and %s: name the site with --site", bs[0].Site, b.Site)
			}
		}
	}
	for i := range bs {
		b := &bs[i]
		obs, err := monitor.RecentObservations(ctx, a.store, b.Site, b.Page, cspObservations)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		p := csp.Generate(b, obs, csp.Options{ReportTo: *reportTo, Enforce: *enforce})
		if err := p.Write(e.stdout); err != nil {
			return err
		}
	}
	return nil
}
