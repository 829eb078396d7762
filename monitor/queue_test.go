package monitor

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/sqlite"
)

// queued is a Scanner that, like the crawler, makes each scan wait for
// room before it starts, says so in Queued, and tells its queue.
type queued struct {
	wait    time.Duration
	phases  skimguard.Phases
	running int
	// admittedBefore: the wait happened before Scan was called (the
	// caller admitted the check first, as serve's scheduler does), and
	// the scan takes run instead.
	admittedBefore bool
	run            time.Duration
}

func (q *queued) Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error) {
	if !q.admittedBefore {
		time.Sleep(q.wait)
	}
	o := cleanObservation()
	o.Site, o.Page, o.URL, o.FinalURL = p.Site, p.Name, p.URL, p.URL
	o.StartedAt, o.Queued, o.Phases = time.Now(), q.wait, q.phases
	time.Sleep(q.run)
	return o, nil
}

func (q *queued) Queue() (waiting, running int) { return 1, q.running }

// TestTheStoredDurationLeavesTheQueueOut: a scan that waited for room is
// stored from when it was admitted, the wait kept apart in its
// observation; the progress lines show the queue, the phases and the
// store's time, and metrics get the store phase.
func TestTheStoredDurationLeavesTheQueueOut(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sc := &queued{wait: 400 * time.Millisecond, running: 3, phases: skimguard.Phases{Load: 1200 * time.Millisecond, Window: 10 * time.Second}}
	var mu sync.Mutex
	var lines []string
	var scanned []skimguard.Scan
	m := &Monitor{Scanner: sc, Store: store,
		Progress: func(p skimguard.Page, step string) { mu.Lock(); lines = append(lines, step); mu.Unlock() },
		Scanned:  func(s skimguard.Scan) { mu.Lock(); scanned = append(scanned, s); mu.Unlock() },
	}
	before := time.Now()
	scans, err := m.Observe(context.Background(), []skimguard.Page{{Site: "shop", Name: "checkout", URL: "https://shop.test/checkout"}})
	if err != nil {
		t.Fatal(err)
	}
	s := scans[0]
	if s.Duration >= sc.wait {
		t.Errorf("duration %s includes the %s queued", s.Duration, sc.wait)
	}
	if s.StartedAt.Sub(before) < sc.wait {
		t.Errorf("started %s after the call, before its admission %s later", s.StartedAt.Sub(before), sc.wait)
	}
	got, err := store.Scan(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Duration != s.Duration || got.Observation == nil || got.Observation.Queued != sc.wait || got.Observation.Phases.Window != 10*time.Second {
		t.Errorf("stored: duration %s, observation %+v", got.Duration, got.Observation)
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	for _, want := range []string{"3 scans running, 1 waiting", "after 400ms queued (load 1.2s, window 10s)", "stored in "} {
		if !strings.Contains(all, want) {
			t.Errorf("progress lacks %q:\n%s", want, all)
		}
	}
	if len(scanned) != 1 || scanned[0].Observation.Phases.Store <= 0 {
		t.Errorf("metrics were not given the store phase: %+v", scanned)
	}
}

// TestAWaitBeforeTheCheckIsNotTakenOffItsDuration: when the caller
// admitted the check before observing it (serve's scheduler), the
// observation's Queued is a wait that already ended, and the stored
// duration is the whole scan.
func TestAWaitBeforeTheCheckIsNotTakenOffItsDuration(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sc := &queued{wait: 2 * time.Second, admittedBefore: true, run: 300 * time.Millisecond}
	m := &Monitor{Scanner: sc, Store: store}
	before := time.Now()
	scans, err := m.Observe(context.Background(), []skimguard.Page{{Site: "shop", Name: "checkout", URL: "https://shop.test/checkout"}})
	if err != nil {
		t.Fatal(err)
	}
	s := scans[0]
	if s.Duration < sc.run {
		t.Errorf("duration %s is shorter than the %s the scan took", s.Duration, sc.run)
	}
	if d := s.StartedAt.Sub(before); d >= sc.run {
		t.Errorf("started %s after the call, as if the earlier wait had been in it", d)
	}
}
