package crawler

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

// TestCrossOriginIframe proves that site isolation is off: the hosted
// fields of a payment provider on another origin show their scripts,
// inputs and requests, and typing reaches them.
func TestCrossOriginIframe(t *testing.T) {
	c := needBrowser(t)
	var prov hits
	pmux := http.NewServeMux()
	pmux.HandleFunc("/fields", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body>
<script src="/provider.js"></script>
<form action="/charge" method="post">
  <input name="cardnumber" autocomplete="cc-number"><input name="exp" placeholder="MM / YY"><input name="cvc" autocomplete="cc-csc">
</form>
<script>
document.querySelector('[name=cvc]').addEventListener('blur', function () {
  var f = document.forms[0];
  fetch('/tokenize', {method: 'POST', body: JSON.stringify({n: f.cardnumber.value, e: f.exp.value, c: f.cvc.value})});
});
</script></body></html>`)
	})
	pmux.HandleFunc("/provider.js", func(w http.ResponseWriter, r *http.Request) { js(w, `fetch('/ping-provider');`) })
	pmux.HandleFunc("/", prov.bodies)
	provider := serveOn(t, "127.0.0.2", pmux)
	tracker := serveOn(t, "127.0.0.4", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { html(w, "<p>t</p>") }))

	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body>
<form action="/order" method="post"><input name="email">
<iframe id="hf" name="hosted" src="`+provider.URL+`/fields" allow="payment" sandbox="allow-scripts allow-same-origin allow-forms"></iframe>
<button type="submit">Pay now</button></form>
<iframe src="`+tracker.URL+`/t" style="display:none"></iframe>
</body></html>`)
	})
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true})
	fields := provider.URL + "/fields"
	dumpScripts(t, obs)

	t.Run("frames with origin, attributes and visibility", func(t *testing.T) {
		if len(obs.Frames) != 2 {
			t.Fatalf("frames = %+v", obs.Frames)
		}
		f := obs.Frames[0]
		if f.URL != fields || f.Origin != provider.URL || f.Parent != srv.URL+"/checkout" || f.Name != "hosted" ||
			f.Sandbox != "allow-scripts allow-same-origin allow-forms" || f.Allow != "payment" || f.Hidden {
			t.Errorf("provider frame = %+v", f)
		}
		if h := obs.Frames[1]; h.Origin != tracker.URL || !h.Hidden {
			t.Errorf("hidden frame = %+v", h)
		}
	})
	t.Run("scripts inside the iframe", func(t *testing.T) {
		var ext, inline int
		for _, s := range obs.Scripts {
			if s.Frame != fields {
				continue
			}
			switch s.Kind {
			case skimguard.ScriptExternal:
				ext++
				if s.URL != provider.URL+"/provider.js" || s.LoadedBy != "parser" {
					t.Errorf("provider script = %+v", s)
				}
			case skimguard.ScriptInline:
				inline++
			}
		}
		if ext != 1 || inline != 1 {
			t.Errorf("iframe scripts: %d external, %d inline; want 1 and 1", ext, inline)
		}
	})
	t.Run("inputs inside the iframe", func(t *testing.T) {
		var form *skimguard.Form
		for i := range obs.Forms {
			if obs.Forms[i].Frame == fields {
				form = &obs.Forms[i]
			}
		}
		if form == nil || form.Action != provider.URL+"/charge" || form.Method != "POST" || len(form.Inputs) != 3 {
			t.Fatalf("provider form = %+v (all %+v)", form, obs.Forms)
		}
	})
	t.Run("requests and typing inside the iframe", func(t *testing.T) {
		conn := connTo(obs, provider.URL)
		if conn == nil || !contains(conn.Types, "Fetch") || !contains(conn.Types, "Document") || !contains(conn.Types, "Script") {
			t.Fatalf("provider connection = %+v", conn)
		}
		if !obs.Typed || prov.count("/tokenize") != 1 {
			t.Fatalf("typed %v, tokenize calls %d", obs.Typed, prov.count("/tokenize"))
		}
		if v := prov.values("/tokenize")[0]; !strings.Contains(v, "4929386160871730") || !strings.Contains(v, "417") {
			t.Errorf("provider got %s", v)
		}
		if len(obs.Leaks) != 1 || obs.Leaks[0].Origin != provider.URL || obs.Leaks[0].Type != "Fetch" || obs.Leaks[0].Initiator != fields {
			t.Errorf("leaks = %+v", obs.Leaks)
		}
	})
}

func TestMainDocument(t *testing.T) {
	c := needBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/middle?x=1", http.StatusFound) })
	mux.HandleFunc("/middle", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/checkout", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Content-Security-Policy", "script-src 'self'")
		h.Add("Content-Security-Policy", "frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("referrer-policy", "no-referrer")
		h.Set("X-Request-Id", "abc")
		h.Set("Set-Cookie", "sid=1")
		html(w, `<p>pay</p>`)
	})
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/start"})
	if obs.URL != srv.URL+"/start" || obs.FinalURL != srv.URL+"/checkout" || obs.Status != 200 {
		t.Errorf("URL %s FinalURL %s Status %d", obs.URL, obs.FinalURL, obs.Status)
	}
	if want := []string{srv.URL + "/start", srv.URL + "/middle?x=1"}; !slices.Equal(obs.Redirects, want) {
		t.Errorf("Redirects = %v, want %v", obs.Redirects, want)
	}
	want := map[string]string{
		"content-security-policy": "script-src 'self', frame-ancestors 'none'",
		"x-frame-options":         "DENY",
		"referrer-policy":         "no-referrer",
	}
	if len(obs.Headers) != len(want) {
		t.Errorf("Headers = %v, want %v", obs.Headers, want)
	}
	for k, v := range want {
		if obs.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, obs.Headers[k], v)
		}
	}
	if obs.Profile != skimguard.ProfileDesktop || obs.StartedAt.IsZero() || obs.Duration <= 0 {
		t.Errorf("profile %q started %v duration %v", obs.Profile, obs.StartedAt, obs.Duration)
	}
}

// TestLooksLikeAShopper serves a skimmer only to browsers that look like a
// shopper's, as cloaking kits do, on the server and in the page.
func TestLooksLikeAShopper(t *testing.T) {
	c := needBrowser(t)
	var h hits
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		ua, al, ch := r.UserAgent(), r.Header.Get("Accept-Language"), r.Header.Get("Sec-Ch-Ua")
		h.add("/headers", ua+"|"+al+"|"+ch)
		cloak := ""
		if !strings.Contains(ua, "Headless") && !strings.Contains(ch, "Headless") && al != "" && (strings.Contains(ua, "Windows") || strings.Contains(ua, "Android")) {
			cloak = `<script>
if (navigator.webdriver === false && !/Headless/.test(navigator.userAgent) && navigator.languages.length > 0 &&
    !navigator.userAgentData.brands.some(function (b) { return /Headless/.test(b.brand); })) {
  var s = document.createElement('script'); s.src = '/evil.js'; document.head.appendChild(s);
}
fetch('/env?touch=' + navigator.maxTouchPoints + '&w=' + screen.width + '&p=' + encodeURIComponent(navigator.platform));
</script>`
		}
		html(w, `<!doctype html><html><head>`+cloak+`</head><body>shop</body></html>`)
	})
	mux.HandleFunc("/evil.js", func(w http.ResponseWriter, r *http.Request) { js(w, `window.evil = 1;`) })
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) { h.add("/env", r.URL.RawQuery) })
	srv := serveOn(t, "127.0.0.1", mux)

	hasEvil := func(obs *skimguard.Observation) bool {
		for _, s := range obs.Scripts {
			if s.URL == srv.URL+"/evil.js" {
				return true
			}
		}
		return false
	}
	t.Run("desktop", func(t *testing.T) {
		obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout"})
		hdr := h.values("/headers")
		if len(hdr) == 0 || !hasEvil(obs) {
			t.Fatalf("cloaked skimmer not served; request headers %q", hdr)
		}
		if !strings.Contains(hdr[0], "Windows NT 10.0") || !strings.Contains(hdr[0], "|en-US,en;q=0.9|") || !strings.Contains(hdr[0], `"Google Chrome"`) {
			t.Errorf("request headers = %q", hdr[0])
		}
		if env := h.values("/env"); len(env) != 1 || !strings.HasPrefix(env[0], "touch=0&") || !strings.Contains(env[0], "p=Win32") {
			t.Errorf("desktop env = %v", env)
		}
	})
	t.Run("mobile", func(t *testing.T) {
		obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Profile: skimguard.ProfileMobile})
		hdr := h.values("/headers")
		if !hasEvil(obs) || !strings.Contains(hdr[len(hdr)-1], "Android") || obs.Profile != skimguard.ProfileMobile {
			t.Fatalf("mobile scan: evil %v, headers %q", hasEvil(obs), hdr[len(hdr)-1])
		}
		env := h.values("/env")
		if last := env[len(env)-1]; !strings.HasPrefix(last, "touch=5&w=412&") {
			t.Errorf("mobile env = %s", last)
		}
	})
}

// TestFreshProfilePerScan: a skimmer that fires once per visitor (cookie
// and localStorage flag) fires on every scan.
func TestFreshProfilePerScan(t *testing.T) {
	c := needBrowser(t)
	var h hits
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<script>
if (document.cookie.indexOf('setidd=') < 0 && !localStorage.getItem('seen')) {
  document.cookie = 'setidd=1; max-age=86400; path=/'; localStorage.setItem('seen', '1');
  fetch('/skim');
}</script>`)
	})
	mux.HandleFunc("/skim", func(w http.ResponseWriter, r *http.Request) { h.add("/skim", "") })
	srv := serveOn(t, "127.0.0.1", mux)
	for i := 0; i < 2; i++ {
		mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Wait: 300e6})
	}
	if n := h.count("/skim"); n != 2 {
		t.Errorf("once-per-visitor skimmer fired %d times in 2 scans, want 2", n)
	}
}
