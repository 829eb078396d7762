package crawler

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

const (
	extJS       = `var ext = 1; var s = document.createElement('script'); s.src = '/loaded.js'; document.head.appendChild(s);`
	loadedJS    = `window.loaded = true;`
	inlineOne   = `var a = 1;`
	dynamicCode = `window.fromEval = 5;`
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// sri computes the SRI form independently of the crawler's code.
func sri(s string) string {
	h := sha512.Sum384([]byte(s))
	return "sha384-" + base64.StdEncoding.EncodeToString(h[:])
}

func TestScriptInventory(t *testing.T) {
	c := needBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><head>
<script src="/ext.js" integrity="`+sri(extJS)+`" crossorigin="anonymous"></script>
<script>`+inlineOne+`</script>
</head><body>
<img id="pic" src="/missing.png" onerror="window.imgErr=1">
<svg id="logo" onload="window.svgLoad=2"><rect width="5" height="5"/></svg>
<button id="b" onclick="window.never=1">never clicked</button>
<a id="j" href="javascript:void(window.jsurl=1)">j</a>
<form id="f" action="javascript:alert(1)"></form>
<script>
eval("`+dynamicCode+`");
new Function("return 6")();
setTimeout("window.fromTimeout = 3", 0);
var s = document.createElement('script'); s.text = "window.fromText = 4;"; document.body.appendChild(s);
</script>
</body></html>`)
	})
	mux.HandleFunc("/ext.js", func(w http.ResponseWriter, r *http.Request) { js(w, extJS) })
	mux.HandleFunc("/loaded.js", func(w http.ResponseWriter, r *http.Request) { js(w, loadedJS) })
	mux.HandleFunc("/missing.png", http.NotFound)
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{Site: "s", Name: "p", URL: srv.URL + "/"})
	dumpScripts(t, obs)
	doc := srv.URL + "/"

	t.Run("external scripts with hashes, attributes and loader", func(t *testing.T) {
		ext := scriptsOf(obs, skimguard.ScriptExternal)
		if len(ext) != 2 {
			t.Fatalf("external scripts = %d, want 2", len(ext))
		}
		e := ext[0]
		if e.URL != srv.URL+"/ext.js" || e.SHA256 != sha(extJS) || e.Size != len(extJS) || e.Source != extJS {
			t.Errorf("ext.js = %+v", e)
		}
		if !strings.HasPrefix(e.SRI, "sha384-") || len(e.SRI) != len("sha384-")+64 {
			t.Errorf("SRI = %q", e.SRI)
		}
		if e.Integrity != sri(extJS) || e.SRI != sri(extJS) || e.CrossOrigin != "anonymous" || e.LoadedBy != "parser" || e.Frame != doc || e.Ordinal != 1 {
			t.Errorf("ext.js attributes = integrity %q crossorigin %q loadedBy %q frame %q ordinal %d", e.Integrity, e.CrossOrigin, e.LoadedBy, e.Frame, e.Ordinal)
		}
		l := ext[1]
		if l.URL != srv.URL+"/loaded.js" || l.LoadedBy != srv.URL+"/ext.js" || l.SHA256 != sha(loadedJS) || l.Ordinal != 2 {
			t.Errorf("injected script = url %q loadedBy %q ordinal %d", l.URL, l.LoadedBy, l.Ordinal)
		}
	})
	t.Run("inline scripts with their position", func(t *testing.T) {
		in := scriptsOf(obs, skimguard.ScriptInline)
		if len(in) != 2 {
			t.Fatalf("inline scripts = %d, want 2", len(in))
		}
		if in[0].Source != inlineOne || in[0].SHA256 != sha(inlineOne) || in[0].Location != "line 3 col 9" || in[0].LoadedBy != "parser" || in[0].Frame != doc {
			t.Errorf("inline #1 = %+v", in[0])
		}
		if in[1].Ordinal != 2 || !strings.Contains(in[1].Source, "eval(") {
			t.Errorf("inline #2 = %+v", in[1])
		}
	})
	t.Run("code without a URL is dynamic, with its caller", func(t *testing.T) {
		want := map[string]bool{dynamicCode: false, "window.fromTimeout = 3": false, "window.fromText = 4;": false}
		dyn := scriptsOf(obs, skimguard.ScriptDynamic)
		fn := false
		for _, d := range dyn {
			if _, ok := want[d.Source]; ok {
				want[d.Source] = true
			}
			if strings.Contains(d.Source, "return 6") {
				fn = true
			}
			if d.Source == dynamicCode && (d.LoadedBy != doc || !strings.HasPrefix(d.Location, "eval from "+doc+":")) {
				t.Errorf("eval'd code: loadedBy %q location %q", d.LoadedBy, d.Location)
			}
			if d.Source == "window.fromText = 4;" && d.LoadedBy != doc {
				t.Errorf("script.text code: loadedBy %q", d.LoadedBy)
			}
		}
		for src, ok := range want {
			if !ok {
				t.Errorf("dynamic code %q not found", src)
			}
		}
		if !fn {
			t.Error("new Function code not found")
		}
	})
	t.Run("handlers and javascript URLs from the DOM, each once", func(t *testing.T) {
		h := scriptsOf(obs, skimguard.ScriptHandler)
		locs := map[string]string{}
		for _, s := range h {
			if _, dup := locs[s.Location]; dup {
				t.Errorf("handler %s listed twice", s.Location)
			}
			locs[s.Location] = s.Source
		}
		for loc, src := range map[string]string{"img#pic[onerror]": "window.imgErr=1", "svg#logo[onload]": "window.svgLoad=2", "button#b[onclick]": "window.never=1"} {
			if locs[loc] != src {
				t.Errorf("handler %s = %q, want %q", loc, locs[loc], src)
			}
		}
		if len(h) != 3 {
			t.Errorf("handlers = %d, want 3", len(h))
		}
		// Handlers that fired are reported by the debugger like inline
		// scripts; they must not be counted again as inline.
		for _, s := range scriptsOf(obs, skimguard.ScriptInline) {
			if s.Source == "window.imgErr=1" || s.Source == "window.svgLoad=2" {
				t.Errorf("fired handler %q counted as inline too", s.Source)
			}
		}
		ju := scriptsOf(obs, skimguard.ScriptJSURL)
		if len(ju) != 2 || ju[0].Location != "a#j[href]" || ju[0].SHA256 != sha("javascript:void(window.jsurl=1)") || ju[1].Location != "form#f[action]" {
			t.Errorf("javascript: URLs = %+v", ju)
		}
	})
	t.Run("nothing of skimguard's own", func(t *testing.T) {
		for _, s := range obs.Scripts {
			if strings.Contains(s.Source, "__skimguard") || strings.Contains(s.URL, internalSourceURL) {
				t.Errorf("own code in the inventory: %+v", s)
			}
		}
	})
	t.Run("screenshot", func(t *testing.T) {
		if !bytes.HasPrefix(obs.Screenshot, []byte("\x89PNG")) {
			t.Errorf("screenshot is not a PNG (%d bytes)", len(obs.Screenshot))
		}
	})
}
