package crawler

import (
	"cmp"
	"context"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
)

// Shopper-like browser identities. Skimmers that hide from automation look
// for HeadlessChrome in the user agent and in the Sec-CH-UA brands, for
// navigator.webdriver, and for a missing Accept-Language.
const (
	chromeMajor = "156"
	chromeFull  = "156.0.8078.79"
	desktopUA   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeMajor + ".0.0.0 Safari/537.36"
	mobileUA    = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeMajor + ".0.0.0 Mobile Safari/537.36"
)

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
// automation give-aways, plus quiet networking, no site isolation, all
// traffic through the egress proxy at proxyURL, and the profile in
// profileDir.
func allocatorOptions(execPath, proxyURL, profileDir string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profileDir),
		chromedp.Flag("enable-automation", false),
		chromedp.Flag("disable-blink-features", "AutomationControlled"),
		chromedp.UserAgent(desktopUA),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1366, 768),
		// Quiet: Chromium must not try to reach Google from here.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-crash-reporter", true),
		// Site isolation off: cross-origin iframes stay in the page's
		// process and target, so their scripts, requests and inputs are
		// visible. Only ever load pages being audited with this browser.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter,AutofillServerCommunication,HttpsUpgrades,SitePerProcess,IsolateOrigins"),
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("mute-audio", true),
		// Everything through the egress proxy, loopback and link-local
		// included, which Chromium would otherwise send direct; WebRTC may
		// not send UDP around it. Each scan's browser context sets its own
		// proxy too.
		chromedp.ProxyServer(proxyURL),
		chromedp.Flag("proxy-bypass-list", proxyBypass),
		chromedp.Flag("webrtc-ip-handling-policy", "disable_non_proxied_udp"),
	)
}

// proxyBypass is the proxy bypass list of the browser and of each scan's
// browser context: "<-loopback>" removes Chromium's implicit bypass rules,
// which send localhost, loopback and link-local addresses (169.254.0.0/16,
// the metadata service's) around any proxy.
const proxyBypass = "<-loopback>"

// profileSteps set the tab's identity before navigation: the device, the
// language and the time zone. They are independent of each other, so
// setup sends them at once. Everything is set over the protocol, before the
// page exists: no script of skimguard's runs in the page for it.
func (s *scan) profileSteps(ctx context.Context) []func() error {
	locale := cmp.Or(s.page.Locale, defaultLocale)
	mobile := s.page.Profile == skimguard.ProfileMobile
	steps := []func() error{
		func() error {
			_, err := call(ctx, s, setUserAgentOverride, userAgent(mobile, locale))
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
	if mobile {
		steps = append(steps, func() error {
			_, err := call(ctx, s, emulation.SetDeviceMetricsOverride, phone)
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

// phone is the mobile profile's device, a Pixel 8 held upright: a 412×915
// CSS-pixel screen at 2.625 device pixels each, of which the page gets
// what Chrome's status bar and toolbar leave. Mobile emulation makes the
// window as large as the page, as on a phone.
var phone = emulation.SetDeviceMetricsOverrideParams{
	Width: 412, Height: 839, DeviceScaleFactor: 2.625, Mobile: true,
	ScreenWidth: 412, ScreenHeight: 915,
	ScreenOrientation: &emulation.ScreenOrientation{Type: emulation.ScreenOrientationTypePortraitPrimary, Angle: 0},
}

// uaOverride is Emulation.setUserAgentOverride's parameters, written out
// because cdproto omits an empty bitness, which Chrome then fills with the
// machine's "64": Chrome on Android reports it empty.
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

// userAgent is the user agent and client hints of Chrome on Windows, or on
// an Android phone, speaking locale.
func userAgent(mobile bool, locale string) uaOverride {
	o := uaOverride{
		UserAgent: desktopUA, AcceptLanguage: acceptLanguage(locale), Platform: "Win32",
		Metadata: uaMetadata{
			Brands: []*emulation.UserAgentBrandVersion{
				{Brand: "Chromium", Version: chromeMajor},
				{Brand: "Google Chrome", Version: chromeMajor},
				{Brand: "Not.A/Brand", Version: "99"},
			},
			FullVersionList: []*emulation.UserAgentBrandVersion{
				{Brand: "Chromium", Version: chromeFull},
				{Brand: "Google Chrome", Version: chromeFull},
				{Brand: "Not.A/Brand", Version: "99.0.0.0"},
			},
			Platform: "Windows", PlatformVersion: "15.0.0", Architecture: "x86", Bitness: "64",
			FormFactors: []string{"Desktop"},
		},
	}
	if mobile {
		// The reduced Android user agent and platform Chrome sends.
		o.UserAgent, o.Platform = mobileUA, "Linux armv81"
		m := &o.Metadata
		m.Platform, m.PlatformVersion, m.Architecture, m.Bitness = "Android", "14.0.0", "", ""
		m.Model, m.Mobile, m.FormFactors = "Pixel 8", true, []string{"Mobile"}
	}
	return o
}
