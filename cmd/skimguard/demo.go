package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/demo"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/report"
	"github.com/skimguard/skimguard/sqlite"
)

func runDemo(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	port := fs.Int("port", demo.DefaultPort, "port of the demo shop's origins (127.0.0.1, .2, .3 and .66)")
	serve := fs.Bool("serve", false, "only serve the demo shop until interrupted, for use with sites.yaml")
	planted := fs.Bool("planted", false, "with --serve: serve the checkout with the skimmer planted")
	db := fs.String("db", "", "database for the demo (default: a new one in a temporary directory)")
	chromium := fs.String("chromium", e.getenv("SKIMGUARD_CHROMIUM"), "the Chromium binary (default: found in PATH)")
	verbose := fs.Bool("verbose", false, "log what the crawler does")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: skimguard demo [--port N] [--serve [--planted]] [--db FILE]\n\n"+
			"Start the built-in demo shop on loopback, take its baseline, plant an fx-on-style skimmer (an inline\n"+
			"script that sends the card to another origin), check it and show the findings. With --serve, only run\n"+
			"the shop, so that the repository's sites.yaml can be scanned with the other commands.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	shop, err := demo.Start(ctx, demo.Options{Port: *port})
	if err != nil {
		return err
	}
	defer shop.Close()
	out := e.stdout
	if *serve {
		if *planted {
			shop.Plant()
		}
		fmt.Fprintf(out, "demo shop serving: checkout %s (provider %s, analytics %s, attacker %s)\nskimmer planted: %v. Stop with Ctrl-C.\n",
			shop.CheckoutURL(), shop.ProviderURL, shop.CDNURL, shop.AttackerURL, *planted)
		<-ctx.Done()
		return nil
	}

	path := *db
	if path == "" {
		dir, err := os.MkdirTemp("", "skimguard-demo-")
		if err != nil {
			return fmt.Errorf("demo: make a temporary directory: %w", err)
		}
		path = filepath.Join(dir, "demo.db")
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	logger := newLogger(e.stderr, slog.LevelWarn, *verbose)
	cr, err := crawler.New(ctx, crawler.Options{ExecPath: *chromium, Logger: logger})
	if err != nil {
		return err
	}
	defer cr.Close()
	mon := &monitor.Monitor{Scanner: cr, Store: store, Logger: logger}
	page := skimguard.Page{Site: "demo-shop", Name: "checkout", URL: shop.CheckoutURL(), Wait: 3 * time.Second, Interact: true, Profile: skimguard.ProfileDesktop}
	pages := []skimguard.Page{page}

	fmt.Fprintf(out, "skimguard demo: the shop's checkout is %s; its card form posts to the provider %s.\n\n", page.URL, shop.ProviderURL)
	fmt.Fprintf(out, "1. Onboarding: load the clean checkout 3 times, learn what varies between loads, approve it as the baseline.\n")
	bs, err := mon.Learn(ctx, pages, monitor.LearnOptions{Samples: 3, By: "demo", Reason: "demo onboarding: the shop as deployed"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   baseline version %d: %d approved items (scripts, frames, forms, destinations, headers, card-data receivers, scripts that see the card).\n\n", bs[0].Version, len(bs[0].Items))

	fmt.Fprintf(out, "2. Check the unchanged shop. Nonces, CSRF tokens, cache busters, session ids and the A/B test vary; nothing should be flagged.\n")
	res, err := mon.Check(ctx, pages)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %s\n\n", report.Summary(res))
	if len(res.Findings()) > 0 {
		report.Text(out, res)
		return errors.New("demo: the unchanged shop gave findings; please report this as a bug")
	}

	fmt.Fprintf(out, "3. An attacker stores an inline script in the shop's database (fx-on.com, 2017: 21 months, 9,822 cards).\n")
	fmt.Fprintf(out, "   skimguard checks again, types a test card like a shopper, and watches where it goes:\n\n")
	shop.Plant()
	res, err = mon.Check(ctx, pages)
	if err != nil {
		return err
	}
	if err := report.Text(out, res); err != nil {
		return err
	}
	for _, s := range shop.Stolen() {
		fmt.Fprintf(out, "   (the attacker's server received: %s)\n", s)
	}
	caught := false
	for _, f := range res.Findings() {
		caught = caught || f.Kind == skimguard.KindDataExfiltration
	}
	if !caught {
		return errors.New("demo: the planted skimmer's exfiltration was not caught; please report this as a bug")
	}
	prog := os.Args[0]
	fmt.Fprintf(out, "\nThe findings are stored in %s. Review them with\n  %s findings --db %s\nand approve or reject each with a justification:\n  %s reject ID --reason \"skimmer, removed in incident 42\" --db %s\n",
		path, prog, path, prog, path)
	return nil
}
