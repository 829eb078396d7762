package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/schedule"
)

func runServe(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "serve", "serve [--workers N] [flags]",
		"Run as a daemon: check each site's pages on its schedule (sites.yaml), store every scan and finding, and\n"+
			"alert through the configured channels. SIGHUP reloads sites.yaml (an invalid file is logged and the running\n"+
			"configuration kept); SIGTERM or Ctrl-C lets running checks finish, then exits.")
	workers := fs.Int("workers", schedule.DefaultWorkers, "checks run at once (each is one browser tab)")
	jitter := fs.Duration("jitter", schedule.DefaultJitter, "each run waits a random time up to this first, so pages do not all start together (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *workers < 1 {
		return usageErr("--workers must be at least 1")
	}
	a, err := c.open(ctx, e, true)
	if err != nil {
		return err
	}
	defer a.Close()
	// A daemon says what it does at info level; --verbose adds the crawler's
	// debug log.
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	jobs, err := jobsOf(a.cfg, c.sites)
	if err != nil {
		return err
	}
	warnSlow(logger, jobs)
	// A daemon alerts a failing page once it failed twice in a row; a single
	// failure is often the network, not a skimmer blocking the scanner.
	a.mon.FailureAlertAfter = monitor.DefaultFailureAlertAfter
	if *jitter == 0 {
		*jitter = -1 // the scheduler reads 0 as its default
	}
	sched := &schedule.Scheduler{
		Workers: *workers,
		Jitter:  *jitter,
		Logger:  logger,
		Check: func(ctx context.Context, p skimguard.Page) {
			res, err := a.mon.Check(ctx, []skimguard.Page{p})
			if err != nil {
				logger.Error("check could not be stored", "site", p.Site, "page", p.Name, "err", err)
				return
			}
			logger.Info("checked", "site", p.Site, "page", p.Name, "status", res.Pages[0].Status, "findings", len(res.Findings))
		},
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(c, sched, logger)
			}
		}
	}()
	logger.Info("serving", "config", c.config, "pages", len(jobs), "workers", *workers)
	err = sched.Run(ctx, jobs)
	logger.Info("stopped")
	return err
}

// reload reads sites.yaml again; a bad file leaves the running jobs alone.
func reload(c *common, sched *schedule.Scheduler, logger *slog.Logger) {
	cfg, err := config.Load(c.config)
	if err == nil {
		var jobs []schedule.Job
		if jobs, err = jobsOf(cfg, c.sites); err == nil {
			err = sched.Reload(jobs)
		}
		if err == nil {
			logger.Info("reloaded", "config", c.config, "pages", len(jobs))
			warnSlow(logger, jobs)
			return
		}
	}
	logger.Error("reload refused; the running configuration stays", "config", c.config, "err", err)
}

// warnSlow warns about pages checked less often than PCI DSS 11.6.1's weekly.
func warnSlow(logger *slog.Logger, jobs []schedule.Job) {
	for _, w := range schedule.SlowerThanWeekly(jobs) {
		logger.Warn(w)
	}
}

// jobsOf makes the scheduler's jobs from the configured pages of the sites.
func jobsOf(cfg *config.Config, sites []string) ([]schedule.Job, error) {
	pages, err := cfg.Pages(sites)
	if err != nil {
		return nil, err
	}
	spec := map[string]string{}
	for _, s := range cfg.Sites {
		spec[s.Name] = s.Schedule
	}
	var jobs []schedule.Job
	for _, p := range pages {
		if spec[p.Site] == "" {
			return nil, fmt.Errorf("site %s has no schedule", p.Site)
		}
		jobs = append(jobs, schedule.Job{Page: p, Spec: spec[p.Site]})
	}
	return jobs, nil
}
