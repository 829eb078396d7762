package web

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	skimguard "github.com/skimguard/skimguard"
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

func TestTheDashboardShowsEachPagesNextCheck(t *testing.T) {
	next := time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)
	var running atomic.Bool
	f := newFixtureWith(t, func(o *Options) {
		o.NextCheck = func(site, page string) (time.Time, bool) {
			if site == "shop" && page == "checkout" {
				return next, running.Load()
			}
			return time.Time{}, false
		}
	})
	c := f.client(t)
	f.login(t, c, "alice", password)
	_, doc := get(t, c, f.url("/"))
	if got := strings.TrimSpace(doc.Find("table.pages td.next").Text()); got != "2026-11-23 11:00:00 UTC" {
		t.Fatalf("next check shown as %q", got)
	}
	var api struct {
		Pages []pageSummary `json:"pages"`
	}
	f.api(t, "GET", "/api/v1/pages", "", &api)
	if len(api.Pages) != 1 || api.Pages[0].NextCheck == nil || !api.Pages[0].NextCheck.Equal(next) {
		t.Fatalf("API: %+v", api.Pages)
	}
	running.Store(true)
	_, doc = get(t, c, f.url("/"))
	if got := strings.TrimSpace(doc.Find("table.pages td.next").Text()); got != "under way" {
		t.Fatalf("a check under way shown as %q", got)
	}
}

func TestTheDashboardSaysWhichPagesHaveNoBaselineYet(t *testing.T) {
	f := newFixtureWith(t, func(o *Options) {
		o.Pages = func() []skimguard.Page {
			return []skimguard.Page{{Site: "shop", Name: "checkout", URL: pageURL}, {Site: "blog", Name: "donate", URL: "http://127.0.0.1:1/donate"}}
		}
	})
	c := f.client(t)
	f.login(t, c, "alice", password)
	_, doc := get(t, c, f.url("/"))
	rows := map[string]string{}
	doc.Find("table.pages tbody tr").Each(func(_ int, tr *goquery.Selection) {
		rows[strings.TrimSpace(tr.Find("td").First().Text())] = strings.Join(strings.Fields(tr.Find("td.baseline").Text()), " ")
	})
	if got := rows["blog"]; !strings.Contains(got, "no baseline yet") || !strings.Contains(got, `skimguard baseline --site blog --reason`) {
		t.Fatalf("the page without a baseline shows %q", got)
	}
	if got := rows["shop"]; got != "version 1" {
		t.Fatalf("the page with a baseline shows %q", got)
	}
}
