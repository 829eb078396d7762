package crawler

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
)

func TestPageErrors(t *testing.T) {
	c := needBrowser(t)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		html(w, `<p>oops</p><script>var broken = 1;</script>`)
	})
	mux.HandleFunc("/never", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body><p>loading"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	srv := serveOn(t, "127.0.0.1", mux)
	// Registered after serveOn, so it runs before srv.Close, which waits
	// for the handler.
	t.Cleanup(func() { close(release) })

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/checkout"
	l.Close()

	scanErr := func(url string) (*skimguard.Observation, *PageError, time.Duration) {
		t.Helper()
		start := time.Now()
		obs, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: 500 * time.Millisecond})
		var pe *PageError
		if !errors.As(err, &pe) {
			t.Fatalf("Scan(%s) error = %v, want a *PageError", url, err)
		}
		if pe.URL != url || !strings.Contains(pe.Error(), url) {
			t.Errorf("PageError = %+v: %s", pe, pe)
		}
		return obs, pe, time.Since(start)
	}
	t.Run("unreachable", func(t *testing.T) {
		obs, pe, _ := scanErr(closed)
		if pe.Reason != "net::ERR_CONNECTION_REFUSED" || obs != nil || !strings.Contains(pe.Error(), "reachable") {
			t.Errorf("PageError = %+v (%s), observation %v", pe, pe, obs)
		}
	})
	t.Run("HTTP 500", func(t *testing.T) {
		obs, pe, _ := scanErr(srv.URL + "/500")
		if pe.Status != 500 || obs == nil || obs.Status != 500 || !strings.Contains(pe.Error(), "HTTP 500") {
			t.Fatalf("PageError = %+v, observation %v", pe, obs)
		}
		if len(scriptsOf(obs, skimguard.ScriptInline)) != 1 {
			t.Errorf("partial observation lacks the error page's script: %+v", obs.Scripts)
		}
	})
	t.Run("never loads", func(t *testing.T) {
		obs, pe, took := scanErr(srv.URL + "/never")
		if pe.Reason != reasonLoadTimeout || !strings.Contains(pe.Error(), "did not finish loading") {
			t.Errorf("PageError = %+v: %s", pe, pe)
		}
		if obs == nil || obs.FinalURL != srv.URL+"/never" {
			t.Errorf("partial observation = %+v", obs)
		}
		if took > testLoadTimeout+15*time.Second {
			t.Errorf("took %v with a load timeout of %v", took, testLoadTimeout)
		}
	})
}

// TestBusyPage: a page that spins the CPU gives an error in bounded time,
// and the crawler goes on working.
func TestBusyPage(t *testing.T) {
	c := needBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/spin-load", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<p>x</p><script>while (true) {}</script>`)
	})
	mux.HandleFunc("/spin-later", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<p>x</p><script>setTimeout(function () { while (true) {} }, 50);</script>`)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { html(w, `<script>var ok = 1;</script>`) })
	srv := serveOn(t, "127.0.0.1", mux)

	for _, path := range []string{"/spin-load", "/spin-later"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := c.Scan(ctx, skimguard.Page{URL: srv.URL + path, Wait: 500 * time.Millisecond})
			took := time.Since(start)
			if err == nil {
				t.Fatal("Scan of a busy page returned no error")
			}
			t.Logf("error after %v: %v", took, err)
			if took > testLoadTimeout+cmdTimeout+15*time.Second {
				t.Errorf("busy page took %v", took)
			}
		})
	}
	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/ok"})
	if len(obs.Scripts) != 1 {
		t.Errorf("scan after busy pages: scripts %+v", obs.Scripts)
	}
}

// TestDialogsAndPopups: alert, confirm and prompt are dismissed, popups are
// closed and still counted.
func TestDialogsAndPopups(t *testing.T) {
	c := needBrowser(t)
	var h hits
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<script>alert('hi'); var ok = confirm('sure?'); prompt('name?');
window.open('/popup?x=1');
fetch('/after-dialogs?ok=' + ok);</script>`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.add(r.URL.Path, "") })
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout"})
	if h.count("/after-dialogs") != 1 {
		t.Error("the page stayed blocked by its dialogs")
	}
	conn := connTo(obs, srv.URL)
	if conn == nil || !contains(conn.Types, "Popup") {
		t.Errorf("popup not counted: %+v", conn)
	}
	targets, err := chromedp.Targets(shared.current().ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range targets {
		if strings.Contains(ti.URL, "/popup") {
			t.Errorf("popup still open: %s", ti.URL)
		}
	}
}

func TestBrowserRestart(t *testing.T) {
	needBrowser(t)
	c, err := New(context.Background(), Options{LoadTimeout: testLoadTimeout, DefaultWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { html(w, `<script>var ok = 1;</script>`) })
	srv := serveOn(t, "127.0.0.1", mux)
	kill := func() {
		b := chromedp.FromContext(c.current().ctx).Browser
		if err := b.Process().Kill(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("killed between scans", func(t *testing.T) {
		mustScan(t, c, skimguard.Page{URL: srv.URL + "/ok"})
		kill()
		obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/ok"})
		if len(obs.Scripts) != 1 {
			t.Errorf("scripts = %+v", obs.Scripts)
		}
	})
	t.Run("killed during a scan", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := c.Scan(context.Background(), skimguard.Page{URL: srv.URL + "/ok", Wait: 20 * time.Second})
			done <- err
		}()
		time.Sleep(1500 * time.Millisecond)
		kill()
		select {
		case err := <-done:
			if err == nil {
				t.Error("scan in flight when the browser died returned no error")
			}
			t.Logf("in-flight scan: %v", err)
		case <-time.After(15 * time.Second):
			t.Fatal("scan in flight hangs after the browser died")
		}
		mustScan(t, c, skimguard.Page{URL: srv.URL + "/ok"})
	})
}

func TestNoBrowser(t *testing.T) {
	_, err := New(context.Background(), Options{ExecPath: "/nonexistent/chromium"})
	if !errors.Is(err, ErrNoBrowser) {
		t.Fatalf("New = %v, want ErrNoBrowser", err)
	}
	if !strings.Contains(err.Error(), "apt-get install -y chromium") || !strings.Contains(err.Error(), "--chromium PATH") {
		t.Errorf("error does not say how to fix it: %v", err)
	}
}

// TestFloodIsCapped: a page that compiles thousands of scripts and sends
// thousands of requests is recorded up to the caps, in bounded time.
func TestFloodIsCapped(t *testing.T) {
	needBrowser(t)
	// The flood runs while the page parses, so under a loaded CI machine the
	// load takes longer than the suite's short test timeout: this test is
	// about caps, so it gets the production load timeout.
	c, err := New(context.Background(), Options{DefaultWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/flood", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<script>
for (var i = 0; i < 6000; i++) { eval('window.x' + i + ' = ' + i); }
for (var j = 0; j < 1500; j++) { fetch('/r?' + j); }
</script>`)
	})
	mux.HandleFunc("/r", func(w http.ResponseWriter, r *http.Request) {})
	srv := serveOn(t, "127.0.0.1", mux)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	obs, err := c.Scan(ctx, skimguard.Page{URL: srv.URL + "/flood", Wait: time.Second})
	t.Logf("flood scan took %v", time.Since(start))
	// On a loaded machine the flood can starve the crawler's calls; then
	// the page is reported as unresponsive, which becomes a scan.failed
	// alert: acceptable for a hostile page. Hanging or anything else is not.
	var perr *PageError
	if errors.As(err, &perr) && perr.Reason == reasonUnresponsive {
		t.Logf("the flood made the page unresponsive: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("flood scan: %v", err)
	}
	if len(obs.Scripts) != maxScripts {
		t.Errorf("scripts = %d, want the cap %d", len(obs.Scripts), maxScripts)
	}
	if conn := connTo(obs, srv.URL); conn == nil || conn.Count < 1000 {
		t.Errorf("connection = %+v", conn)
	}
}

// TestConcurrentScans: scans share the browser safely, each in its own
// browser context.
func TestConcurrentScans(t *testing.T) {
	c := needBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/p", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<script>document.cookie = 'a=' + (document.cookie ? 'again' : 'first');
fetch('/seen?' + document.cookie);</script>`)
	})
	var h hits
	mux.HandleFunc("/seen", func(w http.ResponseWriter, r *http.Request) { h.add("/seen", r.URL.RawQuery) })
	srv := serveOn(t, "127.0.0.1", mux)
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			_, err := c.Scan(context.Background(), skimguard.Page{URL: srv.URL + "/p", Wait: 300 * time.Millisecond})
			errs <- err
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, v := range h.values("/seen") {
		if v != "a=first" {
			t.Errorf("a scan saw another scan's cookie: %s", v)
		}
	}
	if n := h.count("/seen"); n != 3 {
		t.Errorf("seen %d, want 3", n)
	}
}
