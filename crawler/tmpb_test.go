package crawler

import (
	"context"
	"net/http"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

func TestTmpTiming(t *testing.T) {
	c := needBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<script src="/a.js"></script><script>var cart = 1;</script><form><input name="cardnumber"></form>`)
	})
	mux.HandleFunc("/a.js", func(w http.ResponseWriter, r *http.Request) { js(w, `var a = 1;`) })
	srv := serveOn(t, "127.0.0.1", mux)
	for i := 0; i < 12; i++ {
		st := time.Now()
		_, err := c.Scan(context.Background(), skimguard.Page{URL: srv.URL + "/checkout", Wait: time.Nanosecond})
		t.Logf("scan %d: %v %v", i, time.Since(st), err)
	}
}
