package main

import (
	"context"
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
	// Queue says how many checks wait for room and how many run, for
	// the metrics.
	Queue() (waiting, running int)
}

// newScheduler returns the scheduler for a's database: s itself on
// SQLite, on PostgreSQL a river.Runner with s's settings.
func newScheduler(a *app, s *schedule.Scheduler) scheduler {
	db, ok := a.store.(*postgres.DB)
	if !ok {
		return s
	}
	return &river.Runner{
		Pool:  db.PoolConfig(),
		Check: s.Check,
		GiveUp: func(ctx context.Context, p skimguard.Page, reason string) {
			if err := a.mon.Abandon(ctx, p, reason); err != nil {
				s.Logger.Error("a check given up could not be stored", "site", p.Site, "page", p.Name, "err", err)
			}
		},
		Workers: s.Workers, Jitter: s.Jitter, Grace: s.Grace, Timeout: s.Timeout, Logger: s.Logger,
		CheckAtStart: s.CheckAtStart,
	}
}
