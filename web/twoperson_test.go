package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// version is the current baseline version of the fixture's page.
func (f *fixture) version(t *testing.T) *skimguard.Baseline {
	t.Helper()
	b, err := f.store.Baseline(context.Background(), "shop", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTwoPersonRule(t *testing.T) {
	t.Run("in the web form, one reviewer cannot approve a critical finding alone; a second completes it", func(t *testing.T) {
		f := newFixture(t)
		f.twoPerson.Store(true)
		id := f.ids[skimguard.KindDataExfiltration]
		finding := f.url("/findings/" + itoa(id))
		alice := f.client(t)
		_, aliceCSRF := f.login(t, alice, "alice", password)

		resp := postForm(t, alice, finding+"/approve", url.Values{"confirm": {"yes"}, "csrf": {aliceCSRF}, "reason": {"the provider's new fraud check, SEC-9"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/findings/"+itoa(id) {
			t.Fatalf("first approval: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if fd := f.finding(t, id); fd.Status != skimguard.StatusOpen || fd.FirstApproval == nil || fd.FirstApproval.By != "alice" {
			t.Fatalf("after one approval: %s, first approval %+v", fd.Status, fd.FirstApproval)
		}
		if v := f.version(t).Version; v != 1 {
			t.Fatalf("one approval made baseline version %d", v)
		}
		_, doc := get(t, alice, finding)
		if status := doc.Find("#status").Text(); !strings.Contains(status, "approved by alice") || !strings.Contains(status, "waiting for a second reviewer") {
			t.Errorf("the finding says %q", status)
		}
		if doc.Find("form.resolve button[value=approve]").Length() != 0 || doc.Find("form.resolve button.reject").Length() == 0 {
			t.Errorf("alice is offered to approve her own approval again, or not to reject")
		}

		code, body := post(t, alice, finding+"/approve", "application/x-www-form-urlencoded",
			url.Values{"confirm": {"yes"}, "csrf": {aliceCSRF}, "reason": {"really, it is fine"}}.Encode(), nil)
		if code != http.StatusForbidden || !strings.Contains(body, "second reviewer") {
			t.Fatalf("alice's second approval: %d, want 403 saying a second reviewer must confirm:\n%.800s", code, body)
		}
		if fd := f.finding(t, id); fd.Status != skimguard.StatusOpen || fd.FirstApproval.Reason != "the provider's new fraud check, SEC-9" {
			t.Fatalf("the refused approval changed the finding: %+v", fd)
		}

		bob := f.client(t)
		_, bobCSRF := f.login(t, bob, "bob", password)
		_, doc = get(t, bob, finding)
		if b := doc.Find("form.resolve button[value=approve]").Text(); !strings.Contains(b, "second reviewer") {
			t.Errorf("bob is offered %q, want to confirm as the second reviewer", b)
		}
		resp = postForm(t, bob, finding+"/approve", url.Values{"confirm": {"yes"}, "csrf": {bobCSRF}, "reason": {"checked the request, it is the provider"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("bob's approval: %d", resp.StatusCode)
		}
		if fd := f.finding(t, id); fd.Status != skimguard.StatusApproved || fd.ResolvedBy != "bob" {
			t.Fatalf("after the second approval: %s by %q", fd.Status, fd.ResolvedBy)
		}
		if b := f.version(t); b.Version != 2 || b.ApprovedBy != "alice and bob" {
			t.Fatalf("baseline version %d approved by %q, want 2 by alice and bob", b.Version, b.ApprovedBy)
		}
		_, doc = get(t, bob, finding)
		if status := doc.Find("#status").Text(); !strings.Contains(status, "approved by bob") || !strings.Contains(status, "first approved by alice") {
			t.Errorf("the approved finding says %q", status)
		}
	})
	t.Run("in the API, the token's approval waits for a second reviewer and cannot be its own second", func(t *testing.T) {
		f := newFixture(t)
		f.twoPerson.Store(true)
		id := f.ids[skimguard.KindScriptChanged]
		var got struct {
			Finding findingJSON `json:"finding"`
		}
		if code := f.api(t, "POST", "/api/v1/findings/"+itoa(id)+"/approve", `{"reason":"vendor update 2.1"}`, &got); code != http.StatusAccepted {
			t.Fatalf("the token's approval: %d, want 202", code)
		}
		if a := got.Finding.FirstApproval; got.Finding.Status != skimguard.StatusOpen || a == nil || a.By != TokenActor || a.Reason != "vendor update 2.1" {
			t.Fatalf("the answer: %+v, first approval %+v", got.Finding, got.Finding.FirstApproval)
		}
		var e map[string]string
		if code := f.api(t, "POST", "/api/v1/findings/"+itoa(id)+"/approve", `{"reason":"again"}`, &e); code != http.StatusForbidden || !strings.Contains(e["error"], "second reviewer") {
			t.Fatalf("the token again: %d %v, want 403 in JSON", code, e)
		}
		bob := f.client(t)
		_, csrf := f.login(t, bob, "bob", password)
		code, text := post(t, bob, f.url("/api/v1/findings/"+itoa(id)+"/approve"), "application/json", `{"reason":"read the diff"}`, map[string]string{"X-CSRF-Token": csrf})
		if err := json.Unmarshal([]byte(text), &got); err != nil || code != http.StatusOK || got.Finding.Status != skimguard.StatusApproved || got.Finding.ResolvedBy != "bob" {
			t.Fatalf("bob's approval: %d %+v", code, got.Finding)
		}
		if v := f.version(t).Version; v != 2 {
			t.Fatalf("baseline version %d after two approvals, want 2", v)
		}
	})
	t.Run("a rejection closes it at once", func(t *testing.T) {
		f := newFixture(t)
		f.twoPerson.Store(true)
		id := f.ids[skimguard.KindConnectionAdded] // high
		c := f.client(t)
		_, csrf := f.login(t, c, "bob", password)
		postForm(t, c, f.url("/findings/"+itoa(id)+"/approve"), url.Values{"confirm": {"yes"}, "csrf": {csrf}, "reason": {"the provider's host"}})
		if resp := postForm(t, c, f.url("/findings/"+itoa(id)+"/reject"), url.Values{"csrf": {csrf}, "reason": {"no: it is the thief's"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("reject: %d", resp.StatusCode)
		}
		if fd := f.finding(t, id); fd.Status != skimguard.StatusRejected {
			t.Fatalf("after rejecting: %s", fd.Status)
		}
	})
	t.Run("a medium finding needs one approval", func(t *testing.T) {
		f := newFixture(t)
		f.twoPerson.Store(true)
		scan := &skimguard.Scan{Site: "shop", Page: "checkout", URL: pageURL, Status: skimguard.ScanFindings, StartedAt: time.Now().UTC(),
			Findings: []skimguard.Finding{{Kind: skimguard.KindHeaderChanged, Severity: skimguard.SeverityMedium, Site: "shop", Page: "checkout",
				Subject: "x-frame-options", Detail: "a security header changed", Fingerprint: "xfo",
				Item: skimguard.Item{Type: skimguard.ItemHeader, Key: "x-frame-options", Subject: "x-frame-options", Values: []string{"SAMEORIGIN"}}}}}
		if err := f.store.SaveScan(context.Background(), scan); err != nil {
			t.Fatal(err)
		}
		id := scan.Findings[0].ID
		c := f.client(t)
		_, csrf := f.login(t, c, "bob", password)
		postForm(t, c, f.url("/findings/"+itoa(id)+"/approve"), url.Values{"confirm": {"yes"}, "csrf": {csrf}, "reason": {"framing by our own pages, SEC-12"}})
		if fd := f.finding(t, id); fd.Status != skimguard.StatusApproved || fd.FirstApproval != nil {
			t.Fatalf("after one approval: %s, first approval %+v", fd.Status, fd.FirstApproval)
		}
		if v := f.version(t).Version; v != 2 {
			t.Fatalf("baseline version %d, want 2", v)
		}
	})
	t.Run("without the rule one reviewer approves a critical finding", func(t *testing.T) {
		f := newFixture(t)
		id := f.ids[skimguard.KindDataExfiltration]
		c := f.client(t)
		_, csrf := f.login(t, c, "bob", password)
		postForm(t, c, f.url("/findings/"+itoa(id)+"/approve"), url.Values{"confirm": {"yes"}, "csrf": {csrf}, "reason": {"the provider"}})
		if fd := f.finding(t, id); fd.Status != skimguard.StatusApproved {
			t.Fatalf("after one approval: %s", fd.Status)
		}
	})
}
