package crawler

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
)

// BenchmarkScanOverhead compares a Scan (minimal window, no typing) with a
// bare chromedp navigation of the same page in a fresh browser context of
// the same browser, without the egress proxy. Target: scan ≤ 1.5× bare.
func BenchmarkScanOverhead(b *testing.B) {
	c := needBrowser(b)
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><head>
<script src="/a.js"></script><script src="/b.js"></script><script>var cart = {id: 1};</script>
</head><body>
<form action="/order" method="post"><input name="cardnumber" autocomplete="cc-number"><input name="cvc"><button>Pay</button></form>
<img src="/logo.png" onerror="void 0"><script>document.title = 'Checkout';</script>
</body></html>`)
	})
	mux.HandleFunc("/a.js", func(w http.ResponseWriter, r *http.Request) { js(w, `var a = 1;`) })
	mux.HandleFunc("/b.js", func(w http.ResponseWriter, r *http.Request) { js(w, `var b = eval('2');`) })
	mux.HandleFunc("/logo.png", http.NotFound)
	srv := serveOn(b, "127.0.0.1", mux)
	url := srv.URL + "/checkout"

	scan := func(b *testing.B) {
		if _, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: time.Nanosecond}); err != nil {
			b.Fatal(err)
		}
	}
	// The bare navigation goes direct, not through the browser-wide egress
	// proxy: the proxy is part of the scan's overhead.
	bare := func(b *testing.B) {
		tab, cancel := chromedp.NewContext(c.current().ctx, chromedp.WithNewBrowserContext(func(p *target.CreateBrowserContextParams) {
			p.ProxyServer = "direct://"
		}))
		defer cancel()
		if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			scan(b)
		}
	})
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			bare(b)
		}
	})
	// Alternating the two in one loop keeps a busy machine from favouring
	// either; the metric is the ratio of their total times.
	b.Run("ratio", func(b *testing.B) {
		var ts, tb time.Duration
		for b.Loop() {
			t0 := time.Now()
			scan(b)
			t1 := time.Now()
			bare(b)
			ts, tb = ts+t1.Sub(t0), tb+time.Since(t1)
		}
		b.ReportMetric(float64(ts)/float64(tb), "scan/bare")
		b.ReportMetric(float64(ts.Milliseconds())/float64(b.N), "scan-ms/op")
		b.ReportMetric(float64(tb.Milliseconds())/float64(b.N), "bare-ms/op")
	})
}
