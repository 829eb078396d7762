package crawler

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/egress"
	"github.com/skimguard/skimguard/internal/dnstest"
)

// recordingServer serves on ip and records every request and WebSocket
// handshake by path.
func recordingServer(t *testing.T, ip string, h *hits) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) {
		h.add("/ws", "")
		ws.Close()
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.add(r.URL.Path, r.Host)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		html(w, "<p>hello</p>")
	})
	return serveOn(t, ip, mux).URL
}

// reachJS makes the page try base (an http:// origin) by fetch, image,
// iframe, WebSocket, and fetch over https.
func reachJS(base string) string {
	host := strings.TrimPrefix(base, "http://")
	return `
fetch('` + base + `/fetch').catch(function () {});
new Image().src = '` + base + `/img';
var f = document.createElement('iframe'); f.src = '` + base + `/frame'; document.body.appendChild(f);
try { new WebSocket('ws://` + host + `/ws'); } catch (e) {}
fetch('https://` + host + `/tls').catch(function () {});
`
}

// TestEgressPolicy: a page on loopback that tries to reach link-local and
// cloud metadata addresses, skimguard's own interface, and names that
// resolve to them, reaches none of them, and the observation says so;
// other loopback origins, and names allowed in a denied range, work.
func TestEgressPolicy(t *testing.T) {
	needBrowser(t)
	var ui, other, internal hits
	uiURL := recordingServer(t, "127.0.0.3", &ui)             // skimguard's own web interface
	otherURL := recordingServer(t, "127.0.0.2", &other)       // another origin, allowed
	internalURL := recordingServer(t, "127.0.0.4", &internal) // denied, but allowed by name
	uiAddr := strings.TrimPrefix(uiURL, "http://")
	_, uiPort, _ := net.SplitHostPort(uiAddr)
	_, internalPort, _ := net.SplitHostPort(strings.TrimPrefix(internalURL, "http://"))

	own, err := egress.OwnAddress(uiAddr)
	if err != nil {
		t.Fatal(err)
	}
	deny, err := egress.ParseRule("127.0.0.4")
	if err != nil {
		t.Fatal(err)
	}
	allow, err := egress.ParseRule("shop.test")
	if err != nil {
		t.Fatal(err)
	}
	resolver := dnstest.Resolver(t, map[string][]netip.Addr{
		"metadata.test": {netip.MustParseAddr("169.254.169.254")},
		"ui.test":       {netip.MustParseAddr("127.0.0.3")},
		"shop.test":     {netip.MustParseAddr("127.0.0.4")},
	})
	c, err := New(context.Background(), Options{
		LoadTimeout: testLoadTimeout, DefaultWait: time.Second,
		Egress:   egress.Policy{Own: []egress.Rule{own}, Deny: []egress.Rule{deny}, Allow: []egress.Rule{allow}},
		resolver: resolver,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	refused := map[string]string{ // origin the page named → what the refusal must say
		"http://169.254.169.254":   "cloud metadata address (169.254.169.254:80)",
		"ws://169.254.169.254":     "cloud metadata address",
		"https://169.254.169.254":  "cloud metadata address (169.254.169.254:443)",
		"http://169.254.1.1":       "link-local address",
		"http://metadata.test":     "cloud metadata address (metadata.test:80 resolved to 169.254.169.254:80)",
		"https://metadata.test":    "cloud metadata address",
		uiURL:                      "skimguard's own address " + uiAddr,
		"ws://" + uiAddr:           "own address",
		"https://" + uiAddr:        "own address",
		"http://ui.test:" + uiPort: "own address " + uiAddr + " (ui.test:" + uiPort + " resolved to " + uiAddr + ")",
		"ws://ui.test:" + uiPort:   "own address",
		internalURL:                "denied by 127.0.0.4 in egress deny",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		page := `<!doctype html><body><script>`
		for _, base := range []string{"http://169.254.169.254", "http://169.254.1.1", "http://metadata.test", uiURL, "http://ui.test:" + uiPort, otherURL, internalURL, "http://shop.test:" + internalPort} {
			page += reachJS(base)
		}
		html(w, page+`</script></body>`)
	})
	srv := serveOn(t, "127.0.0.1", mux)
	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Wait: 1500 * time.Millisecond})

	t.Run("nothing reached skimguard's own interface", func(t *testing.T) {
		ui.mu.Lock()
		defer ui.mu.Unlock()
		if len(ui.n) != 0 {
			t.Errorf("the own address got requests: %v", ui.n)
		}
	})
	t.Run("every refused destination is in the observation", func(t *testing.T) {
		for origin, why := range refused {
			conn := connTo(obs, origin)
			if conn == nil {
				t.Errorf("no connection to %s", origin)
				continue
			}
			if !strings.HasPrefix(conn.Refused, "refused by egress policy: ") || !strings.Contains(conn.Refused, why) {
				t.Errorf("connection to %s: Refused = %q, want it to say %q", origin, conn.Refused, why)
			}
		}
	})
	t.Run("other loopback origins work, by every transport", func(t *testing.T) {
		for _, path := range []string{"/fetch", "/img", "/frame", "/ws"} {
			if other.count(path) != 1 {
				t.Errorf("the allowed origin got %s %d times, want once", path, other.count(path))
			}
		}
		if conn := connTo(obs, otherURL); conn == nil || conn.Refused != "" {
			t.Errorf("connection to the allowed origin: %+v", conn)
		}
	})
	t.Run("a name allowed in a denied range works; the address does not", func(t *testing.T) {
		internal.mu.Lock()
		defer internal.mu.Unlock()
		for path, hosts := range internal.vals {
			for _, h := range hosts {
				if !strings.HasPrefix(h, "shop.test:") && path != "/ws" {
					t.Errorf("the denied address got %s for host %s", path, h)
				}
			}
		}
		if internal.n["/fetch"] != 1 || internal.n["/ws"] != 1 {
			t.Errorf("the allowed name reached %v, want /fetch and /ws once each", internal.n)
		}
		if conn := connTo(obs, "http://shop.test:"+internalPort); conn == nil || conn.Refused != "" {
			t.Errorf("connection to the allowed name: %+v", conn)
		}
	})

	t.Run("a refused page is a PageError that says why", func(t *testing.T) {
		for _, url := range []string{uiURL + "/", "http://ui.test:" + uiPort + "/", "http://metadata.test/latest/meta-data/", "https://169.254.169.254/"} {
			_, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: 300 * time.Millisecond})
			var pe *PageError
			if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "refused by egress policy") || !strings.Contains(pe.Error(), "egress: allow:") {
				t.Errorf("Scan(%s) = %v, want a PageError that says the egress policy refused it", url, err)
			}
		}
		if n := ui.count("/"); n != 0 {
			t.Errorf("the own address got %d requests", n)
		}
	})
}

// TestEgressWebRTC: WebRTC cannot send UDP around the egress proxy.
func TestEgressWebRTC(t *testing.T) {
	c := needBrowser(t)
	pc, err := net.ListenPacket("udp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan net.Addr, 1)
	go func() {
		buf := make([]byte, 1500)
		if _, from, err := pc.ReadFrom(buf); err == nil {
			got <- from
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<script>
var pc = new RTCPeerConnection({iceServers: [{urls: 'stun:`+pc.LocalAddr().String()+`'}]});
pc.createDataChannel('x');
pc.createOffer().then(function (o) { return pc.setLocalDescription(o); }).then(function () { fetch('/offered'); });
</script>`)
	})
	var h hits
	mux.HandleFunc("/offered", func(w http.ResponseWriter, r *http.Request) { h.add("/offered", "") })
	srv := serveOn(t, "127.0.0.1", mux)
	mustScan(t, c, skimguard.Page{URL: srv.URL + "/", Wait: 2 * time.Second})
	if h.count("/offered") != 1 {
		t.Fatal("the page did not start ICE gathering: the test proves nothing")
	}
	select {
	case from := <-got:
		t.Errorf("WebRTC sent UDP to %s from %s, around the egress proxy", pc.LocalAddr(), from)
	case <-time.After(500 * time.Millisecond):
	}
}
