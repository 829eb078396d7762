package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/egress"
	"github.com/skimguard/skimguard/metrics"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/postgres"
	"github.com/skimguard/skimguard/schedule"
	"github.com/skimguard/skimguard/sqlite"
	"github.com/skimguard/skimguard/web"
)

func runServe(ctx context.Context, e env, args []string) error {
	fs, c := newFlags(e, "serve", "serve [--listen ADDR] [--url URL] [--trusted-proxy CIDR]... [--workers N] [--jitter D] [--check-timeout D] [--grace D] [flags]",
		"Run as a daemon: check each page once at start, then on its site's schedule (sites.yaml); store every\n"+
			"scan and finding, and tell each configured alert channel about each open finding once, retrying failed\n"+
			"deliveries until they succeed (with no channel at all it says so loudly; findings are logged either\n"+
			"way). Serves the web interface and JSON API on --listen: sign in as a user from `skimguard user add`,\n"+
			"or call the API with $SKIMGUARD_API_TOKEN as a Bearer token. SIGHUP reloads sites.yaml, its pages and\n"+
			"alert channels (an invalid file, or a channel whose secret's environment variable is unset, is logged\n"+
			"and the running configuration kept; checks under way keep their channels; database, egress, browsers\n"+
			"and browser_proxy take effect at the next start, as the reload's log says). SIGTERM or Ctrl-C starts\n"+
			"no new check, lets those under way finish for up to --grace, stops the rest (stored as stopped, not\n"+
			"as failed), then exits.")
	listen := fs.String("listen", "127.0.0.1:8080", "address of the web interface and API (\"off\": none)")
	publicURL := fs.String("url", "", "the address people reach the web interface at, for links in alerts; https:// makes cookies Secure (default: http://LISTEN)")
	c.addWorkers(fs)
	jitter := fs.Duration("jitter", schedule.DefaultJitter, "each run waits a random time up to this first, so pages do not all start together (0: none)")
	checkTimeout := fs.Duration("check-timeout", schedule.DefaultTimeout, "how long one check may take before it is stopped and stored as failed")
	grace := fs.Duration("grace", 30*time.Second, "on SIGTERM or Ctrl-C, how long checks under way may go on to finish; those still running then are stopped and stored as stopped, never as failed (0: stop them at once)")
	var proxyFlags stringList
	fs.Var(&proxyFlags, "trusted-proxy", "a proxy in front of the web interface, as an address or CIDR range (repeatable): its X-Forwarded-For names the client, for sign-in throttling and the audit log")
	retention := fs.Duration("report-retention", web.DefaultReportRetention, "how long shoppers' reports are kept after the last one of a kind")
	reportRate := fs.Int("report-rate", web.DefaultReportRate, "requests a minute one address may send the report collector (behind a proxy, all browsers share its address)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	proxies, err := trustedProxies(proxyFlags)
	if err != nil {
		return err
	}
	if err := c.checkWorkers(); err != nil {
		return err
	}
	if *checkTimeout <= 0 {
		return usageErr("--check-timeout must be positive")
	}
	if *grace < 0 {
		return usageErr("--grace must not be negative")
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
	// One serve per SQLite database, claimed before anything is opened: a
	// second would store and alert every scan twice. A PostgreSQL database
	// is shared by design: its serves share sessions and sign-in counts
	// through it.
	cfg, err := config.Load(c.config)
	if err != nil {
		return err
	}
	if dsn := c.dbPath(cfg); !postgres.IsURL(dsn) {
		lock, err := sqlite.LockServe(dsn)
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	// A daemon says what it does at info level, the alert policy's
	// decisions included; --verbose adds the crawler's debug log.
	c.logLevel = slog.LevelInfo
	// Listening before the browser starts: a busy address fails at once,
	// and the address is known even when --listen asked for port 0.
	var ln net.Listener
	if *listen != "off" {
		if ln, err = net.Listen("tcp", *listen); err != nil {
			return fmt.Errorf("web interface: listen on %s: %w (use --listen HOST:PORT for another address, or --listen off)", *listen, err)
		}
		// The web server's Shutdown closes it too; this is for the
		// returns before it serves.
		defer ln.Close()
		// The pages the browser loads are hostile: none may reach the
		// interface that approves findings.
		own, err := egress.OwnAddress(ln.Addr().String())
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
	warnChannels(logger, a.mon.Sinks())
	warnNoBaseline(ctx, logger, a.store, a.pages)
	// A daemon alerts a failing page once it failed twice in a row; a single
	// failure is often the network, not a skimmer blocking the scanner.
	a.mon.FailureAlertAfter = monitor.DefaultFailureAlertAfter
	m := metrics.New(a.store, logger)
	a.mon.Delivered, a.mon.SaveFailed = m.Delivered, m.SaveFailed
	a.mon.Scanned = func(s skimguard.Scan) {
		m.Scanned(s)
		// The daemon's progress: where the check's time went, and the
		// queue behind it.
		if o := s.Observation; o != nil {
			waiting, running := a.crawl.Queue()
			logger.Info("scanned", "site", s.Site, "page", s.Page, "duration", s.Duration.Round(time.Millisecond),
				"queued", o.Queued.Round(time.Millisecond), "phases", o.Phases.String(), "running", running, "waiting", waiting)
		}
	}
	var pages atomic.Pointer[[]skimguard.Page]
	pages.Store(&a.pages)
	// The approval rule, like the pages, follows a reloaded sites.yaml.
	var rule atomic.Pointer[skimguard.Approvals]
	rule.Store(&a.cfg.Approvals)
	a.mon.Approvals = func() skimguard.Approvals { return *rule.Load() }
	if *jitter == 0 {
		*jitter = -1 // the scheduler reads 0 as its default
	}
	inMemory := &schedule.Scheduler{
		Workers: c.workers,
		// A check's timeout starts once the browser has room for it.
		Admit:   a.crawl.Admit,
		Jitter:  *jitter,
		Grace:   *grace,
		Timeout: *checkTimeout,
		Logger:  logger,
		// A new install, or a page added by a reload, is not left
		// unchecked until its schedule first comes due.
		CheckAtStart: true,
		Check: func(ctx context.Context, p skimguard.Page) {
			res, err := a.mon.Check(ctx, []skimguard.Page{p})
			if err != nil && len(res.Pages) == 0 {
				logger.Error("check could not be stored", "site", p.Site, "page", p.Name, "err", err)
				return
			}
			pr := res.Pages[0]
			if err != nil {
				// A scan not stored was still alerted, findings and all.
				logger.Error("checked, but not stored", "site", p.Site, "page", p.Name, "status", pr.Status, "findings", len(pr.Findings), "err", err)
			}
			logFindings(ctx, logger, p, pr.Findings)
			switch {
			case pr.Status == skimguard.CheckFailed && errors.Is(ctx.Err(), context.Canceled):
				logger.Info("check stopped before it completed", "site", p.Site, "page", p.Name)
				return
			case pr.Status == skimguard.CheckFailed:
				logger.Warn("checked", "site", p.Site, "page", p.Name, "status", pr.Status, "err", pr.Error)
				return
			}
			logger.Info("checked", "site", p.Site, "page", p.Name, "status", pr.Status, "findings", len(pr.Findings))
		},
	}
	// The serves of a PostgreSQL database share its checks through River's
	// queue in it; a SQLite file has one serve, which schedules in memory.
	sched := newScheduler(a, inMemory)
	m.WatchQueue(sched.Queue)
	var ui *http.Server
	if ln != nil {
		base, _ := uiURL(cmp.Or(*publicURL, "http://"+ln.Addr().String()))
		a.mon.Link = func(al alerts.Alert) string { return web.Link(base, al) }
		collector, err := shoppersCollector(a, m, *retention, *reportRate)
		if err != nil {
			return err
		}
		if ui, err = startUI(ctx, token, proxies, a, ln, base, m, collector, func() []skimguard.Page { return *pages.Load() }, sched, logger); err != nil {
			return err
		}
	}

	// The sweep retries alerts between checks; poked at start and after a
	// reload, it tells a channel that appeared at once. It ends before the
	// store closes.
	poke := make(chan struct{}, 1)
	poke <- struct{}{}
	var sweeping sync.WaitGroup
	defer sweeping.Wait()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	sweeping.Go(func() { sweep(sweepCtx, a.mon, func() []skimguard.Page { return *pages.Load() }, poke, logger) })

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if cfg, ps := reload(ctx, c, e, a.cfg, sched, a.mon, logger); cfg != nil {
					pages.Store(&ps)
					rule.Store(&cfg.Approvals)
					select {
					case poke <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	logger.Info("serving", "config", c.config, "pages", len(jobs), "workers", c.workers, "alert_channels", alerts.Names(a.mon.Sinks()))
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

// sweepEvery is how often serve retries undelivered alerts between checks.
const sweepEvery = time.Minute

// sweep redelivers the alerts that are due (monitor.Redeliver) every
// sweepEvery and whenever poke says so, until ctx ends.
func sweep(ctx context.Context, mon *monitor.Monitor, pages func() []skimguard.Page, poke <-chan struct{}, logger *slog.Logger) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-poke:
		}
		// Bounds the store's reads; deliveries under way finish regardless.
		sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := mon.Redeliver(sctx, pages())
		cancel()
		if err != nil && ctx.Err() == nil {
			logger.Error("undelivered alerts could not be retried; trying again in a minute", "err", err)
		}
	}
}

// reload reads sites.yaml again and swaps in its pages and alert channels,
// returning the configuration and its pages. A file that is invalid, or names a channel that
// cannot be built (its secret's environment variable unset), changes
// nothing, as does a journey whose variables have no value in the
// environment: it is logged, the running configuration stays and reload
// returns nil. Checks under way keep the channels they started with.
// Settings read only at start (started: the configuration serve started
// with) keep their running values, and a change to them is warned about.
func reload(ctx context.Context, c *common, e env, started *config.Config, sched scheduler, mon *monitor.Monitor, logger *slog.Logger) (*config.Config, []skimguard.Page) {
	cfg, err := config.Load(c.config)
	if err == nil {
		var jobs []schedule.Job
		var sinks []alerts.Sink
		if jobs, err = jobsOf(cfg, c.sites); err == nil {
			// Built before the jobs are swapped, so that a channel that
			// cannot be built leaves everything as it was.
			if sinks, err = alertSinks(cfg, e.getenv); err != nil {
				err = fmt.Errorf("alert channel: %w", err)
			} else {
				err = config.CheckEnv(jobPages(jobs), e.getenv)
			}
		}
		if err == nil {
			err = sched.Reload(jobs)
		}
		if err == nil {
			mon.SetSinks(sinks)
			logger.Info("reloaded", "config", c.config, "pages", len(jobs), "alert_channels", alerts.Names(sinks), "approvals", cfg.Approvals)
			if keys := started.NeedsRestart(cfg); len(keys) > 0 {
				logger.Warn("changed settings take effect at the next start; until then the running ones stay", "config", c.config, "keys", strings.Join(keys, ","))
			}
			warnSlow(logger, jobs)
			warnChannels(logger, sinks)
			pages := jobPages(jobs)
			warnNoBaseline(ctx, logger, mon.Store, pages)
			return cfg, pages
		}
	}
	logger.Error("reload refused; the running configuration stays", "config", c.config, "err", err)
	return nil, nil
}

// uiURL parses the address people reach the web interface at.
func uiURL(public string) (*url.URL, error) {
	u, err := url.Parse(public)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr("--url %q: give the address people open, like https://skimguard.example.com", public)
	}
	return u, nil
}

// trustedProxies reads the --trusted-proxy values: addresses or CIDR ranges.
func trustedProxies(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, usageErr("--trusted-proxy %q: give the proxy's address or a CIDR range, such as 10.0.0.5 or 10.0.0.0/24", v)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// startUI serves the web interface on ln until Shutdown.
func startUI(ctx context.Context, token string, proxies []netip.Prefix, a *app, ln net.Listener, base *url.URL, m *metrics.Metrics, collector *web.Collector, pages func() []skimguard.Page, sched scheduler, logger *slog.Logger) (*http.Server, error) {
	h, err := web.New(web.Options{
		Store: a.store, Resolve: a.mon.Resolve, Pages: pages, Metrics: m.Handler(), Token: token,
		NextCheck:      sched.NextRun,
		Channels:       func() []string { return alerts.Names(a.mon.Sinks()) },
		TrustedProxies: proxies, SecureCookies: base.Scheme == "https", Logger: logger, Collector: collector,
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

// warnChannels says loudly when findings go to no alert channel: a monitor
// nobody hears. It warns too of channels that share a name, which the
// delivery log cannot tell apart.
func warnChannels(logger *slog.Logger, sinks []alerts.Sink) {
	if len(sinks) == 0 {
		logger.Error("no alert channel: nobody will be told about findings, which are only logged and shown in the web interface; " +
			"add one under alerts: in sites.yaml (webhook, slack or email) and reload with kill -HUP")
		return
	}
	seen := map[string]bool{}
	for _, name := range alerts.Names(sinks) {
		if seen[name] {
			logger.Warn("two alert channels share a name, so the delivery log cannot tell them apart: a finding told to one counts as told to the other", "channel", name)
		}
		seen[name] = true
	}
}

// warnNoBaseline warns about each page that has no baseline yet, and so is
// not checked, saying how to take one.
func warnNoBaseline(ctx context.Context, logger *slog.Logger, store skimguard.Store, pages []skimguard.Page) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bs, err := store.Baselines(ctx, nil)
	if err != nil {
		logger.Error("cannot read the baselines to say which pages have none", "err", err)
		return
	}
	for _, p := range pages {
		if !slices.ContainsFunc(bs, func(b skimguard.Baseline) bool { return b.Site == p.Site && b.Page == p.Name }) {
			logger.Warn("page not checked: "+monitor.NoBaseline(p), "site", p.Site, "page", p.Name)
		}
	}
}

// logFindings logs each finding of a check, critical and high ones as
// errors and the others as warnings: the log hears of them even when no
// channel does. It logs what names a finding, never its evidence, and masks
// any card number in its subject, as alerts do.
func logFindings(ctx context.Context, logger *slog.Logger, p skimguard.Page, fs []skimguard.Finding) {
	for _, f := range fs {
		if f.ID == 0 {
			continue // a failure notice: the check's own line says it
		}
		level := slog.LevelWarn
		if f.Severity.Rank() >= skimguard.SeverityHigh.Rank() {
			level = slog.LevelError
		}
		msg := "finding still open"
		if f.FirstSeen.Equal(f.LastSeen) {
			msg = "finding opened"
		}
		logger.Log(ctx, level, msg, "site", p.Site, "page", p.Name, "finding", f.ID,
			"severity", f.Severity, "kind", f.Kind, "subject", carddata.MaskPANs(f.Subject))
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
