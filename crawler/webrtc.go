package crawler

// WebRTC sends data where neither CSP's connect-src nor the network log
// looks: a skimmer opens an RTCPeerConnection to the attacker's peer,
// named by its ICE servers (stun:, turn:) or by the answer it is given, and
// sends the card over a data channel (Sansec, Dec 2021 and 2026). The
// protocol tells nothing of either, so a small script in every document,
// before the page's own, notes each peer connection's ICE servers and
// every data-channel message it sends, and hands them to the scan.
//
// The way to the scan: the hook dispatches an event, of a type named anew
// for each scan, on the document; skimguard's isolated world listens for
// it and compiles an empty script whose sourceURL carries the report, which
// Debugger.scriptParsed brings to the scan. Runtime.addBinding would be
// simpler, but its calls only come as events while the Runtime domain is
// on, which the scan turns off (see setup); and the page's CSP does not
// apply to the isolated world's compile.
//
// The ICE servers become the page's connections (type WebRTC); the
// messages after typing are searched for the card as a WebSocket's frames
// are. Skimguard's browser sends no UDP around its egress proxy
// (webrtc-ip-handling-policy), so a data channel opens for a scan only
// through a TURN server over TCP: the ICE servers are what a scan always
// sees.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
)

// maxRTCReport bounds one report of the page's WebRTC hook, in bytes: a
// message is cut to its first 16 Ki characters by the hook (the bridge
// passes on reports of up to a quarter of this), escaped in JSON and in
// the URL.
const maxRTCReport = 512 << 10

// rtcSteps are the commands of setup that install the WebRTC hook and
// the isolated world's half of its way to the scan.
func (s *scan) rtcSteps(ctx context.Context) []func() error {
	// A fresh name per scan: the page can neither listen for the hook's
	// events nor forge a report.
	s.rtcToken = strings.ToLower(rand.Text())
	return []func() error{
		func() error {
			_, err := call(ctx, s, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: rtcJS(s.rtcToken)})
			return err
		},
		func() error {
			_, err := call(ctx, s, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: rtcBridgeJS(s.rtcToken), WorldName: worldName})
			return err
		},
	}
}

// rtcReportURL starts the sourceURL of a report of the scan's hook.
func (s *scan) rtcReportURL() string { return internalSourceURL + "webrtc/" + s.rtcToken + "/" }

// rtcReport is what the hook reports: a peer connection's ICE servers
// (t "ice") or a data-channel message (t "msg").
type rtcReport struct {
	T     string   `json:"t"`
	URLs  []string `json:"urls"`
	Peer  string   `json:"peer"`
	Data  string   `json:"data"`
	Stack string   `json:"stack"`
}

// onRTC records a report of the WebRTC hook, the sourceURL of a script
// (see rtcBridgeJS). Called with st.mu held.
func (s *scan) onRTC(sourceURL string) {
	st := &s.st
	enc, ok := strings.CutPrefix(sourceURL, s.rtcReportURL())
	if !ok || s.rtcToken == "" || len(enc) > maxRTCReport {
		return
	}
	payload, err := url.PathUnescape(enc)
	if err != nil {
		return
	}
	var r rtcReport
	if err := json.Unmarshal([]byte(payload), &r); err != nil {
		return
	}
	init := stackURL(r.Stack)
	dests := iceDestinations(r.URLs)
	switch r.T {
	case "ice":
		for _, d := range dests {
			st.addRequest(&reqRec{url: d, method: "", typ: "WebRTC", initiator: init, afterTyping: st.typing})
		}
	case "msg":
		if !st.typing || len(st.wsFrames) >= maxWSFrames {
			return
		}
		dest := "webrtc://unknown"
		if len(dests) > 0 {
			dest = dests[0]
		} else if p := peerDestination(r.Peer); p != "" {
			dest = p
		}
		p := []byte(r.Data)
		if len(p) > maxPostData {
			p = p[:maxPostData]
		}
		if !st.takeLeakData(int64(len(p))) {
			return
		}
		st.rtcSeq++
		id := network.RequestID(fmt.Sprintf("webrtc-%d", st.rtcSeq))
		st.wsURL[id], st.wsInit[id] = dest, &reqRec{id: id, url: dest, typ: "WebRTC", initiator: init, afterTyping: true}
		st.wsFrames = append(st.wsFrames, wsFrame{requestID: id, payload: p, typ: "WebRTC"})
	}
}

// iceDestinations turns ICE server URLs (stun:host:port, turn:host?transport=udp)
// into URLs with an origin: stun://host:port.
func iceDestinations(urls []string) []string {
	var out []string
	for _, raw := range urls {
		if len(out) >= 16 {
			break
		}
		scheme, rest, ok := strings.Cut(raw, ":")
		scheme = strings.ToLower(scheme)
		if !ok || (scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns") {
			continue
		}
		rest, _, _ = strings.Cut(strings.TrimPrefix(rest, "//"), "?")
		if u, err := url.Parse(scheme + "://" + rest); err == nil && u.Host != "" {
			out = append(out, scheme+"://"+u.Host)
		}
	}
	return out
}

// peerDestination names a peer by its first candidate's address.
func peerDestination(hostPort string) string {
	if hostPort == "" || strings.ContainsAny(hostPort, "/?#@ ") {
		return ""
	}
	return "webrtc://" + hostPort
}

var stackURLRe = regexp.MustCompile(`(?:https?|blob:https?|file)://[^\s()]+?(?::\d+){0,2}(?:\)|\s|$)`)

// stackURL is the first script URL in a JavaScript stack trace that is not
// skimguard's own: the script that called the hook.
func stackURL(stack string) string {
	for _, m := range stackURLRe.FindAllString(stack, 8) {
		m = strings.TrimRight(m, ") \n\t")
		// Drop ":line:col".
		for range 2 {
			if i := strings.LastIndexByte(m, ':'); i > 0 && i+1 < len(m) && strings.Trim(m[i+1:], "0123456789") == "" {
				m = m[:i]
			}
		}
		if !strings.HasPrefix(m, internalSourceURL) {
			return m
		}
	}
	return ""
}

// rtcJS is the WebRTC hook, run in every document before the page's code.
// It reports by dispatching an event of type token on the document, with
// the functions it needs taken before the page can replace them. The
// methods it wraps keep their name, length and
// property attributes, and Function.prototype.toString shows them as
// native (as gpuJS does, whose toString it wraps in turn).
func rtcJS(token string) string {
	return fmt.Sprintf(`(() => {
  const P = self.RTCPeerConnection, C = self.RTCDataChannel, doc = self.document, CE = self.CustomEvent;
  if (!P || !C || !doc || !CE) return;
  const dispatch = EventTarget.prototype.dispatchEvent;
  const apply = Reflect.apply, stringify = JSON.stringify, describe = Object.getOwnPropertyDescriptor, define = Object.defineProperty;
  const toString = Function.prototype.toString, Err = Error, U8 = Uint8Array, isView = ArrayBuffer.isView, fromCharCode = String.fromCharCode;
  const getConfiguration = P.prototype.getConfiguration, remote = describe(P.prototype, 'remoteDescription').get;
  const exec = RegExp.prototype.exec, candidate = /a=candidate:\S+ \d+ \S+ \d+ (\S+) (\d+)/;
  const real = {}, owner = new WeakMap(), noted = new WeakSet();
  const report = (o) => { try { apply(dispatch, doc, [new CE(%[1]q, { detail: stringify(o) })]); } catch (e) {} };
  const stack = () => { try { return ('' + new Err().stack).slice(0, 4000); } catch (e) { return ''; } };
  const servers = (pc) => {
    const out = [];
    try { for (const s of apply(getConfiguration, pc, []).iceServers || []) for (const u of [].concat(s.urls || [])) out[out.length] = '' + u; } catch (e) {}
    return out;
  };
  const peer = (pc) => {
    try { const d = apply(remote, pc, []); const m = d && apply(exec, candidate, [d.sdp]); return m ? m[1] + ':' + m[2] : ''; } catch (e) { return ''; }
  };
  const note = (pc) => { if (!noted.has(pc)) { noted.add(pc); report({ t: 'ice', urls: servers(pc), stack: stack() }); } };
  const wrappers = {
    createDataChannel(label) { const ch = apply(real.createDataChannel, this, arguments); note(this); owner.set(ch, this); return ch; },
    createOffer() { note(this); return apply(real.createOffer, this, arguments); },
    createAnswer() { note(this); return apply(real.createAnswer, this, arguments); },
    send(data) {
      // What throws (a channel not open) was not sent.
      const r = apply(real.send, this, arguments);
      let s = '';
      try {
        if (typeof data === 'string') s = data.slice(0, 16384);
        else if (data instanceof ArrayBuffer || isView(data)) {
          const b = data instanceof ArrayBuffer ? new U8(data, 0, Math.min(data.byteLength, 16384)) : new U8(data.buffer, data.byteOffset, Math.min(data.byteLength, 16384));
          for (let i = 0; i < b.length; i += 4096) s += apply(fromCharCode, null, b.subarray(i, i + 4096));
        }
        const pc = owner.get(this);
        report({ t: 'msg', data: s, urls: pc ? servers(pc) : [], peer: pc ? peer(pc) : '', stack: stack() });
      } catch (e) {}
      return r;
    },
  };
  const shown = new Map();
  for (const [proto, names] of [[P.prototype, ['createDataChannel', 'createOffer', 'createAnswer']], [C.prototype, ['send']]]) {
    for (const n of names) {
      const d = describe(proto, n);
      if (!d || typeof d.value !== 'function') continue;
      real[n] = d.value;
      d.value = describe(wrappers, n).value;
      shown.set(apply(toString, d.value, []), 'function ' + n + '() { [native code] }');
      define(proto, n, d);
    }
  }
  const wrapped = {
    toString() { const s = apply(toString, this, arguments); return s === own ? 'function toString() { [native code] }' : shown.get(s) || s; },
  }.toString;
  const own = apply(toString, wrapped, []);
  const d = describe(Function.prototype, 'toString');
  d.value = wrapped;
  define(Function.prototype, 'toString', d);
})();
//# sourceURL=%[2]swebrtc.js
`, token, internalSourceURL)
}

// rtcBridgeJS runs in skimguard's isolated world of every document: it
// passes each report of the hook on as the sourceURL of an empty script.
func rtcBridgeJS(token string) string {
	return fmt.Sprintf(`(() => {
  const F = Function, enc = encodeURIComponent;
  document.addEventListener(%[1]q, (e) => {
    if (typeof e.detail === 'string' && e.detail.length <= %[3]d) try { F('//# sourceURL=' + %[2]q + enc(e.detail))(); } catch (x) {}
  }, true);
})();
//# sourceURL=%[4]swebrtc-bridge.js
`, token, internalSourceURL+"webrtc/"+token+"/", maxRTCReport/4, internalSourceURL)
}
