package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseSchedule parses a schedule: a standard 5-field cron spec
// ("0 * * * *", optionally prefixed with "TZ=Area/City ") or a descriptor
// ("@hourly", "@daily", "@weekly", "@every 15m"). A spec that never fires is
// an error.
func ParseSchedule(spec string) (sched cron.Schedule, err error) {
	defer func() {
		// The cron parser is not ours; a panic in it is a bad spec.
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("cannot parse %q", spec)
		}
	}()
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		// cron turns intervals under a second, negative ones included,
		// into one second.
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err == nil && d < time.Second {
			return nil, fmt.Errorf("interval %s is under one second", d)
		}
	}
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, errors.New("it never fires (no such date)")
	}
	return sched, nil
}

// LongestGap returns the longest time between two runs of sched over the
// horizon after from, so that callers can check a schedule runs at least,
// say, weekly. A schedule that does not fire again within the horizon gives
// the horizon.
func LongestGap(sched cron.Schedule, from time.Time, horizon time.Duration) time.Duration {
	end := from.Add(horizon)
	var longest time.Duration
	prev := from
	for i := 0; i < 100000; i++ {
		next := sched.Next(prev)
		if next.IsZero() || next.After(end) {
			if gap := end.Sub(prev); gap > longest {
				longest = gap
			}
			break
		}
		if gap := next.Sub(prev); gap > longest && prev != from {
			longest = gap
		}
		prev = next
	}
	if prev == from {
		return horizon
	}
	return longest
}
