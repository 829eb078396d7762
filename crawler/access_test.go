package crawler

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// accessPage is a checkout whose scripts see its card fields in every way
// a skimmer can, next to listeners that see nothing of them, and a
// provider's iframe on another origin whose own script sees its fields.
// The page reports to /report what it can tell of skimguard's hidden
// script.
func accessPage(t *testing.T) (string, *hits) {
	t.Helper()
	provider := http.NewServeMux()
	provider.HandleFunc("/fields", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><input name="cardnumber" autocomplete="cc-number"><input name="exp-date" autocomplete="cc-exp"><input name="cvc" autocomplete="cc-csc">
<script>document.addEventListener('change', function (e) { if (e.target.name === 'cardnumber') window.token = e.target.value.length; }, true);</script>`)
	})
	pp := serveOn(t, "127.0.0.2", provider)

	var reports hits
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body>
<form id="payment" action="/order" method="post">
  <div id="box"><input id="num" name="cc-number" autocomplete="cc-number"></div>
  <input id="cvc" name="cc-csc" autocomplete="cc-csc">
  <button id="pay" type="submit">Pay</button>
</form>
<div id="menu"><a href="#top">Menu</a></div>
<iframe src="`+pp.URL+`/fields" width="400" height="100"></iframe>
<script src="/lib.js"></script>
<script src="/listeners.js"></script>
<script src="/reader.js"></script>
<script src="/formdata.js"></script>
<script>window.early = document.getElementById('num').value;</script>
<script src="/probe.js"></script>
</body></html>`)
	})
	mux.HandleFunc("/lib.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `window.lib = { val: function (el) { return el.value; } };`)
	})
	mux.HandleFunc("/listeners.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `(function () {
  function f() {}
  var $ = function (id) { return document.getElementById(id); };
  document.addEventListener('change', f, true);
  window.addEventListener('keyup', f);
  $('cvc').addEventListener('focus', f);
  $('payment').addEventListener('submit', f);
  $('pay').addEventListener('mouseup', f);
  document.addEventListener('blur', f, true);
  // None of these sees what is typed.
  $('box').addEventListener('click', f);
  $('menu').addEventListener('keyup', f);
  document.addEventListener('DOMContentLoaded', f);
  window.addEventListener('focus', f);
  document.addEventListener('blur', function () {});
})();`)
	})
	mux.HandleFunc("/reader.js", func(w http.ResponseWriter, r *http.Request) {
		// Through a library, from a timer: both are on the stack.
		js(w, `document.getElementById('cvc').addEventListener('input', function () {
  setTimeout(function () { window.seen = lib.val(document.getElementById('num')).length; }, 0);
});`)
	})
	mux.HandleFunc("/formdata.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `var poll = setInterval(function () {
  if (!document.getElementById('cvc').value) return;
  clearInterval(poll); window.fd = Array.from(new FormData(document.getElementById('payment')).keys()).length;
}, 100);`)
	})
	mux.HandleFunc("/probe.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `(function () {
  var d = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value'), n = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'valueAsNumber');
  var out = { text: Function.prototype.toString.call(d.get), numberText: Function.prototype.toString.call(n.get),
    name: d.get.name + '/' + d.get.length, keys: Object.keys(d).join(','), own: Object.getOwnPropertyNames(d.get).join(',') };
  try { d.get.call({}); } catch (e) { out.error = e.constructor.name + ': ' + e.message; out.stack = e.stack; }
  fetch('/report', { method: 'POST', body: JSON.stringify(out) });
})();`)
	})
	mux.HandleFunc("/report", reports.bodies)
	srv := serveOn(t, "127.0.0.1", mux)
	return srv.URL + "/checkout", &reports
}

// accessOf lists what the observation says each script sees, as
// "script-URL-or-kind field how".
func accessOf(obs *skimguard.Observation) []string {
	var out []string
	for _, a := range obs.CardAccess {
		sc := obs.Scripts[a.Script]
		name := sc.URL
		if name == "" {
			name = string(sc.Kind) + " in " + sc.Frame
		}
		out = append(out, name+" "+string(a.Field)+" "+a.How)
	}
	slices.Sort(out)
	return out
}

func TestScriptsThatSeeTheCard(t *testing.T) {
	c := needBrowser(t)
	url, reports := accessPage(t)
	base := strings.TrimSuffix(url, "/checkout")
	obs := mustScan(t, c, skimguard.Page{URL: url, Interact: true})
	if !obs.Typed {
		t.Fatal("the test card was not typed")
	}
	got := accessOf(obs)
	provider := ""
	for _, f := range obs.Frames {
		provider = f.URL
	}
	want := []string{
		base + "/formdata.js cvc reads form data",
		base + "/formdata.js cvc reads value", // its poll
		base + "/formdata.js number reads form data",
		base + "/lib.js number reads value",
		base + "/listeners.js cvc listens:blur",
		base + "/listeners.js cvc listens:change",
		base + "/listeners.js cvc listens:focus",
		base + "/listeners.js cvc listens:keyup",
		base + "/listeners.js cvc listens:mouseup",
		base + "/listeners.js cvc listens:submit",
		base + "/listeners.js number listens:blur",
		base + "/listeners.js number listens:change",
		base + "/listeners.js number listens:keyup",
		base + "/listeners.js number listens:mouseup",
		base + "/listeners.js number listens:submit",
		base + "/reader.js cvc listens:input",
		base + "/reader.js number reads value",
		"inline in " + provider + " cvc listens:change",
		"inline in " + provider + " expiry listens:change",
		"inline in " + provider + " number listens:change",
		"inline in " + provider + " number reads value",
	}
	if !slices.Equal(got, want) {
		t.Errorf("what scripts see of the card:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, a := range obs.CardAccess {
		if a.Frame != url && a.Frame != provider {
			t.Errorf("card access %+v names a frame that is neither the page nor the provider's", a)
		}
	}
	if b, _ := json.Marshal(obs); strings.Contains(string(b), carddata.Test().Number) {
		t.Error("the observation holds the card number")
	}

	t.Run("the hidden getters look native", func(t *testing.T) {
		r := reports.values("/report")
		if len(r) == 0 {
			t.Fatal("the page reported nothing")
		}
		var probe struct{ Text, NumberText, Name, Keys, Own, Error, Stack string }
		if err := json.Unmarshal([]byte(r[0]), &probe); err != nil {
			t.Fatal(err)
		}
		if probe.Text != "function get value() { [native code] }" || probe.NumberText != "function get valueAsNumber() { [native code] }" ||
			probe.Name != "get value/0" || probe.Keys != "get,set,enumerable,configurable" || probe.Own != "length,name" {
			t.Errorf("the value getter does not look native: %+v", probe)
		}
		if probe.Error != "TypeError: Illegal invocation" || strings.Contains(probe.Stack, "skimguard") || !strings.Contains(probe.Stack, "/probe.js") {
			t.Errorf("misusing the value getter shows skimguard: %s\n%s", probe.Error, probe.Stack)
		}
	})

	t.Run("without typing, listeners only", func(t *testing.T) {
		obs := mustScan(t, c, skimguard.Page{URL: url})
		for _, a := range accessOf(obs) {
			if !strings.Contains(a, " listens:") {
				t.Errorf("a scan that typed nothing says %s", a)
			}
		}
		if !slices.Contains(accessOf(obs), base+"/listeners.js number listens:change") {
			t.Errorf("listeners not seen without typing: %q", accessOf(obs))
		}
	})
}

// A request sent through another script's wrapper, from a timer and a
// promise, keeps every script on its call chain: the wrapper on top, the
// script that started it below.
func TestRequestCallChainFollowsTimersAndPromises(t *testing.T) {
	c := needBrowser(t)
	other := http.NewServeMux()
	other.HandleFunc("/collect", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	dest := serveOn(t, "127.0.0.2", other)
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body><p>Checkout</p><script src="/wrapper.js"></script><script src="/sender.js"></script></body></html>`)
	})
	mux.HandleFunc("/wrapper.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `window.api = { post: function (u, b) {
  return Promise.resolve().then(function () { return fetch(u, { method: 'POST', mode: 'no-cors', body: b }); });
} };`)
	})
	mux.HandleFunc("/sender.js", func(w http.ResponseWriter, r *http.Request) {
		js(w, `setTimeout(function () {
  api.post('`+dest.URL+`/collect', 'x');
}, 50);`)
	})
	srv := serveOn(t, "127.0.0.1", mux)
	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout"})
	var chain []skimguard.CallSite
	for _, cn := range obs.Connections {
		if cn.Origin == dest.URL {
			chain = cn.Chain
		}
	}
	var got []string
	for _, cs := range chain {
		name := "?"
		if cs.Script >= 0 && cs.Script < len(obs.Scripts) {
			name = obs.Scripts[cs.Script].URL
		}
		if name != cs.URL || cs.Line < 1 {
			t.Errorf("call site %+v names script %q", cs, name)
		}
		got = append(got, strings.TrimPrefix(cs.URL, srv.URL))
	}
	if want := []string{"/wrapper.js", "/sender.js"}; !slices.Equal(got, want) {
		t.Errorf("call chain of the request to %s: %q, want %q", dest.URL, got, want)
	}
	if i := skimguard.Culprit(chain, nil); i != 1 {
		t.Errorf("without a baseline, the culprit is %d, want the script the chain began in", i)
	}
}
