package crawler

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// TestWebRTCIsObserved: a peer connection's ICE servers are connections
// of type WebRTC started by the script that made it; the hook leaves no
// trace the page can see.
func TestWebRTCIsObserved(t *testing.T) {
	c := needBrowser(t)
	var got hits
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		// The strictest CSP: no eval, no inline script.
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		html(w, `<!doctype html><html><body>
<form action="/order" method="post"><input name="cardnumber" autocomplete="cc-number"></form>
<script src="/rtc.js"></script></body></html>`)
	})
	mux.HandleFunc("/rtc.js", func(w http.ResponseWriter, r *http.Request) {
		// The channel cannot open in skimguard's browser, which sends no
		// UDP around its egress proxy; the offer names the ICE servers.
		// What the page could see of the hook goes to /seen.
		js(w, `var a = new RTCPeerConnection({ iceServers: [{ urls: 'stun:127.0.0.4:3478' }, { urls: ['turn:127.0.0.4:3479?transport=udp'], username: 'u', credential: 'p' }] });
var ch = a.createDataChannel('x');
a.createOffer().then(function (o) { return a.setLocalDescription(o); });
fetch('/seen?hook=' + [Function.prototype.toString.call(RTCDataChannel.prototype.send), RTCDataChannel.prototype.send.name, RTCDataChannel.prototype.send.length,
  Function.prototype.toString.call(RTCPeerConnection.prototype.createOffer), Function.prototype.toString.call(Function.prototype.toString),
  Object.keys(window).filter(function (k) { return /^_/.test(k); }).join(',')].join('|'));`)
	})
	mux.HandleFunc("/seen", func(w http.ResponseWriter, r *http.Request) { got.add("/seen", r.URL.RawQuery) })
	srv := serveOn(t, "127.0.0.1", mux)

	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true})
	seen, _ := url.QueryUnescape(strings.Join(got.values("/seen"), " "))
	if want := "hook=function send() { [native code] }|send|1|function createOffer() { [native code] }|function toString() { [native code] }|"; seen != want {
		t.Errorf("the page can see the hook: it saw %q, want %q", seen, want)
	}
	for _, origin := range []string{"stun://127.0.0.4:3478", "turn://127.0.0.4:3479"} {
		conn := connTo(obs, origin)
		if conn == nil {
			t.Errorf("no connection to the ICE server %s: %+v", origin, obs.Connections)
			continue
		}
		if !slices.Contains(conn.Types, "WebRTC") || !slices.Contains(conn.Initiators, srv.URL+"/rtc.js") {
			t.Errorf("connection %+v: want type WebRTC started by %s/rtc.js", conn, srv.URL)
		}
	}
}

// TestRTCMessageIsSearchedForTheCard: a data-channel message the hook
// reports after typing is searched for the card as a WebSocket frame is,
// and its leak names the peer's ICE server and the script that sent it.
func TestRTCMessageIsSearchedForTheCard(t *testing.T) {
	c := &Crawler{opts: Options{Card: carddata.Test}, log: slog.New(slog.DiscardHandler)}
	s := newScan(c, skimguard.Page{URL: "https://shop.test/checkout"})
	s.rtcToken = "tok"
	s.st.typing = true
	report := func(token, payload string) {
		s.st.mu.Lock()
		defer s.st.mu.Unlock()
		s.onRTC(internalSourceURL + "webrtc/" + token + "/" + url.PathEscape(payload))
	}
	report("tok", `{"t":"msg","data":"{\"n\":\"4929 3861 6087 1730\"}","urls":["stun:127.0.0.4:3478"],"stack":"Error\n    at HTMLDocument.<anonymous> (https://cdn.evil.test/rtc.js:3:12)"}`)
	report("tok", `{"t":"msg","data":"hello","peer":"127.0.0.4:40000","stack":""}`)
	report("forged", `{"t":"msg","data":"4929386160871730","urls":["stun:127.0.0.9:3478"]}`)
	obs := &skimguard.Observation{Headers: map[string]string{}}
	s.build(obs, nil)
	if len(obs.Leaks) != 1 {
		t.Fatalf("want one leak, got %+v", obs.Leaks)
	}
	l := obs.Leaks[0]
	if l.Origin != "stun://127.0.0.4:3478" || l.Type != "WebRTC" || l.Where != "frame" || l.Initiator != "https://cdn.evil.test/rtc.js" {
		t.Errorf("leak %+v: want one to stun://127.0.0.4:3478 of type WebRTC, in a frame, sent by https://cdn.evil.test/rtc.js", l)
	}
}
