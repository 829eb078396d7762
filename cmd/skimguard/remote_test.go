package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/internal/browsertest"
)

// startRemoteBrowser starts Chromium as a remote browser is started (with
// crawler.BrowserFlags and a DevTools port on loopback) and returns its
// http://127.0.0.1:PORT endpoint.
func startRemoteBrowser(t *testing.T) string {
	t.Helper()
	return browsertest.StartRemote(t, browsertest.Chromium, crawler.BrowserFlags(), 0).HTTP
}

func TestScanInARemoteBrowser(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, shop.CheckoutURL())
	// sites.yaml names a browser that is down; --browser replaces it.
	body, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append([]byte("browsers: [http://127.0.0.1:9]\n"), body...), 0o600)
	endpoint := startRemoteBrowser(t)
	code, out, errOut := cli(t, "scan", "--config", cfg, "--db", filepath.Join(dir, "s.db"),
		"--chromium", "/nonexistent/chromium", "--browser", endpoint)
	if code != exitOK || !strings.Contains(out, "shop/checkout") || !strings.Contains(out, "test card typed") {
		t.Fatalf("scan --browser %s: exit %d\n%s%s", endpoint, code, out, errOut)
	}
	// Without the flag, sites.yaml's browsers: are used.
	os.WriteFile(cfg, append([]byte("browsers: ["+endpoint+"]\n"), body...), 0o600)
	code, out, errOut = cli(t, "scan", "--config", cfg, "--db", filepath.Join(dir, "s.db"), "--chromium", "/nonexistent/chromium")
	if code != exitOK || !strings.Contains(out, "test card typed") {
		t.Fatalf("scan with browsers: [%s]: exit %d\n%s%s", endpoint, code, out, errOut)
	}
}
