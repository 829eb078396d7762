package web

import (
	"net/http"
	"strings"
	"testing"
)

func TestTheDashboardSaysLoudlyWhenNoAlertChannelExists(t *testing.T) {
	dashboard := func(t *testing.T, f *fixture) (banner, channels string, api []string) {
		t.Helper()
		c := f.client(t)
		f.login(t, c, "alice", password)
		_, doc := get(t, c, f.url("/"))
		var got struct {
			Channels []string `json:"alert_channels"`
		}
		if code := f.api(t, "GET", "/api/v1/pages", "", &got); code != http.StatusOK {
			t.Fatalf("API: %d", code)
		}
		return strings.TrimSpace(doc.Find("#unheard").Text()), doc.Find("#channels").Text(), got.Channels
	}
	t.Run("none: a banner says nobody is told and how to add one", func(t *testing.T) {
		f := newFixtureWith(t, func(o *Options) { o.Channels = func() []string { return nil } })
		banner, _, api := dashboard(t, f)
		if !strings.Contains(banner, "nobody is told") || !strings.Contains(banner, "alerts:") || !strings.Contains(banner, "kill -HUP") {
			t.Fatalf("banner %q", banner)
		}
		if api == nil || len(api) != 0 {
			t.Fatalf("the API must say none with an empty list: %#v", api)
		}
	})
	t.Run("one: it is named and there is no banner", func(t *testing.T) {
		f := newFixtureWith(t, func(o *Options) { o.Channels = func() []string { return []string{"webhook https://hooks.test/sg"} } })
		banner, channels, api := dashboard(t, f)
		if banner != "" || !strings.Contains(channels, "webhook https://hooks.test/sg") || len(api) != 1 {
			t.Fatalf("banner %q, channels %q, API %v", banner, channels, api)
		}
	})
	t.Run("unknown: nothing is said", func(t *testing.T) {
		banner, channels, _ := dashboard(t, newFixture(t))
		if banner != "" || channels != "" {
			t.Fatalf("banner %q, channels %q", banner, channels)
		}
	})
}
