package jstoken

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

type tok struct {
	k    Kind
	text string
}

func (t tok) String() string { return fmt.Sprintf("%v %q", t.k, t.text) }

func tokens(src string) []tok {
	var out []tok
	Scan(src, func(k Kind, text string) { out = append(out, tok{k, text}) })
	return out
}

// T builds expected tokens from alternating kinds and texts.
func T(kt ...any) []tok {
	var out []tok
	for i := 0; i < len(kt); i += 2 {
		out = append(out, tok{kt[i].(Kind), kt[i+1].(string)})
	}
	return out
}

func TestScanSplitsTokens(t *testing.T) {
	I, P, N, S, Tp, R, C := Ident, Punct, Number, String, Template, Regex, Comment
	tests := []struct {
		name, src string
		want      []tok
	}{
		{"empty source", "", nil},
		{"only whitespace", " \t\r\n\v\f\u00a0\u2028\uFEFF", nil},
		{"division after identifier", `a / b / c`, T(I, "a", P, "/", I, "b", P, "/", I, "c")},
		{"regex after assignment", `x = /a"b/g`, T(I, "x", P, "=", R, `/a"b/g`)},
		{"regex after if head", `if (x) /y/.test(z)`, T(I, "if", P, "(", I, "x", P, ")", R, "/y/", P, ".", I, "test", P, "(", I, "z", P, ")")},
		{"division after call", `f(x) / 2`, T(I, "f", P, "(", I, "x", P, ")", P, "/", N, "2")},
		{"regex after return", `return /\d+/.exec(s)`, T(I, "return", R, `/\d+/`, P, ".", I, "exec", P, "(", I, "s", P, ")")},
		{"regex after a block's closing brace", `if(a){}/b/.test(c)`, T(I, "if", P, "(", I, "a", P, ")", P, "{", P, "}", R, "/b/", P, ".", I, "test", P, "(", I, "c", P, ")")},
		{"division after an object literal", `x={}/2`, T(I, "x", P, "=", P, "{", P, "}", P, "/", N, "2")},
		{"slash in regex class", `r = /[/]x/`, T(I, "r", P, "=", R, "/[/]x/")},
		{"failed regex guess makes the line's slashes divisions", "x=/[ ; y=/b/\nz=/c/",
			T(I, "x", P, "=", P, "/", P, "[", P, ";", I, "y", P, "=", P, "/", I, "b", P, "/", I, "z", P, "=", R, "/c/")},
		{"nested templates", "`a1${ `b2${c}` }d3`", T(Tp, "`a1${", Tp, "`b2${", I, "c", Tp, "}`", Tp, "}d3`")},
		{"object literal in template expression", "`${ {a:1}.a }`", T(Tp, "`${", P, "{", I, "a", P, ":", N, "1", P, "}", P, ".", I, "a", Tp, "}`")},
		{"strings with escaped quotes", `"a\"b1" + 'c(2)'`, T(S, `"a\"b1"`, P, "+", S, `'c(2)'`)},
		{"unterminated string ends before the line break", "'abc\ndef", T(S, "'abc", I, "def")},
		{"escaped line break continues a string", "'a\\\nb'", T(S, "'a\\\nb'")},
		{"numbers", `0x1F + 1e-3 + .5 + 1_000n`, T(N, "0x1F", P, "+", N, "1e-3", P, "+", N, ".5", P, "+", N, "1_000n")},
		{"multi-character punctuators", `a >>>= b ?? c?.d`, T(I, "a", P, ">>>=", I, "b", P, "??", I, "c", P, "?.", I, "d")},
		{"spread", `f(...a)`, T(I, "f", P, "(", P, "...", I, "a", P, ")")},
		{"comments", "a // x\n/* y */ b", T(I, "a", C, "// x", C, "/* y */", I, "b")},
		{"comments leave the regex decision alone", "return /* c */ /x/", T(I, "return", C, "/* c */", R, "/x/")},
		{"unterminated block comment runs to the end", "a /* b\nc", T(I, "a", C, "/* b\nc")},
		{"hashbang line", "#!/usr/bin/env node\nx()", T(C, "#!/usr/bin/env node", I, "x", P, "(", P, ")")},
		{"hashbang only at the very start", " #!x", T(I, "#", P, "!", I, "x")},
		{"CR ends a line comment", "a//b\rc", T(I, "a", C, "//b", I, "c")},
		{"unicode whitespace and identifiers", "caf\u00e9\u00a0=\u2028 1", T(I, "caf\u00e9", P, "=", N, "1")},
		{"control bytes are punctuators", "\x00\x01", T(P, "\x00", P, "\x01")},
		{"invalid UTF-8 is an identifier", "\xff\xfe", T(I, "\xff\xfe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tokens(tt.src)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("tokens of %q:\n got %v\nwant %v", tt.src, got, tt.want)
			}
		})
	}
}

func TestPosLocatesEveryToken(t *testing.T) {
	src := "#!x\nif (a) {\n\tb = `c${d}e` // f\n}\n"
	lx := NewLexer(src)
	var rebuilt strings.Builder
	end := 0
	for _, text, ok := lx.Next(); ok; _, text, ok = lx.Next() {
		pos := lx.Pos()
		if src[pos:pos+len(text)] != text {
			t.Fatalf("Pos %d does not locate %q", pos, text)
		}
		rebuilt.WriteString(src[end:pos])
		rebuilt.WriteString(text)
		end = pos + len(text)
	}
	if lx.Pos() != len(src) {
		t.Errorf("Pos after the last token = %d, want the source length %d", lx.Pos(), len(src))
	}
	rebuilt.WriteString(src[end:])
	if rebuilt.String() != src {
		t.Errorf("tokens and gaps rebuild %q, want %q", rebuilt.String(), src)
	}
}

func TestSlashesAreDivisionsFromAFailedRegexGuessToTheLineEnd(t *testing.T) {
	// "++/" reads like the start of a regex, which never ends on line 1.
	src := "a;b=c++/2;d=[/e/]\nf=/g/"
	var got []string
	lx := NewLexer(src)
	for _, text, ok := lx.Next(); ok; _, text, ok = lx.Next() {
		if lx.SlashesAreDivisions() {
			got = append(got, text)
		}
	}
	if want := "/ 2 ; d = [ / e / ]"; strings.Join(got, " ") != want {
		t.Errorf("tokens where slashes are divisions: %q, want %q", strings.Join(got, " "), want)
	}
}

// TestLexerIsLinearOnHostileInput would time out if a failed regex guess
// were retried from every slash, or nesting were rescanned.
func TestLexerIsLinearOnHostileInput(t *testing.T) {
	for _, unit := range []string{"/[", "(/", "`${", "'\\", "/*", "x=/", "{}/", "{", "}"} {
		src := strings.Repeat(unit, 200000)
		n := 0
		Scan(src, func(Kind, string) { n++ })
		if n == 0 {
			t.Errorf("no tokens in %d bytes of %q", len(src), unit)
		}
	}
}

// isSpace is what the lexer skips between tokens.
func isSpace(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' }

func FuzzLexer(f *testing.F) {
	for _, s := range []string{
		"`a${`b${c}`}d`", "/[/]/", "if(x)/re/.test(y)", "a/b/c", "x=function(){}/\"/;y()",
		"/* unterminated", "'unterminated", "`unterminated ${", "}}}}", "#!/usr/bin/env node\nx()",
		"\xff\xfe\x00", "\u2028\u00a0caf\u00e9", `"https:\/\/evil.pw\/x"`, "x=/[ ; y=/b/\nz=/c/",
		"a\\\r\n/b/", "1.e+5.x", "<script>a()</script>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		lx := NewLexer(src)
		end := 0
		var pulled []tok
		for k, text, ok := lx.Next(); ok; k, text, ok = lx.Next() {
			pos := lx.Pos()
			if text == "" || k < Ident || k > Comment {
				t.Fatalf("empty token or bad kind %v at %d in %q", k, pos, src)
			}
			if pos < end || src[pos:pos+len(text)] != text {
				t.Fatalf("token %q at %d overlaps the previous one (ends %d) or is not at Pos", text, pos, end)
			}
			for _, r := range src[end:pos] {
				if !isSpace(r) {
					t.Fatalf("gap %q before %q is not whitespace: a byte belongs to no token", src[end:pos], text)
				}
			}
			end = pos + len(text)
			pulled = append(pulled, tok{k, text})
		}
		if lx.Pos() != len(src) {
			t.Fatalf("Pos at the end = %d, want %d", lx.Pos(), len(src))
		}
		for _, r := range src[end:] {
			if !isSpace(r) {
				t.Fatalf("trailing %q is not whitespace", src[end:])
			}
		}
		if fmt.Sprint(tokens(src)) != fmt.Sprint(pulled) {
			t.Fatalf("Scan and Lexer disagree on %q", src)
		}
	})
}
