package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/demo"
)

// BenchmarkConcurrentScanMemory scans the demo shop four pages at a time and
// reports the peak memory of the Go process (RSS, target < 100 MB) and of
// Chromium per concurrent page (PSS above the idle browser, target < 150 MB).
//
//	go test ./e2e -run '^$' -bench ConcurrentScanMemory -benchtime 3x
func BenchmarkConcurrentScanMemory(b *testing.B) {
	if sharedErr != nil {
		b.Skipf("no Chromium: %v", sharedErr)
	}
	shop, err := demo.Start(context.Background(), demo.Options{Port: 0})
	if err != nil {
		b.Fatal(err)
	}
	defer shop.Close()
	const concurrent = 4
	p := skimguard.Page{Site: "bench", Name: "checkout", URL: shop.CheckoutURL(), Wait: time.Second, Interact: true}

	// Warm the browser up, then measure it idle.
	if _, err := shared.Scan(context.Background(), p); err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	idle := browserPSS()

	var peakGo, peakBrowser atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				storeMax(&peakGo, procKB("self", "VmRSS"))
				storeMax(&peakBrowser, browserPSS())
			}
		}
	})
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				if _, err := shared.Scan(context.Background(), p); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	close(stop)
	sampler.Wait()
	b.ReportMetric(float64(peakGo.Load())/1024, "go-rss-MB")
	b.ReportMetric(float64(peakBrowser.Load()-idle)/1024/concurrent, "browser-MB/page")
	b.ReportMetric(float64(idle)/1024, "browser-idle-MB")
}

func storeMax(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// procKB reads a "Name:   123 kB" field from /proc/PID/status (or
// smaps_rollup for Pss).
func procKB(pid, field string) int64 {
	file := "status"
	if field == "Pss" {
		file = "smaps_rollup"
	}
	data, err := os.ReadFile(filepath.Join("/proc", pid, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return 0
}

// browserPSS sums the proportional set size of every descendant process of
// this one: the browser and its renderers, shared pages counted once.
func browserPSS() int64 {
	entries, _ := os.ReadDir("/proc")
	parent := map[string]string{}
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 {
			parent[e.Name()] = fields[1]
		}
	}
	self := strconv.Itoa(os.Getpid())
	var total int64
	for pid := range parent {
		for p := parent[pid]; p != "" && p != "0" && p != "1"; p = parent[p] {
			if p == self {
				total += procKB(pid, "Pss")
				break
			}
		}
	}
	return total
}
