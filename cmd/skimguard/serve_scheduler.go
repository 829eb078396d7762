package main

import (
	"context"
	"log/slog"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/postgres"
	"github.com/skimguard/skimguard/river"
	"github.com/skimguard/skimguard/schedule"
)

// scheduler runs serve's checks on their schedules: schedule.Scheduler in
// memory for a SQLite database, river.Runner through PostgreSQL for the
// serves that share one.
type scheduler interface {
	Run(ctx context.Context, jobs []schedule.Job) error
	Reload(jobs []schedule.Job) error
	NextRun(site, page string) (next time.Time, running bool)
}

// newScheduler returns the scheduler for a's database that runs check.
func newScheduler(a *app, check func(context.Context, skimguard.Page), workers int, jitter, grace, timeout time.Duration, logger *slog.Logger) (scheduler, error) {
	if db, ok := a.store.(*postgres.DB); ok {
		return &river.Runner{
			Pool:  db.PoolConfig(),
			Check: check,
			GiveUp: func(ctx context.Context, p skimguard.Page, reason string) {
				if err := a.mon.Abandon(ctx, p, reason); err != nil {
					logger.Error("a check given up could not be stored", "site", p.Site, "page", p.Name, "err", err)
				}
			},
			Workers: workers, Jitter: jitter, Grace: grace, Timeout: timeout, Logger: logger,
			CheckAtStart: true,
		}, nil
	}
	return &schedule.Scheduler{
		Check:   check,
		Workers: workers, Jitter: jitter, Grace: grace, Timeout: timeout, Logger: logger,
		// A new install, or a page added by a reload, is not left
		// unchecked until its schedule first comes due.
		CheckAtStart: true,
	}, nil
}
