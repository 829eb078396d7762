package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// checkWith stores a check of o started at `at`, compared with the page's
// current baseline as the monitor does, and returns it with its findings.
func (f *fixture) checkWith(t *testing.T, at time.Time, o *skimguard.Observation) *skimguard.Scan {
	t.Helper()
	ctx := context.Background()
	b, err := f.store.Baseline(ctx, o.Site, o.Page)
	if err != nil {
		t.Fatal(err)
	}
	s := &skimguard.Scan{Site: o.Site, Page: o.Page, URL: o.URL, StartedAt: at, Status: skimguard.ScanFindings, BaselineVersion: b.Version,
		Observation: o, Findings: baseline.Compare(b, o)}
	if err := f.store.SaveScan(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// findingOf returns the one finding of kind in a stored scan.
func findingOf(t *testing.T, s *skimguard.Scan, kind skimguard.Kind) skimguard.Finding {
	t.Helper()
	for _, fd := range s.Findings {
		if fd.Kind == kind {
			return fd
		}
	}
	t.Fatalf("the scan has no %s finding: %+v", kind, s.Findings)
	return skimguard.Finding{}
}

// lowFinding adds a later check of the compromised page that also shows a
// new Referrer-Policy header: a low header.added finding, first seen by
// that check, so in no incident.
func (f *fixture) lowFinding(t *testing.T) skimguard.Finding {
	t.Helper()
	o := observation(libV2, true)
	o.Headers["referrer-policy"] = "no-referrer"
	fd := findingOf(t, f.checkWith(t, time.Now().UTC().Add(-30*time.Minute), o), skimguard.KindHeaderAdded)
	if fd.Severity != skimguard.SeverityLow {
		t.Fatalf("header.added is %s, want low", fd.Severity)
	}
	return fd
}

func TestCriticalFindingIsShownAsAnIncident(t *testing.T) {
	f := newFixture(t)
	low := f.lowFinding(t)
	c := f.client(t)
	f.login(t, c, "alice", password)
	exfil := f.finding(t, f.ids[skimguard.KindDataExfiltration])
	group := []int64{f.ids[skimguard.KindScriptChanged], f.ids[skimguard.KindConnectionAdded], exfil.ID}

	for _, id := range group {
		resp, err := c.Get(f.url("/findings/" + itoa(id)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		// Every finding of the incident leads with what happened, told
		// from its most urgent finding, the exfiltration.
		want := "Card data typed into shop/checkout was sent to " + thief + " by " + libURL +
			", first seen " + formatTime(exfil.FirstSeen) + ", last seen " + formatTime(exfil.LastSeen) + "."
		if got := strings.TrimSpace(doc.Find("#headline").Text()); got != want {
			t.Errorf("finding %d says what happened as\n%q, want\n%q", id, got, want)
		}
		if !strings.Contains(doc.Find("h1").Text(), "Incident") {
			t.Errorf("finding %d: the heading does not say incident: %q", id, doc.Find("h1").Text())
		}
		if h, facts := strings.Index(string(body), `id="headline"`), strings.Index(string(body), `<dl class="facts"`); h < 0 || facts < h {
			t.Errorf("finding %d: the evidence (at %d) comes before what happened (at %d)", id, facts, h)
		}
		todo := doc.Find("ol.todo li")
		steps := strings.ToLower(todo.Text())
		for _, step := range []string{"delete the script or revert the file", "server-side entry point", "admin accounts", "plugins",
			"database", "rotate credentials", "acquirer", "payment provider (psp)"} {
			if !strings.Contains(steps, step) {
				t.Errorf("finding %d: the checklist lacks %q:\n%s", id, step, todo.Text())
			}
		}
		for _, other := range group {
			row := doc.Find(`#group tbody tr`).FilterFunction(func(_ int, s *goquery.Selection) bool {
				return s.Find(`a[href="/findings/`+itoa(other)+`"]`).Length() > 0
			})
			if row.Length() != 1 {
				t.Errorf("finding %d: the group does not link finding %d:\n%s", id, other, doc.Find("#group").Text())
			}
			if this := row.HasClass("this"); this != (other == id) {
				t.Errorf("finding %d: the group marks finding %d as this one: %v", id, other, this)
			}
		}
		if n := doc.Find(`#group tbody tr`).Length(); n != len(group) {
			t.Errorf("finding %d: the group has %d findings, want %d (the later header change is another change)", id, n, len(group))
		}
		first := doc.Find("form.resolve button").First()
		if action, _ := first.Attr("formaction"); action != "/findings/"+itoa(id)+"/reject" || !first.HasClass("danger") ||
			strings.TrimSpace(first.Text()) != "Reject: this is not ours" {
			t.Errorf("finding %d: the main action is %q (%s), want Reject: this is not ours", id, first.Text(), action)
		}
		if !doc.Find(`form.resolve button[value=approve]`).HasClass("secondary") {
			t.Errorf("finding %d: approval is not the secondary action", id)
		}
	}

	_, doc := get(t, c, f.url("/findings/"+itoa(low.ID)))
	if doc.Find("#headline").Length() != 0 || doc.Find("ol.todo").Length() != 0 || doc.Find("#group").Length() != 0 {
		t.Errorf("a low finding of its own is shown as an incident:\n%s", doc.Find("main").Text())
	}
	if first := doc.Find("form.resolve button").First(); first.AttrOr("value", "") != "approve" || first.HasClass("secondary") {
		t.Errorf("a low finding's main action is %q, want approval", first.Text())
	}
}

func TestApprovingCriticalOrHighAsksForConfirmation(t *testing.T) {
	f := newFixture(t)
	low := f.lowFinding(t)
	c := f.client(t)
	_, csrf := f.login(t, c, "alice", password)
	ctx := context.Background()
	id := f.ids[skimguard.KindDataExfiltration]
	approve := f.url("/findings/" + itoa(id) + "/approve")
	reason := "the provider's new fraud check, ticket SEC-9"

	for _, confirm := range []string{"", "no", "on"} {
		form := url.Values{"reason": {reason}, "csrf": {csrf}}
		if confirm != "" {
			form.Set("confirm", confirm)
		}
		resp, err := c.PostForm(approve, form)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(doc.Find(".warning").Text(), "Are you sure? This approves "+thief) {
			t.Fatalf("confirm=%q: %d, want the confirmation page:\n%s", confirm, resp.StatusCode, doc.Find("main").Text())
		}
		if st := f.finding(t, id).Status; st != skimguard.StatusOpen {
			t.Fatalf("confirm=%q approved the critical finding: %s", confirm, st)
		}
		if b, _ := f.store.Baseline(ctx, "shop", "checkout"); b.Version != 1 {
			t.Fatalf("confirm=%q made baseline version %d", confirm, b.Version)
		}
		form2 := doc.Find("section.confirm form")
		if a, _ := form2.Attr("action"); a != "/findings/"+itoa(id)+"/approve" || form2.Find(`input[name=confirm]`).AttrOr("value", "") != "yes" ||
			form2.Find(`input[name=csrf]`).AttrOr("value", "") != csrf || form2.Find(`textarea[name=reason]`).Text() != reason {
			t.Fatalf("the confirmation form does not carry the approval over: action %q\n%s", a, goquery.NewDocumentFromNode(form2.Nodes[0]).Text())
		}
	}

	if resp := postForm(t, c, approve, url.Values{"reason": {reason}, "csrf": {csrf}, "confirm": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed approval: %d", resp.StatusCode)
	}
	if fd := f.finding(t, id); fd.Status != skimguard.StatusApproved || fd.Resolution != reason {
		t.Fatalf("after the confirmed approval: %s %q", fd.Status, fd.Resolution)
	}

	// A low finding is approved at once: the second step is for what may
	// be a skimmer, not for every change.
	if resp := postForm(t, c, f.url("/findings/"+itoa(low.ID)+"/approve"), url.Values{"reason": {"our new header"}, "csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approving a low finding: %d", resp.StatusCode)
	}
	if st := f.finding(t, low.ID).Status; st != skimguard.StatusApproved {
		t.Fatalf("the low finding is %s", st)
	}
}
