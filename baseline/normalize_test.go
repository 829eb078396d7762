package baseline

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestFingerprintIgnoresPerLoadValues(t *testing.T) {
	tests := []struct{ name, a, b string }{
		{"CSRF token and timestamp", `var c={"csrf":"aZ3kLm9QxP2","ts":1732271234};`, `var c={"csrf":"Qw8eRt5YuI0","ts":1732274841};`},
		{"nonce in single quotes", `__webpack_nonce__='r4nd0mN0nc3'`, `__webpack_nonce__='X9y8Z7w6V5u4'`},
		{"cart id and price", `cart.init(4711, 19.99)`, `cart.init(10000042, 5e3)`},
		{"whitespace and comments", "a = b; // set a\n/* build 2024-11-22 */ c()", "a=b;c()"},
		{"date strings", `x("2024-11-22T10:00:00Z")`, `x("2024-11-23T11:30:10Z")`},
		{"template literal values", "u = `id-${n}-1732271234`", "u = `id-${n}-1732274841`"},
		{"JSONP callback names", `jQuery37109876543_1732271234({})`, `jQuery37101234567_1732274841({})`},
		{"JSON escaped in a string", `JSON.parse('{"token":"abc123DEF","n":1}')`, `JSON.parse('{"token":"zzz999QQQ","n":2}')`},
		{"same URL with other query", `s.src="https://cdn.good.test/x.js?v=1"`, `s.src="https://cdn.good.test/y.js?v=2"`},
		{"regex literal flags kept, body data", `a.replace(/abc/g,"")`, `a.replace(/abc/g,'')`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Fingerprint(tt.a) != Fingerprint(tt.b) {
				t.Errorf("fingerprints differ:\n%s\n---\n%s", Normalize(tt.a), Normalize(tt.b))
			}
		})
	}
}

func TestFingerprintSeesCodeChanges(t *testing.T) {
	tests := []struct{ name, a, b string }{
		{"appended code", `init();`, `init();document.forms[0].onsubmit=function(){steal()}`},
		{"new call", `a(b)`, `a(b);c(b)`},
		{"renamed identifier", `send(data)`, `leak(data)`},
		{"URL literal to another host", `s.src="https://cdn.good.test/x.js"`, `s.src="https://evil.pw/x.js"`},
		{"protocol-relative URL to another host", `s.src="//cdn.good.test/x.js"`, `s.src="//evil.pw/x.js"`},
		{"JSON-escaped URL to another host", `u="https:\/\/cdn.good.test\/a"`, `u="https:\/\/evil.pw\/a"`},
		{"URL inside an HTML string", `document.write('<script src="https://cdn.good.test/a.js"></script>')`, `document.write('<script src="https://evil.pw/a.js"></script>')`},
		{"element name in a string", `document.createElement("script")`, `document.createElement("iframe")`},
		{"event name in a string", `el.addEventListener("load", f)`, `el.addEventListener("mouseup", f)`},
		{"code in a string for eval", `setTimeout("tick()", 9)`, `setTimeout("steal(document.cookie)", 9)`},
		{"template expression", "`a${x}`", "`a${steal(x)}`"},
		// A division our heuristic reads as a regex start (or the reverse)
		// must not let a quote swallow the code that follows.
		{"code after a confusing slash", `if(1)/"/.test(1);ok()`, `if(1)/"/.test(1);i=new Image,i.src=u+document.cookie`},
		{"code after a function-expression division", `x=function(){}/"/;ok()`, `x=function(){}/"/;fetch(u,{body:d})`},
		{"code in an unterminated comment", `a();/* note`, `a();/* note */ steal()`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Fingerprint(tt.a) == Fingerprint(tt.b) {
				t.Errorf("fingerprints equal, the change is invisible:\n%s\n---\n%s", Normalize(tt.a), Normalize(tt.b))
			}
		})
	}
}

func TestNormalizeShowsWhatCounts(t *testing.T) {
	got := Normalize(`var s = document.createElement("script"); s.src = "https://cdn.good.test/loader.js?cb=1732271234"; s.nonce = "aZ3kLm9QxP2"; if (ok) { document.head.appendChild(s); }`)
	want := `var s = document . createElement ( "script" ) ;
s . src = "https://cdn.good.test" ;
s . nonce = "…" ;
if ( ok ) {
  document . head . appendChild ( s ) ;
}`
	if got != want {
		t.Errorf("Normalize:\n%s\nwant:\n%s", got, want)
	}
}

func TestTokenizerRegexDivisionAndTemplates(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // normalised tokens
	}{
		{"division after identifier", `a / b / c`, []string{"a", "/", "b", "/", "c"}},
		{"regex after assignment", `x = /a"b/g`, []string{"x", "=", `/a"b/g`}},
		{"regex after if head", `if (x) /y/.test(z)`, []string{"if", "(", "x", ")", "/y/", ".", "test", "(", "z", ")"}},
		{"division after call", `f(x) / 2`, []string{"f", "(", "x", ")", "/", "0"}},
		{"regex after return", `return /\d+/.exec(s)`, []string{"return", `/\d+/`, ".", "exec", "(", "s", ")"}},
		{"slash in regex class", `r = /[/]x/`, []string{"r", "=", "/[/]x/"}},
		{"nested templates", "`a1${ `b2${c}` }d3`", []string{"`…${", "`…${", "c", "}…`", "}…`"}},
		{"object literal in template expression", "`${ {a:1}.a }`", []string{"`…${", "{", "a", ":", "0", "}", ".", "a", "}…`"}},
		{"data strings", `"a1b2" + 'X9-Y8'`, []string{`"…"`, "+", `"…"`}},
		{"code-like string keeps punctuation, hides digits", `"a\"b1" + 'c(2)'`, []string{`"a\"…"`, "+", `"c(…)"`}},
		{"numbers", `0x1F + 1e-3 + .5 + 1_000n`, []string{"0", "+", "0", "+", "0", "+", "0"}},
		{"multi-character punctuators", `a >>>= b ?? c?.d`, []string{"a", ">>>=", "b", "??", "c", "?.", "d"}},
		{"unicode whitespace and identifiers", "caf\u00e9\u00a0=\u2028 1", []string{"caf\u00e9", "=", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := normTokens(tt.src)
			if strings.Join(got, " ␣ ") != strings.Join(tt.want, " ␣ ") {
				t.Errorf("tokens of %q:\n got %q\nwant %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestTokenizerIsLinearOnHostileInput would time out if a failed regex
// guess were retried from every slash.
func TestTokenizerIsLinearOnHostileInput(t *testing.T) {
	for _, unit := range []string{"/[", "(/", "`${", "'\\", "/*", "x=/", "{}/"} {
		src := strings.Repeat(unit, 200000)
		_ = Fingerprint(src)
	}
	// Deep nesting followed by many lines: indentation must not make the
	// normalised text quadratic.
	if n := len(Normalize(strings.Repeat("{", 100000) + strings.Repeat(";", 100000))); n > 10<<20 {
		t.Errorf("normalised text of 200 KB is %d bytes", n)
	}
}

func TestScriptOriginsAndTokenDelta(t *testing.T) {
	plus, minus, names := tokenDelta(`a();`, `a();b("https://evil.pw/x")`)
	if plus != 4 || minus != 0 { // b ( "https://evil.pw" )
		t.Errorf("delta +%d -%d, want +4 -0", plus, minus)
	}
	if len(names) != 1 || names[0] != "https://evil.pw" {
		t.Errorf("new origins %v, want [https://evil.pw]", names)
	}
}

func TestFingerprintIsTheHashOfNormalize(t *testing.T) {
	for _, src := range []string{"", "a;\n\n", "{{;}}", modernizr, inlineConfig(3), "x\n;\n"} {
		sum := sha256.Sum256([]byte(Normalize(src)))
		if got, want := Fingerprint(src), "fp:"+hex.EncodeToString(sum[:]); got != want {
			t.Errorf("Fingerprint(%q) = %s, want hash of Normalize %s", src, got, want)
		}
	}
}
