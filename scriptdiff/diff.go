package scriptdiff

import (
	"hash/maphash"
	"iter"
	"strings"
)

// Bounds on the work of one Diff. A skimmer page chooses what it serves, so
// a diff must stay cheap on any input: linear memory, and time bounded by
// the input caps and the work budget (~100 ms).
const (
	maxBytes   = 2 << 20      // per side, as given
	maxPretty  = 2 * maxBytes // per side, after pretty-printing
	maxLines   = 200_000      // per side, after pretty-printing
	maxWork    = 5_000_000    // diagonal steps and line comparisons
	contextLen = 3            // unchanged lines around each change
)

// Op says what happened to a line.
type Op int

// Line operations.
const (
	Equal  Op = iota // in both texts
	Delete           // only in the text before
	Insert           // only in the text after
)

// String returns "equal", "delete" or "insert".
func (o Op) String() string {
	switch o {
	case Equal:
		return "equal"
	case Delete:
		return "delete"
	case Insert:
		return "insert"
	}
	return "op?"
}

// Line is one line of a hunk.
type Line struct {
	Op   Op
	Text string // without its line break
	// Old and New are the line's 1-based numbers in the text before and
	// after, 0 on the side it is not in.
	Old, New int
	// NoNewline marks the last line of a text that does not end with a
	// line break.
	NoNewline bool
}

// Hunk is a run of changed lines with up to three unchanged lines of
// context on either side, as in a unified diff.
type Hunk struct {
	// OldStart is the number of the hunk's first line in the text before
	// and OldLines how many of its lines are there; both are 0 when that
	// text is empty (with context, that is the only way a hunk has no
	// lines on a side). NewStart and NewLines are the same for the text
	// after.
	OldStart, OldLines int
	NewStart, NewLines int
	Lines              []Line
}

// Result is a line diff of two texts.
type Result struct {
	// Pretty is set when either text looked minified, so both were
	// pretty-printed before the diff: line numbers are Pretty's lines.
	Pretty bool
	// Hunks are empty when the texts are the same line by line.
	Hunks []Hunk
	// Added and Removed count inserted and deleted lines.
	Added, Removed int
	// Truncated is set when the texts were too large (over 2 MB, or 200,000
	// lines after pretty-printing) or too different to diff within the
	// work budget: then some or all of the change is shown coarsely, every
	// line before removed and every line after added. Over the size caps
	// Hunks are empty and only Added and Removed are counted.
	Truncated bool
}

// Diff compares two texts line by line. Line breaks may be \n or \r\n:
// texts that differ only in that are the same. When either text looks
// Minified, both are pretty-printed first (see Pretty). An empty text
// (a script added or removed) is a text without lines.
func Diff(before, after string) Result {
	var r Result
	if before == after {
		return r
	}
	if len(before) > maxBytes || len(after) > maxBytes {
		return tooLarge(before, after)
	}
	if Minified(before) || Minified(after) {
		b, okb := pretty(before, maxPretty)
		a, oka := pretty(after, maxPretty)
		if !okb || !oka {
			return tooLarge(before, after)
		}
		before, after, r.Pretty = b, a, true
	}
	if countLines(before) > maxLines || countLines(after) > maxLines {
		tl := tooLarge(before, after)
		tl.Pretty = r.Pretty
		return tl
	}
	old, new := splitLines(before), splitLines(after)
	deleted, inserted := make([]bool, len(old)), make([]bool, len(new))
	// Most changes leave most lines in place: only the middle needs the
	// search.
	pre := 0
	for pre < len(old) && pre < len(new) && old[pre] == new[pre] {
		pre++
	}
	suf := 0
	for suf < len(old)-pre && suf < len(new)-pre && old[len(old)-1-suf] == new[len(new)-1-suf] {
		suf++
	}
	d := newDiffer(old[pre:len(old)-suf], new[pre:len(new)-suf], deleted[pre:len(old)-suf], inserted[pre:len(new)-suf])
	d.compare(0, len(d.old), 0, len(d.new))
	r.Truncated = d.truncated
	r.Hunks, r.Added, r.Removed = hunks(old, new, deleted, inserted)
	return r
}

// tooLarge is the Result for texts over the size caps: counts only.
func tooLarge(before, after string) Result {
	return Result{Truncated: true, Removed: countLines(before), Added: countLines(after)}
}

// line is a line of a text without its line break; eol says whether it
// had one.
type line struct {
	text string
	eol  bool
}

func splitLines(s string) []line {
	lines := make([]line, 0, countLines(s))
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, line{s, false})
			break
		}
		lines = append(lines, line{strings.TrimSuffix(s[:i], "\r"), true})
		s = s[i+1:]
	}
	return lines
}

func countLines(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && s[len(s)-1] != '\n' {
		n++
	}
	return n
}

// differ finds a shortest edit script between two sequences of lines
// with Myers' O(ND) algorithm in linear space: it bisects on the middle of
// an optimal path and recurses on both halves.
type differ struct {
	old, new []line
	// ha and hb hash the lines of old and new: unequal hashes settle most
	// comparisons without reading the lines.
	ha, hb []uint64
	// deleted and inserted mark lines of old and new that are not in the
	// common subsequence.
	deleted, inserted []bool
	// vf and vb hold, per diagonal, the furthest x the forward and the
	// backward searches reached.
	vf, vb []int
	// work counts steps against maxWork; when it runs out, what is left
	// is marked coarsely and truncated is set.
	work      int
	truncated bool
}

// newDiffer prepares to diff old and new, marking differences in deleted
// and inserted, which parallel them. A last line without a line break is
// a different line from the same text with one, as in diff(1).
func newDiffer(old, new []line, deleted, inserted []bool) *differ {
	d := &differ{
		old: old, new: new, ha: make([]uint64, len(old)), hb: make([]uint64, len(new)),
		deleted: deleted, inserted: inserted,
	}
	seed := maphash.MakeSeed()
	for i, l := range old {
		d.ha[i] = maphash.String(seed, l.text)
	}
	for i, l := range new {
		d.hb[i] = maphash.String(seed, l.text)
	}
	return d
}

// eq reports whether line i of old equals line j of new.
func (d *differ) eq(i, j int) bool { return d.ha[i] == d.hb[j] && d.old[i] == d.new[j] }

// compare marks the differences between a[aLo:aHi] and b[bLo:bHi].
func (d *differ) compare(aLo, aHi, bLo, bHi int) {
	for aLo < aHi && bLo < bHi && d.eq(aLo, bLo) {
		aLo, bLo = aLo+1, bLo+1
	}
	for aLo < aHi && bLo < bHi && d.eq(aHi-1, bHi-1) {
		aHi, bHi = aHi-1, bHi-1
	}
	switch {
	case aLo == aHi:
		for j := bLo; j < bHi; j++ {
			d.inserted[j] = true
		}
		return
	case bLo == bHi:
		for i := aLo; i < aHi; i++ {
			d.deleted[i] = true
		}
		return
	}
	x, y, ok := d.bisect(aLo, aHi, bLo, bHi)
	if !ok {
		d.truncated = true
		for i := aLo; i < aHi; i++ {
			d.deleted[i] = true
		}
		for j := bLo; j < bHi; j++ {
			d.inserted[j] = true
		}
		return
	}
	d.compare(aLo, x, bLo, y)
	d.compare(x, aHi, y, bHi)
}

// bisect returns a point (x, y) on a shortest edit path from (aLo, bLo) to
// (aHi, bHi) with at least one edit on either side of it, so that both
// halves are smaller problems. The ranges must differ in their first and
// last lines (compare trims them). ok is false when the work budget runs
// out first.
//
// Coordinates are relative to (aLo, bLo); diagonal k holds the points with
// x - y = k. The backward search runs on the reversed sequences, so its x
// counts lines from the ends.
func (d *differ) bisect(aLo, aHi, bLo, bHi int) (x, y int, ok bool) {
	n, m := aHi-aLo, bHi-bLo
	maxD := (n + m + 1) / 2
	off := maxD + 1
	size := 2*maxD + 3
	if cap(d.vf) < size {
		d.vf, d.vb = make([]int, size), make([]int, size)
	}
	vf, vb := d.vf[:size], d.vb[:size]
	for i := range vf {
		vf[i], vb[i] = -1, -1
	}
	vf[off+1], vb[off+1] = 0, 0
	delta := n - m
	odd := delta%2 != 0
	// Diagonals whose paths ran off the grid are skipped from then on.
	fLo, fHi, bkLo, bkHi := 0, 0, 0, 0
	for D := 0; D <= maxD; D++ {
		if d.work += 2*D + 2; d.work > maxWork {
			return 0, 0, false
		}
		for k := -D + fLo; k <= D-fHi; k += 2 {
			i := off + k
			var x int
			if k == -D || k != D && vf[i-1] < vf[i+1] {
				x = vf[i+1] // down from diagonal k+1
			} else {
				x = vf[i-1] + 1 // right from diagonal k-1
			}
			y := x - k
			x0 := x
			for x < n && y < m && d.eq(aLo+x, bLo+y) {
				x, y = x+1, y+1
			}
			d.work += x - x0
			vf[i] = x
			switch {
			case x > n:
				fHi += 2
			case y > m:
				fLo += 2
			case odd:
				// The backward search has run D-1 steps; did it reach
				// this diagonal at or before x?
				if j := off + delta - k; j >= 0 && j < size && vb[j] >= 0 && x >= n-vb[j] {
					return aLo + x, bLo + y, true
				}
			}
		}
		for k := -D + bkLo; k <= D-bkHi; k += 2 {
			i := off + k
			var x int
			if k == -D || k != D && vb[i-1] < vb[i+1] {
				x = vb[i+1]
			} else {
				x = vb[i-1] + 1
			}
			y := x - k
			x0 := x
			for x < n && y < m && d.eq(aHi-1-x, bHi-1-y) {
				x, y = x+1, y+1
			}
			d.work += x - x0
			vb[i] = x
			switch {
			case x > n:
				bkHi += 2
			case y > m:
				bkLo += 2
			case !odd:
				// The forward search has run D steps; did it reach this
				// diagonal at or beyond the point found here?
				if j := off + delta - k; j >= 0 && j < size && vf[j] >= 0 && vf[j] >= n-x {
					return aLo + n - x, bLo + m - y, true
				}
			}
		}
	}
	return 0, 0, false // not reached: the searches meet by D = maxD
}

// hunks groups the marked lines into hunks with context. A first walk
// over the edit script finds the hunks' extents, a second fills them, so
// that each hunk is allocated once at its size.
func hunks(old, new []line, deleted, inserted []bool) (hs []Hunk, added, removed int) {
	type span struct{ first, last int } // changed lines, as indexes in the script
	var spans []span
	total := 0
	for n, l := range script(old, new, deleted, inserted) {
		total = n + 1
		switch l.Op {
		case Equal:
			continue
		case Insert:
			added++
		case Delete:
			removed++
		}
		// Share a hunk while the unchanged lines in between are at most
		// two contexts' worth.
		if k := len(spans) - 1; k >= 0 && n-spans[k].last-1 <= 2*contextLen {
			spans[k].last = n
		} else {
			spans = append(spans, span{n, n})
		}
	}
	if len(spans) == 0 {
		return nil, 0, 0
	}
	lines := make([][]Line, len(spans))
	k := 0
	for n, l := range script(old, new, deleted, inserted) {
		lo, hi := max(spans[k].first-contextLen, 0), min(spans[k].last+1+contextLen, total)
		if n < lo {
			continue
		}
		if lines[k] == nil {
			lines[k] = make([]Line, 0, hi-lo)
		}
		lines[k] = append(lines[k], l)
		if n == hi-1 {
			if k++; k == len(spans) {
				break
			}
		}
	}
	for _, ls := range lines {
		hs = append(hs, newHunk(ls))
	}
	return hs, added, removed
}

// script yields the lines of the edit script in order with their indexes:
// deletions before insertions where lines changed.
func script(old, new []line, deleted, inserted []bool) iter.Seq2[int, Line] {
	return func(yield func(int, Line) bool) {
		i, j := 0, 0
		for n := 0; i < len(old) || j < len(new); n++ {
			var l Line
			switch {
			case i < len(old) && deleted[i]:
				l = Line{Op: Delete, Text: old[i].text, Old: i + 1, NoNewline: !old[i].eol}
				i++
			case j < len(new) && inserted[j]:
				l = Line{Op: Insert, Text: new[j].text, New: j + 1, NoNewline: !new[j].eol}
				j++
			default:
				l = Line{Op: Equal, Text: old[i].text, Old: i + 1, New: j + 1, NoNewline: !old[i].eol}
				i, j = i+1, j+1
			}
			if !yield(n, l) {
				return
			}
		}
	}
}

func newHunk(lines []Line) Hunk {
	h := Hunk{Lines: lines}
	for _, l := range lines {
		if l.Old > 0 {
			if h.OldLines == 0 {
				h.OldStart = l.Old
			}
			h.OldLines++
		}
		if l.New > 0 {
			if h.NewLines == 0 {
				h.NewStart = l.New
			}
			h.NewLines++
		}
	}
	return h
}
