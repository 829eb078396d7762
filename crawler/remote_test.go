package crawler

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/demo"
	"github.com/skimguard/skimguard/internal/browsertest"
)

// startRemoteChromium starts Chromium with BrowserFlags and a DevTools
// port it chooses.
func startRemoteChromium(t *testing.T) *browsertest.Remote {
	t.Helper()
	return startRemoteChromiumOn(t, 0)
}

// startRemoteChromiumOn starts it on a given DevTools port.
func startRemoteChromiumOn(t *testing.T, port int) *browsertest.Remote {
	t.Helper()
	needBrowser(t)
	path, err := findBrowser("")
	if err != nil {
		t.Fatal(err)
	}
	return browsertest.StartRemote(t, path, BrowserFlags(), port)
}

// freePort is a loopback TCP port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newRemoteCrawler is a Crawler on the given endpoints.
func newRemoteCrawler(t *testing.T, r Remote) *Crawler {
	t.Helper()
	var logger *slog.Logger
	if os.Getenv("CRAWLER_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(context.Background(), Options{Logger: logger, LoadTimeout: 4 * testLoadTimeout, DefaultWait: time.Second, MaxConcurrent: 2, Remote: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func scanFor(t *testing.T, c *Crawler, p skimguard.Page) (*skimguard.Observation, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return c.Scan(ctx, p)
}

func learnFrom(t *testing.T, c *Crawler, p skimguard.Page) *skimguard.Baseline {
	t.Helper()
	// Two samples in turn: the demo's A/B test alternates per load.
	var samples []*skimguard.Observation
	for range 2 {
		samples = append(samples, mustScan(t, c, p))
	}
	b, err := baseline.Learn(samples, "test", "remote browsers", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func findingKinds(fs []skimguard.Finding) []string {
	var ks []string
	for _, f := range fs {
		ks = append(ks, string(f.Kind)+" "+f.Subject)
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}

func TestRemoteBrowserObservesTheDemoShopAsTheLocalOne(t *testing.T) {
	local := needBrowser(t)
	rc := startRemoteChromium(t)
	remote := newRemoteCrawler(t, Remote{Browsers: []string{rc.HTTP}})
	shop, err := demo.Start(context.Background(), demo.Options{Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shop.Close() })
	p := skimguard.Page{Site: "demo", Name: "checkout", URL: shop.CheckoutURL(), Wait: 2 * time.Second, Interact: true}

	localBase := learnFrom(t, local, p)
	remoteBase := learnFrom(t, remote, p)
	if fs := baseline.Compare(localBase, mustScan(t, remote, p)); len(fs) > 0 {
		t.Errorf("the remote browser's observation of the clean shop differs from the local one's: %v", findingKinds(fs))
	}
	if fs := baseline.Compare(remoteBase, mustScan(t, local, p)); len(fs) > 0 {
		t.Errorf("the local browser's observation of the clean shop differs from the remote one's: %v", findingKinds(fs))
	}
	ro := mustScan(t, remote, p)
	var sawProvider bool
	for _, c := range ro.Connections {
		sawProvider = sawProvider || c.Origin == shop.ProviderURL
	}
	if !sawProvider {
		t.Errorf("the remote scan saw no connection to the payment provider %s: %+v", shop.ProviderURL, ro.Connections)
	}

	shop.Plant()
	before := len(shop.Stolen())
	lo := mustScan(t, local, p)
	if len(shop.Stolen()) == before {
		t.Fatal("the planted skimmer did not fire for the local browser's shopper")
	}
	before = len(shop.Stolen())
	ro = mustScan(t, remote, p)
	if len(shop.Stolen()) == before {
		t.Fatal("the planted skimmer did not fire for the remote browser's shopper")
	}
	lf, rf := findingKinds(baseline.Compare(localBase, lo)), findingKinds(baseline.Compare(localBase, ro))
	if len(rf) == 0 || !slices.Equal(lf, rf) {
		t.Errorf("findings of the planted shop: local %v, remote %v; want the same, not none", lf, rf)
	}
	if len(lo.Leaks) == 0 || len(ro.Leaks) != len(lo.Leaks) {
		t.Errorf("leaks of the typed card: local %d, remote %d; want the same, not none", len(lo.Leaks), len(ro.Leaks))
	}
}

func TestRemoteBrowsers(t *testing.T) {
	needBrowser(t)
	slow := make(chan struct{}, 1)
	var seen hits
	srv := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/profile":
			seen.add("ua", r.Header.Get("User-Agent"))
			seen.add("lang", r.Header.Get("Accept-Language"))
			html(w, `<script>fetch('/js?' + new URLSearchParams({wd: navigator.webdriver, tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
  w: innerWidth, ow: outerWidth, sw: screen.width, touch: navigator.maxTouchPoints}))</script>`)
			return
		case "/js":
			seen.add("js", r.URL.RawQuery)
			return
		case "/cookie":
			seen.add("cookie", r.Header.Get("Cookie"))
			http.SetCookie(w, &http.Cookie{Name: "visited", Value: "yes", MaxAge: 3600})
			html(w, `<script>fetch('/js?stored=' + localStorage.length); localStorage.setItem('visited', 'yes')</script>`)
			return
		case "/devtools":
			html(w, `<img src="`+r.URL.Query().Get("to")+`/json/version">`)
			return
		}
		if r.URL.Path == "/slow" {
			select {
			case slow <- struct{}{}:
			default:
			}
			html(w, `<p>slow checkout</p>`)
			return
		}
		html(w, `<script>document.title = 'checkout'</script><p>checkout</p>`)
	}))
	page := skimguard.Page{Site: "s", Name: "p", URL: srv.URL + "/", Wait: 300 * time.Millisecond}

	t.Run("the shopper profile is applied in the remote tab", func(t *testing.T) {
		rc := startRemoteChromium(t)
		remote := newRemoteCrawler(t, Remote{Browsers: []string{rc.WS}})
		for _, profile := range []string{skimguard.ProfileDesktop, skimguard.ProfileMobile} {
			p := page
			p.URL, p.Profile, p.Locale, p.Timezone = srv.URL+"/profile", profile, "ja-JP", "Asia/Tokyo"
			var got [2][]string
			for i, c := range []*Crawler{needBrowser(t), remote} {
				n := len(seen.values("js"))
				mustScan(t, c, p)
				js := seen.values("js")
				if len(js) != n+1 {
					t.Fatalf("%s: the page's script did not report (%d reports)", profile, len(js)-n)
				}
				ua, lang := seen.values("ua"), seen.values("lang")
				got[i] = []string{ua[len(ua)-1], lang[len(lang)-1], js[len(js)-1]}
			}
			if !slices.Equal(got[0], got[1]) {
				t.Errorf("%s: the local browser's shopper showed %q, the remote one's %q", profile, got[0], got[1])
			}
			if strings.Contains(got[1][0], "Headless") || !strings.Contains(got[1][2], "wd=false") || !strings.Contains(got[1][2], "Asia%2FTokyo") {
				t.Errorf("%s: the remote browser's shopper showed %q", profile, got[1])
			}
		}
	})

	t.Run("each scan has a browser context of its own", func(t *testing.T) {
		rc := startRemoteChromium(t)
		remote := newRemoteCrawler(t, Remote{Browsers: []string{rc.WS}})
		p := page
		p.URL = srv.URL + "/cookie"
		n := len(seen.values("js"))
		for range 2 {
			mustScan(t, remote, p)
		}
		cookies, js := seen.values("cookie"), seen.values("js")[n:]
		if len(cookies) < 2 || cookies[len(cookies)-1] != "" {
			t.Errorf("the second scan sent cookies %q; want none", cookies)
		}
		if len(js) != 2 || js[0] != "stored=0" || js[1] != "stored=0" {
			t.Errorf("local storage as each scan found it: %q; want empty both times", js)
		}
	})

	t.Run("a page cannot reach the browser's DevTools port", func(t *testing.T) {
		rc := startRemoteChromium(t)
		remote := newRemoteCrawler(t, Remote{Browsers: []string{rc.HTTP}})
		devtools := strings.TrimSuffix(rc.HTTP, "/")
		p := page
		p.URL = srv.URL + "/devtools?to=" + devtools
		obs := mustScan(t, remote, p)
		conn := connTo(obs, devtools)
		if conn == nil || !strings.Contains(conn.Refused, "DevTools") {
			t.Fatalf("the page's request to %s: %+v; want it refused as the browser's DevTools port", devtools, conn)
		}
	})

	t.Run("an unreachable endpoint is skipped for a live one", func(t *testing.T) {
		rc := startRemoteChromium(t)
		// Port 9 (discard) on loopback: nothing listens.
		c := newRemoteCrawler(t, Remote{Browsers: []string{"ws://127.0.0.1:9", rc.WS}})
		for range 2 {
			if _, err := scanFor(t, c, page); err != nil {
				t.Fatalf("scan with one endpoint down: %v", err)
			}
		}
		c.remote.mu.Lock()
		dead := *c.remote.eps[0]
		c.remote.mu.Unlock()
		if dead.failures != 1 || dead.retryAt.IsZero() || dead.lastErr == nil {
			t.Errorf("the unreachable endpoint: %d failures, retry at %v, error %v; want 1 failure and a time to retry it (the second scan went to the live one)", dead.failures, dead.retryAt, dead.lastErr)
		}
	})

	t.Run("with every endpoint down a scan fails saying so, and the next tries again", func(t *testing.T) {
		port := freePort(t)
		c := newRemoteCrawler(t, Remote{Browsers: []string{"http://127.0.0.1:" + strconv.Itoa(port)}, wait: 10 * time.Second})
		if _, err := scanFor(t, c, page); !errors.Is(err, ErrBrowserUnreachable) {
			t.Fatalf("got %v; want ErrBrowserUnreachable", err)
		}
		// The browser comes up: the next scan waits for the endpoint's
		// retry and scans in it.
		startRemoteChromiumOn(t, port)
		if _, err := scanFor(t, c, page); err != nil {
			t.Fatalf("the scan once the browser is up: %v", err)
		}
	})

	t.Run("a browser killed mid-scan fails that scan only", func(t *testing.T) {
		a, b := startRemoteChromium(t), startRemoteChromium(t)
		c := newRemoteCrawler(t, Remote{Browsers: []string{a.WS, b.WS}})
		go func() {
			<-slow // the page was asked for: kill the browser under it
			a.Cmd.Process.Kill()
		}()
		p := page
		p.URL, p.Wait = srv.URL+"/slow", 20*time.Second
		_, err := scanFor(t, c, p)
		var lost *BrowserLostError
		if !errors.As(err, &lost) || lost.Endpoint != a.WS {
			t.Fatalf("scan in a browser killed under it: %v; want a BrowserLostError naming %s", err, a.WS)
		}
		for range 2 {
			if _, err := scanFor(t, c, page); err != nil {
				t.Fatalf("the scan after the browser was lost: %v", err)
			}
		}
	})

	t.Run("a browser is recycled after its scans, and the next scan waits for the fresh one", func(t *testing.T) {
		port := freePort(t)
		rc := startRemoteChromiumOn(t, port)
		c := newRemoteCrawler(t, Remote{Browsers: []string{"http://127.0.0.1:" + strconv.Itoa(port)}, RecycleAfter: 2, wait: time.Minute})
		if _, err := scanFor(t, c, page); err != nil {
			t.Fatal(err)
		}
		select {
		case <-rc.Exited:
			t.Fatal("the browser closed after 1 scan of 2")
		case <-time.After(time.Second):
		}
		if _, err := scanFor(t, c, page); err != nil {
			t.Fatal(err)
		}
		select {
		case <-rc.Exited:
		case <-time.After(time.Minute):
			t.Fatal("the browser was not closed after its 2 scans")
		}
		// A scan arrives; the container's restart policy starts a fresh
		// browser a few seconds later.
		scanned := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			_, err := c.Scan(ctx, page)
			scanned <- err
		}()
		time.Sleep(3 * time.Second)
		startRemoteChromiumOn(t, port)
		if err := <-scanned; err != nil {
			t.Fatalf("the scan after the recycling: %v", err)
		}
	})
}

func TestBrowserFlagsMatchTheLocalLaunch(t *testing.T) {
	flags := BrowserFlags()
	for _, want := range []string{"--disable-site-isolation-trials", "--disable-background-networking", "--disable-component-update",
		"--no-first-run", "--disable-blink-features=AutomationControlled"} {
		if !slices.Contains(flags, want) {
			t.Errorf("BrowserFlags() has no %s: %v", want, flags)
		}
	}
	if !slices.ContainsFunc(flags, func(f string) bool {
		return strings.HasPrefix(f, "--disable-features=") && strings.Contains(f, "SitePerProcess,IsolateOrigins")
	}) {
		t.Errorf("BrowserFlags() leave site isolation on: %v", flags)
	}
	if slices.ContainsFunc(flags, func(f string) bool {
		return strings.Contains(f, "enable-automation") || strings.Contains(f, "proxy-server")
	}) {
		t.Errorf("BrowserFlags() %v: want no automation flag and no browser-wide proxy", flags)
	}
	// The README's compose file for a pool of browsers passes them all.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		if !strings.Contains(string(readme), "\n    - "+f+"\n") {
			t.Errorf("README.md's compose file for remote browsers does not pass %s", f)
		}
	}
}
