package crawler

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// identityJS reports what a page's scripts can read of the browser, in the
// page, in a dedicated worker and in a cross-origin iframe, to the page's
// own server. The fixed dates make the zone's offset in winter and summer
// comparable with Go's.
const identityJS = `(async function () {
  const r = {};
  const t = (k, f) => { try { r[k] = f(); } catch (e) { r[k] = 'error: ' + e; } };
  const winter = Date.UTC(2026, 0, 15, 12), summer = Date.UTC(2026, 6, 15, 12);
  t('language', () => navigator.language);
  t('languages', () => navigator.languages);
  t('intlLocale', () => Intl.DateTimeFormat().resolvedOptions().locale);
  t('numberLocale', () => Intl.NumberFormat().resolvedOptions().locale);
  t('timeZone', () => Intl.DateTimeFormat().resolvedOptions().timeZone);
  t('offsets', () => [new Date(winter).getTimezoneOffset(), new Date(summer).getTimezoneOffset()]);
  t('dateString', () => new Date(winter).toString());
  t('userAgent', () => navigator.userAgent);
  t('platform', () => navigator.platform);
  try {
    r.uaData = await navigator.userAgentData.getHighEntropyValues(['architecture', 'bitness', 'formFactors', 'fullVersionList', 'model', 'platformVersion', 'uaFullVersion', 'wow64']);
  } catch (e) { r.uaData = null; }
  t('touch', () => ({ontouchstart: 'ontouchstart' in window, maxTouchPoints: navigator.maxTouchPoints,
    touchEvent: (() => { try { document.createEvent('TouchEvent'); return true; } catch (e) { return false; } })()}));
  t('media', () => ['(pointer: coarse)', '(pointer: fine)', '(pointer: none)', '(hover: none)', '(hover: hover)', '(any-pointer: coarse)',
    '(any-pointer: fine)', '(any-hover: none)', '(any-hover: hover)', '(orientation: portrait)'].filter((q) => matchMedia(q).matches));
  t('screen', () => ({width: screen.width, height: screen.height, availWidth: screen.availWidth, availHeight: screen.availHeight, orientation: screen.orientation.type}));
  t('window', () => ({innerWidth, innerHeight, outerWidth, outerHeight, screenX, screenY, devicePixelRatio}));
  r.worker = await new Promise((done) => {
    const w = new Worker(URL.createObjectURL(new Blob([
      'postMessage({timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, intlLocale: Intl.DateTimeFormat().resolvedOptions().locale,' +
      ' offset: new Date(' + winter + ').getTimezoneOffset(), userAgent: navigator.userAgent});'])));
    w.onmessage = (m) => done(m.data);
    setTimeout(() => done(null), 2000);
  });
  r.frame = await new Promise((done) => {
    addEventListener('message', (m) => done(m.data));
    const f = document.createElement('iframe');
    f.src = document.body.dataset.frame;
    document.body.appendChild(f);
    setTimeout(() => done(null), 2000);
  });
  fetch('/facts', {method: 'POST', body: JSON.stringify(r)});
})();`

// frameJS answers from a cross-origin iframe with what it sees.
const frameJS = `parent.postMessage({language: navigator.language, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  intlLocale: Intl.DateTimeFormat().resolvedOptions().locale, offset: new Date(Date.UTC(2026, 0, 15, 12)).getTimezoneOffset()}, '*');`

// identity is what a page's server and scripts saw of the browser.
type identity struct {
	// Header is the page's request headers; FrameHeader the iframe's, on
	// another origin.
	Header, FrameHeader http.Header

	Language     string   `json:"language"`
	Languages    []string `json:"languages"`
	IntlLocale   string   `json:"intlLocale"`
	NumberLocale string   `json:"numberLocale"`
	TimeZone     string   `json:"timeZone"`
	Offsets      []int    `json:"offsets"` // getTimezoneOffset in January and July
	DateString   string   `json:"dateString"`

	UserAgent string `json:"userAgent"`
	Platform  string `json:"platform"`
	UAData    *struct {
		Brands          []brandVersion `json:"brands"`
		FullVersionList []brandVersion `json:"fullVersionList"`
		UAFullVersion   string         `json:"uaFullVersion"`
		Mobile          bool           `json:"mobile"`
		Platform        string         `json:"platform"`
		PlatformVersion string         `json:"platformVersion"`
		Architecture    string         `json:"architecture"`
		Bitness         string         `json:"bitness"`
		Model           string         `json:"model"`
		FormFactors     []string       `json:"formFactors"`
	} `json:"uaData"`
	Touch struct {
		OnTouchStart   bool `json:"ontouchstart"`
		MaxTouchPoints int  `json:"maxTouchPoints"`
		TouchEvent     bool `json:"touchEvent"`
	} `json:"touch"`
	Media  []string `json:"media"` // the media queries that match
	Screen struct {
		Width       int    `json:"width"`
		Height      int    `json:"height"`
		AvailWidth  int    `json:"availWidth"`
		AvailHeight int    `json:"availHeight"`
		Orientation string `json:"orientation"`
	} `json:"screen"`
	Window struct {
		InnerWidth       int     `json:"innerWidth"`
		InnerHeight      int     `json:"innerHeight"`
		OuterWidth       int     `json:"outerWidth"`
		OuterHeight      int     `json:"outerHeight"`
		ScreenX          int     `json:"screenX"`
		ScreenY          int     `json:"screenY"`
		DevicePixelRatio float64 `json:"devicePixelRatio"`
	} `json:"window"`
	Worker *struct {
		TimeZone   string `json:"timeZone"`
		IntlLocale string `json:"intlLocale"`
		Offset     int    `json:"offset"`
		UserAgent  string `json:"userAgent"`
	} `json:"worker"`
	Frame *struct {
		Language   string `json:"language"`
		TimeZone   string `json:"timeZone"`
		IntlLocale string `json:"intlLocale"`
		Offset     int    `json:"offset"`
	} `json:"frame"`
}

type brandVersion struct {
	Brand   string `json:"brand"`
	Version string `json:"version"`
}

// observeIdentity scans a page that reports what it sees of the browser,
// with p's profile, locale and time zone, and returns the report.
func observeIdentity(t *testing.T, c *Crawler, p skimguard.Page) identity {
	t.Helper()
	var id identity
	facts := make(chan []byte, 1)
	pageHeader, frameHeader := make(chan http.Header, 1), make(chan http.Header, 1)
	fmux := http.NewServeMux()
	fmux.HandleFunc("/frame", func(w http.ResponseWriter, r *http.Request) {
		select {
		case frameHeader <- r.Header.Clone():
		default:
		}
		html(w, `<!doctype html><script>`+frameJS+`</script>`)
	})
	frames := serveOn(t, "127.0.0.2", fmux)
	mux := http.NewServeMux()
	mux.HandleFunc("/id", func(w http.ResponseWriter, r *http.Request) {
		select {
		case pageHeader <- r.Header.Clone():
		default:
		}
		html(w, `<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"></head>`+
			`<body data-frame="`+frames.URL+`/frame"><p>Checkout</p><script>`+identityJS+`</script></body></html>`)
	})
	mux.HandleFunc("/facts", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case facts <- b:
		default:
		}
	})
	srv := serveOn(t, "127.0.0.1", mux)
	p.URL = srv.URL + "/id"
	p.Wait = 2 * time.Second
	mustScan(t, c, p)
	select {
	case b := <-facts:
		if err := json.Unmarshal(b, &id); err != nil {
			t.Fatalf("the page's report %s: %v", b, err)
		}
	default:
		t.Fatal("the page sent no report of what it saw: its script did not run to the end")
	}
	select {
	case id.FrameHeader = <-frameHeader:
	default:
		t.Fatal("the cross-origin iframe was not requested")
	}
	id.Header = <-pageHeader
	if id.Worker == nil || id.Frame == nil {
		t.Fatalf("no report from the worker (%v) or the iframe (%v)", id.Worker, id.Frame)
	}
	return id
}

// machineOffsets are getTimezoneOffset's values on the page's fixed dates
// in this machine's zone, which the browser uses when no zone is set.
func machineOffsets() []int {
	var out []int
	for _, m := range []time.Month{time.January, time.July} {
		_, off := time.Date(2026, m, 15, 12, 0, 0, 0, time.UTC).In(time.Local).Zone()
		out = append(out, -off/60)
	}
	return out
}

// TestLocaleAndTimezoneAgreeEverywhere: a page's scripts, its workers, its
// iframes and its server all see the shopper's one language and zone, so a
// geofenced kit that compares them finds nothing amiss.
func TestLocaleAndTimezoneAgreeEverywhere(t *testing.T) {
	c := needBrowser(t)
	tests := []struct {
		name           string
		page           skimguard.Page
		acceptLanguage string
		languages      []string
		locale         string
		zone           string // "" for the machine's
		offsets        []int
		dateZone       string // in Date's toString
	}{
		{
			name: "default is en-US in the machine's zone", page: skimguard.Page{},
			acceptLanguage: "en-US,en;q=0.9", languages: []string{"en-US", "en"}, locale: "en-US", offsets: machineOffsets(),
		},
		{
			name: "a Japanese shopper in Tokyo", page: skimguard.Page{Locale: "ja-JP", Timezone: "Asia/Tokyo"},
			acceptLanguage: "ja-JP,ja;q=0.9", languages: []string{"ja-JP", "ja"}, locale: "ja-JP", zone: "Asia/Tokyo",
			offsets: []int{-540, -540}, dateZone: "GMT+0900 (日本標準時)",
		},
		{
			name: "a German shopper on a phone in New York, with summer time", page: skimguard.Page{Locale: "de-DE", Timezone: "America/New_York", Profile: skimguard.ProfileMobile},
			acceptLanguage: "de-DE,de;q=0.9", languages: []string{"de-DE", "de"}, locale: "de-DE", zone: "America/New_York",
			offsets: []int{300, 240}, dateZone: "GMT-0500 (Nordamerikanische Ostküsten-Normalzeit)",
		},
		{
			name: "a language without a region", page: skimguard.Page{Locale: "fr", Timezone: "Europe/Paris"},
			acceptLanguage: "fr", languages: []string{"fr"}, locale: "fr", zone: "Europe/Paris", offsets: []int{-60, -120},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := observeIdentity(t, c, tt.page)
			if got := id.Header.Get("Accept-Language"); got != tt.acceptLanguage {
				t.Errorf("the page's Accept-Language = %q, want %q", got, tt.acceptLanguage)
			}
			if got := id.FrameHeader.Get("Accept-Language"); got != tt.acceptLanguage {
				t.Errorf("the cross-origin iframe's Accept-Language = %q, want %q", got, tt.acceptLanguage)
			}
			if id.Language != tt.languages[0] || !slices.Equal(id.Languages, tt.languages) || id.Frame.Language != tt.languages[0] {
				t.Errorf("navigator.language %q, languages %q, in the iframe %q; want %q", id.Language, id.Languages, id.Frame.Language, tt.languages)
			}
			for where, got := range map[string]string{"Intl.DateTimeFormat": id.IntlLocale, "Intl.NumberFormat": id.NumberLocale,
				"a worker's Intl": id.Worker.IntlLocale, "the iframe's Intl": id.Frame.IntlLocale} {
				if got != tt.locale {
					t.Errorf("%s locale = %q, want %q", where, got, tt.locale)
				}
			}
			if tt.zone != "" {
				for where, got := range map[string]string{"the page": id.TimeZone, "a worker": id.Worker.TimeZone, "the iframe": id.Frame.TimeZone} {
					if got != tt.zone {
						t.Errorf("Intl's timeZone in %s = %q, want %q", where, got, tt.zone)
					}
				}
			}
			if !slices.Equal(id.Offsets, tt.offsets) || id.Worker.Offset != tt.offsets[0] || id.Frame.Offset != tt.offsets[0] {
				t.Errorf("getTimezoneOffset in January and July = %v (worker %d, iframe %d), want %v", id.Offsets, id.Worker.Offset, id.Frame.Offset, tt.offsets)
			}
			if !strings.Contains(id.DateString, tt.dateZone) {
				t.Errorf("Date's toString = %q, want it to hold %q", id.DateString, tt.dateZone)
			}
		})
	}
}

// TestMobileProfileLooksLikeAPhone: with profile mobile, what a phone-only
// kit reads in the page says phone: touch, a coarse pointer that cannot
// hover, a phone's upright screen and pixel ratio, and Android in the user
// agent, the client hints and navigator.userAgentData.
func TestMobileProfileLooksLikeAPhone(t *testing.T) {
	c := needBrowser(t)
	id := observeIdentity(t, c, skimguard.Page{Profile: skimguard.ProfileMobile})

	t.Run("the server sees Android Chrome on a phone", func(t *testing.T) {
		h := id.Header
		if ua := h.Get("User-Agent"); !strings.Contains(ua, "Android") || !strings.Contains(ua, "Mobile Safari") {
			t.Errorf("User-Agent = %q", ua)
		}
		if m, p := h.Get("Sec-CH-UA-Mobile"), h.Get("Sec-CH-UA-Platform"); m != "?1" || p != `"Android"` {
			t.Errorf("Sec-CH-UA-Mobile %q, Sec-CH-UA-Platform %q; want ?1 and \"Android\"", m, p)
		}
	})
	t.Run("touch", func(t *testing.T) {
		if !id.Touch.OnTouchStart || !id.Touch.TouchEvent || id.Touch.MaxTouchPoints < 1 {
			t.Errorf("touch = %+v: want ontouchstart in window, TouchEvent and maxTouchPoints > 0", id.Touch)
		}
	})
	t.Run("a coarse pointer that cannot hover", func(t *testing.T) {
		for _, q := range []string{"(pointer: coarse)", "(hover: none)", "(any-pointer: coarse)", "(any-hover: none)", "(orientation: portrait)"} {
			if !slices.Contains(id.Media, q) {
				t.Errorf("matchMedia(%q) does not match; matching: %q", q, id.Media)
			}
		}
		for _, q := range []string{"(pointer: fine)", "(hover: hover)", "(any-pointer: fine)", "(any-hover: hover)"} {
			if slices.Contains(id.Media, q) {
				t.Errorf("matchMedia(%q) matches on a phone", q)
			}
		}
	})
	t.Run("a phone's screen and viewport", func(t *testing.T) {
		sc, w := id.Screen, id.Window
		if sc.Width != 412 || sc.Height != 915 || sc.AvailWidth != 412 || sc.Orientation != "portrait-primary" {
			t.Errorf("screen = %+v: want 412×915, portrait-primary", sc)
		}
		if w.InnerWidth != sc.Width || w.InnerHeight <= 0 || w.InnerHeight > sc.Height || w.OuterWidth != sc.Width || w.OuterHeight > sc.Height {
			t.Errorf("window = %+v in a %d×%d screen: want the screen's width and at most its height", w, sc.Width, sc.Height)
		}
		if w.DevicePixelRatio < 2 {
			t.Errorf("devicePixelRatio = %v: a phone's is 2 or more", w.DevicePixelRatio)
		}
	})
	t.Run("Android in navigator", func(t *testing.T) {
		d := id.UAData
		if d == nil {
			t.Fatal("no navigator.userAgentData")
		}
		if !d.Mobile || d.Platform != "Android" || d.Model == "" || !slices.Equal(d.FormFactors, []string{"Mobile"}) || d.Bitness != "" || d.Architecture != "" {
			t.Errorf("userAgentData = %+v: want mobile, Android, a model, form factor Mobile, no architecture or bitness (as Chrome on Android)", *d)
		}
		if !strings.HasPrefix(id.Platform, "Linux arm") || id.UserAgent != id.Header.Get("User-Agent") || id.Worker.UserAgent != id.UserAgent {
			t.Errorf("navigator.platform %q, userAgent %q (a worker's %q, the server's %q)", id.Platform, id.UserAgent, id.Worker.UserAgent, id.Header.Get("User-Agent"))
		}
	})
}
