package crawler

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skimguard/skimguard/internal/host"
)

// Sizing of DefaultConcurrency and the admission floors; see the package
// doc, "Concurrency".
const (
	// checksPerCore: a check costs about 1 CPU-second (the shopper's
	// visit, departure and card-access watch included) over the 15–25 s a
	// default 12 s window takes when many run, so one core keeps about 16
	// checks busy (BenchmarkChecksPerMinute: 84 a minute at 16 per core on
	// 2 cores, half the time a task waiting for a CPU).
	checksPerCore = 16
	// memPerPage is what one more concurrent page costs: 60–150 MB of
	// Chromium (PSS of its renderer and its share of the browser) and a
	// few MB on the Go side, rounded up.
	memPerPage = 200 << 20
	// memReserve is left to the rest of the machine when sizing.
	memReserve = 1 << 30
	// maxDefaultConcurrency caps the default on big machines: past it, one
	// browser process is the bottleneck, not the machine.
	maxDefaultConcurrency = 64

	// DefaultMinMemAvailable is Options.MinMemAvailable when not set.
	DefaultMinMemAvailable = 512 << 20
	// DefaultMaxCPUPressure is Options.MaxCPUPressure when not set: the
	// CPUs kept nothing waiting in only a tenth of the last 10 s.
	DefaultMaxCPUPressure = 90
	// maxLoadPerCPU stands in for MaxCPUPressure where the kernel has no
	// pressure stall information: four runnable tasks per CPU.
	maxLoadPerCPU = 4
	// DefaultRecycleAfter is Options.RecycleAfter when not set.
	DefaultRecycleAfter = 500
	// idleBrowserMem is the browser's own memory with no page open.
	idleBrowserMem = 512 << 20

	// admitPoll is how often a waiting scan looks at the machine again
	// when no scan ends meanwhile; hostEvery is how long one look at
	// /proc is reused.
	admitPoll = time.Second
	hostEvery = 500 * time.Millisecond
	// memEvery is the least time between two measures of a browser's
	// memory: summing a process tree's PSS walks every page table.
	memEvery = 15 * time.Second
)

// DefaultConcurrency is how many pages this machine can scan at once, the
// default of Options.MaxConcurrent and of the commands' --workers:
//
//	min(12 × CPUs, (MemAvailable − 1 GiB) / 200 MB), within [1, 64]
//
// A page waiting in its observation window uses almost no CPU, so many
// windows overlap on one core; 200 MB is a concurrent page's measured
// Chromium memory (60–150 MB) and the Go side, rounded up. Without
// /proc/meminfo it is the CPU bound alone.
func DefaultConcurrency() int {
	n := checksPerCore * runtime.NumCPU()
	if avail, ok := host.MemAvailable(); ok {
		n = min(n, int((avail-memReserve)/memPerPage))
	}
	return max(1, min(n, maxDefaultConcurrency))
}

// hostState is one look at the machine.
type hostState struct {
	memAvailable int64 // bytes; -1 when unknown
	cpuPressure  float64
	loadPerCPU   float64 // used when cpuPressure is unknown (-1)
}

func readHost() hostState {
	h := hostState{memAvailable: -1, cpuPressure: -1, loadPerCPU: -1}
	if v, ok := host.MemAvailable(); ok {
		h.memAvailable = v
	}
	if v, ok := host.CPUPressure(); ok {
		h.cpuPressure = v
	} else if v, ok := host.LoadPerCPU(); ok {
		h.loadPerCPU = v
	}
	return h
}

// short says what the machine is short of, "" when it has room for one
// more page.
func (c *Crawler) short(h hostState) string {
	switch {
	case c.opts.MinMemAvailable > 0 && h.memAvailable >= 0 && h.memAvailable < c.opts.MinMemAvailable:
		return fmt.Sprintf("memory: %d MB available, below the floor of %d MB", h.memAvailable>>20, c.opts.MinMemAvailable>>20)
	case c.opts.MaxCPUPressure > 0 && h.cpuPressure >= c.opts.MaxCPUPressure:
		return fmt.Sprintf("CPU: runnable tasks waited for a CPU %.0f%% of the last 10 s (limit %.0f%%)", h.cpuPressure, c.opts.MaxCPUPressure)
	case c.opts.MaxCPUPressure > 0 && h.cpuPressure < 0 && h.loadPerCPU >= maxLoadPerCPU:
		return fmt.Sprintf("CPU: load average %.1f per CPU (limit %d)", h.loadPerCPU, maxLoadPerCPU)
	}
	return ""
}

// gate is the crawler's admission control: at most MaxConcurrent scans at
// once, and none added while the machine is short of memory or CPU.
type gate struct {
	mu      sync.Mutex
	running int
	waiting int
	// freed is closed, and replaced, whenever a scan ends.
	freed chan struct{}
	// seen is the latest look at the machine, and when it was taken.
	seen   hostState
	seenAt time.Time
	// shortOf is what the machine was last short of, to log changes only.
	shortOf string
}

// errClosed is returned to scans that start, or wait, after Close.
var errClosed = errors.New("crawler is closed")

// admission is one scan's right to run: a slot of MaxConcurrent, taken
// when the machine had room.
type admission struct {
	c      *Crawler
	waited time.Duration
	// used is set by the Scan that runs in the admission; one only.
	used atomic.Bool
	once sync.Once
}

// release frees the slot; a second call does nothing.
func (a *admission) release() {
	a.once.Do(func() {
		g := &a.c.gate
		g.mu.Lock()
		g.running--
		close(g.freed)
		g.freed = make(chan struct{})
		g.mu.Unlock()
	})
}

// admit waits until one more scan may run: fewer than MaxConcurrent run
// and the machine is not short of memory or CPU (Options.MinMemAvailable,
// MaxCPUPressure). When none of this crawler's scans runs, one is admitted
// whatever the machine says: a machine busy with other work slows the
// checks down but never stops them.
func (c *Crawler) admit(ctx context.Context) (*admission, error) {
	g := &c.gate
	start := time.Now()
	g.mu.Lock()
	g.waiting++
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}()
	for {
		if c.isClosed() {
			g.mu.Unlock()
			return nil, errClosed
		}
		if g.running < c.opts.MaxConcurrent {
			why := ""
			if g.running > 0 {
				why = c.short(c.lookLocked())
			}
			if why != g.shortOf {
				if why != "" {
					c.log.Warn("new scans wait: the machine is short of "+why, "running", g.running, "waiting", g.waiting)
				} else {
					c.log.Info("the machine has room again; scans start", "running", g.running, "waiting", g.waiting)
				}
				g.shortOf = why
			}
			if why == "" {
				g.running++
				g.mu.Unlock()
				return &admission{c: c, waited: time.Since(start)}, nil
			}
		}
		freed := g.freed
		g.mu.Unlock()
		t := time.NewTimer(admitPoll)
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
		g.mu.Lock()
	}
}

// lookLocked returns the machine's state, read at most every hostEvery.
// Call with gate.mu held.
func (c *Crawler) lookLocked() hostState {
	g := &c.gate
	if now := time.Now(); now.Sub(g.seenAt) >= hostEvery {
		g.seen, g.seenAt = c.probe(), now
	}
	return g.seen
}

// Queue returns how many scans wait for admission and how many run.
func (c *Crawler) Queue() (waiting, running int) {
	c.gate.mu.Lock()
	defer c.gate.mu.Unlock()
	return c.gate.waiting, c.gate.running
}

// admissionKey is the context key of an admission made by Admit.
type admissionKey struct{}

// Admit waits, as Scan does, until the crawler may start one more scan,
// and returns a context carrying that admission: the first Scan under it
// (or under a context derived from it) starts at once in the admitted slot
// rather than waiting again. release frees the slot if no Scan used it,
// and is safe to call more than once; a Scan frees the slot it used when it
// returns. A caller that bounds a check with a timeout sets it on the
// returned context, so that the wait does not count (the scheduler does).
func (c *Crawler) Admit(ctx context.Context) (admitted context.Context, release func(), err error) {
	a, err := c.admit(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("waiting for the browser to have room for a scan: %w", err)
	}
	return context.WithValue(ctx, admissionKey{}, a), a.release, nil
}

// admitted returns the admission ctx carries for this crawler, if no scan
// used it yet, claiming it.
func (c *Crawler) admitted(ctx context.Context) *admission {
	a, ok := ctx.Value(admissionKey{}).(*admission)
	if !ok || a.c != c || !a.used.CompareAndSwap(false, true) {
		return nil
	}
	return a
}
