package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/internal/browsertest"
	"github.com/skimguard/skimguard/sqlite"
)

// serve runs on a schedule until stopped, storing every check, and stops
// cleanly: the daemon's contract, against the demo shop in real Chromium.
func TestServeChecksOnScheduleAndStopsCleanly(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`sites:
  - name: shop
    schedule: "@every 2s"
    pages:
      - name: checkout
        url: %s
        wait: 1s
  - name: archive
    schedule: "@monthly"
    pages:
      - name: old
        url: %s
        wait: 1s
`, shop.CheckoutURL(), shop.CheckoutURL())), 0o600)
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--site", "shop", "--samples", "3", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"serve", "--config", cfg, "--db", db, "--site", "shop", "--site", "archive", "--jitter", "0", "--listen", "off"},
		env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	if code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, errb.String())
	}
	logs := errb.String()
	if !strings.Contains(logs, "at least weekly") || !strings.Contains(logs, "archive/old") {
		t.Errorf("no warning for the monthly page:\n%s", logs)
	}
	if !strings.Contains(logs, "stopped") {
		t.Errorf("serve did not say it stopped:\n%s", logs)
	}

	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scans, _ := store.Scans(context.Background(), skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: -1})
	checks := 0
	for _, s := range scans {
		if s.Status == skimguard.ScanOK {
			checks++
		}
	}
	// One baseline sample, then the daemon's checks every 2 s for ~15 s.
	if checks < 2 {
		t.Fatalf("the daemon stored %d passing checks in 15 s on a 2 s schedule; scans: %+v\nlogs:\n%s", checks, scans, logs)
	}
}

func TestServeRefusesABadConfigAtStart(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte("sites:\n  - name: shop\n    schedule: \"every hour\"\n    pages:\n      - name: c\n        url: http://127.0.0.1:9/\n"), 0o600)
	code, out, errOut := cli(t, "serve", "--config", cfg, "--db", filepath.Join(dir, "sg.db"))
	if code != exitError || !strings.Contains(out+errOut, "sites.yaml:3") {
		t.Fatalf("exit %d, want 2 naming the line:\n%s%s", code, out, errOut)
	}
}

// forwardedFor is a transport that says, as a proxy would, that its
// requests come from an address.
type forwardedFor string

func (a forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(a))
	return http.DefaultTransport.RoundTrip(r)
}

// syncBuffer is a log destination safe for the daemon's goroutines and the
// test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor polls cond every 100 ms until it holds or the time is up.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killChromium kills the Chromium browsers this test process started (the
// crawler's), as a crash would, and returns how many it killed.
func killChromium(t *testing.T) int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	n := 0
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "(chromium") {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// The README's promise, end to end: serve checks the demo shop on its
// schedule, survives Chromium dying mid-scan, alerts a signed webhook once
// when the shop is compromised, with a link to the web interface, where a
// person signs in, reads the evidence and rejects the change.
func TestServeAlertsAWebhookAndThePersonReviewsInTheBrowser(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	const secret = "webhook-secret-for-the-test"
	type received struct {
		payload alerts.Payload
		signed  bool
	}
	var mu sync.Mutex
	var got []received
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p alerts.Payload
		json.Unmarshal(body, &p)
		mu.Lock()
		got = append(got, received{p, alerts.Verify([]byte(secret), body, r.Header.Get(alerts.SignatureHeader))})
		mu.Unlock()
	}))
	defer hook.Close()
	alertsFor := func(kind skimguard.Kind) []received {
		mu.Lock()
		defer mu.Unlock()
		var out []received
		for _, r := range got {
			for _, f := range r.payload.Findings {
				if f.Kind == kind {
					out = append(out, r)
					break
				}
			}
		}
		return out
	}

	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`sites:
  - name: shop
    schedule: "@every 3s"
    pages:
      - name: checkout
        url: %s
        wait: 2s
alerts:
  - type: webhook
    url: %s
    secret_env: SKIMGUARD_WEBHOOK_SECRET
`, shop.CheckoutURL(), hook.URL)), 0o600)
	db := filepath.Join(dir, "sg.db")
	getenv := func(k string) string {
		return map[string]string{"SKIMGUARD_WEBHOOK_SECRET": secret}[k]
	}
	var out, errb bytes.Buffer
	ctx := context.Background()
	if code := run(ctx, []string{"baseline", "--config", cfg, "--db", db, "--reason", "onboarding"}, env{stdout: &out, stderr: &errb, getenv: getenv}); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out.String(), errb.String())
	}
	if code := run(ctx, []string{"user", "add", "alice", "--db", db, "--config", cfg},
		env{stdin: strings.NewReader("a long enough password\n"), stdout: &out, stderr: &errb, getenv: getenv}); code != exitOK {
		t.Fatalf("user add: %d\n%s", code, errb.String())
	}

	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	var logs syncBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(serveCtx, []string{"serve", "--config", cfg, "--db", db, "--listen", "127.0.0.1:0", "--jitter", "0", "--trusted-proxy", "127.0.0.1"},
			env{stdout: io.Discard, stderr: &logs, getenv: getenv})
	}()
	var ui string
	waitFor(t, 30*time.Second, "the web interface to start", func() bool {
		_, after, ok := strings.Cut(logs.String(), "msg=\"web interface\" url=")
		ui, _, _ = strings.Cut(after, " ")
		return ok
	})
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scans := func() []skimguard.Scan {
		s, _ := store.Scans(ctx, skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: -1})
		return s
	}

	t.Run("Chromium dies in the middle of a scan and the next scan succeeds", func(t *testing.T) {
		before := strings.Count(logs.String(), "check started")
		waitFor(t, 30*time.Second, "a check to start", func() bool { return strings.Count(logs.String(), "check started") > before })
		time.Sleep(500 * time.Millisecond) // into the page load
		killed := time.Now()
		if killChromium(t) == 0 {
			t.Fatal("found no Chromium to kill")
		}
		defer func() {
			if t.Failed() {
				for _, s := range scans() {
					t.Logf("scan %d %s %s %s", s.ID, s.StartedAt.Format(time.TimeOnly), s.Status, s.Error)
				}
				t.Logf("serve's log:\n%s", logs.String())
			}
		}()
		// The interrupted check either fails (stored as a failed scan) or,
		// when the browser died before the page load began, is retried on a
		// new browser; either way the daemon must go on with a new Chromium.
		waitFor(t, 60*time.Second, "a check started after the crash to pass", func() bool {
			for _, s := range scans() {
				if s.StartedAt.After(killed) && s.Status == skimguard.ScanOK {
					return true
				}
			}
			return false
		})
		if !strings.Contains(logs.String(), "chromium is gone; starting a new one") {
			t.Fatal("the daemon never noticed Chromium died: the kill missed it")
		}
	})

	shop.Plant()
	var alert received
	t.Run("the compromise is alerted once to a signed webhook", func(t *testing.T) {
		waitFor(t, 60*time.Second, "a webhook alert about the exfiltration", func() bool { return len(alertsFor(skimguard.KindDataExfiltration)) > 0 })
		alert = alertsFor(skimguard.KindDataExfiltration)[0]
		if !alert.signed {
			t.Fatal("the webhook's signature does not verify")
		}
		if want := ui + "/pages/shop/checkout"; alert.payload.Link != want {
			t.Fatalf("link %q, want %q", alert.payload.Link, want)
		}
		// Two more checks see the same skimmer: no second alert.
		seen := len(scans())
		waitFor(t, 60*time.Second, "two more checks", func() bool { return len(scans()) >= seen+2 })
		if n := len(alertsFor(skimguard.KindDataExfiltration)); n != 1 {
			t.Fatalf("the open finding was alerted %d times", n)
		}
	})
	if alert.payload.Link == "" {
		t.FailNow()
	}

	t.Run("a failed sign-in through the trusted proxy is audited with the client's address", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Transport: forwardedFor("203.0.113.66")}
		resp, err := c.Get(ui + "/login")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if m == nil {
			t.Fatalf("no sign-in form:\n%s", page)
		}
		resp, err = c.PostForm(ui+"/login", url.Values{"csrf": {string(m[1])}, "user": {"mallory"}, "password": {"a guess at it"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		entries, _ := store.Audit(ctx)
		if last := entries[len(entries)-1]; resp.StatusCode != http.StatusUnauthorized || last.Action != "signin.failed" || last.Actor != "203.0.113.66" {
			t.Fatalf("sign-in: %d; the audit log's last entry: %+v; want mallory's failure from 203.0.113.66", resp.StatusCode, last)
		}
	})

	t.Run("a person follows the link, signs in and rejects the change", func(t *testing.T) {
		b := browsertest.New(t)
		step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			actx, cancel := context.WithTimeout(b, 30*time.Second)
			defer cancel()
			if err := chromedp.Do(actx, steps...); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		read := func(a chromedp.Action[string]) string {
			t.Helper()
			actx, cancel := context.WithTimeout(b, 30*time.Second)
			defer cancel()
			s, err := chromedp.Run(actx, a)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		step("open the link and sign in",
			chromedp.Navigate(alert.payload.Link),
			chromedp.WaitVisible(`input[name=user]`),
			chromedp.SendKeys(`input[name=user]`, "alice"),
			chromedp.SendKeys(`input[name=password]`, "a long enough password"),
			chromedp.Click(`form[action="/login"] button`),
			chromedp.WaitVisible(`table.findings`))
		var id int64
		for _, r := range alert.payload.Findings {
			if r.Kind == skimguard.KindDataExfiltration {
				id = r.ID
			}
		}
		step("open the exfiltration finding",
			chromedp.Click(fmt.Sprintf(`table.findings a[href="/findings/%d"]`, id)),
			chromedp.WaitVisible(`section.leaks`))
		if evidence := read(chromedp.Text(`section.leaks`)); !strings.Contains(evidence, shop.AttackerURL) {
			t.Fatalf("the request to the attacker is not shown:\n%s", evidence)
		}
		if page := read(chromedp.OuterHTML(`html`)); strings.Contains(page, "4929386160871730") || strings.Contains(page, "4929 3861 6087 1730") {
			t.Fatal("the page shows the test card number unmasked")
		}
		step("reject it with a justification",
			chromedp.SendKeys(`textarea[name=reason]`, "skimmer; removed in incident 42"),
			chromedp.Click(`form.resolve button.reject`),
			chromedp.WaitNotPresent(`form.resolve`),
			chromedp.WaitVisible(`#status`))
		if status := read(chromedp.Text(`#status`)); !strings.HasPrefix(status, "rejected by alice") {
			t.Fatalf("after rejecting, the finding says %q", status)
		}
	})

	stop()
	select {
	case code := <-exited:
		if code != exitOK {
			t.Fatalf("serve exited %d:\n%s", code, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
	entries, _ := store.Audit(ctx)
	last := entries[len(entries)-1]
	if last.Actor != "alice" || last.Reason != "skimmer; removed in incident 42" {
		t.Fatalf("the audit log's last entry: %+v", last)
	}
}

func TestServeRefusesABadWebAddress(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte("sites:\n  - name: shop\n    schedule: \"@hourly\"\n    pages:\n      - name: c\n        url: http://127.0.0.1:9/\n"), 0o600)
	db := filepath.Join(dir, "sg.db")
	t.Run("a --url that is no web address", func(t *testing.T) {
		code, out, errOut := cli(t, "serve", "--config", cfg, "--db", db, "--url", "skimguard.example")
		if code != exitError || !strings.Contains(out+errOut, "https://skimguard.example.com") {
			t.Fatalf("exit %d, want 2 with an example:\n%s%s", code, out, errOut)
		}
	})
	t.Run("a --trusted-proxy that is no address", func(t *testing.T) {
		code, out, errOut := cli(t, "serve", "--config", cfg, "--db", db, "--trusted-proxy", "10.0.0.5", "--trusted-proxy", "proxy.internal")
		if code != exitError || !strings.Contains(out+errOut, `--trusted-proxy "proxy.internal"`) || !strings.Contains(out+errOut, "10.0.0.0/24") {
			t.Fatalf("exit %d, want 2 with an example:\n%s%s", code, out, errOut)
		}
	})
	t.Run("a --listen address in use", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts Chromium; skipped with -short")
		}
		busy := httptest.NewServer(http.NotFoundHandler())
		defer busy.Close()
		addr := strings.TrimPrefix(busy.URL, "http://")
		code, out, errOut := cli(t, "serve", "--config", cfg, "--db", db, "--listen", addr)
		if code != exitError || !strings.Contains(out+errOut, "listen on "+addr) || !strings.Contains(out+errOut, "--listen off") {
			t.Fatalf("exit %d, want 2 saying what to do:\n%s%s", code, out, errOut)
		}
	})
	t.Run("an API token too short to be safe", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"serve", "--config", cfg, "--db", db, "--listen", "127.0.0.1:0"},
			env{stdout: &out, stderr: &errb, getenv: func(k string) string { return map[string]string{"SKIMGUARD_API_TOKEN": "secret"}[k] }})
		if code != exitError || !strings.Contains(errb.String(), "openssl rand -hex 32") {
			t.Fatalf("exit %d, want 2 saying how to make one:\n%s", code, errb.String())
		}
	})
}
