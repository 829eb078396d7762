package storetest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/monitor"
)

// claimer is a store whose processes claim each alert before sending it.
func claimer(t *testing.T, s skimguard.Store) monitor.AlertClaimer {
	t.Helper()
	c, ok := s.(monitor.AlertClaimer)
	if !ok {
		t.Fatalf("%T does not claim alerts (monitor.AlertClaimer)", s)
	}
	return c
}

// An alert is claimed once across the processes on one database, and can
// be claimed again once its claimer's lease has passed.
func testAlertClaims(t *testing.T, h Harness) {
	a := h.Open(t)
	b := h.Again(t, a)
	ca, cb := claimer(t, a), claimer(t, b)
	ctx := t.Context()
	claim := func(c monitor.AlertClaimer, key string, lease time.Duration) bool {
		t.Helper()
		ok, err := c.ClaimAlert(ctx, key, lease)
		if err != nil {
			t.Fatalf("ClaimAlert(%q): %v", key, err)
		}
		return ok
	}
	if !claim(ca, "finding/1/webhook/0/0", time.Minute) {
		t.Fatal("the first claim was refused")
	}
	if claim(cb, "finding/1/webhook/0/0", time.Minute) || claim(ca, "finding/1/webhook/0/0", time.Minute) {
		t.Fatal("a held claim was granted again")
	}
	if !claim(cb, "finding/1/webhook/1/0", time.Minute) {
		t.Fatal("a claim on another key was refused")
	}
	// A claimer that died: its lease passes and the alert is free again.
	if !claim(ca, "finding/2/webhook/0/0", 50*time.Millisecond) {
		t.Fatal("the first claim was refused")
	}
	time.Sleep(100 * time.Millisecond)
	if !claim(cb, "finding/2/webhook/0/0", time.Minute) {
		t.Fatal("a claim whose lease had passed was refused")
	}
	if claim(ca, "finding/2/webhook/0/0", time.Minute) {
		t.Fatal("the renewed claim was granted again")
	}
	// Many at once, from both: one wins each key.
	var won sync.Map
	errs := together(16, func(i int) error {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		for k := range 4 {
			key := "finding/3/sink" + string(rune('a'+k)) + "/0/0"
			ok, err := c.ClaimAlert(ctx, key, time.Minute)
			if err != nil {
				return err
			}
			if ok {
				if _, dup := won.LoadOrStore(key, i); dup {
					t.Errorf("%s claimed twice", key)
				}
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for k := range 4 {
		if _, ok := won.Load("finding/3/sink" + string(rune('a'+k)) + "/0/0"); !ok {
			t.Errorf("nobody claimed sink %c's alert", 'a'+k)
		}
	}
}

// Two processes on one database (two serves on PostgreSQL; serve and a
// `skimguard check` beside it on SQLite), each sweeping undelivered
// alerts at the same moments, tell a channel about each finding once.
func testAlertsOncePerFindingAcrossProcesses(t *testing.T, h Harness) {
	first := h.Open(t)
	stores := []skimguard.Store{first, h.Again(t, first)}
	var pages []skimguard.Page
	for i := range 5 {
		p := skimguard.Page{Site: "shop", Name: "checkout" + string(rune('a'+i)), URL: "https://shop.test/"}
		pages = append(pages, p)
		MustSaveScan(t, first, ScanOf(p.Site, p.Name, time.Now().Add(-time.Minute),
			Finding(p.Site, p.Name, "x1"), Finding(p.Site, p.Name, "x2")))
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
	mons := make([]*monitor.Monitor, len(stores))
	for i := range mons {
		mons[i] = &monitor.Monitor{Store: stores[i]}
		mons[i].SetSinks([]alerts.Sink{&alerts.Webhook{URL: recv.URL}})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for range 3 {
		for _, m := range mons {
			wg.Go(func() {
				if err := m.Redeliver(ctx, pages); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	fs := MustFindings(t, first, skimguard.FindingFilter{})
	if len(fs) != 10 {
		t.Fatalf("%d findings, want 10", len(fs))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range fs {
		if got[f.ID] != 1 {
			t.Errorf("finding %d (%s) alerted %d times, want once", f.ID, f.Page, got[f.ID])
		}
	}
}
