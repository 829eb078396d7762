package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/demo"
	"github.com/skimguard/skimguard/internal/host"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/schedule"
	"github.com/skimguard/skimguard/sqlite"
)

// BenchmarkChecksPerMinute runs checks of the demo shop's checkout (it
// varies on every load; the test card is typed) with the DEFAULT 12 s
// window, through the path serve takes: a Scheduler admitting each check
// through the crawler, Monitor.Check comparing it with its baseline and
// storing it in SQLite. It runs 3 checks per concurrent page at --workers
// 1, 4 and the machine's default (crawler.DefaultConcurrency), all due at
// once as at serve's start, and reports:
//
//   - checks/min: checks done over the time from the first start to the
//     last end;
//   - cpu-s/check: CPU time of this process and its children (Chromium,
//     renderers included, and the shop, which runs in this process) over
//     the checks, the benchmark's own memory sampling left out;
//   - browser-MB/page: the peak PSS of Chromium above its idle PSS, over
//     the peak of scans running at once;
//   - go-rss-MB: the peak resident size of this process;
//   - peak-running: the most checks that ran at once;
//   - load1 and cpu-pressure-%: the machine's one-minute load average and
//     its CPU pressure (the share of the last 10 s some task waited for a
//     CPU) when the level ended, to tell a busy machine's numbers apart.
//
// Checks are admitted as serve admits them: on a machine that other work
// keeps short of CPU, fewer run at once (peak-running tells), and the
// figures measure that ceiling rather than the overlap of windows.
//
// Run it with
//
//	go test ./e2e -run '^$' -bench ChecksPerMinute -benchtime 1x -timeout 30m
func BenchmarkChecksPerMinute(b *testing.B) {
	if testing.Short() {
		b.Skip("needs Chromium")
	}
	shop, err := demo.Start(context.Background(), demo.Options{Port: 0})
	if err != nil {
		b.Fatal(err)
	}
	defer shop.Close()
	levels := []int{1, 4}
	if d := crawler.DefaultConcurrency(); d > 4 {
		levels = append(levels, d)
	}
	for _, workers := range levels {
		name := strconv.Itoa(workers)
		if workers == crawler.DefaultConcurrency() {
			name += "-default"
		}
		b.Run("workers="+name, func(b *testing.B) {
			for range b.N {
				checksPerMinute(b, shop, workers, 3*workers)
			}
		})
	}
}

// checksPerMinute checks n pages of shop, workers at once, and reports.
func checksPerMinute(b *testing.B, shop *demo.Shop, workers, n int) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cr, err := crawler.New(ctx, crawler.Options{MaxConcurrent: workers})
	if err != nil {
		b.Fatal(err)
	}
	defer cr.Close()
	mon := &monitor.Monitor{Scanner: cr, Store: store, Concurrency: workers}

	// One baseline, learnt from a short load, serves every page: the
	// benchmark measures checking, not learning.
	proto := skimguard.Page{Site: "bench", Name: "learn", URL: shop.CheckoutURL(), Interact: true, Wait: 2 * time.Second}
	bs, err := mon.Learn(ctx, []skimguard.Page{proto}, monitor.LearnOptions{Samples: 1, By: "bench", Reason: "benchmark"})
	if err != nil {
		b.Fatal(err)
	}
	jobs := make([]schedule.Job, n)
	for i := range jobs {
		p := skimguard.Page{Site: "bench", Name: fmt.Sprintf("checkout-%02d", i), URL: shop.CheckoutURL(), Interact: true}
		base := *bs[0]
		base.Page, base.ID, base.Version = p.Name, 0, 0
		if err := store.SaveBaseline(ctx, &base); err != nil {
			b.Fatal(err)
		}
		jobs[i] = schedule.Job{Page: p, Spec: "@every 24h"}
	}
	time.Sleep(time.Second)
	idleBrowser := descendantsPSS()

	var peakGo, peakBrowser, peakRunning atomic.Int64
	// Reading Chromium's PSS walks its page tables, in this process's
	// kernel time: the sampler runs on a thread of its own, whose CPU time
	// is taken out of the checks'.
	var samplerCPU time.Duration
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer func() { samplerCPU = threadCPU() }()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				_, r := cr.Queue()
				storeMax(&peakRunning, int64(r))
				if i%4 != 0 {
					continue
				}
				if v, ok := host.Status("self", "VmRSS"); ok {
					kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
					storeMax(&peakGo, kb<<10)
				}
				storeMax(&peakBrowser, descendantsPSS())
			}
		}
	})

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var done, failed atomic.Int64
	var firstStart atomic.Int64
	sched := &schedule.Scheduler{
		Workers: workers, Jitter: -1, CheckAtStart: true, Admit: cr.Admit,
		Check: func(ctx context.Context, p skimguard.Page) {
			firstStart.CompareAndSwap(0, time.Now().UnixNano())
			res, err := mon.Check(ctx, []skimguard.Page{p})
			if err != nil || res.Pages[0].Status == skimguard.CheckFailed {
				failed.Add(1)
				b.Logf("%s: %v %s", p.Name, err, res.Pages[0].Error)
			}
			if done.Add(1) == int64(n) {
				stop()
			}
		},
	}
	cpu0, _ := host.TreeCPU(os.Getpid())
	b.ResetTimer()
	if err := sched.Run(runCtx, jobs); err != nil {
		b.Fatal(err)
	}
	end := time.Now()
	b.StopTimer()
	cpu1, _ := host.TreeCPU(os.Getpid())
	close(stopSampling)
	sampler.Wait()
	if failed.Load() > 0 {
		b.Errorf("%d of %d checks failed", failed.Load(), n)
	}
	elapsed := end.Sub(time.Unix(0, firstStart.Load()))
	b.ReportMetric(float64(n)/elapsed.Minutes(), "checks/min")
	b.ReportMetric((cpu1-cpu0-samplerCPU).Seconds()/float64(n), "cpu-s/check")
	if r := peakRunning.Load(); r > 0 {
		b.ReportMetric(float64(peakBrowser.Load()-idleBrowser)/float64(r)/(1<<20), "browser-MB/page")
	}
	b.ReportMetric(float64(peakGo.Load())/(1<<20), "go-rss-MB")
	b.ReportMetric(float64(peakRunning.Load()), "peak-running")
	if l, ok := host.LoadPerCPU(); ok {
		b.ReportMetric(l*float64(runtime.NumCPU()), "load1")
	}
	if p, ok := host.CPUPressure(); ok {
		b.ReportMetric(p, "cpu-pressure-%")
	}
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusageThread is Linux's RUSAGE_THREAD.
const rusageThread = 1

// descendantsPSS is the PSS of this process's descendants, in bytes: the
// browsers and their renderers.
func descendantsPSS() int64 {
	total, _ := host.TreeMemory(os.Getpid())
	return total - host.ProcessMemory(os.Getpid())
}
