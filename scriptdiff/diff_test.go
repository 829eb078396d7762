package scriptdiff

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// apply rebuilds the text after from the text before and r, as patch
// would, failing t when a hunk does not fit. It returns the text with \n
// line breaks.
func apply(t testing.TB, before string, r Result) string {
	t.Helper()
	if r.Pretty {
		before = Pretty(before)
	}
	old := splitLines(before)
	var out []line
	next := 0 // index in old of the first line not yet copied
	for hi, h := range r.Hunks {
		start := h.OldStart - 1
		if h.OldLines == 0 {
			start = h.OldStart
		}
		if start < next || start > len(old) {
			t.Fatalf("hunk %d starts at old line %d, after line %d was already used", hi, h.OldStart, next)
		}
		out = append(out, old[next:start]...)
		next = start
		for _, l := range h.Lines {
			switch l.Op {
			case Equal, Delete:
				if next >= len(old) || old[next].text != l.Text || old[next].eol == l.NoNewline || l.Old != next+1 {
					t.Fatalf("hunk %d line %+v does not match old line %d", hi, l, next+1)
				}
				if l.Op == Equal {
					out = append(out, line{l.Text, !l.NoNewline})
					if l.New != len(out) {
						t.Fatalf("hunk %d line %+v: new line number should be %d", hi, l, len(out))
					}
				}
				next++
			case Insert:
				out = append(out, line{l.Text, !l.NoNewline})
				if l.New != len(out) || l.Old != 0 {
					t.Fatalf("hunk %d line %+v: want New %d and Old 0", hi, l, len(out))
				}
			}
		}
	}
	out = append(out, old[next:]...)
	var b strings.Builder
	for _, l := range out {
		b.WriteString(l.text)
		if l.eol {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// want is what apply must rebuild: the text after, pretty-printed like
// the diff, with \n line breaks.
func want(after string, r Result) string {
	if r.Pretty {
		after = Pretty(after)
	}
	return strings.ReplaceAll(after, "\r\n", "\n")
}

func TestDiff(t *testing.T) {
	lines := func(n int, f string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, f+"\n", i)
		}
		return b.String()
	}
	ten := lines(10, "line %d")
	tests := []struct {
		name, before, after string
		hunks               string // headers, as @@ -a,b +c,d @@ joined by spaces
		added, removed      int
	}{
		{"unchanged texts give no hunks", ten, ten, "", 0, 0},
		{"line endings alone give no hunks", ten, strings.ReplaceAll(ten, "\n", "\r\n"), "", 0, 0},
		{"a changed line comes with three lines of context",
			ten, strings.Replace(ten, "line 5\n", "line five\n", 1), "@@ -2,7 +2,7 @@", 1, 1},
		{"context stops at the top and bottom",
			ten, strings.Replace(strings.Replace(ten, "line 1\n", "first\n", 1), "line 10\n", "last\n", 1),
			"@@ -1,4 +1,4 @@ @@ -7,4 +7,4 @@", 2, 2},
		{"changes six unchanged lines apart share a hunk",
			lines(20, "l%d"), strings.Replace(strings.Replace(lines(20, "l%d"), "l5\n", "x\n", 1), "l12\n", "y\n", 1),
			"@@ -2,14 +2,14 @@", 2, 2},
		{"changes seven unchanged lines apart get two hunks",
			lines(20, "l%d"), strings.Replace(strings.Replace(lines(20, "l%d"), "l5\n", "x\n", 1), "l13\n", "y\n", 1),
			"@@ -2,7 +2,7 @@ @@ -10,7 +10,7 @@", 2, 2},
		{"inserted lines", "a\nb\nc\n", "a\nb\nnew\nc\n", "@@ -1,3 +1,4 @@", 1, 0},
		{"script added", "", "a\nb\n", "@@ -0,0 +1,2 @@", 2, 0},
		{"script removed", "a\nb\n", "", "@@ -1,2 +0,0 @@", 0, 2},
		{"final line break removed", "a\nb\n", "a\nb", "@@ -1,2 +1,2 @@", 1, 1},
		{"final line break added", "a\nb", "a\nb\n", "@@ -1,2 +1,2 @@", 1, 1},
		{"whitespace-only text", "", "\n", "@@ -0,0 +1,1 @@", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Diff(tt.before, tt.after)
			var hs []string
			for _, h := range r.Hunks {
				hs = append(hs, fmt.Sprintf("@@ -%d,%d +%d,%d @@", h.OldStart, h.OldLines, h.NewStart, h.NewLines))
			}
			if got := strings.Join(hs, " "); got != tt.hunks || r.Added != tt.added || r.Removed != tt.removed {
				t.Errorf("hunks %q +%d -%d, want %q +%d -%d\n%s", got, r.Added, r.Removed, tt.hunks, tt.added, tt.removed, r.Unified("before", "after"))
			}
			if r.Pretty || r.Truncated {
				t.Errorf("Pretty %v Truncated %v, want neither", r.Pretty, r.Truncated)
			}
			if got := apply(t, tt.before, r); got != want(tt.after, r) {
				t.Errorf("the hunks turn before into %q, want %q", got, want(tt.after, r))
			}
		})
	}
}

func TestDiffLineNumbers(t *testing.T) {
	r := Diff("a\nb\nc\nd\n", "a\nx\nc\nd\ne\n")
	type l struct {
		op       Op
		text     string
		old, new int
	}
	wantLines := []l{{Equal, "a", 1, 1}, {Delete, "b", 2, 0}, {Insert, "x", 0, 2}, {Equal, "c", 3, 3}, {Equal, "d", 4, 4}, {Insert, "e", 0, 5}}
	if len(r.Hunks) != 1 {
		t.Fatalf("%d hunks, want 1", len(r.Hunks))
	}
	var got []l
	for _, x := range r.Hunks[0].Lines {
		got = append(got, l{x.Op, x.Text, x.Old, x.New})
	}
	if fmt.Sprint(got) != fmt.Sprint(wantLines) {
		t.Errorf("lines\n got %v\nwant %v", got, wantLines)
	}
}

func TestDiffShowsSkimmerInMinifiedLibrary(t *testing.T) {
	lib, skim := readFile(t, "library.min.js"), readFile(t, "skimmer.min.js")
	tests := []struct{ name, after string }{
		{"appended on a line of its own", lib + skim},
		{"appended to the library's last line", strings.TrimSuffix(lib, "\n") + skim + "\n"},
		{"injected into a function body", strings.Replace(lib, "function init(o){", "function init(o){"+skim, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Diff(lib, tt.after)
			if !r.Pretty || r.Truncated {
				t.Fatalf("Pretty %v Truncated %v, want pretty-printed and whole", r.Pretty, r.Truncated)
			}
			var added []string
			for _, h := range r.Hunks {
				for _, l := range h.Lines {
					if l.Op == Insert {
						added = append(added, strings.TrimSpace(l.Text))
					}
				}
			}
			// Just the skimmer's lines, re-indented; nothing removed. The
			// injected copy takes its last ";" from the library's text.
			var skimLines []string
			for _, l := range strings.Split(strings.TrimSpace(Pretty(skim)), "\n") {
				skimLines = append(skimLines, strings.TrimSpace(l))
			}
			if r.Removed != 0 || strings.Join(added, "\n") != strings.Join(skimLines, "\n") {
				t.Errorf("-%d lines, added:\n%s\nwant only the skimmer:\n%s", r.Removed, strings.Join(added, "\n"), strings.Join(skimLines, "\n"))
			}
			if got := apply(t, lib, r); got != want(tt.after, r) {
				t.Errorf("the hunks do not rebuild the pretty-printed text after")
			}
		})
	}
}

func TestDiffIsMinimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() string {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(string(rune('a' + rng.IntN(3))))
			b.WriteByte('\n')
		}
		return b.String()
	}
	for i := range 3000 {
		before, after := random(), random()
		r := Diff(before, after)
		if r.Truncated {
			t.Fatalf("case %d truncated", i)
		}
		if got := apply(t, before, r); got != after {
			t.Fatalf("case %d: %q to %q rebuilt as %q", i, before, after, got)
		}
		if d := editDistance(splitLines(before), splitLines(after)); r.Added+r.Removed != d {
			t.Fatalf("case %d: %q to %q: %d edits, the shortest has %d\n%s", i, before, after, r.Added+r.Removed, d, r.Unified("a", "b"))
		}
	}
}

// editDistance counts the insertions and deletions of a shortest edit
// script, by dynamic programming.
func editDistance(a, b []line) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1]
			} else {
				cur[j] = 1 + min(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func TestDiffBoundsHostileInput(t *testing.T) {
	t.Run("a side over 2 MB is counted, not diffed", func(t *testing.T) {
		big := strings.Repeat("x\n", maxBytes/2+1)
		r := Diff("a\n", big)
		if !r.Truncated || len(r.Hunks) != 0 || r.Added != maxBytes/2+1 || r.Removed != 1 {
			t.Errorf("Truncated %v, %d hunks, +%d -%d", r.Truncated, len(r.Hunks), r.Added, r.Removed)
		}
	})
	t.Run("too many lines after pretty-printing are counted, not diffed", func(t *testing.T) {
		semis := strings.Repeat(";", maxLines+1) // minified: a line per ";" after, counted
		r := Diff("", semis)
		if !r.Truncated || !r.Pretty || len(r.Hunks) != 0 || r.Added != maxLines+1 {
			t.Errorf("Truncated %v Pretty %v, %d hunks, +%d", r.Truncated, r.Pretty, len(r.Hunks), r.Added)
		}
	})
	t.Run("texts too different are shown whole", func(t *testing.T) {
		before, after := hostilePair(20_000)
		r := Diff(before, after)
		if !r.Truncated || r.Pretty {
			t.Fatalf("Truncated %v Pretty %v, want a coarse line diff", r.Truncated, r.Pretty)
		}
		if got := apply(t, before, r); got != after {
			t.Errorf("the coarse hunks do not rebuild the text after")
		}
	})
}

// hostilePair returns two texts of n distinct 20-byte lines each: half of
// the lines after are lines before in reverse order, half are new, so a
// shortest edit script has about 1.5n edits.
func hostilePair(n int) (before, after string) {
	var a, b strings.Builder
	for i := range n {
		fmt.Fprintf(&a, "a%018d\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "a%018d\n", n-i)
		} else {
			fmt.Fprintf(&b, "b%018d\n", i)
		}
	}
	return a.String(), b.String()
}

func TestUnified(t *testing.T) {
	lib, skim := readFile(t, "library.min.js"), readFile(t, "skimmer.min.js")
	tests := []struct{ name, before, after string }{
		{"skimmer appended to a minified library", lib, lib + skim},
		{"edits without a final line break", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl", "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nL"},
		{"script added", "", "x()\n"},
		{"script removed", "x()\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.before, tt.after).Unified("approved", "observed")
			golden := filepath.Join("testdata", strings.ReplaceAll(tt.name, " ", "-")+".diff")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if got != string(b) {
				t.Errorf("unified diff differs from %s:\n%s", golden, got)
			}
		})
	}
	t.Run("unchanged texts give no text", func(t *testing.T) {
		if got := Diff("a\n", "a\r\n").Unified("a", "b"); got != "" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("names stay on their header lines", func(t *testing.T) {
		got := Diff("a\n", "b\n").Unified("x\ny", "z")
		if !strings.HasPrefix(got, "--- x y\n+++ z\n@@ ") {
			t.Errorf("got %q", got)
		}
	})
}

// TestUnifiedAppliesWithPatch feeds the unified text to patch(1), which
// build machines may lack.
func TestUnifiedAppliesWithPatch(t *testing.T) {
	patch, err := exec.LookPath("patch")
	if err != nil {
		t.Skip("patch is not installed")
	}
	lib, skim := readFile(t, "library.min.js"), readFile(t, "skimmer.min.js")
	before20, after20 := hostilePair(20)
	tests := []struct{ name, before, after string }{
		{"skimmer injected into a minified library", lib, strings.Replace(lib, "function init(o){", "function init(o){"+skim, 1)},
		{"several hunks", strings.Repeat("same\n", 10) + "a\n" + strings.Repeat("same\n", 10) + "b\n", "c\n" + strings.Repeat("same\n", 10) + "A\n" + strings.Repeat("same\n", 10)},
		{"final line break removed", "a\nb\n", "a\nb"},
		{"final line break added", "a\nb", "a\nb\n"},
		{"script added", "", "a\nb\n"},
		{"script removed", "a\nb\n", ""},
		{"texts too different, shown whole", before20, after20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Diff(tt.before, tt.after)
			dir := t.TempDir()
			orig, out := filepath.Join(dir, "orig.js"), filepath.Join(dir, "out.js")
			start := tt.before
			if r.Pretty {
				start = Pretty(start)
			}
			if err := os.WriteFile(orig, []byte(start), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(patch, "--batch", "--quiet", "-o", out, orig)
			cmd.Stdin = strings.NewReader(r.Unified("approved", "observed"))
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("patch: %v\n%s\n%s", err, msg, r.Unified("approved", "observed"))
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want(tt.after, r) {
				t.Errorf("patch made %q, want %q", got, want(tt.after, r))
			}
		})
	}
}

func FuzzDiff(f *testing.F) {
	lib, skim := readFile(f, "library.min.js"), readFile(f, "skimmer.min.js")
	f.Add(lib, lib+skim)
	f.Add("a\nb\nc\n", "a\nc\nd")
	f.Add("", "x")
	f.Add("a\r\nb", "a\nb\n")
	f.Add("x=/[ ; y=/b/", "x=/[ ; y=/b/;z()")
	f.Fuzz(func(t *testing.T, before, after string) {
		r := Diff(before, after)
		if r.Truncated && len(r.Hunks) == 0 && (r.Added != 0 || r.Removed != 0) {
			return // over the size caps
		}
		if got := apply(t, before, r); got != want(after, r) {
			t.Fatalf("the hunks rebuild %q, want %q", got, want(after, r))
		}
		if (len(r.Hunks) == 0) != (r.Unified("a", "b") == "") {
			t.Fatalf("%d hunks but unified text %q", len(r.Hunks), r.Unified("a", "b"))
		}
	})
}

// bigLibrary returns a minified script of about size bytes on one line:
// copies of the test library under other names.
func bigLibrary(tb testing.TB, size int) string {
	lib := readFile(tb, "library.min.js")
	lib = strings.TrimSpace(lib[strings.Index(lib, "\n")+1:])
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		b.WriteString(strings.NewReplacer("cartkit", fmt.Sprintf("cartkit%d", i), `"2.4.1"`, fmt.Sprintf(`"2.4.%d"`, i)).Replace(lib))
	}
	return b.String()
}

// BenchmarkDiff is the common case: a ~200 KB minified script with a
// skimmer injected in the middle.
func BenchmarkDiff(b *testing.B) {
	before := bigLibrary(b, 200<<10)
	mid := strings.Index(before[len(before)/2:], "function init(o){") + len(before)/2 + len("function init(o){")
	after := before[:mid] + readFile(b, "skimmer.min.js") + before[mid:]
	if r := Diff(before, after); !r.Pretty || r.Truncated || len(r.Hunks) != 1 {
		b.Fatalf("Pretty %v Truncated %v, %d hunks: not the intended case", r.Pretty, r.Truncated, len(r.Hunks))
	}
	b.SetBytes(int64(len(before) + len(after)))
	b.ReportAllocs()
	for b.Loop() {
		Diff(before, after)
	}
}

// BenchmarkDiffMinified2MB is a large bundle replaced by another build:
// 2 MB minified sides, pretty-printed, with a renamed identifier on many
// lines.
func BenchmarkDiffMinified2MB(b *testing.B) {
	before := bigLibrary(b, maxBytes-4096)
	after := strings.ReplaceAll(before, "emit", "fire")
	b.SetBytes(int64(len(before) + len(after)))
	b.ReportAllocs()
	for b.Loop() {
		Diff(before, after)
	}
}

// BenchmarkDiffHostile is the worst case the caps and the work budget
// bound: sides of 2 MB and 100,000 lines (the size cap comes first), with
// little in common.
func BenchmarkDiffHostile(b *testing.B) {
	before, after := hostilePair(100_000)
	if len(before) > maxBytes || len(after) > maxBytes {
		b.Fatal("over the size cap: not the intended case")
	}
	if r := Diff(before, after); !r.Truncated || len(r.Hunks) == 0 {
		b.Fatal("not truncated: the budget did not bound this case")
	}
	b.SetBytes(int64(len(before) + len(after)))
	b.ReportAllocs()
	for b.Loop() {
		Diff(before, after)
	}
}
