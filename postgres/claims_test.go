package postgres

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/internal/storetest"
	"github.com/skimguard/skimguard/monitor"
)

// Two serve processes on one database, each sweeping undelivered alerts at
// the same moments, tell a channel about each finding once.
func TestAlertsOncePerFindingAcrossProcesses(t *testing.T) {
	_, url := openTest(t)
	// Each process has a store of its own on the one database.
	stores := make([]*DB, 2)
	for i := range stores {
		db, err := Open(t.Context(), url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		stores[i] = db
	}
	var pages []skimguard.Page
	for i := range 5 {
		p := skimguard.Page{Site: "shop", Name: "checkout" + string(rune('a'+i)), URL: "https://shop.test/"}
		pages = append(pages, p)
		s := storetest.ScanOf(p.Site, p.Name, time.Now().Add(-time.Minute),
			storetest.Finding(p.Site, p.Name, "x1"), storetest.Finding(p.Site, p.Name, "x2"))
		if err := stores[0].SaveScan(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	got := map[int64]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p alerts.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Error(err)
		}
		// As slow as a real receiver, so that the two sweeps overlap.
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		for _, f := range p.Findings {
			got[f.ID]++
		}
		mu.Unlock()
	}))
	defer recv.Close()
	mons := make([]*monitor.Monitor, 2)
	for i := range mons {
		mons[i] = &monitor.Monitor{Store: stores[i]}
		mons[i].SetSinks([]alerts.Sink{&alerts.Webhook{URL: recv.URL}})
	}
	var wg sync.WaitGroup
	for range 3 {
		for _, m := range mons {
			wg.Go(func() {
				if err := m.Redeliver(t.Context(), pages); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	fs := storetest.MustFindings(t, stores[0], skimguard.FindingFilter{})
	if len(fs) != 10 {
		t.Fatalf("%d findings, want 10", len(fs))
	}
	for _, f := range fs {
		if got[f.ID] != 1 {
			t.Errorf("finding %d (%s) alerted %d times, want once", f.ID, f.Page, got[f.ID])
		}
	}
}
