package river

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	rq "github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

type noopArgs struct{ N int }

func (noopArgs) Kind() string { return "skimguard_bench_noop" }

type noopWorker struct {
	rq.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *rq.Job[noopArgs]) error { return nil }

// BenchmarkClaimThroughput measures how many jobs a second River claims,
// works (a no-op) and completes on the test PostgreSQL with one client and
// 20 workers: the queue's own cost, next to which a check (seconds of a
// browser) is what limits a deployment.
//
//	go test ./river -run '^$' -bench ClaimThroughput
func BenchmarkClaimThroughput(b *testing.B) {
	cfg, err := pgxpool.ParseConfig(pg.Database(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 30
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	ws := rq.NewWorkers()
	rq.AddWorker(ws, noopWorker{})
	client, err := rq.NewClient(riverpgxv5.New(pool), &rq.Config{
		Schema:            Schema,
		Queues:            map[string]rq.QueueConfig{queue: {MaxWorkers: 20}},
		Workers:           ws,
		FetchCooldown:     time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	done, cancel := client.Subscribe(rq.EventKindJobCompleted)
	defer cancel()
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer client.Stop(ctx)
	const batch = 500
	params := make([]rq.InsertManyParams, batch)
	for i := range params {
		params[i] = rq.InsertManyParams{Args: noopArgs{i}, InsertOpts: &rq.InsertOpts{Queue: queue}}
	}
	start := time.Now()
	jobs := 0
	for b.Loop() {
		if _, err := client.InsertMany(ctx, params); err != nil {
			b.Fatal(err)
		}
		for range batch {
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatal("jobs not completed in a minute")
			}
		}
		jobs += batch
	}
	b.ReportMetric(float64(jobs)/time.Since(start).Seconds(), "jobs/s")
}
