package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

// apiAs calls the JSON API with a session: its cookie and its CSRF token.
func apiAs(t *testing.T, c *http.Client, u, csrf, body string) (int, map[string]string) {
	t.Helper()
	code, text := post(t, c, u, "application/json", body, map[string]string{"X-CSRF-Token": csrf})
	var e map[string]string
	json.Unmarshal([]byte(text), &e)
	return code, e
}

func TestRoles(t *testing.T) {
	t.Run("a viewer reads findings but cannot approve or reject them, in the form or the API", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		_, csrf := f.login(t, c, "victor", password)
		id := f.ids[skimguard.KindDataExfiltration]
		resp, doc := get(t, c, f.url("/findings/"+itoa(id)))
		if resp.StatusCode != http.StatusOK || doc.Find("section.leaks").Length() == 0 {
			t.Fatalf("the finding page: %d, without its evidence", resp.StatusCode)
		}
		if n := doc.Find("form.resolve, button[value=approve], .review").Length(); n != 0 {
			t.Errorf("a viewer is shown %d review controls", n)
		}
		if note := doc.Find("p.readonly").Text(); !strings.Contains(note, "viewer") || !strings.Contains(note, "reviewer") {
			t.Errorf("the page does not say why there is nothing to press: %q", note)
		}
		if who := doc.Find("header .role").Text(); who != "(viewer)" {
			t.Errorf("the header shows the role as %q", who)
		}
		for _, action := range []string{"approve", "reject"} {
			code, body := post(t, c, f.url("/findings/"+itoa(id)+"/"+action), "application/x-www-form-urlencoded",
				url.Values{"csrf": {csrf}, "reason": {"I can, can't I?"}}.Encode(), nil)
			if code != http.StatusForbidden || !strings.Contains(body, "needs the reviewer role") || !strings.Contains(body, "skimguard user role victor reviewer") {
				t.Errorf("form %s: %d, want 403 saying which role it takes:\n%.800s", action, code, body)
			}
			code, e := apiAs(t, c, f.url("/api/v1/findings/"+itoa(id)+"/"+action), csrf, `{"reason":"I can, can't I?"}`)
			if code != http.StatusForbidden || !strings.Contains(e["error"], "needs the reviewer role") {
				t.Errorf("API %s: %d %v, want 403 in JSON", action, code, e)
			}
		}
		if st := f.finding(t, id).Status; st != skimguard.StatusOpen {
			t.Fatalf("a viewer changed the finding: %s", st)
		}
		entries, _ := f.store.Audit(context.Background())
		denied := 0
		for _, e := range entries {
			if e.Action == "access.denied" && e.Actor == "victor" && strings.Contains(e.Detail, "needs the reviewer role") {
				denied++
			}
		}
		if denied != 4 {
			t.Errorf("%d refusals audited, want 4", denied)
		}
	})
	t.Run("a reviewer is shown the buttons and approves", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		_, csrf := f.login(t, c, "bob", password)
		id := f.ids[skimguard.KindScriptChanged]
		_, doc := get(t, c, f.url("/findings/"+itoa(id)))
		if doc.Find("form.resolve button[value=approve]").Length() != 1 || doc.Find("form.resolve button.reject").Length() == 0 {
			t.Fatal("a reviewer is not shown approve and reject")
		}
		resp := postForm(t, c, f.url("/findings/"+itoa(id)+"/approve"), url.Values{"confirm": {"yes"}, "csrf": {csrf}, "reason": {"vendor update, SEC-7"}})
		if resp.StatusCode != http.StatusSeeOther || f.finding(t, id).Status != skimguard.StatusApproved {
			t.Fatalf("approve: %d, finding %s", resp.StatusCode, f.finding(t, id).Status)
		}
	})
	t.Run("a new role applies at once to a signed-in session", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		_, csrf := f.login(t, c, "bob", password)
		if err := f.store.SetUserRole(context.Background(), "bob", skimguard.RoleViewer, "admin"); err != nil {
			t.Fatal(err)
		}
		id := f.ids[skimguard.KindDataExfiltration]
		resp := postForm(t, c, f.url("/findings/"+itoa(id)+"/reject"), url.Values{"csrf": {csrf}, "reason": {"skimmer"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("bob, now a viewer, rejected: %d", resp.StatusCode)
		}
	})
	t.Run("the API token is a reviewer", func(t *testing.T) {
		f := newFixture(t)
		var got struct {
			Finding findingJSON `json:"finding"`
		}
		id := f.ids[skimguard.KindDataExfiltration]
		if code := f.api(t, "POST", "/api/v1/findings/"+itoa(id)+"/reject", `{"reason":"skimmer, incident 42"}`, &got); code != http.StatusOK || got.Finding.Status != skimguard.StatusRejected {
			t.Fatalf("reject with the token: %d %+v", code, got.Finding)
		}
	})
}
