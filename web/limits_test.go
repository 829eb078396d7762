package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

// post sends body to u and returns the status and the answer's text.
func post(t *testing.T, c *http.Client, u, contentType, body string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A justification is kept for ever in the append-only audit log and every
// evidence report: one of megabytes must be refused, saying the limit, and
// leave nothing behind.
func TestJustificationsAndRequestBodiesAreCapped(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	_, csrf := f.login(t, c, "alice", password)
	id := f.ids[skimguard.KindDataExfiltration]
	form := func(action string) string { return f.url("/findings/" + itoa(id) + "/" + action) }
	api := func(action string) string { return f.url("/api/v1/findings/" + itoa(id) + "/" + action) }
	token := map[string]string{"Authorization": "Bearer " + apiToken}
	jsonBody := func(reason string) string {
		b, _ := json.Marshal(map[string]string{"reason": reason})
		return string(b)
	}
	huge := strings.Repeat("x", 3<<20)
	over := strings.Repeat("é", skimguard.MaxReason+1)
	auditBefore, err := f.store.Audit(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name        string
		url, ctype  string
		body        string
		header      map[string]string
		code        int
		says        string
		jsonAnswers bool
	}{
		{"a 3 MB justification in the form", form("approve"), "application/x-www-form-urlencoded",
			url.Values{"csrf": {csrf}, "reason": {huge}}.Encode(), nil, http.StatusRequestEntityTooLarge, "at most 2000 characters", false},
		{"a justification one character too long in the form", form("reject"), "application/x-www-form-urlencoded",
			url.Values{"csrf": {csrf}, "reason": {over}}.Encode(), nil, http.StatusBadRequest, "at most 2000", false},
		{"a short justification with 3 MB of other fields in the form", form("approve"), "application/x-www-form-urlencoded",
			url.Values{"csrf": {csrf}, "reason": {"looks fine"}, "padding": {huge}}.Encode(), nil, http.StatusRequestEntityTooLarge, "at most 2000 characters", false},
		{"a 3 MB justification through the API", api("approve"), "application/json", jsonBody(huge), token, http.StatusRequestEntityTooLarge, "at most 2000 characters", true},
		{"a justification one character too long through the API", api("reject"), "application/json", jsonBody(over), token, http.StatusBadRequest, "at most 2000", true},
		{"a 3 MB sign-in form", f.url("/login"), "application/x-www-form-urlencoded",
			url.Values{"user": {"alice"}, "password": {huge}}.Encode(), nil, http.StatusRequestEntityTooLarge, "larger than 64 KiB", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, c, tc.url, tc.ctype, tc.body, tc.header)
			if code != tc.code || !strings.Contains(body, tc.says) {
				t.Fatalf("%d, want %d saying %q:\n%.500s", code, tc.code, tc.says, body)
			}
			if tc.jsonAnswers {
				var e map[string]string
				if err := json.Unmarshal([]byte(body), &e); err != nil || e["error"] == "" {
					t.Fatalf("not a JSON error: %.500s", body)
				}
			}
		})
	}
	if st := f.finding(t, id).Status; st != skimguard.StatusOpen {
		t.Fatalf("a refused request closed the finding: %s", st)
	}
	after, err := f.store.Audit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(auditBefore) {
		t.Fatalf("refused requests were recorded in the audit log: %d entries, then %d", len(auditBefore), len(after))
	}

	t.Run("a justification of exactly 2000 characters is kept whole", func(t *testing.T) {
		most := strings.Repeat("é", skimguard.MaxReason)
		if code, body := post(t, c, form("reject"), "application/x-www-form-urlencoded", url.Values{"csrf": {csrf}, "reason": {most}}.Encode(), nil); code != http.StatusSeeOther {
			t.Fatalf("%d:\n%.500s", code, body)
		}
		if fd := f.finding(t, id); fd.Status != skimguard.StatusRejected || fd.Resolution != most {
			t.Fatalf("finding after rejection: %s, %d characters kept", fd.Status, len([]rune(fd.Resolution)))
		}
	})
}
