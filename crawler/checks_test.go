package crawler

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// checksJS runs, in the page, the checks that skimmers and bot detectors
// run before they act, as they write them, and sends the page's server
// which it ran and which failed, with why. A check returns "" when the
// browser passes it. window.__server holds what the server received, as a
// kit that checks on both sides passes it to its script.
const checksJS = `(async function () {
  const s = window.__server, ua = navigator.userAgent, phoneUA = /Android|iPhone|Mobile/.test(ua);
  const uad = navigator.userAgentData;
  const checks = [
    ['ua-headless', () => /Headless/i.test(ua + navigator.appVersion) ? ua : ''],
    ['brands-headless', () => !uad ? 'no userAgentData' : uad.brands.some((b) => /Headless/i.test(b.brand)) ? JSON.stringify(uad.brands) : ''],
    ['brands-version', () => {
      const major = (ua.match(/Chrome\/(\d+)\./) || [])[1];
      return uad && uad.brands.some((b) => b.brand === 'Chromium' && b.version === major) ? '' : 'UA Chrome/' + major + ', brands ' + JSON.stringify(uad && uad.brands);
    }],
    ['webdriver', () => navigator.webdriver === false ? '' : 'navigator.webdriver ' + navigator.webdriver],
    ['webdriver-in-iframe', () => {
      const f = document.createElement('iframe'); document.body.appendChild(f);
      const w = f.contentWindow, bad = w.navigator.webdriver !== false || !w.chrome || w.navigator.languages.length === 0;
      f.remove();
      return bad ? 'a new iframe shows webdriver, no window.chrome or no languages' : '';
    }],
    ['languages-empty', () => navigator.language && navigator.languages && navigator.languages.length > 0 ? '' : 'languages ' + JSON.stringify(navigator.languages)],
    ['plugins-empty', () => phoneUA || (navigator.plugins.length > 0 && navigator.mimeTypes.length > 0) ? '' : 'plugins ' + navigator.plugins.length + ', mimeTypes ' + navigator.mimeTypes.length],
    ['chrome-missing', () => window.chrome && typeof window.chrome.loadTimes === 'function' && typeof window.chrome.csi === 'function' ? '' : 'window.chrome ' + typeof window.chrome],
    ['window-zero', () => outerWidth > 0 && outerHeight > 0 && innerWidth > 0 && innerHeight > 0 ? '' : 'outer ' + outerWidth + 'x' + outerHeight],
    ['devtools-detect', () => outerWidth - innerWidth > 160 || outerHeight - innerHeight > 160 ? 'outer - inner ' + (outerWidth - innerWidth) + 'x' + (outerHeight - innerHeight) : ''],
    ['no-browser-toolbar', () => phoneUA || outerHeight > innerHeight ? '' : 'outerHeight ' + outerHeight + ' = innerHeight ' + innerHeight],
    ['screen-zero', () => screen.width > 0 && screen.height > 0 && screen.availWidth > 0 && screen.availHeight > 0 && screen.colorDepth >= 24 ? '' : 'screen ' + screen.width + 'x' + screen.height],
    ['screen-smaller-than-window', () => screen.width >= outerWidth && screen.height >= outerHeight && screen.availHeight <= screen.height ? '' :
      'screen ' + screen.width + 'x' + screen.height + ', window ' + outerWidth + 'x' + outerHeight],
    ['notification-denied', () => Notification.permission === 'denied' ? 'Notification.permission denied' : ''],
    ['notification-inconsistent', async () => {
      const q = (await navigator.permissions.query({name: 'notifications'})).state, p = Notification.permission;
      return (p === 'default' && q === 'prompt') || p === q ? '' : 'Notification.permission ' + p + ', permissions.query ' + q;
    }],
    ['console-getter', () => {
      let name = 0, stack = 0;
      const a = new Error('x'); Object.defineProperty(a, 'name', {get() { name++; return 'Error'; }});
      const b = new Error('y'); Object.defineProperty(b, 'stack', {get() { stack++; return ''; }});
      console.log(a); console.debug(b);
      return name > 1 || stack > 0 ? 'name read ' + name + ' times, stack ' + stack : '';
    }],
    ['debugger-timing', () => {
      // The fastest of three: a kit times one statement, but a busy test
      // machine can stall any one; a real pause stalls all three.
      let ms = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        debugger;
        ms = Math.min(ms, performance.now() - t0);
      }
      return ms > 100 ? 'debugger statement took ' + ms + ' ms' : '';
    }],
    ['webgl-vm-renderer', () => {
      const gl = document.createElement('canvas').getContext('webgl');
      if (!gl) return 'no WebGL';
      const e = gl.getExtension('WEBGL_debug_renderer_info');
      const r = e ? gl.getParameter(e.UNMASKED_VENDOR_WEBGL) + ' ' + gl.getParameter(e.UNMASKED_RENDERER_WEBGL) : '';
      return /swiftshader|llvmpipe|virtualbox|vmware|mesa offscreen/i.test(r) || /\(Google\)/.test(r) ? r : '';
    }],
    ['native-functions', () => {
      const n = (f) => /^function \w*\(\) \{ \[native code\] \}$/.test(Function.prototype.toString.call(f));
      const fs = [WebGLRenderingContext.prototype.getParameter, Function.prototype.toString, navigator.permissions.query, Notification.requestPermission];
      return fs.every(n) ? '' : 'a function is not native: ' + fs.filter((f) => !n(f)).map(String).join(' | ').slice(0, 200);
    }],
    ['language-vs-accept-language', () => {
      const lang = (t) => String(t).split(/[-,;]/)[0].toLowerCase();
      const intl = Intl.DateTimeFormat().resolvedOptions().locale;
      return lang(s.acceptLanguage) === lang(navigator.language) && lang(intl) === lang(navigator.language) && navigator.languages[0] === navigator.language ? '' :
        'Accept-Language ' + s.acceptLanguage + ', navigator.language ' + navigator.language + ', Intl ' + intl;
    }],
    ['timezone-vs-date', () => {
      // The zone Intl names must give Date's offset, as geofencing kits
      // that compare the two check.
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone, when = new Date(Date.UTC(2026, 0, 15, 12));
      const name = new Intl.DateTimeFormat('en-US', {timeZone: tz, timeZoneName: 'longOffset'}).formatToParts(when).find((p) => p.type === 'timeZoneName').value;
      const m = name.match(/GMT(?:([+-])(\d\d):(\d\d))?/), off = m[1] ? (m[1] === '-' ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
      return off === when.getTimezoneOffset() ? '' : tz + ' is ' + name + ' but getTimezoneOffset is ' + when.getTimezoneOffset();
    }],
    ['platform-consistency', () => {
      const p = navigator.platform, up = uad && uad.platform;
      const ok = /Windows/.test(ua) ? p === 'Win32' && up === 'Windows' : /Android/.test(ua) ? /^Linux arm/.test(p) && up === 'Android' : false;
      return ok ? '' : 'UA ' + ua + ', navigator.platform ' + p + ', userAgentData.platform ' + up;
    }],
    ['mobile-flag-consistency', () => uad && uad.mobile === phoneUA && s.mobileHint === (phoneUA ? '?1' : '?0') ? '' :
      'UA says ' + (phoneUA ? 'phone' : 'desktop') + ', userAgentData.mobile ' + (uad && uad.mobile) + ', Sec-CH-UA-Mobile ' + s.mobileHint],
    ['mobile-ua-without-touch', () => {
      if (!phoneUA) return '';
      const bad = [];
      if (!('ontouchstart' in window)) bad.push('no ontouchstart');
      try { document.createEvent('TouchEvent'); } catch (e) { bad.push('no TouchEvent'); }
      if (!(navigator.maxTouchPoints > 0)) bad.push('maxTouchPoints 0');
      if (!matchMedia('(pointer: coarse)').matches || matchMedia('(pointer: fine)').matches) bad.push('pointer not coarse');
      if (!matchMedia('(hover: none)').matches || matchMedia('(hover: hover)').matches) bad.push('can hover');
      if (typeof window.orientation === 'undefined') bad.push('no window.orientation');
      if (!(screen.width < 600 && devicePixelRatio >= 2 && screen.height > screen.width && /^portrait/.test(screen.orientation.type))) {
        bad.push('screen ' + screen.width + 'x' + screen.height + '@' + devicePixelRatio + ' ' + screen.orientation.type);
      }
      return bad.join(', ');
    }],
    ['desktop-ua-without-mouse', () => {
      if (phoneUA) return '';
      return matchMedia('(pointer: fine)').matches && matchMedia('(hover: hover)').matches && navigator.maxTouchPoints === 0 && typeof window.orientation === 'undefined' ? '' :
        'pointer fine ' + matchMedia('(pointer: fine)').matches + ', hover ' + matchMedia('(hover: hover)').matches + ', maxTouchPoints ' + navigator.maxTouchPoints;
    }],
    ['worker-differs', () => new Promise((done) => {
      const w = new Worker(URL.createObjectURL(new Blob(['postMessage([navigator.userAgent, navigator.webdriver === true, Intl.DateTimeFormat().resolvedOptions().timeZone, navigator.hardwareConcurrency])'])));
      w.onmessage = (m) => {
        const [wua, wd, tz, hc] = m.data;
        done(wua === ua && !wd && tz === Intl.DateTimeFormat().resolvedOptions().timeZone && hc === navigator.hardwareConcurrency ? '' : 'worker ' + JSON.stringify(m.data));
      };
      setTimeout(() => done('the worker did not answer'), 2000);
    })],
  ];
  const ran = [], failed = {};
  for (const [name, check] of checks) {
    ran.push(name);
    try {
      const why = await check();
      if (why) failed[name] = why;
    } catch (e) {
      failed[name] = 'threw ' + e;
    }
  }
  fetch('/report', {method: 'POST', body: JSON.stringify({ran, failed, language: navigator.language, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone})});
})();`

// allChecks are the checks checksJS must run: a check dropped from the page
// fails the test rather than passing unseen.
var allChecks = []string{
	"ua-headless", "brands-headless", "brands-version", "webdriver", "webdriver-in-iframe", "languages-empty", "plugins-empty",
	"chrome-missing", "window-zero", "devtools-detect", "no-browser-toolbar", "screen-zero", "screen-smaller-than-window",
	"notification-denied", "notification-inconsistent", "console-getter", "debugger-timing", "webgl-vm-renderer", "native-functions",
	"language-vs-accept-language", "timezone-vs-date", "platform-consistency", "mobile-flag-consistency", "mobile-ua-without-touch",
	"desktop-ua-without-mouse", "worker-differs",
}

// serverChecks are what a kit's server checks before it serves the
// skimmer; it returns why the request fails them, empty when it passes.
func serverChecks(r *http.Request) []string {
	var failed []string
	h := r.Header
	ua, brands := h.Get("User-Agent"), h.Get("Sec-CH-UA")
	if strings.Contains(ua, "Headless") || strings.Contains(brands, "Headless") {
		failed = append(failed, "headless in User-Agent or Sec-CH-UA: "+ua+" / "+brands)
	}
	if !strings.Contains(brands, `"Google Chrome"`) {
		failed = append(failed, "no Google Chrome brand: "+brands)
	}
	if m := regexp.MustCompile(`Chrome/(\d+)\.0\.0\.0`).FindStringSubmatch(ua); m == nil || !strings.Contains(brands, `"Chromium";v="`+m[1]+`"`) {
		failed = append(failed, "User-Agent and Sec-CH-UA differ in version: "+ua+" / "+brands)
	}
	if h.Get("Accept-Language") == "" {
		failed = append(failed, "no Accept-Language")
	}
	mobile := strings.Contains(ua, "Mobile")
	if (h.Get("Sec-CH-UA-Mobile") == "?1") != mobile {
		failed = append(failed, "Sec-CH-UA-Mobile "+h.Get("Sec-CH-UA-Mobile")+" for "+ua)
	}
	if p := h.Get("Sec-CH-UA-Platform"); (mobile && p != `"Android"`) || (!mobile && p != `"Windows"`) {
		failed = append(failed, "Sec-CH-UA-Platform "+p+" for "+ua)
	}
	return failed
}

// TestScanPassesSkimmerAndBotChecks: the page runs every check skimmers
// and bot detectors are known to run before they act, on both sides, and
// the scan must pass each one: as a desktop, as a phone, and as a Japanese
// shopper in Tokyo on either.
func TestScanPassesSkimmerAndBotChecks(t *testing.T) {
	c := needBrowser(t)
	for _, tt := range []struct {
		name string
		page skimguard.Page
	}{
		{"desktop", skimguard.Page{Profile: skimguard.ProfileDesktop}},
		{"mobile", skimguard.Page{Profile: skimguard.ProfileMobile}},
		{"desktop in Japanese in Tokyo", skimguard.Page{Profile: skimguard.ProfileDesktop, Locale: "ja-JP", Timezone: "Asia/Tokyo"}},
		{"mobile in Japanese in Tokyo", skimguard.Page{Profile: skimguard.ProfileMobile, Locale: "ja-JP", Timezone: "Asia/Tokyo"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reports := make(chan []byte, 1)
			server := make(chan []string, 1)
			mux := http.NewServeMux()
			mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
				select {
				case server <- serverChecks(r):
				default:
				}
				seen, _ := json.Marshal(map[string]string{"acceptLanguage": r.Header.Get("Accept-Language"), "mobileHint": r.Header.Get("Sec-CH-UA-Mobile")})
				html(w, `<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"></head><body><h1>Checkout</h1>`+
					`<script>window.__server = `+string(seen)+`;</script><script>`+checksJS+`</script></body></html>`)
			})
			mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				select {
				case reports <- b:
				default:
				}
			})
			srv := serveOn(t, "127.0.0.1", mux)
			p := tt.page
			p.URL, p.Wait = srv.URL+"/checkout", 3*time.Second
			mustScan(t, c, p)

			var rep struct {
				Ran      []string          `json:"ran"`
				Failed   map[string]string `json:"failed"`
				Language string            `json:"language"`
				TimeZone string            `json:"timeZone"`
			}
			select {
			case b := <-reports:
				if err := json.Unmarshal(b, &rep); err != nil {
					t.Fatalf("report %s: %v", b, err)
				}
			default:
				t.Fatal("the page's checks did not report: a check hung the page or its script stopped")
			}
			for _, name := range allChecks {
				if !slices.Contains(rep.Ran, name) {
					t.Errorf("check %s did not run; ran %q", name, rep.Ran)
				}
			}
			for name, why := range rep.Failed {
				t.Errorf("the page's check %s fails: %s", name, why)
			}
			for _, why := range <-server {
				t.Errorf("the server's check fails: %s", why)
			}
			if tt.page.Locale != "" && (rep.Language != tt.page.Locale || rep.TimeZone != tt.page.Timezone) {
				t.Errorf("the page saw language %q in %q, want %q in %q", rep.Language, rep.TimeZone, tt.page.Locale, tt.page.Timezone)
			}
			t.Logf("%d checks in the page passed", len(rep.Ran)-len(rep.Failed))
		})
	}
}
