package web

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/browsertest"
)

// consoleLog collects what a tab reports as errors: console errors,
// exceptions and browser log entries such as Content-Security-Policy
// violations.
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

func (c *consoleLog) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				c.errs = append(c.errs, "console.error")
			}
		case *runtime.EventExceptionThrown:
			c.errs = append(c.errs, ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				c.errs = append(c.errs, ev.Entry.Text)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
}

func (c *consoleLog) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// A reviewer follows an alert's link, signs in, reads the diff of the
// changed script, approves it with a justification and sees the page's
// baseline gain a version: in real Chromium, as a person would.
func TestReviewInChromium(t *testing.T) {
	f := newFixture(t)
	ctx := browsertest.New(t)
	var console consoleLog
	console.listen(t, ctx)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(actx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(actx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	count := func(sel string) int {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		n, err := chromedp.Run(actx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	location := func() string {
		t.Helper()
		l, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// The check that the console listener works: a CSP violation must be
	// seen, or a clean run proves nothing.
	do("load a page that breaks the CSP", chromedp.Navigate(f.url("/login?next=%2F")), chromedp.WaitVisible(`input[name=user]`))
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := chromedp.Run(actx, chromedp.Evaluate[any](`(() => { const s = document.createElement("script"); s.textContent = "1"; document.body.append(s); })()`))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(console.errors()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(console.errors()) == 0 {
		t.Fatal("the console listener saw no CSP violation for an injected inline script")
	}
	console.mu.Lock()
	console.errs = nil
	console.mu.Unlock()

	id := f.ids[skimguard.KindScriptChanged]
	link := f.url("/findings/" + itoa(id))
	do("open the alert's link", chromedp.Navigate(link), chromedp.WaitVisible(`input[name=user]`))
	if l := location(); !strings.Contains(l, "/login?next=") {
		t.Fatalf("not sent to sign in first: %s", l)
	}
	do("sign in",
		chromedp.SendKeys(`input[name=user]`, "alice"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Click(`form[action="/login"] button`),
		// The finding page's facts, which the sign-in page has not: its
		// own main h1 could still be on screen.
		chromedp.WaitVisible(`dl.facts`))
	if l := location(); l != link {
		t.Fatalf("after sign-in the browser is at %s, want the finding %s; it shows:\n%s", l, link, text("main"))
	}
	do("wait for the diff", chromedp.WaitVisible(`table.diff`))
	if l := location(); l != link {
		t.Fatalf("after sign-in the browser is at %s, want the finding %s", l, link)
	}

	inserted := text(`table.diff`)
	if !strings.Contains(inserted, "navigator.sendBeacon(") || !strings.Contains(inserted, "http://127.0.0.66:1/g.php") {
		t.Fatalf("the diff does not show the appended skimmer:\n%s", inserted)
	}
	if n := count(`table.diff tr.del`); n != 0 {
		t.Fatalf("the diff shows %d deleted lines; the library itself did not change", n)
	}
	if n := count(`table.diff tr.ins`); n < 3 {
		t.Fatalf("the minified skimmer shows on %d lines, want it pretty-printed", n)
	}
	if why := text(`dd.detail`); !strings.Contains(why, "body of "+libURL+" changed") {
		t.Fatalf("the finding does not say why: %q", why)
	}

	do("approve it with a justification",
		chromedp.SendKeys(`textarea[name=reason]`, "vendor update 2.1, reviewed in SEC-7"),
		chromedp.Click(`form.resolve button[value=approve]`),
		chromedp.WaitNotPresent(`form.resolve`),
		chromedp.WaitVisible(`#status`))
	if status := text(`#status`); !strings.HasPrefix(status, "approved by alice") || !strings.Contains(status, "vendor update 2.1, reviewed in SEC-7") {
		t.Fatalf("after approval the finding says %q", status)
	}

	do("see the baseline change",
		chromedp.Click(`dl.facts a[href="/pages/shop/checkout"]`),
		chromedp.WaitVisible(`table.history`))
	newest := text(`table.history tbody tr:first-child`)
	if n := count(`table.history tbody tr`); n != 2 || !strings.Contains(newest, "alice") || !strings.Contains(newest, "vendor update 2.1") || !strings.Contains(newest, "~ script "+libURL) {
		t.Fatalf("baseline history: %d versions, newest %q", n, newest)
	}
	if fd := f.finding(t, id); fd.Status != skimguard.StatusApproved || fd.ResolvedBy != "alice" {
		t.Fatalf("the store says %s by %q", fd.Status, fd.ResolvedBy)
	}
	if errs := console.errors(); len(errs) > 0 {
		t.Fatalf("the interface logged errors in Chromium (a CSP violation?):\n%s", strings.Join(errs, "\n"))
	}
}

// The probe's open redirect, as Chromium follows it: signed in, a link to
// /login?next=/%09/HOST/ must not take the browser to HOST, which Chromium
// reads "/<TAB>/HOST/" as once it strips the tab.
func TestSignInRedirectStaysOnThisSiteInChromium(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.9:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>evil</title><h1 id=evil>another site</h1>")
	}))
	evil.Listener.Close()
	evil.Listener = ln
	evil.Start()
	defer evil.Close()
	evilHost := strings.TrimPrefix(evil.URL, "http://")

	ctx := browsertest.New(t)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(actx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	do("sign in",
		chromedp.Navigate(f.url("/login")),
		chromedp.WaitVisible(`input[name=user]`),
		chromedp.SendKeys(`input[name=user]`, "alice"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Click(`form[action="/login"] button`),
		chromedp.WaitVisible(`table.pages`))
	for _, next := range []string{"/%09/" + evilHost + "/", "/%5C" + evilHost + "/", "//%09" + evilHost + "/", "/%0D%0A/" + evilHost + "/"} {
		do("follow the link with next="+next, chromedp.Navigate(f.url("/login?next="+next)))
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		at, err := chromedp.Run(actx, chromedp.Location())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(at, f.srv.URL+"/") {
			t.Errorf("next=%s took Chromium to %s, off skimguard's origin %s", next, at, f.srv.URL)
		}
	}
}
