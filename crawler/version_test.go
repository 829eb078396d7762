package crawler

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]browserVersion{
		"Chrome/156.0.8078.114":                   {"156", "156.0.8078.114"},
		"HeadlessChrome/157.0.8100.3":             {"157", "157.0.8100.3"},
		"Chromium 156.0.8078.114 \n":              {"156", "156.0.8078.114"},
		"Google Chrome 156.0.8078.114 ":           {"156", "156.0.8078.114"},
		"Chromium 156.0.8078.114 built on Debian": {},
		"Chrome/156.0":                            {},
		"Chrome/156.0.x.1":                        {},
		"":                                        {},
	} {
		got, ok := parseVersion(in)
		if got != want || ok != (want.full != "") {
			t.Errorf("parseVersion(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
}

// secCHUA writes brands as the Sec-CH-UA header does.
func secCHUA(list []*emulation.UserAgentBrandVersion) string {
	parts := make([]string, len(list))
	for i, b := range list {
		parts[i] = fmt.Sprintf("%q;v=%q", b.Brand, b.Version)
	}
	return strings.Join(parts, ", ")
}

// TestBrandsAreChromesForItsVersion compares the brands with the Sec-CH-UA
// headers real Google Chrome sent at three versions: the GREASE brand, its
// version and the order all change with the major number.
func TestBrandsAreChromesForItsVersion(t *testing.T) {
	for v, want := range map[string]string{
		"120.0.6099.71": `"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"`,
		"124.0.6367.60": `"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"`,
		"131.0.6778.86": `"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`,
	} {
		bv, _ := parseVersion(v)
		if got := secCHUA(brands(bv, false)); got != want {
			t.Errorf("Chrome %s: Sec-CH-UA %s, want %s", v, got, want)
		}
		full := brands(bv, true)
		if !slices.ContainsFunc(full, func(b *emulation.UserAgentBrandVersion) bool { return b.Brand == "Google Chrome" && b.Version == v }) ||
			!slices.ContainsFunc(full, func(b *emulation.UserAgentBrandVersion) bool {
				return strings.HasPrefix(b.Brand, "Not") && strings.HasSuffix(b.Version, ".0.0.0")
			}) {
			t.Errorf("Chrome %s: full version list %s", v, secCHUA(full))
		}
	}
}

// ownBrands is what the browser says of itself to a page when nothing is
// overridden: navigator.userAgentData.brands in a plain tab.
func ownBrands(t *testing.T, c *Crawler, url string) []brandVersion {
	t.Helper()
	tab, cancel := chromedp.NewContext(c.current().ctx, chromedp.WithNewBrowserContext(func(p *target.CreateBrowserContextParams) {
		p.ProxyServer = "direct://"
	}))
	defer cancel()
	tab, cancelT := context.WithTimeout(tab, 30*time.Second)
	defer cancelT()
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	list, err := chromedp.Run(tab, chromedp.Evaluate[[]brandVersion](`navigator.userAgentData.brands`))
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestIdentityCarriesTheRunningBrowsersVersion: the user agent, the client
// hints and navigator.userAgentData name the version of the Chromium that
// runs, as Chrome's own do, GREASE brand included.
func TestIdentityCarriesTheRunningBrowsersVersion(t *testing.T) {
	c := needBrowser(t)
	res, err := chromedp.CallBrowser(c.current().ctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	full := res.Product[strings.Index(res.Product, "/")+1:]
	major, _, _ := strings.Cut(full, ".")
	t.Logf("the browser is %s", res.Product)

	for _, profile := range []string{skimguard.ProfileDesktop, skimguard.ProfileMobile} {
		t.Run(profile, func(t *testing.T) {
			id := observeIdentity(t, c, skimguard.Page{Profile: profile})
			if ua := id.Header.Get("User-Agent"); !strings.Contains(ua, " Chrome/"+major+".0.0.0 ") || id.UserAgent != ua {
				t.Errorf("User-Agent %q, navigator.userAgent %q: want Chrome/%s.0.0.0 in both", ua, id.UserAgent, major)
			}
			ch := id.Header.Get("Sec-CH-UA")
			for _, b := range []string{`"Chromium";v="` + major + `"`, `"Google Chrome";v="` + major + `"`} {
				if !strings.Contains(ch, b) {
					t.Errorf("Sec-CH-UA %s: no %s", ch, b)
				}
			}
			d := id.UAData
			if d == nil || d.UAFullVersion != full || !slices.Contains(d.FullVersionList, brandVersion{"Chromium", full}) ||
				!slices.Contains(d.FullVersionList, brandVersion{"Google Chrome", full}) || !slices.Contains(d.Brands, brandVersion{"Chromium", major}) {
				t.Errorf("navigator.userAgentData = %+v: want Chromium and Google Chrome %s", d, full)
			}
		})
	}

	t.Run("the GREASE brand is the one this Chromium makes", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { html(w, "<p>plain</p>") })
		srv := serveOn(t, "127.0.0.1", mux)
		own := ownBrands(t, c, srv.URL+"/")
		i := slices.IndexFunc(own, func(b brandVersion) bool { return strings.HasPrefix(b.Brand, "Not") })
		if i < 0 {
			t.Fatalf("the browser's own brands %+v have no GREASE brand", own)
		}
		v, _ := parseVersion(full)
		ours := brands(v, false)
		j := slices.IndexFunc(ours, func(b *emulation.UserAgentBrandVersion) bool { return strings.HasPrefix(b.Brand, "Not") })
		if got := (brandVersion{ours[j].Brand, ours[j].Version}); got != own[i] {
			t.Errorf("GREASE brand %+v, the browser's own %+v", got, own[i])
		}
	})
}

// TestServiceWorkersShowTheShoppersUserAgent: a service worker, which no
// tab's override reaches, is given the shopper's user agent and languages
// for its requests and navigator.languages. Its navigator.userAgent is
// fixed by the browser as it starts the worker: the browser's launch user
// agent, Chrome of the running version (not HeadlessChrome), which on a
// phone profile still says Windows.
func TestServiceWorkersShowTheShoppersUserAgent(t *testing.T) {
	c := needBrowser(t)
	major := c.current().version.major
	for _, tc := range []struct {
		page      skimguard.Page
		platform  string
		languages string
	}{
		{skimguard.Page{}, "Windows NT", "en-US,en"},
		{skimguard.Page{Profile: skimguard.ProfileMobile, Locale: "de-DE"}, "Android", "de-DE,de"},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			var h hits
			mux := http.NewServeMux()
			mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
				html(w, `<script>
navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready).then((reg) => {
  navigator.serviceWorker.onmessage = (m) => fetch('/seen?ua=' + encodeURIComponent(m.data.ua) + '&languages=' + encodeURIComponent(m.data.languages));
  reg.active.postMessage('ua?');
});
</script>`)
			})
			mux.HandleFunc("/sw.js", func(w http.ResponseWriter, r *http.Request) {
				js(w, `self.addEventListener('message', (e) => { fetch('/from-sw'); e.source.postMessage({ua: navigator.userAgent, languages: navigator.languages.join()}); });`)
			})
			mux.HandleFunc("/from-sw", func(w http.ResponseWriter, r *http.Request) {
				h.add("sent", r.UserAgent())
				h.add("accept-language", r.Header.Get("Accept-Language"))
			})
			mux.HandleFunc("/seen", func(w http.ResponseWriter, r *http.Request) {
				h.add("ua", r.URL.Query().Get("ua"))
				h.add("languages", r.URL.Query().Get("languages"))
			})
			srv := serveOn(t, "127.0.0.1", mux)
			p := tc.page
			p.URL, p.Wait = srv.URL+"/checkout", 2*time.Second
			mustScan(t, c, p)
			uas, sent := h.values("ua"), h.values("sent")
			if len(uas) == 0 || len(sent) == 0 {
				t.Fatalf("the service worker did not run: reported %q, sent %q", uas, sent)
			}
			chrome := func(ua string) bool {
				return !strings.Contains(ua, "Headless") && strings.Contains(ua, " Chrome/"+major+".0.0.0 ")
			}
			for _, ua := range uas {
				if !chrome(ua) {
					t.Errorf("a service worker's navigator.userAgent is %q: want Chrome/%s.0.0.0", ua, major)
				}
			}
			for _, ua := range sent {
				if !chrome(ua) || !strings.Contains(ua, tc.platform) {
					t.Errorf("a service worker's request says User-Agent %q: want Chrome/%s.0.0.0 on %s", ua, major, tc.platform)
				}
			}
			for _, al := range h.values("accept-language") {
				if !strings.HasPrefix(al, strings.SplitN(tc.languages, ",", 2)[0]+",") {
					t.Errorf("a service worker's request says Accept-Language %q, want the shopper's %q first", al, tc.languages)
				}
			}
			for _, l := range h.values("languages") {
				if l != tc.languages {
					t.Errorf("a service worker's navigator.languages is %q, want %q", l, tc.languages)
				}
			}
		})
	}
}
