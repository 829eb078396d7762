package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// TestPageWithWorkersStaysSilent checks, many times after one baseline, a
// checkout that uses what the worker and WebRTC techniques abuse, benignly:
// a dedicated worker that imports a library and evals, a shared worker, a
// service worker (so every check loads the page twice) and a support
// widget's peer connection with its STUN server.
func TestPageWithWorkersStaysSilent(t *testing.T) {
	cr := browser(t)
	w := newWorld(t)
	tc := &technique{name: "clean-workers", base: func(p *page) {
		direct(p)
		p.AppJS += `var hasher = new Worker('` + p.Base + `/static/hash-worker.js?v=` + p.CSRF + `');
hasher.postMessage('warm-up');
var cartSync = new SharedWorker('` + p.Base + `/static/cart-sync.js'); cartSync.port.start(); cartSync.port.postMessage({ cart: window.checkout.cart });
navigator.serviceWorker.register('` + p.Base + `/sw.js');
var support = new RTCPeerConnection({ iceServers: [{ urls: 'stun:` + hostname(p.CDN) + `:3478' }] });
support.createDataChannel('chat'); support.createOffer().then(function (o) { return support.setLocalDescription(o); });
`
		p.ShopFiles["/static/hash-worker.js"] = `importScripts('` + p.CDNBase + `/lib.js'); eval('self.seed = ' + Date.now());
onmessage = function (e) { fetch('` + p.Base + `/static/ab-a.js').then(function () { postMessage('ok'); }); };`
		p.ShopFiles["/static/cart-sync.js"] = `onconnect = function (e) { var port = e.ports[0]; port.onmessage = function (m) { fetch('` + p.CDN + `/collect?t=cart'); }; };`
		p.ShopFiles["/sw.js"] = `self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (e) { e.waitUntil(self.clients.claim()); });
self.addEventListener('fetch', function (e) { if (e.request.mode === 'navigate') e.respondWith(fetch(e.request)); });`
	}}
	w.add(tc)
	p := skimguard.Page{Site: "e2e", Name: tc.name, URL: w.checkoutURL(tc), Wait: 2 * time.Second, Interact: true}
	b := learn(t, cr, p, 3)
	var workers, rtc int
	for _, it := range b.Items {
		if it.Type == skimguard.ItemScript && strings.Contains(it.Key, "worker") {
			workers++
		}
		if strings.HasPrefix(it.Key, "stun://") {
			rtc++
		}
	}
	if workers < 3 || rtc == 0 {
		t.Fatalf("the baseline holds %d scripts of workers and %d WebRTC destinations: the page's workers or peer connection were not observed", workers, rtc)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			o, err := cr.Scan(ctx, p)
			if err != nil {
				t.Errorf("check %d: %v", i+1, err)
				return
			}
			if !o.Revisited {
				t.Errorf("check %d: the page was not loaded again once its service worker was active", i+1)
			}
			if fs := baseline.Compare(b, o); len(fs) > 0 {
				t.Errorf("check %d of an unchanged page with workers raised findings:\n%s", i+1, describe(fs))
			}
		})
	}
	wg.Wait()
}
