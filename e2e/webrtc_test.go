package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/internal/browsertest"
)

// answerRTC is the attacker's WebRTC peer: it answers the SDP offer a
// skimmer posts, and records what arrives over its data channels as the
// technique's received data. Its peers close with the world.
func (w *world) answerRTC(rw http.ResponseWriter, r *http.Request, name string) {
	offer, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	var se webrtc.SettingEngine
	// Everything on this machine is loopback; the browser's own host
	// candidates are mDNS names, which the peer learns as peer-reflexive
	// from the browser's checks.
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	w.mu.Lock()
	w.peers = append(w.peers, pc)
	w.mu.Unlock()
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) { w.record(name, append([]byte("datachannel\n"), m.Data...)) })
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	}
	rw.Header().Set("Content-Type", "application/sdp")
	io.WriteString(rw, pc.LocalDescription().SDP)
}

// closePeers closes the attacker's WebRTC peers.
func (w *world) closePeers() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, pc := range w.peers {
		pc.Close()
	}
	w.peers = nil
}

// shopperVisit has a shopper's own browser, which sends WebRTC's UDP as
// any browser does (skimguard's sends none around its egress proxy), load
// the technique's checkout and type the test card, and fails t unless the
// attacker received the card over a data channel.
func (w *world) shopperVisit(t *testing.T, tc *technique, url string) {
	t.Helper()
	ctx := browsertest.New(t)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	before := len(w.received(tc.name))
	card := carddata.Test()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(`input[name="cc-number"]`),
		chromedp.SendKeys(`input[name="cc-number"]`, card.Number),
		chromedp.SendKeys(`input[name="cc-csc"]`, card.CVC),
	); err != nil {
		t.Fatalf("the shopper's visit of %s: %v", url, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, b := range w.received(tc.name)[before:] {
			if _, ok := card.Find(b); ok && strings.HasPrefix(string(b), "datachannel\n") {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the planted skimmer of %s did not send the card over a data channel to the attacker's peer in a shopper's browser; fix the technique page, not skimguard", tc.name)
}

// hostname is the host of an origin, without its port; "" for none.
func hostname(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
