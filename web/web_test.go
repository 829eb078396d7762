package web

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
)

func TestHealthzNeedsNoSignIn(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.url("/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
}

func TestNothingElseIsReachableWithoutSignIn(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	t.Run("pages send people to the sign-in form and back", func(t *testing.T) {
		for _, p := range []string{"/", "/findings", "/findings/1", "/pages/shop/checkout", "/scans", "/scans/1",
			"/scans/1/screenshot.png", "/audit", "/inventory.csv", "/pages/shop/checkout/inventory.csv", "/nowhere"} {
			resp, err := c.Get(f.url(p))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape(p) {
				t.Errorf("GET %s: %d to %q, want 303 to the sign-in form", p, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})
	t.Run("the API and metrics answer 401 in JSON", func(t *testing.T) {
		for _, p := range []string{"/api/v1/pages", "/api/v1/findings", "/api/v1/findings/1", "/api/v1/scans", "/api/v1/audit", "/metrics"} {
			resp, err := c.Get(f.url(p))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"error"`) {
				t.Errorf("GET %s: %d %s, want 401 with a JSON error", p, resp.StatusCode, body)
			}
		}
	})
	t.Run("state changes are refused", func(t *testing.T) {
		id := f.ids[skimguard.KindDataExfiltration]
		for _, p := range []string{"/findings/" + itoa(id) + "/approve", "/api/v1/findings/" + itoa(id) + "/approve", "/logout"} {
			resp := postForm(t, c, f.url(p), url.Values{"reason": {"sneaky"}})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST %s: %d, want 401", p, resp.StatusCode)
			}
		}
		if st := f.finding(t, id).Status; st != skimguard.StatusOpen {
			t.Fatalf("the finding was changed without a session: %s", st)
		}
	})
	t.Run("a forged or wrong API token is refused", func(t *testing.T) {
		for _, h := range []string{"Bearer wrong", "Bearer " + apiToken + "x", "Basic " + apiToken, "Bearer "} {
			req, _ := http.NewRequest("GET", f.url("/api/v1/pages"), nil)
			req.Header.Set("Authorization", h)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("Authorization %q: %d, want 401", h, resp.StatusCode)
			}
		}
	})
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func TestSignIn(t *testing.T) {
	t.Run("a wrong password gets no session", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		resp, _ := f.login(t, c, "alice", "wrong password!")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("want 401, got %d", resp.StatusCode)
		}
		resp, _ = get(t, c, f.url("/"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the dashboard answered %d after a failed sign-in", resp.StatusCode)
		}
		if !strings.Contains(f.logs.String(), "sign-in failed") || strings.Contains(f.logs.String(), "wrong password!") {
			t.Fatalf("the failure must be logged without the password:\n%s", f.logs)
		}
	})
	t.Run("an unknown user is refused like a wrong password", func(t *testing.T) {
		f := newFixture(t)
		resp, _ := f.login(t, f.client(t), "mallory", password)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("want 401, got %d", resp.StatusCode)
		}
	})
	t.Run("the right password opens a session with safe cookies", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		resp, csrf := f.login(t, c, "alice", password)
		if resp.StatusCode != http.StatusSeeOther || csrf == "" {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
		var session *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "skimguard_session" {
				session = ck
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/", session)
		}
	})
	t.Run("a sign-in without the form's token is refused", func(t *testing.T) {
		f := newFixture(t)
		resp := postForm(t, f.client(t), f.url("/login"), url.Values{"user": {"alice"}, "password": {password}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("want 403, got %d", resp.StatusCode)
		}
	})
	t.Run("removing the user or changing its password ends its sessions", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		f.login(t, c, "alice", password)
		hash, _ := HashPassword("a brand new password")
		if err := f.store.SaveUser(context.Background(), &skimguard.User{Name: "alice", PasswordHash: hash}, "admin"); err != nil {
			t.Fatal(err)
		}
		if resp, _ := get(t, c, f.url("/")); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the session outlived a new password: %d", resp.StatusCode)
		}
		f.login(t, c, "alice", "a brand new password")
		if err := f.store.DeleteUser(context.Background(), "alice", "admin"); err != nil {
			t.Fatal(err)
		}
		if resp, _ := get(t, c, f.url("/")); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the session outlived its user: %d", resp.StatusCode)
		}
	})
	t.Run("signing out ends the session", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t)
		_, csrf := f.login(t, c, "alice", password)
		if resp := postForm(t, c, f.url("/logout"), url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", resp.StatusCode)
		}
		if resp, _ := get(t, c, f.url("/")); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("still signed in after signing out: %d", resp.StatusCode)
		}
	})
}

func TestStateChangesNeedTheCSRFToken(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	_, csrf := f.login(t, c, "alice", password)
	id := f.ids[skimguard.KindDataExfiltration]
	approve := f.url("/findings/" + itoa(id) + "/approve")

	t.Run("without a token", func(t *testing.T) {
		if resp := postForm(t, c, approve, url.Values{"reason": {"looks fine"}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("want 403, got %d", resp.StatusCode)
		}
	})
	t.Run("with another token", func(t *testing.T) {
		if resp := postForm(t, c, approve, url.Values{"reason": {"looks fine"}, "csrf": {csrf + "x"}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("want 403, got %d", resp.StatusCode)
		}
	})
	t.Run("through the API with the session but no header", func(t *testing.T) {
		req, _ := http.NewRequest("POST", f.url("/api/v1/findings/"+itoa(id)+"/approve"), strings.NewReader(`{"reason":"looks fine"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("want 403, got %d", resp.StatusCode)
		}
	})
	t.Run("from another origin, even with the token", func(t *testing.T) {
		req, _ := http.NewRequest("POST", approve, strings.NewReader(url.Values{"reason": {"x"}, "csrf": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("want 403, got %d", resp.StatusCode)
		}
	})
	if st := f.finding(t, id).Status; st != skimguard.StatusOpen {
		t.Fatalf("a refused request changed the finding: %s", st)
	}
	t.Run("with the token but no justification", func(t *testing.T) {
		if resp := postForm(t, c, approve, url.Values{"reason": {"   "}, "csrf": {csrf}}); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("want 400, got %d", resp.StatusCode)
		}
	})
	t.Run("with the token and a justification", func(t *testing.T) {
		resp := postForm(t, c, approve, url.Values{"reason": {"the provider's new fraud check, ticket SEC-9"}, "csrf": {csrf}, "confirm": {"yes"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/findings/"+itoa(id) {
			t.Fatalf("want 303 back to the finding, got %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		fd := f.finding(t, id)
		if fd.Status != skimguard.StatusApproved || fd.ResolvedBy != "alice" || fd.Resolution != "the provider's new fraud check, ticket SEC-9" {
			t.Fatalf("finding after approval: %s by %q: %q", fd.Status, fd.ResolvedBy, fd.Resolution)
		}
	})
	t.Run("twice", func(t *testing.T) {
		if resp := postForm(t, c, approve, url.Values{"reason": {"again"}, "csrf": {csrf}}); resp.StatusCode != http.StatusConflict {
			t.Fatalf("want 409 for a closed finding, got %d", resp.StatusCode)
		}
	})
}

func TestFindingPageShowsTheEvidence(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	f.login(t, c, "alice", password)

	t.Run("a changed script as a pretty-printed diff", func(t *testing.T) {
		resp, doc := get(t, c, f.url("/findings/"+itoa(f.ids[skimguard.KindScriptChanged])))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		var added []string
		doc.Find("table.diff tr.ins td.code").Each(func(_ int, s *goquery.Selection) { added = append(added, s.Text()) })
		joined := strings.Join(added, "\n")
		if !strings.Contains(joined, "sendBeacon") || !strings.Contains(joined, "127.0.0.66") {
			t.Fatalf("the inserted lines do not show the skimmer:\n%s", joined)
		}
		if len(added) < 3 {
			t.Fatalf("want the minified skimmer pretty-printed over several lines, got %d: %q", len(added), added)
		}
		if n := doc.Find("table.diff tr.del").Length(); n != 0 {
			t.Errorf("nothing of the library was removed, but %d lines show as deleted", n)
		}
		if !strings.Contains(doc.Find(".diff p.muted").Text(), "pretty-printed") {
			t.Errorf("the page does not say the scripts were pretty-printed")
		}
	})
	t.Run("an exfiltration with its request and sending script", func(t *testing.T) {
		_, doc := get(t, c, f.url("/findings/"+itoa(f.ids[skimguard.KindDataExfiltration])))
		leak := doc.Find("section.leaks").Text()
		if !strings.Contains(leak, thief+"/g.php") || !strings.Contains(leak, "base64") || !strings.Contains(leak, libURL) {
			t.Fatalf("the request is not shown:\n%s", leak)
		}
		if sender := doc.Find("section.senders").Text(); !strings.Contains(sender, libURL) || !strings.Contains(sender, "sendBeacon") {
			t.Fatalf("the sending script is not shown:\n%s", sender)
		}
		src, ok := doc.Find("section.shot img").Attr("src")
		if !ok {
			t.Fatal("no screenshot")
		}
		resp, err := c.Get(f.url(src))
		if err != nil {
			t.Fatal(err)
		}
		png, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Type") != "image/png" || string(png) != string(onePixelPNG) {
			t.Fatalf("screenshot: %s, %d bytes", resp.Header.Get("Content-Type"), len(png))
		}
	})
	t.Run("an unknown finding is 404", func(t *testing.T) {
		if resp, _ := get(t, c, f.url("/findings/999999")); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("want 404, got %d", resp.StatusCode)
		}
	})
}

func TestHostileTextIsShownAsText(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Marking hidden characters builds HTML around page text: the text
	// must stay text through it too.
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>` + "\u202e" + `<span class="hidden-char">⟨U+0000⟩</span>`
	scan := &skimguard.Scan{Site: "shop", Page: "checkout", URL: pageURL, Status: skimguard.ScanFindings, StartedAt: time.Now().UTC(),
		Findings: []skimguard.Finding{{Kind: skimguard.KindScriptAdded, Severity: skimguard.SeverityCritical, Site: "shop", Page: "checkout",
			Subject: evil, Detail: evil, Fingerprint: "evil", Evidence: skimguard.Evidence{AfterSource: evil, URL: "javascript:alert(3)"}}}}
	if err := f.store.SaveScan(ctx, scan); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	f.login(t, c, "alice", password)
	resp, err := c.Get(f.url("/findings/" + itoa(scan.Findings[0].ID)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "<script>alert") || strings.Contains(string(body), "<img src=x") {
		t.Fatal("page text reached the interface as markup")
	}
	if !strings.Contains(string(body), "&lt;script&gt;alert(1)") {
		t.Fatal("the hostile text is not shown at all")
	}
	if strings.Contains(string(body), "\u202e") || !strings.Contains(string(body), `&gt;<span class="hidden-char"`) ||
		strings.Contains(string(body), `<span class="hidden-char">⟨U+0000⟩`) {
		t.Fatal("the hostile text's U+202E is not marked, or its forged marker is markup")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("security headers: CSP %q, XFO %q", csp, resp.Header.Get("X-Frame-Options"))
	}
}

func TestPageShowsBaselineHistoryAndInventory(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	_, csrf := f.login(t, c, "alice", password)
	id := f.ids[skimguard.KindScriptChanged]
	postForm(t, c, f.url("/findings/"+itoa(id)+"/approve"), url.Values{"reason": {"vendor update v2.1, ticket SEC-7"}, "csrf": {csrf}, "confirm": {"yes"}})

	_, doc := get(t, c, f.url("/pages/shop/checkout"))
	rows := doc.Find("table.history tbody tr")
	if rows.Length() != 2 {
		t.Fatalf("want 2 baseline versions, got %d:\n%s", rows.Length(), doc.Find("table.history").Text())
	}
	newest := rows.First().Text()
	if !strings.Contains(newest, "alice") || !strings.Contains(newest, "vendor update v2.1, ticket SEC-7") || !strings.Contains(newest, "~ script "+libURL) {
		t.Fatalf("the newest version does not show who, why and what changed:\n%s", newest)
	}

	resp, err := c.Get(f.url("/pages/shop/checkout/inventory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(recs) != 2 || recs[0][2] != "script" || recs[1][2] != libURL {
		t.Fatalf("inventory CSV: %s %q", resp.Header.Get("Content-Type"), recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	if recs[1][col["justification"]] != "vendor update v2.1, ticket SEC-7" || recs[1][col["approved_by"]] != "alice" {
		t.Fatalf("the inventory lacks the justification and approver: %q", recs[1])
	}
}

func TestAPI(t *testing.T) {
	f := newFixture(t)
	t.Run("pages", func(t *testing.T) {
		var got struct {
			Pages []pageSummary `json:"pages"`
		}
		if code := f.api(t, "GET", "/api/v1/pages", "", &got); code != http.StatusOK || len(got.Pages) != 1 {
			t.Fatalf("%d %+v", code, got)
		}
		p := got.Pages[0]
		if p.Site != "shop" || !p.Configured || p.BaselineVersion != 1 || p.LastScan == nil || p.Open[skimguard.SeverityCritical] == 0 {
			t.Fatalf("page summary %+v", p)
		}
	})
	t.Run("findings without script texts in lists", func(t *testing.T) {
		var got struct {
			Findings []map[string]any `json:"findings"`
		}
		f.api(t, "GET", "/api/v1/findings", "", &got)
		if len(got.Findings) < 2 {
			t.Fatalf("findings: %+v", got)
		}
		for _, fd := range got.Findings {
			if fd["status"] != "open" || fd["id"] == nil {
				t.Fatalf("finding %+v", fd)
			}
			if ev, _ := fd["evidence"].(map[string]any); ev["after_source"] != nil {
				t.Fatalf("a list carries script texts: %+v", ev)
			}
		}
	})
	t.Run("a bad status filter says what to use", func(t *testing.T) {
		var got map[string]string
		if code := f.api(t, "GET", "/api/v1/findings?status=closed", "", &got); code != http.StatusBadRequest || !strings.Contains(got["error"], "open, approved, rejected or all") {
			t.Fatalf("%d %v", code, got)
		}
	})
	t.Run("a finding with its unified diff", func(t *testing.T) {
		var got struct {
			Finding findingJSON `json:"finding"`
			Diff    string      `json:"diff"`
		}
		f.api(t, "GET", "/api/v1/findings/"+itoa(f.ids[skimguard.KindScriptChanged]), "", &got)
		if got.Finding.Kind != skimguard.KindScriptChanged || !strings.Contains(got.Diff, "\n+") || !strings.Contains(got.Diff, "sendBeacon") {
			t.Fatalf("finding %+v\ndiff:\n%s", got.Finding, got.Diff)
		}
	})
	t.Run("reject with the token, recorded as the token", func(t *testing.T) {
		id := f.ids[skimguard.KindDataExfiltration]
		var bad map[string]string
		if code := f.api(t, "POST", "/api/v1/findings/"+itoa(id)+"/reject", `{"reason":""}`, &bad); code != http.StatusBadRequest {
			t.Fatalf("an empty reason: %d %v", code, bad)
		}
		if code := f.api(t, "POST", "/api/v1/findings/"+itoa(id)+"/reject", `{"reasn":"typo"}`, &bad); code != http.StatusBadRequest {
			t.Fatalf("an unknown field: %d %v", code, bad)
		}
		var got struct {
			Finding findingJSON `json:"finding"`
		}
		if code := f.api(t, "POST", "/api/v1/findings/"+itoa(id)+"/reject", `{"reason":"skimmer; removed in incident 42"}`, &got); code != http.StatusOK {
			t.Fatalf("reject: %d", code)
		}
		if got.Finding.Status != skimguard.StatusRejected || got.Finding.ResolvedBy != TokenActor {
			t.Fatalf("after reject: %+v", got.Finding)
		}
		var audit struct {
			Audit []skimguard.AuditEntry `json:"audit"`
		}
		f.api(t, "GET", "/api/v1/audit", "", &audit)
		last := audit.Audit[0] // newest first
		if last.Actor != TokenActor || last.Reason != "skimmer; removed in incident 42" {
			t.Fatalf("audit: %+v", last)
		}
	})
	t.Run("baselines, scans and inventory", func(t *testing.T) {
		var bs struct {
			Baselines []struct {
				Version int              `json:"version"`
				Items   []skimguard.Item `json:"items"`
			} `json:"baselines"`
		}
		if code := f.api(t, "GET", "/api/v1/pages/shop/checkout/baselines", "", &bs); code != http.StatusOK || len(bs.Baselines) != 1 || len(bs.Baselines[0].Items) == 0 {
			t.Fatalf("%d %+v", code, bs)
		}
		for _, it := range bs.Baselines[0].Items {
			if it.Source != "" {
				t.Fatal("baseline items carry script texts")
			}
		}
		var scans struct {
			Scans []skimguard.Scan `json:"scans"`
		}
		if code := f.api(t, "GET", "/api/v1/scans?site=shop&limit=5", "", &scans); code != http.StatusOK || len(scans.Scans) != 1 {
			t.Fatalf("%d %+v", code, scans)
		}
		var inv struct {
			Inventory []map[string]any `json:"inventory"`
		}
		if code := f.api(t, "GET", "/api/v1/inventory?site=shop", "", &inv); code != http.StatusOK || len(inv.Inventory) != 1 || inv.Inventory[0]["script"] != libURL {
			t.Fatalf("%d %+v", code, inv)
		}
		var e map[string]string
		if code := f.api(t, "GET", "/api/v1/pages/shop/nope/baselines", "", &e); code != http.StatusNotFound {
			t.Fatalf("unknown page: %d %v", code, e)
		}
	})
	t.Run("metrics with the token", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.url("/metrics"), nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "skimguard_test_metric 1") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}

func TestLinkPointsAtWhatToReview(t *testing.T) {
	base, _ := url.Parse("https://skimguard.example/ui")
	one := alerts.Alert{Site: "shop", Page: "check out", Findings: []skimguard.Finding{{ID: 7}}}
	if got := Link(base, one); got != "https://skimguard.example/ui/findings/7" {
		t.Errorf("one finding: %s", got)
	}
	many := alerts.Alert{Site: "shop", Page: "check out", Findings: []skimguard.Finding{{ID: 7}, {ID: 8}}}
	if got := Link(base, many); got != "https://skimguard.example/ui/pages/shop/check%20out" {
		t.Errorf("several findings: %s", got)
	}
	failed := alerts.Alert{Site: "shop", Page: "checkout", Findings: []skimguard.Finding{{Kind: skimguard.KindScanFailed}}}
	if got := Link(base, failed); got != "https://skimguard.example/ui/pages/shop/checkout" {
		t.Errorf("a failure notice (no stored finding): %s", got)
	}
}
