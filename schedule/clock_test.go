package schedule

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when told: its timers fire when set
// moves the time past them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk    *fakeClock
	at     time.Time
	c      chan time.Time
	active bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, at: c.now.Add(d), c: make(chan time.Time, 1), active: true}
	if d <= 0 {
		t.c <- c.now
		t.active = false
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// set moves the time to at and fires the timers due by then.
func (c *fakeClock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.active && !t.at.After(at) {
			t.active = false
			t.c <- at
		}
		if t.active {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// timerIn returns the earliest active timer's time in (from, to], if any.
func (c *fakeClock) timerIn(from, to time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best time.Time
	for _, t := range c.timers {
		if t.active && t.at.After(from) && !t.at.After(to) && (best.IsZero() || t.at.Before(best)) {
			best = t.at
		}
	}
	return best, !best.IsZero()
}

// waitTimerIn waits for a timer to be set in (from, to] and returns its time.
func (c *fakeClock) waitTimerIn(t *testing.T, from, to time.Time) time.Time {
	t.Helper()
	var at time.Time
	eventually(t, func() bool {
		var ok bool
		at, ok = c.timerIn(from, to)
		return ok
	}, "a timer in (%s, %s]", from.Format(time.TimeOnly), to.Format(time.TimeOnly))
	return at
}

// waitTimer waits for a timer to be set for exactly at: the scheduler has
// planned its next run, or a check its timeout.
func (c *fakeClock) waitTimer(t *testing.T, at time.Time) {
	t.Helper()
	c.waitTimerIn(t, at.Add(-time.Nanosecond), at)
}

// eventually polls cond every millisecond for up to five seconds.
func eventually(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

// syncBuffer is a log destination safe for several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestRealClockTimerFires(t *testing.T) {
	tm := RealClock{}.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("a 1ms timer did not fire")
	}
	if tm.Stop() {
		t.Fatal("Stop after firing must report false")
	}
}

func TestClockTimeoutEndsWithDeadlineExceeded(t *testing.T) {
	t.Run("on the clock", func(t *testing.T) {
		clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		ctx, stop := withClockTimeout(context.Background(), clk, time.Minute)
		defer stop()
		if d, ok := ctx.Deadline(); !ok || !d.Equal(clk.Now().Add(time.Minute)) {
			t.Fatalf("deadline %v %v", d, ok)
		}
		clk.waitTimer(t, clk.Now().Add(time.Minute))
		if ctx.Err() != nil {
			t.Fatal("ended before its time")
		}
		clk.set(clk.Now().Add(time.Minute))
		<-ctx.Done()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %v", ctx.Err())
		}
	})
	t.Run("with its parent", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		ctx, stop := withClockTimeout(parent, RealClock{}, time.Hour)
		defer stop()
		child, cancelChild := context.WithCancel(ctx)
		defer cancelChild()
		cancel()
		<-child.Done()
		if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
			t.Fatalf("want Canceled, got %v and %v", ctx.Err(), child.Err())
		}
	})
}
