package metrics

import (
	"sync/atomic"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// TestPhasesAndQueue: each check's phases land in the phase histogram, the
// wait for room as "queued", phases a check skipped not at all; the queue
// gauges read the queue at each scrape.
func TestPhasesAndQueue(t *testing.T) {
	m := New(&fakeStore{}, nil)
	var waiting, running atomic.Int64
	m.WatchQueue(func() (int, int) { return int(waiting.Load()), int(running.Load()) })
	obs := &skimguard.Observation{Queued: 3 * time.Second, Phases: skimguard.Phases{
		Setup: 400 * time.Millisecond, Load: 1200 * time.Millisecond, Window: 10 * time.Second,
		Typing: 300 * time.Millisecond, Sources: 200 * time.Millisecond, Screenshot: 100 * time.Millisecond, Store: 20 * time.Millisecond,
	}}
	m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK, Duration: 12 * time.Second, Observation: obs})
	m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanFailed, Duration: time.Second})
	waiting.Store(5)
	running.Store(7)

	fams := scrape(t, m)
	for phase, sum := range map[string]float64{
		"queued": 3, "setup": 0.4, "load": 1.2, "window": 10, "typing": 0.3, "sources": 0.2, "screenshot": 0.1, "store": 0.02,
	} {
		s := series(fams, "skimguard_check_phase_seconds", map[string]string{"phase": phase})
		if s == nil {
			t.Errorf("no phase %s", phase)
			continue
		}
		if h := s.GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != sum {
			t.Errorf("phase %s: %d samples summing %v, want 1 summing %v", phase, h.GetSampleCount(), h.GetSampleSum(), sum)
		}
	}
	if s := series(fams, "skimguard_check_phase_seconds", map[string]string{"phase": "journey"}); s != nil {
		t.Error("a check without a journey was observed with one")
	}
	if got := value(t, fams, "skimguard_checks_waiting", nil); got != 5 {
		t.Errorf("checks_waiting = %v, want 5", got)
	}
	if got := value(t, fams, "skimguard_checks_running", nil); got != 7 {
		t.Errorf("checks_running = %v, want 7", got)
	}
	running.Store(2)
	if got := value(t, scrape(t, m), "skimguard_checks_running", nil); got != 2 {
		t.Errorf("checks_running = %v after the queue moved, want 2", got)
	}
}

func TestPhasesString(t *testing.T) {
	p := skimguard.Phases{Load: 1234 * time.Millisecond, Window: 10 * time.Second, Store: 12345 * time.Microsecond}
	if got, want := p.String(), "load 1.2s, window 10s, store 12ms"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
