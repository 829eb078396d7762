package crawler

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// bigEvalPage is a page at /big that evals, once per character of chars,
// a string literal of n copies of that character: code a skimmer could
// build to exhaust the crawler. Only the values in the HTML change with
// chars and n, so that scans of two variants differ by the eval'd code
// alone.
type bigEvalPage struct {
	mu    sync.Mutex
	chars string
	n     int
}

func (p *bigEvalPage) set(chars string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chars, p.n = chars, n
}

func (p *bigEvalPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	chars, n := p.chars, p.n
	p.mu.Unlock()
	html(w, fmt.Sprintf(`<body data-c="%s" data-n="%d"><script>
var b = document.body.dataset;
for (var i = 0; i < b.c.length; i++) { eval('"' + b.c[i].repeat(Number(b.n)) + '"'); }
</script></body>`, chars, n))
}

// bigSource is the text the page of bigEvalPage evals for one character.
func bigSource(c byte, n int) string {
	return `"` + strings.Repeat(string(c), n) + `"`
}

// heapUse is the bytes allocated so far and the heap in use after a
// collection.
func heapUse() (total, inuse uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc, m.HeapInuse
}

// patientCrawler is a crawler of its own with a load timeout long enough
// for a page that builds 80 MB of strings on a busy machine: the shared
// one's short timeout would make these tests fail for the wrong reason.
func patientCrawler(t *testing.T) *Crawler {
	t.Helper()
	needBrowser(t)
	c, err := New(context.Background(), Options{LoadTimeout: 2 * time.Minute, DefaultWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHugeScriptsAreNotFetched: a page that evals four 20 MB strings is
// scanned without the crawler fetching them; they are inventoried as too
// large, with their size and V8's SHA-256 of their text, and the Go heap
// stays far below the strings' size.
func TestHugeScriptsAreNotFetched(t *testing.T) {
	c := patientCrawler(t)
	page := &bigEvalPage{}
	srv := serveOn(t, "127.0.0.1", page)
	const n = 20_000_000
	page.set("abcd", n)
	p := skimguard.Page{URL: srv.URL + "/big", Wait: 500 * time.Millisecond}

	total0, inuse0 := heapUse()
	obs := mustScan(t, c, p)
	total1, inuse1 := heapUse()
	allocated, held := total1-total0, int64(inuse1)-int64(inuse0)
	t.Logf("scan allocated %d MB, holds %d MB more heap", allocated>>20, held>>20)
	// The four strings make 80 MB; fetching one would allocate more than
	// 20 MB (its JSON message, then the decoded string).
	if allocated > 16<<20 {
		t.Errorf("the scan allocated %d MB for a page with 80 MB of eval'd strings: want under 16 MB", allocated>>20)
	}
	if held > 8<<20 {
		t.Errorf("the scan holds %d MB more heap after it ended: want under 8 MB", held>>20)
	}

	dyn := scriptsOf(obs, skimguard.ScriptDynamic)
	if len(dyn) != 4 {
		dumpScripts(t, obs)
		t.Fatalf("dynamic scripts = %d, want 4", len(dyn))
	}
	for i, s := range dyn {
		text := bigSource("abcd"[i], n)
		if s.Size != len(text) || s.SHA256 != sha(text) || s.SRI != "" {
			t.Errorf("script %d: size %d sha256 %s SRI %q; want size %d and V8's hash %s of the text, no SRI", i, s.Size, s.SHA256, s.SRI, len(text), sha(text))
		}
		if !strings.Contains(s.Source, "too large to fetch") || !strings.Contains(s.Source, strconv.Itoa(len(text))) || len(s.Source) > 1024 {
			t.Errorf("script %d: source %q does not say it was too large to fetch", i, s.Source)
		}
	}
	if inl := scriptsOf(obs, skimguard.ScriptInline); len(inl) != 1 || inl[0].SHA256 == "" || !strings.Contains(inl[0].Source, "eval(") {
		t.Errorf("the page's own inline script was not fetched: %+v", inl)
	}
}

// TestHugeConsoleMessages: strings a page logs or throws do not reach the
// crawler.
func TestHugeConsoleMessages(t *testing.T) {
	c := patientCrawler(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<script>
for (var i = 0; i < 4; i++) { console.log('abcd'[i].repeat(20e6)); }
setTimeout(function () { throw new Error('e'.repeat(20e6)); }, 10);
</script>`)
	})
	srv := serveOn(t, "127.0.0.1", mux)
	total0, _ := heapUse()
	mustScan(t, c, skimguard.Page{URL: srv.URL + "/", Wait: time.Second})
	total1, _ := heapUse()
	if allocated := total1 - total0; allocated > 16<<20 {
		t.Errorf("the scan allocated %d MB for a page that logs 80 MB and throws 20 MB: want under 16 MB", allocated>>20)
	}
}

// TestTooLargeScriptsCompare: a script too large to fetch compares by its
// size and hash: the same one on two loads raises no finding, another one
// does, and so does one where the baseline has a script of normal size.
func TestTooLargeScriptsCompare(t *testing.T) {
	c := needBrowser(t)
	page := &bigEvalPage{}
	srv := serveOn(t, "127.0.0.1", page)
	scan := func(chars string, n int) *skimguard.Observation {
		page.set(chars, n)
		return mustScan(t, c, skimguard.Page{Site: "s", Name: "p", URL: srv.URL + "/big", Wait: 300 * time.Millisecond})
	}
	const huge = maxScriptFetch + 1
	learnt, err := baseline.Learn([]*skimguard.Observation{scan("a", huge)}, "test", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	normal, err := baseline.Learn([]*skimguard.Observation{scan("a", 1000)}, "test", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		base     *skimguard.Baseline
		chars    string
		n        int
		findings int
	}{
		{"the same too-large script again", learnt, "a", huge, 0},
		{"another too-large script of the same size", learnt, "b", huge, 1},
		{"a too-large script one character longer", learnt, "a", huge + 1, 1},
		{"a too-large script where the baseline has a normal one", normal, "a", huge, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := baseline.Compare(tc.base, scan(tc.chars, tc.n))
			if len(fs) != tc.findings {
				t.Errorf("findings = %d, want %d", len(fs), tc.findings)
				for _, f := range fs {
					t.Logf("  %s %s: %s", f.Kind, f.Subject, f.Detail)
				}
			}
		})
	}
}

// TestScriptFetchBudget: once a scan has fetched its budget of script
// text, further scripts are inventoried as not fetched, in the order they
// were compiled.
func TestScriptFetchBudget(t *testing.T) {
	needBrowser(t)
	c, err := New(context.Background(), Options{
		LoadTimeout: testLoadTimeout, DefaultWait: 300 * time.Millisecond,
		fetchLimits: fetchLimits{perScript: 1 << 20, perScan: 5 << 19},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	page := &bigEvalPage{}
	srv := serveOn(t, "127.0.0.1", page)
	const n = 900_000
	page.set("abcd", n)
	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/big"})
	dyn := scriptsOf(obs, skimguard.ScriptDynamic)
	if len(dyn) != 4 {
		t.Fatalf("dynamic scripts = %d, want 4", len(dyn))
	}
	for i, s := range dyn {
		text := bigSource("abcd"[i], n)
		fetched := i < 2 // 2 × 0.9 MB fit the budget of 2.5 MB, a third does not
		if got := s.Source == text; got != fetched {
			t.Errorf("script %d fetched = %v, want %v (source %.80q)", i, got, fetched, s.Source)
		}
		if s.SHA256 != sha(text) || s.Size != len(text) {
			t.Errorf("script %d: size %d sha256 %s, want %d %s", i, s.Size, s.SHA256, len(text), sha(text))
		}
		if !fetched && !strings.Contains(s.Source, "budget") {
			t.Errorf("script %d: source %q does not say the scan's budget was spent", i, s.Source)
		}
	}
}

// bodyPage is a checkout page whose script, once the card is typed, sends
// it in the request bodies that send(card) builds.
func bodyPage(send string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		html(w, `<form><input name="cardnumber" autocomplete="cc-number"><input name="exp" autocomplete="cc-exp">
<input name="cvc" autocomplete="cc-csc"></form>
<script>
var sent = false;
document.querySelector('[name=cvc]').addEventListener('blur', function () {
  var f = document.forms[0];
  if (sent || f.cvc.value.length < 3) return;
  sent = true;
  (`+send+`)(JSON.stringify({n: f.cardnumber.value, e: f.exp.value, c: f.cvc.value}));
});
</script>`)
	}
}

// TestRequestBodiesAreBounded: bodies that come without their bytes (a
// Blob, or text over the inline limit) are fetched and searched when
// their Content-Length is within bounds; larger ones are never fetched.
func TestRequestBodiesAreBounded(t *testing.T) {
	c := needBrowser(t)
	var got hits
	mux := http.NewServeMux()
	// Chromium keeps bodies of up to 8 MB (Network.enable's
	// maxResourceBufferSize) for Network.getRequestPostData.
	mux.HandleFunc("/checkout", bodyPage(`function (card) {
  fetch('/blob', {method: 'POST', body: new Blob([card])});
  fetch('/padded', {method: 'POST', body: card + ' '.repeat(200000)});
  for (var i = 0; i < 4; i++) fetch('/large', {method: 'POST', body: new Blob([card, 'x'.repeat(7000000)])});
}`))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.add(r.URL.Path, strconv.FormatInt(n, 10))
	})
	srv := serveOn(t, "127.0.0.1", mux)

	total0, _ := heapUse()
	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true, Wait: 2 * time.Second})
	total1, _ := heapUse()
	for path, n := range map[string]int{"/blob": 1, "/padded": 1, "/large": 4} {
		if got.count(path) != n {
			t.Fatalf("the page sent %s %d times, want %d: the test proves nothing", path, got.count(path), n)
		}
	}
	leaks := map[string]int{}
	for _, l := range obs.Leaks {
		leaks[strings.TrimPrefix(l.URL, srv.URL)+" "+l.Where]++
	}
	if leaks["/blob body"] != 1 || leaks["/padded body"] != 1 || leaks["/large body"] != 0 {
		t.Errorf("leaks = %v, want one in /blob and /padded bodies and none in /large ones", leaks)
	}
	allocated := total1 - total0
	t.Logf("scan allocated %d MB", allocated>>20)
	if allocated > 16<<20 {
		t.Errorf("the scan allocated %d MB with four 7 MB request bodies: they were fetched", allocated>>20)
	}
}

// TestLeakSearchBudget: a scan keeps at most maxLeakData bytes of request
// bodies for the leak search, however many the page sends.
func TestLeakSearchBudget(t *testing.T) {
	c := needBrowser(t)
	var got hits
	mux := http.NewServeMux()
	const bodies, size = 40, 1 << 20
	mux.HandleFunc("/checkout", bodyPage(fmt.Sprintf(`function (card) {
  for (var i = 0; i < %d; i++) fetch('/b', {method: 'POST', body: card + ' '.repeat(%d - card.length)});
}`, bodies, size)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.add(r.URL.Path, "")
	})
	srv := serveOn(t, "127.0.0.1", mux)
	obs := mustScan(t, c, skimguard.Page{URL: srv.URL + "/checkout", Interact: true, Wait: 2 * time.Second})
	if got.count("/b") != bodies {
		t.Fatalf("the page sent %d bodies, want %d", got.count("/b"), bodies)
	}
	if len(obs.Leaks) == 0 || len(obs.Leaks) > maxLeakData/size {
		t.Errorf("%d leaks found in %d bodies of 1 MB, want 1 to %d", len(obs.Leaks), bodies, maxLeakData/size)
	}
}
