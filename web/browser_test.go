package web

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
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

// tab is a Chromium tab on the interface whose console is watched.
type tab struct {
	t       *testing.T
	ctx     context.Context
	console *consoleLog
}

// newTab starts Chromium and proves that its console listener sees a
// Content-Security-Policy violation: else a clean run would prove nothing.
func newTab(t *testing.T, f *fixture) *tab {
	t.Helper()
	tb := &tab{t: t, ctx: browsertest.New(t), console: &consoleLog{}}
	tb.console.listen(t, tb.ctx)
	tb.do("load a page that breaks the CSP", chromedp.Navigate(f.url("/login?next=%2F")), chromedp.WaitVisible(`input[name=user]`))
	actx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	_, err := chromedp.Run(actx, chromedp.Evaluate[any](`(() => { const s = document.createElement("script"); s.textContent = "1"; document.body.append(s); })()`))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(tb.console.errors()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(tb.console.errors()) == 0 {
		t.Fatal("the console listener saw no CSP violation for an injected inline script")
	}
	tb.console.mu.Lock()
	tb.console.errs = nil
	tb.console.mu.Unlock()
	return tb
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	actx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(actx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value.
func run[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	actx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(actx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return run(tb, "read "+sel, chromedp.Text(sel))
}

func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return run(tb, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

func (tb *tab) location() string {
	tb.t.Helper()
	return run(tb, "location", chromedp.Location())
}

// signIn follows link to the sign-in form, signs in as alice and waits
// until the browser is back at link, showing wait.
func (tb *tab) signIn(link, wait string) {
	tb.t.Helper()
	tb.do("open the alert's link", chromedp.Navigate(link), chromedp.WaitVisible(`input[name=user]`))
	if l := tb.location(); !strings.Contains(l, "/login?next=") {
		tb.t.Fatalf("not sent to sign in first: %s", l)
	}
	tb.do("sign in",
		chromedp.SendKeys(`input[name=user]`, "alice"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Click(`form[action="/login"] button`),
		// Something of the page itself, which the sign-in page has not:
		// its own main h1 could still be on screen.
		chromedp.WaitVisible(wait))
	if l := tb.location(); l != link {
		tb.t.Fatalf("after sign-in the browser is at %s, want %s; it shows:\n%s", l, link, tb.text("main"))
	}
}

// noErrors fails the test when the interface logged errors.
func (tb *tab) noErrors() {
	tb.t.Helper()
	if errs := tb.console.errors(); len(errs) > 0 {
		tb.t.Fatalf("the interface logged errors in Chromium (a CSP violation?):\n%s", strings.Join(errs, "\n"))
	}
}

// A reviewer follows an alert's link, signs in, reads the diff of the
// changed script, approves it with a justification, confirms (the change
// is critical) and sees the page's baseline gain a version: in real
// Chromium, as a person would.
func TestReviewInChromium(t *testing.T) {
	f := newFixture(t)
	tb := newTab(t, f)

	id := f.ids[skimguard.KindScriptChanged]
	link := f.url("/findings/" + itoa(id))
	tb.signIn(link, `dl.facts`)
	tb.do("wait for the diff", chromedp.WaitVisible(`table.diff`))

	inserted := tb.text(`table.diff`)
	if !strings.Contains(inserted, "navigator.sendBeacon(") || !strings.Contains(inserted, "http://127.0.0.66:1/g.php") {
		t.Fatalf("the diff does not show the appended skimmer:\n%s", inserted)
	}
	if n := tb.count(`table.diff tr.del`); n != 0 {
		t.Fatalf("the diff shows %d deleted lines; the library itself did not change", n)
	}
	if n := tb.count(`table.diff tr.ins`); n < 3 {
		t.Fatalf("the minified skimmer shows on %d lines, want it pretty-printed", n)
	}
	// The code gets the width; the line numbers only what they need.
	ratio := run(tb, "measure the diff", chromedp.Evaluate[float64](`(() => {
		const table = document.querySelector("table.diff"), code = document.querySelector("table.diff tr.ins td.code");
		return code.getBoundingClientRect().width / table.getBoundingClientRect().width; })()`))
	if ratio < 0.8 {
		t.Fatalf("the code takes %.0f%% of the diff's width", ratio*100)
	}
	if why := tb.text(`dd.detail`); !strings.Contains(why, "body of "+libURL+" changed") {
		t.Fatalf("the finding does not say why: %q", why)
	}

	tb.do("approve it with a justification",
		chromedp.SendKeys(`form.resolve textarea[name=reason]`, "vendor update 2.1, reviewed in SEC-7"),
		chromedp.Click(`form.resolve button[value=approve]`),
		chromedp.WaitVisible(`section.confirm`))
	if st := f.finding(t, id).Status; st != skimguard.StatusOpen {
		t.Fatalf("the first click approved the critical finding without confirmation: %s", st)
	}
	if reason := run(tb, "read the carried reason", chromedp.Value(`section.confirm textarea[name=reason]`)); reason != "vendor update 2.1, reviewed in SEC-7" {
		t.Fatalf("the confirmation lost the justification: %q", reason)
	}
	tb.do("confirm",
		chromedp.Click(`section.confirm button[value=approve]`),
		chromedp.WaitNotPresent(`form.resolve`),
		chromedp.WaitVisible(`#status`))
	if status := tb.text(`#status`); !strings.HasPrefix(status, "approved by alice") || !strings.Contains(status, "vendor update 2.1, reviewed in SEC-7") {
		t.Fatalf("after approval the finding says %q", status)
	}

	tb.do("see the baseline change",
		chromedp.Click(`dl.facts a[href="/pages/shop/checkout"]`),
		chromedp.WaitVisible(`table.history`))
	newest := tb.text(`table.history tbody tr:first-child`)
	if n := tb.count(`table.history tbody tr`); n != 2 || !strings.Contains(newest, "alice") || !strings.Contains(newest, "vendor update 2.1") || !strings.Contains(newest, "~ script "+libURL) {
		t.Fatalf("baseline history: %d versions, newest %q", n, newest)
	}
	if fd := f.finding(t, id); fd.Status != skimguard.StatusApproved || fd.ResolvedBy != "alice" {
		t.Fatalf("the store says %s by %q", fd.Status, fd.ResolvedBy)
	}
	tb.noErrors()
}

// A responder follows the alert of a card skimmer on shop/pay, reads what
// happened and which script sent the card (an inline script: the browser
// named only the page), sees the findings of the incident and rejects
// the exfiltration as not ours: in real Chromium.
func TestIncidentInChromium(t *testing.T) {
	f := newFixture(t)
	byKind, added := f.payIncident(t)
	exfil := byKind[skimguard.KindDataExfiltration]
	tb := newTab(t, f)

	base, _ := url.Parse(f.srv.URL)
	link := Link(base, alerts.Alert{Site: "shop", Page: "pay", Findings: []skimguard.Finding{exfil}})
	tb.signIn(link, `#headline`)

	if h := tb.text(`#headline`); !strings.HasPrefix(h, "Card data typed into shop/pay was sent to "+thief+" by "+skimName+", first seen ") {
		t.Fatalf("what happened: %q", h)
	}
	if n := tb.count(`ol.todo li`); n < 4 {
		t.Fatalf("the checklist has %d steps", n)
	}
	if culprit := tb.text(`#sent-by .culprit:first-child .culprit-name`); culprit != skimName {
		t.Fatalf("the culprit is %q, want %q", culprit, skimName)
	}
	if mark := tb.text(`#sent-by .culprit:first-child ol.chain li:first-child .mark`); mark != "new" {
		t.Fatalf("the culprit is marked %q, want new", mark)
	}
	group := tb.text(`#group`)
	for _, fd := range []skimguard.Finding{exfil, added[""], added[evilJS], byKind[skimguard.KindConnectionAdded]} {
		if n := tb.count(`#group a[href="/findings/` + itoa(fd.ID) + `"]`); n == 0 {
			t.Fatalf("the incident does not list finding %d:\n%s", fd.ID, group)
		}
	}
	// The primary action comes first and reads as what a responder does.
	if first := tb.text(`form.resolve button:first-of-type`); first != "Reject: this is not ours" {
		t.Fatalf("the first action is %q", first)
	}

	tb.do("open the culprit's own finding",
		chromedp.Click(`#sent-by .culprit:first-child ol.chain li:first-child a`),
		chromedp.WaitVisible(`section.source`))
	if src := tb.text(`section.source pre`); !strings.Contains(src, "navigator.sendBeacon(") {
		t.Fatalf("the inline skimmer's page does not show its text:\n%s", src)
	}
	if n := tb.count(`#group a[href="/findings/` + itoa(exfil.ID) + `"]`); n == 0 {
		t.Fatalf("the culprit's finding does not link back to the exfiltration")
	}

	tb.do("go back to the exfiltration and reject it",
		chromedp.Navigate(link),
		chromedp.WaitVisible(`form.resolve`),
		chromedp.SendKeys(`form.resolve textarea[name=reason]`, "skimmer in an inline script; removed in incident 2026-11"),
		chromedp.Click(`form.resolve button.danger`),
		chromedp.WaitNotPresent(`form.resolve`),
		chromedp.WaitVisible(`#status`))
	if l := tb.location(); l != link {
		t.Fatalf("after rejecting, the browser is at %s", l)
	}
	if status := tb.text(`#status`); !strings.HasPrefix(status, "rejected by alice") {
		t.Fatalf("after rejecting the finding says %q", status)
	}
	if fd := f.finding(t, exfil.ID); fd.Status != skimguard.StatusRejected || fd.ResolvedBy != "alice" {
		t.Fatalf("the store says %s by %q", fd.Status, fd.ResolvedBy)
	}

	// The rest of the incident is still ticked in its list: one reason
	// rejects it all.
	if n := tb.count(`#group input[name=id]:checked`); n != 3 {
		t.Fatalf("%d findings of the incident are ticked, want the 3 still open", n)
	}
	tb.do("reject the rest of the incident",
		chromedp.SendKeys(`#group textarea[name=reason]`, "the same skimmer; incident 2026-11"),
		chromedp.Click(`#group button.danger`),
		chromedp.WaitNotPresent(`#group input[name=id]`))
	if l := tb.location(); l != link {
		t.Fatalf("after rejecting the incident, the browser is at %s", l)
	}
	for _, fd := range []skimguard.Finding{added[""], added[evilJS], byKind[skimguard.KindConnectionAdded]} {
		if got := f.finding(t, fd.ID); got.Status != skimguard.StatusRejected || got.Resolution != "the same skimmer; incident 2026-11" {
			t.Fatalf("finding %d: %s %q", fd.ID, got.Status, got.Resolution)
		}
	}

	// On shop/checkout's incident, the review rejects the ticked findings
	// with its one justification: the ticks in the list belong to it.
	checkout := f.url("/findings/" + itoa(f.ids[skimguard.KindDataExfiltration]))
	conn := f.ids[skimguard.KindConnectionAdded]
	tb.do("untick the new destination and reject the rest of the incident",
		chromedp.Navigate(checkout),
		chromedp.WaitVisible(`form.resolve`),
		chromedp.Click(`#group input[value="`+itoa(conn)+`"]`),
		chromedp.SendKeys(`form.resolve textarea[name=reason]`, "checkout skimmer; incident 2026-12"),
		chromedp.Click(`form.resolve button[formaction="/findings/reject"]`),
		chromedp.WaitNotPresent(`form.resolve`),
		chromedp.WaitVisible(`#status`))
	if l := tb.location(); l != checkout {
		t.Fatalf("after rejecting the ticked findings, the browser is at %s", l)
	}
	for id, want := range map[int64]skimguard.FindingStatus{f.ids[skimguard.KindDataExfiltration]: skimguard.StatusRejected,
		f.ids[skimguard.KindScriptChanged]: skimguard.StatusRejected, conn: skimguard.StatusOpen} {
		if got := f.finding(t, id).Status; got != want {
			t.Fatalf("finding %d is %s, want %s", id, got, want)
		}
	}
	tb.noErrors()
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
