package monitor

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// holdWriteLock takes the write lock of the database at path from another
// connection, as another process writing would, until release is called
// or the test ends.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	tx, err := raw.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return func() {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}

// logBuffer collects a monitor's log for the test to read while the
// monitor's goroutines write it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type checked struct {
	res skimguard.CheckResult
	err error
}

// lockedCheck sets up a monitor whose planted checkout page is checked
// while another connection holds the database's write lock. It returns the
// monitor's log, what it told SaveFailed, the receiver of its alerts, the
// result to come, and release, which lets go of the lock.
func lockedCheck(t *testing.T, retry time.Duration) (m *Monitor, logs *logBuffer, failed func() []error, rcv *receiver, done <-chan checked, release func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sg.db")
	m, sc, rcv, pages := setupAt(t, path)
	pages = pages[:1]
	if _, err := m.Learn(t.Context(), pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"}); err != nil {
		t.Fatal(err)
	}
	logs = &logBuffer{}
	m.Logger = slog.New(slog.NewTextHandler(logs, nil))
	m.SaveRetry = retry
	var mu sync.Mutex
	var errs []error
	m.SaveFailed = func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	sc.set("checkout", planted())

	release = holdWriteLock(t, path)
	ch := make(chan checked, 1)
	go func() {
		res, err := m.Check(context.Background(), pages)
		ch <- checked{res, err}
	}()
	failed = func() []error { mu.Lock(); defer mu.Unlock(); return append([]error(nil), errs...) }
	return m, logs, failed, rcv, ch, release
}

func result(t *testing.T, done <-chan checked) checked {
	t.Helper()
	select {
	case c := <-done:
		return c
	case <-time.After(3 * time.Minute):
		t.Fatal("the check never ended")
		return checked{}
	}
}

func TestASaveTheStoreRefusesIsTriedAgainAndStoredOnce(t *testing.T) {
	m, logs, failed, rcv, done, release := lockedCheck(t, 0)
	// The lock outlasts the store's own wait for it (its busy timeout).
	waitFor(t, "a save to fail on the lock and be tried again", func() bool {
		if len(done) > 0 {
			c := <-done
			t.Fatalf("the check ended without trying the save again: %v; logs:\n%s", c.err, logs)
		}
		return strings.Contains(logs.String(), "scan not stored yet; trying again")
	})
	release()
	c := result(t, done)
	if c.err != nil {
		t.Fatalf("Check = %v; logs:\n%s", c.err, logs)
	}
	pr := c.res.Pages[0]
	if pr.Status != skimguard.CheckFindings || pr.StoreError != "" || len(pr.Findings) == 0 || pr.Findings[0].ID == 0 {
		t.Fatalf("page result %+v, want its findings stored", pr)
	}
	scans, err := m.Store.Scans(t.Context(), skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 2 || scans[0].Status != skimguard.ScanFindings {
		t.Fatalf("stored scans %+v, want the baseline's sample and the check once", scans)
	}
	open, _ := m.Store.Findings(t.Context(), skimguard.FindingFilter{Status: skimguard.StatusOpen})
	if len(open) != len(pr.Findings) {
		t.Errorf("%d open findings stored, want %d", len(open), len(pr.Findings))
	}
	if rcv.count() != 1 || strings.HasPrefix(rcv.payload(0).Findings[0].Detail, NotStoredPrefix) {
		t.Errorf("want one ordinary alert, got %d: %+v", rcv.count(), rcv.bodies)
	}
	if errs := failed(); len(errs) != 0 {
		t.Errorf("saves reported failed: %v", errs)
	}
}

func TestAScanThatCannotBeStoredIsReportedAndAlertedWithItsFindings(t *testing.T) {
	// Held past the retry bound: one try, after the store's own wait.
	m, logs, failed, rcv, done, _ := lockedCheck(t, time.Millisecond)
	c := result(t, done)
	t.Logf("Check: %v", c.err)
	if !errors.Is(c.err, skimguard.ErrStoreLocked) || !strings.Contains(c.err.Error(), "shop/checkout") {
		t.Fatalf("Check = %v, want the store's lock named with the page", c.err)
	}
	pr := c.res.Pages[0]
	if pr.Status != skimguard.CheckFindings || len(pr.Findings) == 0 {
		t.Fatalf("page result %+v, want the findings the check observed", pr)
	}
	if !strings.Contains(pr.StoreError, "is locked by another process") {
		t.Errorf("StoreError = %q, want the cause", pr.StoreError)
	}
	if c.res.NotStored() != 1 {
		t.Errorf("NotStored = %d, want 1", c.res.NotStored())
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"scan could not be stored\"") {
		t.Errorf("no error logged:\n%s", logs)
	}
	if errs := failed(); len(errs) == 0 || !errors.Is(errs[0], skimguard.ErrStoreLocked) {
		t.Errorf("SaveFailed told %v, want the scan's lock", errs)
	}
	open, _ := m.Store.Findings(t.Context(), skimguard.FindingFilter{Status: skimguard.StatusOpen})
	if len(open) != 0 {
		t.Errorf("%d findings stored while the store was locked", len(open))
	}
	if rcv.count() != 1 {
		t.Fatalf("%d alerts, want the findings alerted once", rcv.count())
	}
	got := rcv.payload(0).Findings
	if len(got) != len(pr.Findings) {
		t.Fatalf("alerted %d findings, want %d", len(got), len(pr.Findings))
	}
	for _, f := range got {
		if !strings.HasPrefix(f.Detail, NotStoredPrefix) {
			t.Errorf("alerted finding %q does not say it was not stored", f.Detail)
		}
	}
}
