package crawler

import (
	"cmp"
	"context"
	"strings"

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
	steps := []func() error{
		func() error { return applyProfile(ctx, s.page.Profile, locale) },
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
	return steps
}

// applyProfile sets the tab's device and user agent, with Accept-Language
// for locale.
func applyProfile(ctx context.Context, profile, locale string) error {
	mobile := profile == skimguard.ProfileMobile
	meta := &emulation.UserAgentMetadata{
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
		Platform:        "Windows",
		PlatformVersion: "15.0.0",
		Architecture:    "x86",
		Bitness:         "64",
	}
	ua, platform := desktopUA, "Win32"
	if mobile {
		ua, platform = mobileUA, "Linux armv81"
		meta.Platform, meta.PlatformVersion, meta.Architecture, meta.Bitness = "Android", "14.0.0", "", ""
		meta.Model, meta.Mobile = "Pixel 8", true
	}
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: ua, AcceptLanguage: acceptLanguage(locale), Platform: platform, UserAgentMetadata: meta,
	}); err != nil {
		return err
	}
	if !mobile {
		return nil
	}
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 412, Height: 915, DeviceScaleFactor: 2.625, Mobile: true,
	}); err != nil {
		return err
	}
	_, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5})
	return err
}
