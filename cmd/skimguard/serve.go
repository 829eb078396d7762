package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/egress"
	"github.com/skimguard/skimguard/metrics"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/schedule"
	"github.com/skimguard/skimguard/web"
)

func runServe(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "serve", "serve [--listen ADDR] [--url URL] [--workers N] [flags]",
		"Run as a daemon: check each site's pages on its schedule (sites.yaml), store every scan and finding, and\n"+
			"alert through the configured channels. Serves the web interface and JSON API on --listen: sign in as a\n"+
			"user from `skimguard user add`, or call the API with $SKIMGUARD_API_TOKEN as a Bearer token. SIGHUP reloads\n"+
			"sites.yaml (an invalid file is logged and the running configuration kept); SIGTERM or Ctrl-C lets running\n"+
			"checks finish, then exits.")
	listen := fs.String("listen", "127.0.0.1:8080", "address of the web interface and API (\"off\": none)")
	publicURL := fs.String("url", "", "the address people reach the web interface at, for links in alerts; https:// makes cookies Secure (default: http://LISTEN)")
	workers := fs.Int("workers", schedule.DefaultWorkers, "checks run at once (each is one browser tab)")
	jitter := fs.Duration("jitter", schedule.DefaultJitter, "each run waits a random time up to this first, so pages do not all start together (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *workers < 1 {
		return usageErr("--workers must be at least 1")
	}
	if *publicURL != "" {
		if _, err := uiURL(*publicURL); err != nil {
			return err
		}
	}
	// Checked before the browser starts: a bad setting fails at once.
	token := e.getenv("SKIMGUARD_API_TOKEN")
	if token != "" && len(token) < 32 {
		return errors.New("SKIMGUARD_API_TOKEN is too short to be safe: use at least 32 random characters (openssl rand -hex 32)")
	}
	// A daemon says what it does at info level, the alert policy's
	// decisions included; --verbose adds the crawler's debug log.
	c.logLevel = slog.LevelInfo
	if *listen != "off" {
		// The pages the browser loads are hostile: none may reach the
		// interface that approves findings.
		own, err := egress.OwnAddress(*listen)
		if err != nil {
			return usageErr("--listen %q: %v", *listen, err)
		}
		c.own = append(c.own, own)
	}
	a, err := c.openCrawler(ctx, e, sendAlerts)
	if err != nil {
		return err
	}
	defer a.Close()
	logger := a.log
	jobs, err := jobsOf(a.cfg, c.sites)
	if err != nil {
		return err
	}
	warnSlow(logger, jobs)
	// A daemon alerts a failing page once it failed twice in a row; a single
	// failure is often the network, not a skimmer blocking the scanner.
	a.mon.FailureAlertAfter = monitor.DefaultFailureAlertAfter
	m := metrics.New(a.store, logger)
	a.mon.Scanned, a.mon.Delivered = m.Scanned, m.Delivered
	var pages atomic.Pointer[[]skimguard.Page]
	pages.Store(&a.pages)
	var ui *http.Server
	if *listen != "off" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("web interface: listen on %s: %w (use --listen HOST:PORT for another address, or --listen off)", *listen, err)
		}
		base, _ := uiURL(cmp.Or(*publicURL, "http://"+ln.Addr().String()))
		a.mon.Link = func(al alerts.Alert) string { return web.Link(base, al) }
		if ui, err = startUI(ctx, token, a, ln, base, m, func() []skimguard.Page { return *pages.Load() }, logger); err != nil {
			ln.Close()
			return err
		}
	}
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
			logger.Info("checked", "site", p.Site, "page", p.Name, "status", res.Pages[0].Status, "findings", len(res.Findings()))
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
				if ps := reload(c, sched, logger, e.getenv); ps != nil {
					pages.Store(&ps)
				}
			}
		}
	}()
	logger.Info("serving", "config", c.config, "pages", len(jobs), "workers", *workers)
	err = sched.Run(ctx, jobs)
	if ui != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := ui.Shutdown(sctx); err != nil {
			logger.Warn("web interface did not stop cleanly", "err", err)
		}
	}
	logger.Info("stopped")
	return err
}

// reload reads sites.yaml again and returns its pages; a bad file, or a
// journey whose variables getenv has no value for, leaves the running jobs
// alone and returns nil.
func reload(c *common, sched *schedule.Scheduler, logger *slog.Logger, getenv func(string) string) []skimguard.Page {
	cfg, err := config.Load(c.config)
	if err == nil {
		var jobs []schedule.Job
		if jobs, err = jobsOf(cfg, c.sites); err == nil {
			err = config.CheckEnv(jobPages(jobs), getenv)
		}
		if err == nil {
			err = sched.Reload(jobs)
		}
		if err == nil {
			logger.Info("reloaded", "config", c.config, "pages", len(jobs))
			warnSlow(logger, jobs)
			return jobPages(jobs)
		}
	}
	logger.Error("reload refused; the running configuration stays", "config", c.config, "err", err)
	return nil
}

// uiURL parses the address people reach the web interface at.
func uiURL(public string) (*url.URL, error) {
	u, err := url.Parse(public)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr("--url %q: give the address people open, like https://skimguard.example.com", public)
	}
	return u, nil
}

// startUI serves the web interface on ln until Shutdown.
func startUI(ctx context.Context, token string, a *app, ln net.Listener, base *url.URL, m *metrics.Metrics, pages func() []skimguard.Page, logger *slog.Logger) (*http.Server, error) {
	h, err := web.New(web.Options{
		Store: a.store, Resolve: a.mon.Resolve, Pages: pages, Metrics: m.Handler(), Token: token,
		SecureCookies: base.Scheme == "https", Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	users, err := a.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 && token == "" {
		logger.Warn("nobody can sign in to the web interface yet: add a user with `skimguard user add NAME`")
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && base.Scheme != "https" {
		logger.Warn("the web interface is served over plain HTTP beyond this machine: put TLS in front of it and pass --url https://...", "listen", ln.Addr().String())
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("web interface stopped", "err", err)
		}
	}()
	logger.Info("web interface", "url", base.String(), "listen", ln.Addr().String())
	return srv, nil
}

// warnSlow warns about pages checked less often than PCI DSS 11.6.1's weekly.
func warnSlow(logger *slog.Logger, jobs []schedule.Job) {
	for _, w := range schedule.SlowerThanWeekly(jobs) {
		logger.Warn(w)
	}
}

// jobsOf makes the scheduler's jobs from the configured pages of the sites.
// jobPages returns the pages of jobs.
func jobPages(jobs []schedule.Job) []skimguard.Page {
	pages := make([]skimguard.Page, len(jobs))
	for i, j := range jobs {
		pages[i] = j.Page
	}
	return pages
}

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
