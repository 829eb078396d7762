package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func TestStaticServesFilesButListsNothing(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	for _, p := range []string{"/static/", "/static/?C=N;O=D"} {
		resp, err := c.Get(f.url(p))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "style.css") {
			t.Errorf("GET %s without a session: %d\n%s", p, resp.StatusCode, body)
		}
	}
	resp, err := c.Get(f.url("/static/style.css"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("the stylesheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestCrossOriginRefusalsOnTheAPIAnswerInJSON(t *testing.T) {
	f := newFixture(t)
	id := f.ids[skimguard.KindDataExfiltration]
	req, _ := http.NewRequest("POST", f.url("/api/v1/findings/"+itoa(id)+"/reject"), strings.NewReader(`{"reason":"from another site"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e map[string]string
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || !strings.Contains(e["error"], "cross-origin") {
		t.Fatalf("%d %s: %s; want 403 with a JSON error", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if st := f.finding(t, id).Status; st != skimguard.StatusOpen {
		t.Fatalf("the cross-origin request changed the finding: %s", st)
	}
}

func TestScreenshotsAreNotCached(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	f.login(t, c, "alice", password)
	d, err := f.store.Scans(t.Context(), skimguard.ScanFilter{Site: "shop", Limit: 1})
	if err != nil || len(d) != 1 {
		t.Fatalf("scans: %v %v", d, err)
	}
	resp, err := c.Get(f.url("/scans/" + itoa(d[0].ID) + "/screenshot.png"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %s, Cache-Control %q; want no-store like the pages", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
}
