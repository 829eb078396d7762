package crawler

import (
	"net/http"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// TestPhasesAddUp: a scan tells where its time went, each phase it went
// through taking some, and together no more than its duration.
func TestPhasesAddUp(t *testing.T) {
	c := needBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<script src="/a.js"></script><form><input name="cardnumber" autocomplete="cc-number"><input name="cvc"><button>Pay</button></form>`)
	})
	mux.HandleFunc("/a.js", func(w http.ResponseWriter, r *http.Request) { js(w, `var a = 1;`) })
	srv := serveOn(t, "127.0.0.1", mux)
	o := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Wait: 2 * time.Second, Interact: true})
	p := o.Phases
	if !o.Typed {
		t.Fatal("the card was not typed")
	}
	for name, d := range map[string]time.Duration{"setup": p.Setup, "load": p.Load, "window": p.Window, "typing": p.Typing, "sources": p.Sources, "screenshot": p.Screenshot} {
		if d <= 0 {
			t.Errorf("phase %s took %s", name, d)
		}
	}
	if p.Journey != 0 || p.Store != 0 {
		t.Errorf("phases the scan did not go through: %+v", p)
	}
	if sum := p.Setup + p.Load + p.Window + p.Typing + p.Sources; sum > o.Duration {
		t.Errorf("phases sum to %s, more than the scan's %s", sum, o.Duration)
	}
	if p.Window+p.Typing < 2*time.Second {
		t.Errorf("window %s and typing %s are shorter than the 2 s asked", p.Window, p.Typing)
	}
}
