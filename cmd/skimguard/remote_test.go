package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/internal/browsertest"
)

// startRemoteBrowser starts Chromium as a remote browser is started (with
// crawler.BrowserFlags and a DevTools port on loopback) and returns its
// http://127.0.0.1:PORT endpoint.
func startRemoteBrowser(t *testing.T) string {
	t.Helper()
	args := append(crawler.BrowserFlags(), "--headless", "--user-data-dir="+t.TempDir(),
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank")
	if os.Getuid() == 0 {
		args = append(args, "--no-sandbox") // as chromedp does as root
	}
	cmd := exec.Command(browsertest.Chromium, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if ws, ok := strings.CutPrefix(sc.Text(), "DevTools listening on ws://"); ok {
				found <- "http://" + ws[:strings.IndexByte(ws, '/')]
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatal("Chromium exited without telling its DevTools address")
		}
		return u
	case <-time.After(2 * time.Minute):
		t.Fatal("Chromium did not tell its DevTools address within 2 minutes")
	}
	return ""
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
