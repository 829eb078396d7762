package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/carddata"
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
	// Each check's progress: where its time went and the queue behind it.
	if !regexp.MustCompile(`msg=scanned site=shop page=checkout duration=\S+ queued=\S+ phases="setup [^"]*load [^"]*window [^"]*" running=\d+ waiting=\d+`).MatchString(logs) {
		t.Errorf("no progress line with the check's phases and the queue:\n%s", logs)
	}
	// The archive has no baseline: said at start, and its check at start
	// is a warning, not a silent failure.
	for _, want := range []string{
		"level=WARN msg=\"page not checked: no approved baseline yet: take one with `skimguard baseline --site archive --reason TEXT`\" site=archive page=old",
		"level=WARN msg=checked site=archive page=old status=failed err=\"no approved baseline yet",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
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
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
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
		if page := read(chromedp.OuterHTML(`html`)); carddata.MaskPANs(page) != page {
			t.Fatal("the page shows the card number (the scan's canary) unmasked")
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

// sighup sends SIGHUP to this process, as `kill -HUP` to the daemon does.
// The test's own handler keeps the signal from ending the test binary
// should serve not be listening yet.
func sighup(t *testing.T) {
	t.Helper()
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(guard) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// hookReceiver is a webhook receiver that keeps the payloads it accepted.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []alerts.Payload
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !alerts.Verify([]byte(secret), body, r.Header.Get(alerts.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p alerts.Payload
		json.Unmarshal(body, &p)
		h.mu.Lock()
		h.got = append(h.got, p)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// findings counts the findings of each kind the receiver was sent.
func (h *hookReceiver) findings() map[skimguard.Kind]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := map[skimguard.Kind]int{}
	for _, p := range h.got {
		for _, f := range p.Findings {
			n[f.Kind]++
		}
	}
	return n
}

// The new user, end to end: the skimmer is found while no alert
// channel exists; the user adds one to sites.yaml and sends SIGHUP, as the
// README says. The daemon takes the channel without a restart and tells it
// about every open finding, once. A channel it cannot build (its secret
// unset) is refused first, saying why, while the running configuration goes
// on.
func TestServeTellsAChannelAddedBySIGHUPAboutTheOpenFindings(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	const secret = "webhook-secret-for-the-test"
	hook := newHookReceiver(t, secret)
	getenv := func(k string) string { return map[string]string{"SKIMGUARD_WEBHOOK_SECRET": secret}[k] }
	cfg := filepath.Join(dir, "sites.yaml")
	sites := fmt.Sprintf(`sites:
  - name: shop
    schedule: "@every 2s"
    pages:
      - name: checkout
        url: %s
        wait: 1s
`, shop.CheckoutURL())
	// The reload adds a cart page too, which has no baseline.
	withHook := func(secretEnv string) string {
		// And an egress: rule, which takes effect at the next start only.
		return sites + fmt.Sprintf("      - name: cart\n        url: %s\n        wait: 1s\nalerts:\n  - type: webhook\n    url: %s\n    secret_env: %s\negress:\n  deny: [192.0.2.0/24]\n",
			shop.ShopURL+"/cart", hook.URL, secretEnv)
	}
	os.WriteFile(cfg, []byte(sites), 0o600)
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--samples", "1", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	shop.Plant()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--config", cfg, "--db", db, "--listen", "off", "--jitter", "0"},
			env{stdout: io.Discard, stderr: &logs, getenv: getenv})
	}()
	defer func() {
		stop()
		<-exited
		if t.Failed() {
			t.Logf("serve's log:\n%s", logs.String())
		}
	}()
	var open []skimguard.Finding
	waitFor(t, 60*time.Second, "the skimmer found with no channel to tell", func() bool {
		open, _ = store.Findings(ctx, skimguard.FindingFilter{Status: skimguard.StatusOpen})
		return slices.ContainsFunc(open, func(f skimguard.Finding) bool { return f.Kind == skimguard.KindDataExfiltration })
	})
	t.Run("with no channel, serve says so loudly and logs each finding by severity", func(t *testing.T) {
		waitFor(t, 30*time.Second, "the findings logged", func() bool { return strings.Contains(logs.String(), "kind=data.exfiltration") })
		l := logs.String()
		if !strings.Contains(l, `level=ERROR msg="no alert channel: nobody will be told`) {
			t.Errorf("no loud word about the missing alert channel:\n%s", l)
		}
		for _, f := range open {
			level := map[skimguard.Severity]string{"critical": "ERROR", "high": "ERROR", "medium": "WARN", "low": "WARN"}[f.Severity]
			want := fmt.Sprintf(`level=%s msg="finding opened" site=shop page=checkout finding=%d severity=%s kind=%s subject=`, level, f.ID, f.Severity, f.Kind)
			if !strings.Contains(l, want) {
				t.Errorf("finding %d is not logged as %q:\n%s", f.ID, want, l)
			}
		}
		if carddata.MaskPANs(l) != l {
			t.Errorf("the log carries a card number (the scan's canary):\n%s", l)
		}
	})

	os.WriteFile(cfg, []byte(withHook("HOOK_SECRET_NOT_SET")), 0o600)
	sighup(t)
	waitFor(t, 30*time.Second, "the reload to be refused", func() bool { return strings.Contains(logs.String(), "reload refused") })
	if l := logs.String(); !strings.Contains(l, "HOOK_SECRET_NOT_SET") || !strings.Contains(l, "level=ERROR") {
		t.Fatalf("the refusal must be an error naming the unset variable:\n%s", l)
	}

	os.WriteFile(cfg, []byte(withHook("SKIMGUARD_WEBHOOK_SECRET")), 0o600)
	sighup(t)
	waitFor(t, 30*time.Second, "the open skimmer finding told to the channel added by SIGHUP", func() bool {
		return hook.findings()[skimguard.KindDataExfiltration] > 0
	})
	if l := logs.String(); !strings.Contains(l, `level=WARN msg="changed settings take effect at the next start; until then the running ones stay" config=`+cfg+" keys=egress") {
		t.Errorf("the reload did not say that egress: waits for a restart:\n%s", l)
	}
	if n := strings.Count(logs.String(), "no alert channel"); n != 1 {
		t.Errorf("the missing channel must be reported once at start and no more once there is one; said %d times", n)
	}
	scans := func() int {
		s, _ := store.Scans(ctx, skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: -1})
		return len(s)
	}
	seen := scans()
	waitFor(t, 60*time.Second, "two more checks", func() bool { return scans() >= seen+2 })
	open, _ = store.Findings(ctx, skimguard.FindingFilter{Status: skimguard.StatusOpen})
	ds, _ := store.Deliveries(ctx, skimguard.DeliveryFilter{})
	for _, f := range open {
		n := 0
		for _, d := range ds {
			if d.OK && slices.Contains(d.Findings, f.ID) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("open finding %d (%s) was delivered %d times, want once: %+v", f.ID, f.Kind, n, ds)
		}
	}
	if n := hook.findings()[skimguard.KindDataExfiltration]; n != 1 {
		t.Errorf("the receiver got the skimmer %d times", n)
	}
	t.Run("the page added without a baseline is warned about at the reload and alerted once", func(t *testing.T) {
		if !strings.Contains(logs.String(), "level=WARN msg=\"page not checked: no approved baseline yet: take one with `skimguard baseline --site shop --reason TEXT`\" site=shop page=cart") {
			t.Errorf("no warning about the cart at the reload:\n%s", logs.String())
		}
		hook.mu.Lock()
		defer hook.mu.Unlock()
		n := 0
		for _, p := range hook.got {
			if p.Page == "cart" && len(p.Findings) == 1 && strings.Contains(p.Findings[0].Detail, "no approved baseline yet") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the cart's missing baseline was alerted %d times, want once: %+v", n, hook.got)
		}
	})
}

// Findings opened while serve was not running, by a check without alert
// channels, are told when serve starts with a channel: its sweep does not
// wait for a check of the page (the one at start watches the page for 15 s).
func TestServeTellsItsChannelsAtStartAboutFindingsOpenedBefore(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	const secret = "webhook-secret-for-the-test"
	hook := newHookReceiver(t, secret)
	cfg := filepath.Join(dir, "sites.yaml")
	sites := fmt.Sprintf(`sites:
  - name: shop
    schedule: "@every 1h"
    pages:
      - name: checkout
        url: %s
        wait: 1s
`, shop.CheckoutURL())
	os.WriteFile(cfg, []byte(sites), 0o600)
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--samples", "1", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}
	shop.Plant()
	if code, out, errOut := cli(t, "check", "--config", cfg, "--db", db); code != exitFindings {
		t.Fatalf("check: %d\n%s%s", code, out, errOut)
	}
	slow := strings.Replace(sites, "wait: 1s", "wait: 15s", 1)
	os.WriteFile(cfg, []byte(slow+fmt.Sprintf("alerts:\n  - type: webhook\n    url: %s\n    secret_env: SECRET\n", hook.URL)), 0o600)
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scans := func() int {
		s, _ := store.Scans(context.Background(), skimguard.ScanFilter{Limit: -1})
		return len(s)
	}
	before := scans()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	exited := make(chan int, 1)
	go func() {
		// --grace 0: the 15 s check at start need not finish when the test ends.
		exited <- run(ctx, []string{"serve", "--config", cfg, "--db", db, "--listen", "off", "--jitter", "0", "--grace", "0"},
			env{stdout: io.Discard, stderr: &logs, getenv: func(k string) string { return map[string]string{"SECRET": secret}[k] }})
	}()
	defer func() {
		stop()
		<-exited
		if t.Failed() {
			t.Logf("serve's log:\n%s", logs.String())
		}
	}()
	waitFor(t, 30*time.Second, "the skimmer found before serve started told to its channel", func() bool {
		return hook.findings()[skimguard.KindDataExfiltration] > 0
	})
	if n := scans(); n != before {
		t.Fatalf("the alert must come from the sweep at start, not a check; %d scans stored since serve started", n-before)
	}
}

// A new install is not silent until the schedule first comes due: serve
// checks each page once at start, and the dashboard (here its API) says
// when the page is checked next.
func TestServeChecksEachPageAtStartAndShowsItsNextCheck(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`sites:
  - name: shop
    schedule: "@every 1h"
    pages:
      - name: checkout
        url: %s
        wait: 1s
`, shop.CheckoutURL())), 0o600)
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--samples", "1", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}
	const token = "0123456789abcdef0123456789abcdef-serve-test"
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	exited := make(chan int, 1)
	started := time.Now()
	go func() {
		exited <- run(ctx, []string{"serve", "--config", cfg, "--db", db, "--listen", "127.0.0.1:0", "--jitter", "0"},
			env{stdout: io.Discard, stderr: &logs, getenv: func(k string) string { return map[string]string{"SKIMGUARD_API_TOKEN": token}[k] }})
	}()
	defer func() {
		stop()
		<-exited
		if t.Failed() {
			t.Logf("serve's log:\n%s", logs.String())
		}
	}()
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	waitFor(t, 60*time.Second, "a check at start", func() bool {
		s, _ := store.Scans(ctx, skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: 1})
		// ok or findings: the demo's A/B test may show a variant one sample missed.
		return len(s) == 1 && s[0].BaselineVersion == 1 && s[0].Status != skimguard.ScanFailed && s[0].StartedAt.After(started)
	})

	var ui string
	waitFor(t, 30*time.Second, "the web interface", func() bool {
		_, after, ok := strings.Cut(logs.String(), "msg=\"web interface\" url=")
		ui, _, _ = strings.Cut(after, " ")
		return ok
	})
	req, _ := http.NewRequest("GET", ui+"/api/v1/pages", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Pages []struct {
			NextCheck *time.Time `json:"next_check"`
		} `json:"pages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Pages) != 1 || got.Pages[0].NextCheck == nil {
		t.Fatalf("pages: %+v, %v", got, err)
	}
	if next := *got.Pages[0].NextCheck; next.Before(started.Add(59*time.Minute)) || next.After(time.Now().Add(time.Hour)) {
		t.Fatalf("the next check is at %s, want an hour after the start at %s", next, started)
	}
}

// SIGTERM (here the context serve runs under, which SIGTERM ends) lets a
// check under way finish within --grace and stores it as it ended; one
// still running when the grace period is over is stored as stopped, not as
// failed. The page is a loopback page watched for 4 s.
func TestServeLetsChecksFinishWithinTheGracePeriod(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium; skipped with -short")
	}
	var hits atomic.Int64
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/checkout" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>Checkout</title><form action="/pay" method="post"><input name="cardnumber" autocomplete="cc-number"><button>Pay</button></form>`)
	}))
	defer page.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`sites:
  - name: shop
    schedule: "@every 1h"
    pages:
      - name: checkout
        url: %s/checkout
        wait: 4s
        interact: false
`, page.URL)), 0o600)
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--samples", "1", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	for _, tc := range []struct {
		name  string
		grace string
		want  skimguard.ScanStatus
	}{
		{"within the default grace, the check completes and is stored ok", "", skimguard.ScanOK},
		{"past a tiny grace, the check is stopped and stored as stopped", "--grace=10ms", skimguard.ScanStopped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"serve", "--config", cfg, "--db", db, "--listen", "off", "--jitter", "0"}
			if tc.grace != "" {
				args = append(args, tc.grace)
			}
			ctx, sigterm := context.WithCancel(context.Background())
			defer sigterm()
			var logs syncBuffer
			exited := make(chan int, 1)
			started := time.Now()
			before := hits.Load()
			go func() {
				exited <- run(ctx, args, env{stdout: io.Discard, stderr: &logs, getenv: func(string) string { return "" }})
			}()
			// The check at start has loaded the page and watches it for 4 s.
			waitFor(t, 60*time.Second, "the check at start to load the page", func() bool { return hits.Load() > before })
			sigterm()
			select {
			case code := <-exited:
				if code != exitOK {
					t.Fatalf("serve exited %d:\n%s", code, logs.String())
				}
			case <-time.After(90 * time.Second):
				t.Fatalf("serve did not exit:\n%s", logs.String())
			}
			scans, err := store.Scans(context.Background(), skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: 1})
			if err != nil || len(scans) != 1 || !scans[0].StartedAt.After(started) {
				t.Fatalf("the check under way was not stored: %+v, %v\n%s", scans, err, logs.String())
			}
			if s := scans[0]; s.Status != tc.want {
				t.Fatalf("the check under way was stored %s (%s), want %s\n%s", s.Status, s.Error, tc.want, logs.String())
			}
			if strings.Contains(logs.String(), "status=failed") {
				t.Fatalf("a check stopped by the shutdown is logged as failed:\n%s", logs.String())
			}
		})
	}
}

// A hostile page must not reach the interface that approves findings: serve
// refuses its own --listen address to the crawler's browser, and the check
// says the page tried.
func TestServeRefusesThePagesItChecksItsOwnInterface(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>checkout</title><script>fetch('http://%s/healthz').catch(function () {}); new Image().src = 'http://%s/static/x.png';</script>`, listen, listen)
	}))
	defer page.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sites:\n  - name: shop\n    schedule: \"@every 1s\"\n    pages:\n      - name: checkout\n        url: %s\n        wait: 1s\n        interact: false\n", page.URL)), 0o600)
	db := filepath.Join(dir, "sg.db")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", db, "--samples", "1", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	refused := func() string {
		scans, _ := store.Scans(context.Background(), skimguard.ScanFilter{Site: "shop", Page: "checkout", Limit: -1})
		for _, s := range scans {
			if s.BaselineVersion == 0 {
				continue // the baseline's sample, taken without serve
			}
			full, err := store.Scan(context.Background(), s.ID)
			if err != nil || full.Observation == nil {
				continue
			}
			for _, c := range full.Observation.Connections {
				if c.Origin == "http://"+listen && c.Refused != "" {
					return c.Refused
				}
			}
		}
		return ""
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--db", db, "--jitter", "0", "--listen", listen},
			env{stdout: io.Discard, stderr: &errb, getenv: func(string) string { return "" }})
	}()
	waitFor(t, 60*time.Second, "a check that shows the page's requests to serve's own address refused", func() bool { return refused() != "" })
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, errb.String())
	}
	if why := refused(); !strings.Contains(why, "egress") {
		t.Errorf("the refusal does not say why: %q", why)
	}
}
