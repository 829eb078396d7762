package scriptdiff

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skimguard/skimguard/internal/sharedfiles"
	"github.com/skimguard/skimguard/jstoken"
)

func TestPrettyLaysOutCode(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"empty source", "", ""},
		{"only whitespace", " \n\t\r\n", ""},
		{"breaks after semicolons and around braces",
			"a();if(x){b();c()}d()",
			"a();\nif(x){\n  b();\n  c()\n}\nd()\n"},
		{"for header keeps its semicolons",
			"for(var i=0;i<n;i++){f(i)}",
			"for(var i=0;i<n;i++){\n  f(i)\n}\n"},
		{"semicolons in a function inside parentheses still break",
			"(function(){a;b})()",
			"(function(){\n  a;\n  b\n})()\n"},
		{"empty block stays together", "x=function(){};", "x=function(){};\n"},
		{"else, catch and finally stay after the brace",
			"if(a){b()}else{c()}try{d()}catch(e){}finally{f()}",
			"if(a){\n  b()\n}else{\n  c()\n}\ntry{\n  d()\n}catch(e){}finally{\n  f()\n}\n"},
		{"statement after a block starts a line", "if(a){b()}c()", "if(a){\n  b()\n}\nc()\n"},
		{"literals and comments stay verbatim",
			"s=\"a;{b}\";r=/;{}/g;u=`x;${y};{`;/* c;{ */z()",
			"s=\"a;{b}\";\nr=/;{}/g;\nu=`x;${y};{`;\n/* c;{ */z()\n"},
		{"separated tokens stay separated",
			"return a;x=a - -b;y=a+ +b;z=a/ /re/.source",
			"return a;\nx=a - -b;\ny=a+ +b;\nz=a/ /re/.source\n"},
		{"own line breaks kept and blank lines collapsed",
			"a()\n\n\n\nb()\nc()",
			"a()\n\nb()\nc()\n"},
		{"existing code re-indented",
			"function f() {\n\t\tif (x) {\n    return 1;\n}\n}\n",
			"function f() {\n  if (x) {\n    return 1;\n  }\n}\n"},
		{"CRLF becomes LF", "a();\r\nb();\r\n", "a();\nb();\n"},
		{"line comment keeps its line end", "a()// note\nb()", "a()// note\nb()\n"},
		{"hashbang stays first", "#!/usr/bin/env node\nx()", "#!/usr/bin/env node\nx()\n"},
		{"a text starting with #! that is no hashbang keeps a space", " #!x", " #!x\n"},
		{"unterminated template at the end gets no final line break", "a;`b", "a;\n`b"},
		{"unterminated comment at the end gets no final line break", "a;/* b", "a;\n/* b"},
		{"whitespace after a backslash kept as it was", "a\\\r\n}", "a\\\r\n}\n"},
		{"indentation is capped",
			strings.Repeat("{", 20) + "x" + strings.Repeat("}", 20),
			func() string {
				var b strings.Builder
				for i := range 20 {
					b.WriteString(strings.Repeat("  ", min(i, maxIndent)) + "{\n")
				}
				b.WriteString(strings.Repeat("  ", maxIndent) + "x\n")
				for i := 19; i >= 0; i-- {
					b.WriteString(strings.Repeat("  ", min(i, maxIndent)) + "}\n")
				}
				return b.String()
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Pretty(tt.src); got != tt.want {
				t.Errorf("Pretty(%q):\n%s\nwant:\n%s", tt.src, got, tt.want)
			}
		})
	}
}

// TestPrettyKeepsALineWhoseSlashesDependOnIt: the lexer guesses a regex
// at "++/", finds no end on the line and takes the slash for a division,
// and with it every later slash on that line. A break after ";" would let
// "/b/" lex as a regex, so that stretch stays on one line.
func TestPrettyKeepsALineWhoseSlashesDependOnIt(t *testing.T) {
	src := "if(a){x=a++/2;y=[/b/]}"
	if broken := "if(a){\n  x=a++/2;\n  y=[/b/]\n}\n"; sameTokens(src, broken) {
		t.Fatalf("%q lexes like %q: the fixture no longer tests this", broken, src)
	}
	if got, want := Pretty(src), "if(a){\n  x=a++/2;y=[/b/]}\n"; got != want {
		t.Errorf("Pretty = %q, want %q", got, want)
	}
}

// sameTokens reports whether a and b split into the same tokens.
func sameTokens(a, b string) bool {
	la, lb := jstoken.NewLexer(a), jstoken.NewLexer(b)
	for {
		ka, ta, oka := la.Next()
		kb, tb, okb := lb.Next()
		if ka != kb || ta != tb || oka != okb {
			return false
		}
		if !oka {
			return true
		}
	}
}

// corpus reads this package's fixtures and, where the build machines have
// them, the real skimmer samples beside the repository; without those, a
// "corpus" subtest says they were skipped.
func corpus(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.js"))
	if dir, why := sharedfiles.CorpusDir(); dir != "" {
		samples, err := filepath.Glob(filepath.Join(dir, "*.txt"))
		if err != nil || len(samples) == 0 {
			t.Fatalf("no samples (*.txt) in %s: %v", dir, err)
		}
		files = append(files, samples...)
	} else {
		t.Run("corpus", func(t *testing.T) { t.Skipf("skipped: real skimmer samples not available: %s", why) })
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

func TestPrettyKeepsTokensOfRealScripts(t *testing.T) {
	for name, src := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			out := Pretty(src)
			if !sameTokens(src, out) {
				t.Fatalf("Pretty changed the tokens")
			}
			if again := Pretty(out); again != out {
				t.Errorf("Pretty is not stable")
			}
		})
	}
}

// TestPrettyKeepsJavaScriptValid checks with node that pretty-printed
// scripts still parse. node is optional on build machines.
func TestPrettyKeepsJavaScriptValid(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	for name, src := range corpus(t) {
		if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".js.txt") {
			continue
		}
		path := filepath.Join(t.TempDir(), "in.js")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if exec.Command(node, "--check", path).Run() != nil {
			continue // not a valid script to begin with
		}
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(Pretty(src)), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(node, "--check", path).CombinedOutput(); err != nil {
				t.Errorf("node rejects the pretty-printed script: %v\n%s", err, out)
			}
		})
	}
}

func TestMinified(t *testing.T) {
	lib := readFile(t, "library.min.js")
	tests := []struct {
		name, src string
		want      bool
	}{
		{"empty", "", false},
		{"short one-liner", "window.dataLayer=window.dataLayer||[];", false},
		{"minified library", lib, true},
		{"its pretty-printed form", Pretty(lib), false},
		{"one long line among short ones", "a();\n" + strings.Repeat("x", 1001) + "\nb();\n", true},
		{"long average line", strings.Repeat(strings.Repeat("y", 300)+"\n", 5), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Minified(tt.src); got != tt.want {
				t.Errorf("Minified = %v, want %v", got, tt.want)
			}
		})
	}
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzPretty(f *testing.F) {
	for _, s := range []string{
		"a();if(x){b();c()}d()", "for(;;){}", "x=/[ ; y=/b/\nz=/c/", "a\\\r\n}", " #!x", "#!x\ny",
		"`a${`b${c}`}d`", "'unterminated", "/* unterminated", "}}}{{{", "<html><script>a()</script>",
		"\xff\xfe\x00;{", "a\r\rb\n\n\nc", "return/x/;a++/2;b=c/d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		out := Pretty(src)
		if !sameTokens(src, out) {
			t.Fatalf("Pretty changed the tokens of %q:\n%q", src, out)
		}
		if again := Pretty(out); again != out {
			t.Fatalf("Pretty is not stable on %q:\n%q\n%q", src, out, again)
		}
	})
}

func BenchmarkPretty(b *testing.B) {
	src := bigLibrary(b, 200<<10)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		Pretty(src)
	}
}
