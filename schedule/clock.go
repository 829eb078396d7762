package schedule

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and makes timers. Tests pass a clock they move by
// hand; nil in a Scheduler means RealClock.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock, like *time.Timer.
type Timer interface {
	// C delivers the time once the timer fires.
	C() <-chan time.Time
	// Stop stops the timer; it reports whether that prevented it firing.
	Stop() bool
}

// RealClock is the Clock of the time package.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer that fires after d.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// deadlineCtx is a context that ends with context.DeadlineExceeded when a
// Clock's timer fires, so that check timeouts follow the Scheduler's clock
// (context.WithTimeout follows only the real one). Callers that tell a
// timeout from a cancellation by ctx.Err() see the same errors as with
// context.WithTimeout.
type deadlineCtx struct {
	context.Context
	deadline time.Time
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	err      error
}

// withClockTimeout returns a context that ends when parent does, when d
// has passed on clock, or when stop is called, whichever comes first.
func withClockTimeout(parent context.Context, clock Clock, d time.Duration) (ctx context.Context, stop func()) {
	c := &deadlineCtx{Context: parent, deadline: clock.Now().Add(d), done: make(chan struct{})}
	if pd, ok := parent.Deadline(); ok && pd.Before(c.deadline) {
		c.deadline = pd
	}
	t := clock.NewTimer(d)
	stopped := make(chan struct{})
	go func() {
		defer t.Stop()
		select {
		case <-parent.Done():
			c.end(parent.Err())
		case <-t.C():
			c.end(context.DeadlineExceeded)
		case <-stopped:
			c.end(context.Canceled)
		}
	}()
	var stopOnce sync.Once
	return c, func() { stopOnce.Do(func() { close(stopped) }) }
}

func (c *deadlineCtx) end(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
