package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
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
//   - cpu-s/check: CPU time of skimguard (this process, the benchmark's
//     own memory sampling left out) and of Chromium (its browser, renderers
//     and helpers) over the checks; the demo shop serves from a process of
//     its own, whose CPU is not counted, as a monitored shop's is not;
//   - chromium-cpu-s/check and go-cpu-s/check: the two parts of it;
//   - shop-cpu-s/check: the shop's, apart;
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
	shop := startShopProcess(b)
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
func checksPerMinute(b *testing.B, shop *shopProcess, workers, n int) {
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
		// The thread may have run other goroutines before: only what it
		// uses from here on is the sampler's.
		before := threadCPU()
		defer func() { samplerCPU = threadCPU() - before }()
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
	cpu0, shop0, self0 := treeCPU(os.Getpid()), shop.cpu(), selfCPU()
	b.ResetTimer()
	if err := sched.Run(runCtx, jobs); err != nil {
		b.Fatal(err)
	}
	end := time.Now()
	b.StopTimer()
	cpu1, shop1, self1 := treeCPU(os.Getpid()), shop.cpu(), selfCPU()
	close(stopSampling)
	sampler.Wait()
	if failed.Load() > 0 {
		b.Errorf("%d of %d checks failed", failed.Load(), n)
	}
	elapsed := end.Sub(time.Unix(0, firstStart.Load()))
	b.ReportMetric(float64(n)/elapsed.Minutes(), "checks/min")
	perCheck := func(d time.Duration) float64 { return d.Seconds() / float64(n) }
	total, shopCPU, goCPU := cpu1-cpu0-(shop1-shop0)-samplerCPU, shop1-shop0, self1-self0-samplerCPU
	b.ReportMetric(perCheck(total), "cpu-s/check")
	b.ReportMetric(perCheck(total-goCPU), "chromium-cpu-s/check")
	b.ReportMetric(perCheck(goCPU), "go-cpu-s/check")
	b.ReportMetric(perCheck(shopCPU), "shop-cpu-s/check")
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
func threadCPU() time.Duration { return rusage(rusageThread) }

// selfCPU is the CPU time of this process, its children left out.
func selfCPU() time.Duration { return rusage(syscall.RUSAGE_SELF) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusageThread is Linux's RUSAGE_THREAD.
const rusageThread = 1

// treeCPU is the CPU time of process pid and its descendants, 0 when it is
// gone.
func treeCPU(pid int) time.Duration {
	d, _ := host.TreeCPU(pid)
	return d
}

// shopProcessEnv makes this test binary serve the demo shop instead of
// running tests (TestMain reads it).
const shopProcessEnv = "SKIMGUARD_BENCH_SHOP"

// shopProcess is the demo shop served by a process of its own, so that
// the benchmark tells its CPU apart from skimguard's.
type shopProcess struct {
	checkout string
	pid      int
}

func (s *shopProcess) CheckoutURL() string { return s.checkout }

// cpu is the CPU time the shop's process has used.
func (s *shopProcess) cpu() time.Duration { return treeCPU(s.pid) }

// startShopProcess runs this test binary as the demo shop; it stops when
// the benchmark ends.
func startShopProcess(b testing.TB) *shopProcess {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), shopProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the shop stops when its input ends
		cmd.Wait()    //nolint:errcheck // it was told to stop
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the demo shop's process did not say its address: %v", err)
	}
	return &shopProcess{checkout: strings.TrimSpace(line), pid: cmd.Process.Pid}
}

// serveShopProcess serves the demo shop until standard input ends, after
// printing its checkout's URL; it returns the exit code.
func serveShopProcess() int {
	shop, err := demo.Start(context.Background(), demo.Options{Port: 0})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shop.Close()
	fmt.Println(shop.CheckoutURL())
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck // returns when the benchmark closes it
	return 0
}

// descendantsPSS is the PSS of this process's descendants, in bytes: the
// browsers and their renderers.
func descendantsPSS() int64 {
	total, _ := host.TreeMemory(os.Getpid())
	return total - host.ProcessMemory(os.Getpid())
}
