package crawler

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
)

// BenchmarkScanOverhead compares a Scan (minimal window, no typing) with a
// bare chromedp navigation of the same page in a fresh browser context of
// the same browser. Target: scan ≤ 1.5× bare.
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

	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: time.Nanosecond}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			tab, cancel := chromedp.NewContext(c.browser, chromedp.WithNewBrowserContext())
			if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
				b.Fatal(err)
			}
			cancel()
		}
	})
}
