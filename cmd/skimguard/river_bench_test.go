package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard/river"
)

// BenchmarkChecksPerMinute runs 1, 2 and 4 serve processes (each its own
// Chromium, --workers 2) on one PostgreSQL against 40 loopback pages due
// every 5 seconds, more than they can check, for a minute, and reports the
// checks completed per minute per process, with what one check costs: CPU
// seconds of serve and its Chromium, their peak memory, and the wall time
// of a job and of its page load. On a loaded machine the numbers say what
// it cost there, not what a machine of one's own would do.
//
//	go test ./cmd/skimguard -run '^$' -bench ChecksPerMinute -benchtime 1x -timeout 30m
func BenchmarkChecksPerMinute(b *testing.B) {
	shop := startShop(b)
	bin := buildSkimguard(b)
	for _, procs := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("processes=%d", procs), func(b *testing.B) {
			url := pg.Database(b)
			var yaml strings.Builder
			fmt.Fprintf(&yaml, "sites:\n  - name: shop\n    schedule: \"@every 5s\"\n    pages:\n")
			for i := range 40 {
				fmt.Fprintf(&yaml, "      - name: p%02d\n        url: %s\n        wait: 1s\n", i, shop.CheckoutURL())
			}
			cfg := filepath.Join(b.TempDir(), "sites.yaml")
			os.WriteFile(cfg, []byte(yaml.String()), 0o600)
			var out, errb bytes.Buffer
			if code := run(context.Background(), []string{"baseline", "--config", cfg, "--db", url, "--reason", "bench", "--samples", "1"},
				env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}); code != exitOK {
				b.Fatalf("baseline: %d\n%s%s", code, out.String(), errb.String())
			}
			raw, err := pgx.Connect(context.Background(), url)
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close(context.Background())
			for b.Loop() {
				var ps []*serveProc
				for range procs {
					ps = append(ps, startServe(b, bin, "--config", cfg, "--db", url, "--listen", "127.0.0.1:0", "--jitter", "0", "--workers", "2", "--grace", "0"))
				}
				time.Sleep(15 * time.Second) // browsers warm, queue full
				cpu0 := groupCPU(ps)
				from := time.Now()
				var peak int64
				for time.Since(from) < time.Minute {
					time.Sleep(time.Second)
					peak = max(peak, groupRSS(ps))
				}
				to := time.Now()
				cpu := groupCPU(ps) - cpu0
				for _, p := range ps {
					p.stop(b)
				}
				var n int
				var job, scan float64
				err := raw.QueryRow(context.Background(), `SELECT count(*), coalesce(avg(extract(epoch FROM finalized_at - attempted_at)), 0)
					FROM `+river.Schema+`.river_job WHERE state = 'completed' AND finalized_at >= $1 AND finalized_at < $2`, from, to).Scan(&n, &job)
				if err != nil {
					b.Fatal(err)
				}
				var kb float64
				err = raw.QueryRow(context.Background(), `SELECT coalesce(avg(duration_ns) / 1e9, 0),
					coalesce(avg(coalesce(octet_length(observation_gz), 0) + coalesce(octet_length(screenshot), 0) + coalesce(octet_length(script_sources), 0)) / 1024, 0)
					FROM skimguard.scans WHERE started_at >= $1 AND started_at < $2 AND status <> 'stopped'`, from, to).Scan(&scan, &kb)
				if err != nil {
					b.Logf("scan durations: %v", err)
				}
				perMin := float64(n) / to.Sub(from).Minutes()
				b.ReportMetric(perMin/float64(procs), "checks/min/process")
				b.ReportMetric(perMin, "checks/min")
				if n > 0 {
					b.ReportMetric(cpu/float64(n), "cpu-s/check")
				}
				b.ReportMetric(float64(peak)/1024/float64(procs), "peak-MB/process")
				b.ReportMetric(job, "job-s")
				b.ReportMetric(scan, "scan-s")
				b.ReportMetric(kb, "stored-KB/scan")
			}
		})
	}
}

// groupCPU is the CPU seconds the processes' groups (serve and its
// Chromium) used so far.
func groupCPU(ps []*serveProc) float64 {
	var ticks int64
	forGroups(ps, func(stat []string, _ string) {
		u, _ := strconv.ParseInt(stat[11], 10, 64)
		s, _ := strconv.ParseInt(stat[12], 10, 64)
		ticks += u + s
	})
	return float64(ticks) / 100 // USER_HZ
}

// groupRSS is the resident memory of the processes' groups, in KiB.
func groupRSS(ps []*serveProc) int64 {
	var kb int64
	forGroups(ps, func(_ []string, status string) {
		for l := range strings.Lines(status) {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				kb += n
			}
		}
	})
	return kb
}

// forGroups calls fn with the stat fields after the command (state first)
// and the status text of each process in the groups of ps.
func forGroups(ps []*serveProc, fn func(stat []string, status string)) {
	groups := map[string]bool{}
	for _, p := range ps {
		groups[strconv.Itoa(p.cmd.Process.Pid)] = true
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		st, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		_, rest, ok := strings.Cut(string(st), ") ")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // f[0] state, f[2] pgrp, f[11] utime, f[12] stime
		if len(f) < 13 || !groups[f[2]] {
			continue
		}
		status, _ := os.ReadFile(filepath.Join(d, "status"))
		fn(f, string(status))
	}
}
