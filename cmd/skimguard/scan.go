package main

import (
	"context"
	"fmt"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

func runScan(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "scan", "scan [--workers N] [flags]", "Scan the pages and store what each showed, without comparing.")
	c.addWorkers(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.checkWorkers(); err != nil {
		return err
	}
	a, err := c.openCrawler(ctx, e, noAlerts)
	if err != nil {
		return err
	}
	defer a.Close()
	scans, err := a.mon.Observe(ctx, a.pages)
	for _, s := range scans {
		if s.Status == skimguard.ScanFailed {
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
