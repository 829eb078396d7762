package crawler

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
)

// Shopper-like browser identities. Skimmers that hide from automation look
// for HeadlessChrome in the user agent and in the Sec-CH-UA brands, for
// navigator.webdriver, and for a missing Accept-Language; the version they
// see is the running Chromium's, as a real Chrome's matches its engine.
const (
	desktopUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s.0.0.0 Safari/537.36"
	mobileUA  = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s.0.0.0 Mobile Safari/537.36"
)

// browserVersion is a Chromium version: its major number alone, as the
// reduced user agent and Sec-CH-UA carry it, and in full.
type browserVersion struct {
	major, full string
}

// parseVersion reads a version such as "156.0.8078.114", alone or at the
// end of a product ("Chrome/156.0.8078.114") or of `chromium --version`'s
// line ("Chromium 156.0.8078.114").
func parseVersion(s string) (browserVersion, bool) {
	s = strings.TrimSpace(s)
	s = s[strings.LastIndexAny(s, "/ ")+1:]
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return browserVersion{}, false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return browserVersion{}, false
		}
	}
	return browserVersion{major: parts[0], full: s}, true
}

// binaryVersion asks the Chromium binary for its version, for the user
// agent of the browser's launch flags, which must be written before the
// browser runs. The scans' identity comes from the running browser itself
// (Browser.getVersion).
func binaryVersion(ctx context.Context, path string) (browserVersion, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return browserVersion{}, fmt.Errorf("%s --version: %w", path, err)
	}
	v, ok := parseVersion(string(out))
	if !ok {
		return browserVersion{}, fmt.Errorf("%s --version said %q: no version in it", path, bytes.TrimSpace(out))
	}
	return v, nil
}

// brands are the Sec-CH-UA brands of Google Chrome at version v, in
// Chromium's order (embedder_support's GenerateBrandVersionList): with a
// GREASE brand made from the major number, so that a page sees the brand,
// version and order a real Chrome of that version shows. full gives the
// full versions, as in Sec-CH-UA-Full-Version-List.
func brands(v browserVersion, full bool) []*emulation.UserAgentBrandVersion {
	seed, _ := strconv.Atoi(v.major)
	const greaseChars = " (:-./);=?_"
	greaseVersions := []string{"8", "99", "24"}
	grease := &emulation.UserAgentBrandVersion{
		Brand:   "Not" + greaseChars[seed%len(greaseChars):][:1] + "A" + greaseChars[(seed+1)%len(greaseChars):][:1] + "Brand",
		Version: greaseVersions[seed%len(greaseVersions)],
	}
	version := v.major
	if full {
		grease.Version += ".0.0.0"
		version = v.full
	}
	orders := [6][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	order := orders[seed%len(orders)]
	list := make([]*emulation.UserAgentBrandVersion, 3)
	list[order[0]] = grease
	list[order[1]] = &emulation.UserAgentBrandVersion{Brand: "Chromium", Version: version}
	list[order[2]] = &emulation.UserAgentBrandVersion{Brand: "Google Chrome", Version: version}
	return list
}

// defaultLocale is the shopper's language when the page names none.
const defaultLocale = "en-US"

// acceptLanguage is what a browser set to locale (a BCP 47 tag) sends and
// shows in navigator.languages: the tag, then its language alone, as
// Chrome lists them ("ja-JP,ja"; Chromium adds ";q=0.9").
func acceptLanguage(locale string) string {
	if lang, _, ok := strings.Cut(locale, "-"); ok {
		return locale + "," + lang
	}
	return locale
}

// allocatorOptions are the browser flags: chromedp's defaults, minus the
// automation give-aways, plus launchFlags, all traffic through the egress
// proxy at proxyURL, and the profile in profileDir. The user agent of
// Chromium version v is the browser's default, which service workers show
// (each scan's tab sets its own); without a version the flag is left out.
func allocatorOptions(execPath, proxyURL, profileDir string, v browserVersion) []chromedp.ExecAllocatorOption {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profileDir),
	)
	for _, f := range launchFlags() {
		opts = append(opts, chromedp.Flag(f.name, f.value))
	}
	opts = append(opts,
		// Everything through the egress proxy, loopback and link-local
		// included, which Chromium would otherwise send direct; WebRTC may
		// not send UDP around it. Each scan's browser context sets its own
		// proxy too.
		chromedp.ProxyServer(proxyURL),
		chromedp.Flag("proxy-bypass-list", proxyBypass),
	)
	if v.major != "" {
		opts = append(opts, chromedp.UserAgent(fmt.Sprintf(desktopUA, v.major)))
	}
	return opts
}

// launchFlag is one command-line flag of the browser: a bool value is a
// switch, set or left out.
type launchFlag struct {
	name  string
	value any
}

// launchFlags are the flags the browser needs beyond chromedp's defaults,
// for the local browser and for remote ones (BrowserFlags): no automation
// traces, a desktop screen, quiet networking, no site isolation.
func launchFlags() []launchFlag {
	return []launchFlag{
		{"enable-automation", false},
		{"disable-blink-features", "AutomationControlled"},
		{"lang", "en-US"},
		// A desktop as a page measures it: a maximised window on a
		// 1366×768 screen above a 40-pixel taskbar, whose page is 87
		// pixels shorter than the window, as under Chrome's tabs and
		// toolbar (devtools-detect kits fire on a difference over 160,
		// bot checks on none). Headless Chromium has no pointing device:
		// say there is a mouse, for (pointer: fine) and (hover: hover).
		// Profile mobile overrides all of it in its tab.
		{"screen-info", "{1366x768 workAreaBottom=40}"},
		{"window-size", fmt.Sprintf("%d,%d", desktopWindowWidth, desktopWindowHeight)},
		{"window-position", "0,0"},
		{"blink-settings", "primaryPointerType=4,availablePointerTypes=4,primaryHoverType=2,availableHoverTypes=2"},
		// Quiet: Chromium must not try to reach Google from here.
		{"disable-background-networking", true},
		{"disable-component-update", true},
		{"disable-domain-reliability", true},
		{"no-pings", true},
		{"disable-crash-reporter", true},
		// Site isolation off: cross-origin iframes stay in the page's
		// process and target, so their scripts, requests and inputs are
		// visible. Only ever load pages being audited with this browser.
		// No back/forward cache and no new document host per navigation:
		// when the scan leaves the page, it unloads in the frame the tab's
		// session watches, so what it sends on pagehide is recorded.
		// No omnibox popup pages: each scan's browser context opens a
		// window whose address bar preloads two of Chrome's own WebUI
		// pages in a renderer of their own, which no page can see and
		// which cost as much CPU as the scanned page's renderer (measured:
		// Chromium's CPU per scan 1.77 s with them, 0.97 s without).
		{"disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter,AutofillServerCommunication,HttpsUpgrades,SitePerProcess,IsolateOrigins,BackForwardCache,RenderDocument,WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup"},
		{"disable-site-isolation-trials", true},
		{"mute-audio", true},
		// WebRTC may not send UDP around the egress proxy, which could
		// not carry it.
		{"webrtc-ip-handling-policy", "disable_non_proxied_udp"},
	}
}

// proxyBypass is the proxy bypass list of the browser and of each scan's
// browser context: "<-loopback>" removes Chromium's implicit bypass rules,
// which send localhost, loopback and link-local addresses (169.254.0.0/16,
// the metadata service's) around any proxy.
const proxyBypass = "<-loopback>"

// profileSteps set the tab's identity before navigation: the device, the
// language and the time zone. They are independent of each other, so
// setup sends them at once. Everything is set over the protocol, before the
// page exists, except the GPU's name (see gpuJS).
// The desktop browser window: the width of a 1366×768 screen, its height
// less the taskbar.
const desktopWindowWidth, desktopWindowHeight = 1366, 728

func (s *scan) profileSteps(ctx context.Context) []func() error {
	locale := cmp.Or(s.page.Locale, defaultLocale)
	mobile := s.page.Profile == skimguard.ProfileMobile
	steps := []func() error{
		func() error {
			_, err := call(ctx, s, setUserAgentOverride, userAgent(s.version, mobile, locale))
			return err
		},
		// Intl and Date formatting; Accept-Language and
		// navigator.languages come with the user agent.
		func() error {
			_, err := call(ctx, s, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: locale})
			return err
		},
	}
	if s.page.Timezone != "" {
		// Intl's timeZone, Date's offset and zone name, in the page and
		// its workers. Without it the browser keeps the machine's.
		steps = append(steps, func() error {
			_, err := call(ctx, s, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: s.page.Timezone})
			return err
		})
	}
	steps = append(steps, func() error {
		_, err := call(ctx, s, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: "const " + s.access.hook + " = " + gpuJS(mobile)})
		return err
	})
	if mobile {
		steps = append(steps, func() error {
			_, err := call(ctx, s, emulation.SetDeviceMetricsOverride, phone())
			return err
		}, func() error {
			// Touch events, maxTouchPoints, and a coarse pointer that
			// cannot hover for (pointer: coarse) and (hover: none).
			_, err := call(ctx, s, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5})
			return err
		})
	}
	return steps
}

// gpuJS is one of the two scripts skimguard adds to pages (rtcJS, webrtc.go,
// is the other), in every frame before
// the page's own. Headless Chromium draws WebGL with SwiftShader, and its
// WEBGL_debug_renderer_info names it, which anti-sandbox skimmers look for;
// no flag or protocol command changes it, so the script makes
// getParameter name a desktop's Intel GPU (a phone's ARM Mali) instead; and
// it keeps the window's outer size from reading 0×0 before the browser has
// told a new tab's page its size. The functions
// it replaces keep their name, length and property attributes, and
// Function.prototype.toString shows them as native, in every frame and
// across frames: it recognises them by their source text, so it keeps no
// state a page could find. It calls nothing the page could have replaced
// after it ran. A stack trace taken
// through either function shows its frame, named by internalSourceURL.
func gpuJS(mobile bool) string {
	vendor, renderer := "Google Inc. (Intel)", "ANGLE (Intel, Intel(R) UHD Graphics 620 (0x00005917) Direct3D11 vs_5_0 ps_5_0, D3D11)"
	width, height := int64(desktopWindowWidth), int64(desktopWindowHeight)
	if mobile {
		vendor, renderer = "ARM", "Mali-G715"
		width, height = phone().Width, phone().Height
	}
	return fmt.Sprintf(`(() => {
  const apply = Reflect.apply, toString = Function.prototype.toString, indexOf = String.prototype.indexOf;
  const describe = Object.getOwnPropertyDescriptor, define = Object.defineProperty;
  const wrap = (real) => ({
    getParameter(pname) {
      const v = apply(real, this, arguments);
      if (typeof v === 'string') {
        if (v === 'Google Inc. (Google)') return %q;
        if (apply(indexOf, v, ['SwiftShader']) >= 0) return %q;
      }
      return v;
    },
  }).getParameter;
  // A new tab's window can report an outer size of 0×0 to the first
  // scripts of a page, which no real browser does and kits test for: until
  // the browser has told the page its window's size, the getters answer
  // the size the profile gives the window.
  const sizes = {
    get outerWidth() { return apply(sizeGetters.w, this, []) || %d; },
    get outerHeight() { return apply(sizeGetters.h, this, []) || %d; },
  };
  const sizeGetters = {};
  const getterOf = (name) => describe(sizes, name).get;
  const wrappedW = apply(toString, getterOf('outerWidth'), []), wrappedH = apply(toString, getterOf('outerHeight'), []);
  const shown = {
    toString() {
      const s = apply(toString, this, arguments);
      return s === wrapped ? 'function getParameter() { [native code] }' : s === own ? 'function toString() { [native code] }' :
        s === wrappedW ? 'function get outerWidth() { [native code] }' : s === wrappedH ? 'function get outerHeight() { [native code] }' : card.shown(s);
    },
  }.toString;
  const wrapped = apply(toString, wrap(null), []), own = apply(toString, shown, []);
  for (const [name, key] of [['outerWidth', 'w'], ['outerHeight', 'h']]) {
    const d = typeof window === 'object' && describe(window, name);
    if (d && typeof d.get === 'function') {
      sizeGetters[key] = d.get;
      d.get = getterOf(name);
      define(window, name, d);
    }
  }
  for (const c of [self.WebGLRenderingContext, self.WebGL2RenderingContext]) {
    const d = c && describe(c.prototype, 'getParameter');
    if (d && typeof d.value === 'function') {
      d.value = wrap(d.value);
      define(c.prototype, 'getParameter', d);
    }
  }
%s
  const d = describe(Function.prototype, 'toString');
  d.value = shown;
  define(Function.prototype, 'toString', d);
  return card.api;
})();
//# sourceURL=%sprofile.js
`, vendor, renderer, width, height, cardHookJS, internalSourceURL)
}

// phone is the mobile profile's device, a Pixel 8 held upright: a 412×915
// CSS-pixel screen at 2.625 device pixels each, of which the page gets
// what Chrome's status bar and toolbar leave. Mobile emulation makes the
// window as large as the page, as on a phone.
func phone() emulation.SetDeviceMetricsOverrideParams {
	return emulation.SetDeviceMetricsOverrideParams{
		Width: 412, Height: 839, DeviceScaleFactor: 2.625, Mobile: true,
		ScreenWidth: 412, ScreenHeight: 915,
		ScreenOrientation: &emulation.ScreenOrientation{Type: emulation.ScreenOrientationTypePortraitPrimary, Angle: 0},
	}
}

// uaOverride is Emulation.setUserAgentOverride's parameters, written out
// because cdproto has no fullVersion (navigator.userAgentData's
// uaFullVersion, deprecated but still reported by Chrome) and omits an
// empty bitness, which Chrome then fills with the machine's "64": Chrome
// on Android reports it empty.
type uaOverride struct {
	UserAgent      string     `json:"userAgent"`
	AcceptLanguage string     `json:"acceptLanguage,omitempty"`
	Platform       string     `json:"platform,omitempty"` // navigator.platform
	Metadata       uaMetadata `json:"userAgentMetadata"`
}

// uaMetadata is what Sec-CH-UA-* and navigator.userAgentData report.
type uaMetadata struct {
	Brands          []*emulation.UserAgentBrandVersion `json:"brands"`
	FullVersionList []*emulation.UserAgentBrandVersion `json:"fullVersionList"`
	FullVersion     string                             `json:"fullVersion"`
	Platform        string                             `json:"platform"`
	PlatformVersion string                             `json:"platformVersion"`
	Architecture    string                             `json:"architecture"`
	Model           string                             `json:"model"`
	Mobile          bool                               `json:"mobile"`
	Bitness         string                             `json:"bitness"`
	Wow64           bool                               `json:"wow64"`
	FormFactors     []string                           `json:"formFactors"`
}

var setUserAgentOverride = cdp.Command[uaOverride, cdp.Empty]{Method: emulation.CommandSetUserAgentOverride}

// userAgent is the user agent and client hints of Chrome at version v on
// Windows, or on an Android phone, speaking locale.
func userAgent(v browserVersion, mobile bool, locale string) uaOverride {
	o := uaOverride{
		UserAgent: fmt.Sprintf(desktopUA, v.major), AcceptLanguage: acceptLanguage(locale), Platform: "Win32",
		Metadata: uaMetadata{
			Brands: brands(v, false), FullVersionList: brands(v, true), FullVersion: v.full,
			Platform: "Windows", PlatformVersion: "15.0.0", Architecture: "x86", Bitness: "64",
			FormFactors: []string{"Desktop"},
		},
	}
	if mobile {
		// The reduced Android user agent and platform Chrome sends.
		o.UserAgent, o.Platform = fmt.Sprintf(mobileUA, v.major), "Linux armv81"
		m := &o.Metadata
		m.Platform, m.PlatformVersion, m.Architecture, m.Bitness = "Android", "14.0.0", "", ""
		m.Model, m.Mobile, m.FormFactors = "Pixel 8", true, []string{"Mobile"}
	}
	return o
}
