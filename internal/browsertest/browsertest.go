// Package browsertest starts a headless Chromium for tests that look at
// pages the way a person's browser does (the web interface, the HTML
// report), and one apart from any crawler for tests of remote browsers
// (StartRemote). Scans use the crawler's own browser or that remote one.
package browsertest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium is the browser binary: Debian's, which scripts/test installs.
const Chromium = "/usr/lib/chromium/chromium"

// New starts a fresh headless Chromium with an empty profile and returns a
// chromedp context of its first tab; both end with the test. Without
// Chromium the test fails, or is skipped under -short. more are further
// options, such as TrustCertificate.
func New(t testing.TB, more ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if testing.Short() {
			t.Skip("no Chromium; skipped with -short")
		}
		t.Fatalf("no Chromium at %s (scripts/test installs it)", Chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(Chromium),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true))
	opts = append(opts, more...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Do starts the browser: no timeout on it (TECH-NOTES).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// TrustCertificate makes the browser accept TLS servers that present
// cert's key, such as httptest.NewTLSServer's (they share one): it pins
// the key (--ignore-certificate-errors-spki-list), so that every other
// certificate error still counts. Browser features that need a secure
// context and HTTPS (the Reporting API) then work against test servers.
func TrustCertificate(cert *x509.Certificate) chromedp.ExecAllocatorOption {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(sum[:]))
}

// ShortReportingDelay makes the Reporting API deliver reports within a
// second instead of batching them for about a minute.
func ShortReportingDelay() chromedp.ExecAllocatorOption {
	return chromedp.Flag("short-reporting-delay", true)
}
