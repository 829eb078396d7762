package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	skimguard "github.com/skimguard/skimguard"
)

func TestScanPageMarksEachScriptAgainstItsBaseline(t *testing.T) {
	f := newFixture(t)
	byKind, added := f.payIncident(t)
	c := f.client(t)
	f.login(t, c, "alice", password)

	_, doc := get(t, c, f.url("/scans/"+itoa(byKind[skimguard.KindDataExfiltration].ScanID)))
	type row struct {
		mark     string
		finding  string
		loadedBy string
	}
	rows := map[string]row{}
	doc.Find("table.scripts tbody tr").Each(func(_ int, tr *goquery.Selection) {
		href, _ := tr.Find("td.state a").Attr("href")
		rows[tr.Find("td.subject").Text()] = row{tr.Find("td.state .mark").Text(), href, tr.Find("td").Last().Text()}
	})
	want := map[string]row{
		libURL:                                  {"approved", "", "the page's HTML"},
		"inline #1 (line 5 col 9) in " + payURL: {"approved", "", "the page's HTML"},
		skimName:                                {"new", "/findings/" + itoa(added[""].ID), "the page's HTML"},
		evilJS:                                  {"new", "/findings/" + itoa(added[evilJS].ID), skimName},
	}
	if len(rows) != len(want) {
		t.Errorf("scripts %+v, want %+v", rows, want)
	}
	for subj, w := range want {
		if rows[subj] != w {
			t.Errorf("%s: %+v, want %+v", subj, rows[subj], w)
		}
	}
	if h := doc.Find("table.headers").Text(); !strings.Contains(h, "x-frame-options") || !strings.Contains(h, "DENY") {
		t.Errorf("the headers are not shown:\n%s", h)
	}
	if fr := doc.Find("table.frames").Text(); !strings.Contains(fr, "https://psp.example/card?session=1") || !strings.Contains(fr, "payment") {
		t.Errorf("the frames are not shown:\n%s", fr)
	}
	if fo := doc.Find("table.forms").Text(); !strings.Contains(fo, "form#pay-form") || !strings.Contains(fo, "POST "+payURL+"/place") || !strings.Contains(fo, "name (holder)") {
		t.Errorf("the forms are not shown:\n%s", fo)
	}

	// The changed library of shop/checkout is marked changed.
	_, doc = get(t, c, f.url("/scans/"+itoa(f.finding(t, f.ids[skimguard.KindScriptChanged]).ScanID)))
	if m := doc.Find("table.scripts tbody tr td.state .mark").Text(); m != "changed" {
		t.Errorf("the changed library is marked %q", m)
	}

	// A scan compared with nothing marks nothing.
	o := payPage(true)
	scan := &skimguard.Scan{Site: "shop", Page: "pay", URL: payURL, Status: skimguard.ScanObserved, Observation: o}
	if err := f.store.SaveScan(context.Background(), scan); err != nil {
		t.Fatal(err)
	}
	_, doc = get(t, c, f.url("/scans/"+itoa(scan.ID)))
	if n := doc.Find("table.scripts .mark").Length(); n != 0 || !strings.Contains(doc.Find("main").Text(), "not compared") {
		t.Errorf("an uncompared scan shows %d marks", n)
	}
}

// listed returns the findings a list page shows, in order.
func (f *fixture) listed(t *testing.T, c *http.Client, path string) []skimguard.Finding {
	t.Helper()
	resp, doc := get(t, c, f.url(path))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	byID := map[string]skimguard.Finding{}
	for _, fd := range f.allFindings(t) {
		byID[itoa(fd.ID)] = fd
	}
	var out []skimguard.Finding
	doc.Find("table.findings tbody tr").Each(func(_ int, tr *goquery.Selection) {
		id := tr.Find("td").Eq(1).Text()
		fd, ok := byID[id]
		if !ok {
			t.Fatalf("%s lists finding %q, which is not stored", path, id)
		}
		out = append(out, fd)
	})
	return out
}

func TestFindingListSortsAndFilters(t *testing.T) {
	f := newFixture(t)
	byKind, added := f.payIncident(t)
	c := f.client(t)
	f.login(t, c, "alice", password)

	all := f.listed(t, c, "/findings")
	if len(all) != 7 {
		t.Fatalf("want the 7 open findings, got %d", len(all))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Severity.Rank() < b.Severity.Rank() || (a.Severity == b.Severity && a.FirstSeen.Before(b.FirstSeen)) {
			t.Errorf("#%d %s %s is listed before #%d %s %s", a.ID, a.Severity, formatTime(a.FirstSeen), b.ID, b.Severity, formatTime(b.FirstSeen))
		}
	}
	// shop/pay's incident is newer than shop/checkout's: its critical
	// findings come first, the exfiltration leading.
	if all[0].ID != byKind[skimguard.KindDataExfiltration].ID || all[4].Page != "checkout" {
		t.Errorf("order: %v", all)
	}

	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"?page=pay&kind=script.added", []int64{added[evilJS].ID, added[""].ID}},
		{"?site=shop&page=checkout&kind=data.exfiltration", []int64{f.ids[skimguard.KindDataExfiltration]}},
		{"?status=rejected", nil},
		{"?kind=connection.added", []int64{byKind[skimguard.KindConnectionAdded].ID, f.ids[skimguard.KindConnectionAdded]}},
	} {
		var got []int64
		for _, fd := range f.listed(t, c, "/findings"+tc.query) {
			got = append(got, fd.ID)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && !equalIDs(got, tc.want)) {
			t.Errorf("%s lists %v, want %v", tc.query, got, tc.want)
		}
	}

	_, doc := get(t, c, f.url("/findings?status=all&page=pay&kind=script.added"))
	form := doc.Find(`form.filters[method=get][action="/findings"]`)
	for name, want := range map[string]string{"status": "all", "page": "pay", "kind": "script.added", "site": ""} {
		if got := form.Find(`select[name=`+name+`] option[selected]`).AttrOr("value", form.Find(`select[name=`+name+`] option[selected]`).Text()); got != want {
			t.Errorf("the filter form shows %s=%q, want %q", name, got, want)
		}
	}
	if resp, _ := get(t, c, f.url("/findings?kind=script.evil")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown kind: %d, want 400", resp.StatusCode)
	}

	// The API filters the same way and keeps its order, newest first.
	var api struct {
		Findings []findingJSON `json:"findings"`
	}
	if code := f.api(t, "GET", "/api/v1/findings?kind=connection.added", "", &api); code != http.StatusOK || len(api.Findings) != 2 ||
		api.Findings[0].ID != byKind[skimguard.KindConnectionAdded].ID || api.Findings[1].ID != f.ids[skimguard.KindConnectionAdded] {
		t.Errorf("the API's connection.added findings: %d %+v", code, api.Findings)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBulkReview(t *testing.T) {
	f := newFixture(t)
	byKind, added := f.payIncident(t)
	c := f.client(t)
	_, csrf := f.login(t, c, "alice", password)
	pay := []int64{byKind[skimguard.KindDataExfiltration].ID, added[""].ID, added[evilJS].ID, byKind[skimguard.KindConnectionAdded].ID}
	ids := func(ids ...int64) []string {
		var out []string
		for _, id := range ids {
			out = append(out, itoa(id))
		}
		return out
	}

	_, doc := get(t, c, f.url("/findings?page=pay"))
	bulk := doc.Find(`form.bulk[method=post][action="/findings/reject"]`)
	if n := bulk.Find(`input[type=checkbox][name=id]`).Length(); n != len(pay) {
		t.Fatalf("the list offers %d findings to tick, want %d", n, len(pay))
	}
	if bulk.Find(`input[name=csrf]`).AttrOr("value", "") != csrf || bulk.Find(`input[name=filter]`).AttrOr("value", "") != "page=pay" ||
		!bulk.Find(`button`).First().HasClass("danger") || bulk.Find(`button[formaction="/findings/approve"]`).Length() != 1 {
		t.Fatalf("the bulk form lacks its token, filter or actions:\n%s", goquery.NewDocumentFromNode(bulk.Nodes[0]).Text())
	}

	t.Run("refused without the token, a reason or a selection", func(t *testing.T) {
		for _, tc := range []struct {
			form url.Values
			code int
		}{
			{url.Values{"id": ids(pay...), "reason": {"skimmer"}}, http.StatusForbidden},
			{url.Values{"id": ids(pay...), "reason": {" "}, "csrf": {csrf}}, http.StatusBadRequest},
			{url.Values{"reason": {"skimmer"}, "csrf": {csrf}}, http.StatusBadRequest},
			{url.Values{"id": {"1; DROP"}, "reason": {"skimmer"}, "csrf": {csrf}}, http.StatusBadRequest},
			{url.Values{"id": ids(pay[0], 999999), "reason": {"skimmer"}, "csrf": {csrf}}, http.StatusNotFound},
		} {
			if resp := postForm(t, c, f.url("/findings/reject"), tc.form); resp.StatusCode != tc.code {
				t.Errorf("%v: %d, want %d", tc.form, resp.StatusCode, tc.code)
			}
		}
		for _, fd := range f.allFindings(t) {
			if fd.Status != skimguard.StatusOpen {
				t.Fatalf("a refused request closed finding %d", fd.ID)
			}
		}
	})

	t.Run("approving critical findings asks first", func(t *testing.T) {
		form := url.Values{"id": ids(pay[0], pay[3]), "reason": {"ours"}, "csrf": {csrf}, "filter": {"page=pay"}}
		resp, err := c.PostForm(f.url("/findings/approve"), form)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := goquery.NewDocumentFromReader(resp.Body)
		resp.Body.Close()
		confirm := doc.Find("section.confirm form")
		var carried []string
		confirm.Find(`input[name=id]`).Each(func(_ int, s *goquery.Selection) { carried = append(carried, s.AttrOr("value", "")) })
		if resp.StatusCode != http.StatusOK || confirm.AttrOr("action", "") != "/findings/approve" || strings.Join(carried, ",") != strings.Join(ids(pay[0], pay[3]), ",") ||
			confirm.Find(`input[name=filter]`).AttrOr("value", "") != "page=pay" || !strings.Contains(doc.Find(".warning").Text(), "This approves 2 findings") {
			t.Fatalf("%d, want the confirmation carrying both findings:\n%s", resp.StatusCode, doc.Find("main").Text())
		}
		if st := f.finding(t, pay[0]).Status; st != skimguard.StatusOpen {
			t.Fatalf("approved without confirmation: %s", st)
		}
	})

	t.Run("reject the ticked findings with one reason", func(t *testing.T) {
		resp := postForm(t, c, f.url("/findings/reject"), url.Values{"id": ids(pay...), "reason": {"skimmer; removed in incident 7"},
			"csrf": {csrf}, "filter": {"page=pay&evil=//x.test"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/findings?page=pay" {
			t.Fatalf("%d to %q, want 303 back to the filtered list", resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, fd := range f.allFindings(t) {
			isPay := fd.Page == "pay"
			if isPay != (fd.Status == skimguard.StatusRejected) || (isPay && (fd.Resolution != "skimmer; removed in incident 7" || fd.ResolvedBy != "alice")) {
				t.Errorf("finding %d of %s: %s by %q: %q", fd.ID, fd.Page, fd.Status, fd.ResolvedBy, fd.Resolution)
			}
		}
		audit, err := f.store.Audit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range audit {
			if e.Actor == "alice" && e.Reason == "skimmer; removed in incident 7" {
				n++
			}
		}
		if n == 0 {
			t.Errorf("the bulk rejection is not in the audit log: %+v", audit)
		}
	})

	t.Run("an incident's form comes back to its finding, and approval makes one version", func(t *testing.T) {
		id := f.ids[skimguard.KindDataExfiltration]
		group := ids(f.ids[skimguard.KindScriptChanged], f.ids[skimguard.KindConnectionAdded], id)
		resp := postForm(t, c, f.url("/findings/approve"), url.Values{"id": group, "reason": {"our new fraud check, SEC-9"},
			"csrf": {csrf}, "finding": {itoa(id)}, "confirm": {"yes"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/findings/"+itoa(id) {
			t.Fatalf("%d to %q, want 303 to the finding", resp.StatusCode, resp.Header.Get("Location"))
		}
		if b, err := f.store.Baseline(context.Background(), "shop", "checkout"); err != nil || b.Version != 2 {
			t.Fatalf("approving three findings of one page made baseline version %d (%v), want one new version", b.Version, err)
		}
	})
}
