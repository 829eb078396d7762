package crawler

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// A kit that reads the window's outer size in the page's first script sees
// what a real browser shows there, never 0×0 (which a new headless tab can
// report before the browser has sized it), and getters that look native.
func TestOuterSizeIsNeverZeroForThePagesFirstScript(t *testing.T) {
	c := needBrowser(t)
	var mu sync.Mutex
	var seen []string
	srv := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/r" {
			mu.Lock()
			seen = append(seen, r.URL.Query().Get("d"))
			mu.Unlock()
			return
		}
		html(w, `<script>var d = outerWidth + 'x' + outerHeight + ' ' + Object.getOwnPropertyDescriptor(window, 'outerWidth').get.toString();
new Image().src = '/r?d=' + encodeURIComponent(d);</script>checkout`)
	}))
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			profile := skimguard.ProfileDesktop
			if i%2 == 1 {
				profile = skimguard.ProfileMobile
			}
			mustScan(t, c, skimguard.Page{URL: srv.URL + "/", Wait: 300 * time.Millisecond, Profile: profile})
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 6 {
		t.Fatalf("the page reported %d times, want 6: %q", len(seen), seen)
	}
	for _, d := range seen {
		size, getter, _ := strings.Cut(d, " ")
		if strings.HasPrefix(size, "0x") || strings.HasSuffix(size, "x0") {
			t.Errorf("the page's first script saw the window's outer size %s", size)
		}
		if want := "function get outerWidth() { [native code] }"; getter != want {
			t.Errorf("outerWidth's getter reads %q, want %q", getter, want)
		}
	}
}
