package config

import (
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	from := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		spec string
		gap  time.Duration
	}{
		{"@hourly", time.Hour},
		{"@every 15m", 15 * time.Minute},
		{"@daily", 24 * time.Hour},
		{"@weekly", 7 * 24 * time.Hour},
		{"0 9 * * 1-5", 72 * time.Hour},
		{"0 0 1 * *", 31 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := LongestGap(s, from.In(time.Local), 90*24*time.Hour); got != tt.gap {
				t.Errorf("LongestGap = %s, want %s", got, tt.gap)
			}
		})
	}
	t.Run("yearly schedule gap is the horizon", func(t *testing.T) {
		s, err := ParseSchedule("@yearly")
		if err != nil {
			t.Fatal(err)
		}
		if got := LongestGap(s, time.Date(2026, 2, 1, 0, 0, 0, 0, time.Local), 60*24*time.Hour); got != 60*24*time.Hour {
			t.Errorf("LongestGap = %s", got)
		}
	})
	for _, bad := range []string{"", "every hour", "* * * *", "@fortnightly", "0 0 31 2 *", "@every -5m", "@every 500ms", "@every"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if _, err := ParseSchedule(bad); err == nil {
				t.Errorf("ParseSchedule(%q) = nil error", bad)
			}
		})
	}
}
