package main

import (
	"context"
	"fmt"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/monitor"
)

func runBaseline(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "baseline", "baseline [--samples N] [--by NAME] [--workers N] --reason TEXT [flags]",
		"Load each page several times (learning what varies between loads) and approve what it showed as\nthe page's new baseline, recording who approved it and why. Older versions are kept.")
	samples := fs.Int("samples", 3, "page loads to learn each baseline from")
	by := fs.String("by", currentUser(e), "who approves the baseline")
	reason := fs.String("reason", "", "why this is the page's approved state (required; e.g. a change ticket)")
	c.addWorkers(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.checkWorkers(); err != nil {
		return err
	}
	if *reason == "" {
		return usageErr("baseline needs --reason: say why this page state is approved (e.g. --reason \"onboarding, reviewed by ...\")")
	}
	if *samples < 1 || *samples > 20 {
		return usageErr("--samples must be between 1 and 20")
	}
	a, err := c.openCrawler(ctx, e, noAlerts)
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
		fmt.Fprintf(e.stdout, "%s/%s: baseline version %d approved by %s from %d samples: %d scripts, %d frames, %d forms, %d destinations, %d headers, %d card-data receivers, %d scripts that see the card\n",
			b.Site, b.Page, b.Version, b.ApprovedBy, b.Samples, counts[skimguard.ItemScript], counts[skimguard.ItemFrame],
			counts[skimguard.ItemForm], counts[skimguard.ItemConnection], counts[skimguard.ItemHeader], counts[skimguard.ItemCardSink], counts[skimguard.ItemCardAccess])
	}
	return err
}
