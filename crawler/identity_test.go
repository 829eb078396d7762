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
  t('webdriver', () => navigator.webdriver);
  t('plugins', () => Array.from(navigator.plugins, (p) => p.name));
  t('mimeTypes', () => Array.from(navigator.mimeTypes, (m) => m.type));
  t('chrome', () => window.chrome ? Object.keys(window.chrome).concat(typeof window.chrome.runtime === 'undefined' ? [] : ['runtime']) : null);
  t('notification', () => Notification.permission);
  try { r.notificationQuery = (await navigator.permissions.query({name: 'notifications'})).state; } catch (e) { r.notificationQuery = 'error: ' + e; }
  const gpu = (w) => ['webgl', 'webgl2'].map((kind) => {
    const gl = w.document.createElement('canvas').getContext(kind);
    if (!gl) return 'no ' + kind;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    return gl.getParameter(ext.UNMASKED_VENDOR_WEBGL) + ' | ' + gl.getParameter(ext.UNMASKED_RENDERER_WEBGL);
  });
  t('gpu', () => gpu(window));
  t('gpuBlankFrame', () => { const f = document.createElement('iframe'); document.body.appendChild(f); const g = gpu(f.contentWindow); f.remove(); return g; });
  t('sourceTexts', () => {
    const f = document.createElement('iframe'); document.body.appendChild(f);
    const other = f.contentWindow.Function.prototype.toString, gp = WebGLRenderingContext.prototype.getParameter, ts = Function.prototype.toString;
    const out = [String(gp), ts.call(ts), other.call(gp), other.call(ts), ts.call(f.contentWindow.WebGL2RenderingContext.prototype.getParameter),
      gp.name + '/' + gp.length, ts.name + '/' + ts.length, String(Object.keys(Object.getOwnPropertyDescriptor(ts, 'name') || {}))];
    f.remove();
    return out;
  });
  // The protocol's Runtime, when on, describes what a page logs: it reads
  // an Error's stack, which formats itself from the name once more (Chrome
  // itself reads the name once), and older versions read a stack getter;
  // kits count the getters' calls.
  const fired = [];
  const named = new Error('probe');
  Object.defineProperty(named, 'name', {get() { fired.push('name'); return 'Error'; }});
  const stacked = new Error('probe');
  Object.defineProperty(stacked, 'stack', {get() { fired.push('stack'); return ''; }});
  const obj = {};
  Object.defineProperty(obj, 'id', {get() { fired.push('id'); return 1; }, enumerable: true});
  console.log(named); console.debug(stacked); console.log(obj); console.table([obj]); console.dir(obj);
  const t0 = performance.now();
  debugger;
  r.debuggerMs = performance.now() - t0;
  r.worker = await new Promise((done) => {
    const w = new Worker(URL.createObjectURL(new Blob([
      'const e = new Error("w"); let fired = 0; Object.defineProperty(e, "name", {get() { fired++; return "Error"; }}); console.log(e);' +
      'postMessage({timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, intlLocale: Intl.DateTimeFormat().resolvedOptions().locale,' +
      ' offset: new Date(' + winter + ').getTimezoneOffset(), userAgent: navigator.userAgent, languages: navigator.languages, consoleFired: fired});'])));
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
  await new Promise((done) => setTimeout(done, 50));
  r.consoleFired = fired;
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
	// Obs is the scan's observation of the page.
	Obs *skimguard.Observation

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
	Webdriver         bool     `json:"webdriver"`
	Plugins           []string `json:"plugins"`
	MimeTypes         []string `json:"mimeTypes"`
	Chrome            []string `json:"chrome"` // window.chrome's keys
	Notification      string   `json:"notification"`
	NotificationQuery string   `json:"notificationQuery"`
	GPU               []string `json:"gpu"` // vendor | renderer, for WebGL and WebGL 2
	GPUBlankFrame     []string `json:"gpuBlankFrame"`
	SourceTexts       []string `json:"sourceTexts"`
	ConsoleFired      []string `json:"consoleFired"`
	DebuggerMs        float64  `json:"debuggerMs"`

	Worker *struct {
		TimeZone     string   `json:"timeZone"`
		IntlLocale   string   `json:"intlLocale"`
		Offset       int      `json:"offset"`
		UserAgent    string   `json:"userAgent"`
		Languages    []string `json:"languages"`
		ConsoleFired int      `json:"consoleFired"` // calls of an Error's name getter
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
	obs := mustScan(t, c, p)
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
	id.Obs = obs
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
			if !slices.Equal(id.Worker.Languages, tt.languages) {
				t.Errorf("a worker's navigator.languages = %q, want %q", id.Worker.Languages, tt.languages)
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
	t.Run("a phone's GPU", func(t *testing.T) {
		for _, g := range append(id.GPU, id.GPUBlankFrame...) {
			if g != "ARM | Mali-G715" {
				t.Errorf("WebGL's unmasked vendor and renderer: %q, want a phone's", g)
			}
		}
	})
}

// TestDesktopLooksLikeChromeOnWindows: a desktop scan shows a page what a
// shopper's Chrome on Windows shows, where headless Chromium and the
// DevTools protocol differ and kits look: the window in its screen, the
// pointer, plugins, window.chrome, notifications, WebGL's GPU, and no
// trace of the protocol in console or debugger statements.
func TestDesktopLooksLikeChromeOnWindows(t *testing.T) {
	c := needBrowser(t)
	id := observeIdentity(t, c, skimguard.Page{Profile: skimguard.ProfileDesktop})

	t.Run("a maximised window under the browser's toolbar on a screen above a taskbar", func(t *testing.T) {
		sc, w := id.Screen, id.Window
		if sc.Width != 1366 || sc.Height != 768 || sc.AvailWidth != 1366 || sc.AvailHeight != 728 || sc.Orientation != "landscape-primary" {
			t.Errorf("screen = %+v: want 1366×768 with 1366×728 available", sc)
		}
		if w.OuterWidth != sc.AvailWidth || w.OuterHeight != sc.AvailHeight || w.ScreenX != 0 || w.ScreenY != 0 || w.DevicePixelRatio != 1 {
			t.Errorf("window = %+v: want the available screen, at 0,0", w)
		}
		// devtools-detect: a side DevTools panel makes the difference in
		// width over 160, a bottom one in height; none looks headless.
		if dw, dh := w.OuterWidth-w.InnerWidth, w.OuterHeight-w.InnerHeight; dw < 0 || dw > 16 || dh < 60 || dh > 160 {
			t.Errorf("outer - inner = %d×%d: want a toolbar's height (60 to 160) and no more than a border's width", dw, dh)
		}
	})
	t.Run("a mouse", func(t *testing.T) {
		for _, q := range []string{"(pointer: fine)", "(hover: hover)", "(any-pointer: fine)", "(any-hover: hover)"} {
			if !slices.Contains(id.Media, q) {
				t.Errorf("matchMedia(%q) does not match; matching: %q", q, id.Media)
			}
		}
		if slices.Contains(id.Media, "(pointer: none)") || slices.Contains(id.Media, "(pointer: coarse)") || id.Touch.OnTouchStart || id.Touch.MaxTouchPoints != 0 {
			t.Errorf("media %q, touch %+v: want no touch and a fine pointer", id.Media, id.Touch)
		}
	})
	t.Run("Chrome's navigator and window.chrome", func(t *testing.T) {
		if id.Webdriver || !slices.Contains(id.Plugins, "PDF Viewer") || !slices.Contains(id.MimeTypes, "application/pdf") {
			t.Errorf("webdriver %v, plugins %q, mimeTypes %q: want false and the PDF viewer", id.Webdriver, id.Plugins, id.MimeTypes)
		}
		// On a site no extension talks to, Chrome has no chrome.runtime.
		if slices.Sort(id.Chrome); !slices.Equal(id.Chrome, []string{"app", "csi", "loadTimes"}) {
			t.Errorf("window.chrome keys %q: want app, csi and loadTimes", id.Chrome)
		}
		if d := id.UAData; d == nil || d.Mobile || d.Platform != "Windows" || !slices.Equal(d.FormFactors, []string{"Desktop"}) || id.Platform != "Win32" {
			t.Errorf("userAgentData %+v, navigator.platform %q: want Windows, Win32, form factor Desktop", d, id.Platform)
		}
		if h := id.Header; h.Get("Sec-CH-UA-Mobile") != "?0" || h.Get("Sec-CH-UA-Platform") != `"Windows"` || !strings.Contains(h.Get("User-Agent"), "Windows NT 10.0; Win64; x64") {
			t.Errorf("headers %q", h)
		}
	})
	t.Run("notifications may be asked for", func(t *testing.T) {
		if id.Notification != "default" || id.NotificationQuery != "prompt" {
			t.Errorf("Notification.permission %q, permissions.query %q: want default and prompt", id.Notification, id.NotificationQuery)
		}
	})
	t.Run("no trace of the DevTools protocol", func(t *testing.T) {
		// With Runtime on, the protocol reads what a page logs to
		// describe it: getters fire more often than Chrome's own once.
		if !slices.Equal(id.ConsoleFired, []string{"name"}) || id.Worker.ConsoleFired > 1 {
			t.Errorf("getters of what the page logged fired %q in the page (want Chrome's own read of the name), a worker's Error name %d times",
				id.ConsoleFired, id.Worker.ConsoleFired)
		}
		if id.DebuggerMs > 500 {
			t.Errorf("a debugger statement paused the page for %.0f ms", id.DebuggerMs)
		}
	})
	t.Run("a GPU, not SwiftShader, shown by functions that look native", func(t *testing.T) {
		for _, g := range append(id.GPU, id.GPUBlankFrame...) {
			if strings.Contains(g, "SwiftShader") || strings.Contains(g, "Google Inc. (Google)") || !strings.Contains(g, "Intel") {
				t.Errorf("WebGL's unmasked vendor and renderer: %q (in the page %q, in a new blank frame %q)", g, id.GPU, id.GPUBlankFrame)
			}
		}
		want := []string{"function getParameter() { [native code] }", "function toString() { [native code] }",
			"function getParameter() { [native code] }", "function toString() { [native code] }", "function getParameter() { [native code] }",
			"getParameter/1", "toString/0", "value,writable,enumerable,configurable"}
		if !slices.Equal(id.SourceTexts, want) {
			t.Errorf("source texts, names and lengths of the replaced functions, in the page and across frames:\n%q\nwant\n%q", id.SourceTexts, want)
		}
	})
	t.Run("skimguard's script is not in the inventory", func(t *testing.T) {
		for _, s := range id.Obs.Scripts {
			if strings.Contains(s.URL, internalSourceURL) || strings.Contains(s.Source, gpuJS(false)[:60]) {
				t.Errorf("inventory holds skimguard's own script: %+v", s)
			}
		}
	})
}
