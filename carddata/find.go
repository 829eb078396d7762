package carddata

import (
	"bytes"
	"slices"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// Match says which of the card's fields a piece of data carried, and how
// they were encoded.
type Match struct {
	// Fields are sorted; they include FieldNumber unless only the expiry
	// and CVC were found.
	Fields   []skimguard.CardField
	Encoding string // plain, url, base64, base64-reversed, hex, ...
	// Truncated says that the number was found only cut to its first six
	// (to eight) and last four digits, as kits send it to tell cards apart
	// cheaply or to slip past searches for the whole number.
	Truncated bool
}

// Find reports whether data carries the card number (digits plain, or grouped
// with spaces or dashes), decoded through URL-encoding, base64 (also of JSON,
// also reversed) and hex. Other fields are reported only alongside the number.
//
// When the whole number is in none of those texts, Find also reports a
// text that carries its first six and last four digits, or the expiry
// with the CVC, close together: what a skimmer sends when it sends parts.
//
// Match.Encoding lists the decoding steps that revealed the number, outermost
// first, joined by "+": "plain" when none was needed, else steps among "url"
// (percent-encoding, "+" as space), "json" (\uXXXX, \xHH and \/ escapes),
// "base64" (standard or URL alphabet, padded or not), "base64-reversed" (a
// base64 text written backwards), "hex", and a final "reversed" when the
// decoded text itself was written backwards: "url+base64",
// "base64+reversed".
//
// The work is bounded: at most maxDepth decoding steps deep, only base64 runs
// of 16 characters or more and hex runs of 32 or more, and a budget of decoded
// bytes proportional to the input. The undecoded input is always searched
// whole.
func (c Card) Find(data []byte) (Match, bool) {
	if !validNumber(c.Number) {
		return Match{}, false
	}
	f := newFinder(c, len(data))
	f.parts = true
	if m, ok := f.find(data); ok {
		return m, true
	}
	if f.part != nil {
		return *f.part, true
	}
	return Match{}, false
}

// findNumber is Find for the whole number only: masking cuts the number to
// its first six and last four digits, which Find's search for parts would
// see again.
func (c Card) findNumber(data []byte) (Match, bool) {
	if !validNumber(c.Number) {
		return Match{}, false
	}
	return newFinder(c, len(data)).find(data)
}

// Limits that keep Find bounded on hostile input.
const (
	// maxDepth is how many decoding steps may be stacked.
	maxDepth = 4
	// minBase64Run is the shortest base64 run decoded: 12 bytes of text.
	minBase64Run = 16
	// minHexRun is the shortest hex run decoded: 16 bytes of text.
	minHexRun = 32
	// The budget bounds the bytes decoders read: budgetBase plus
	// budgetFactor times the input, at most budgetMax.
	budgetBase   = 1 << 20
	budgetFactor = 6
	budgetMax    = 64 << 20
	// sampleLen is how many characters of a run are decoded to guess its
	// alignment and direction before decoding it whole.
	sampleLen = 64
	// printableRatio is how much of a decoded text must be printable for it
	// to be decoded further.
	printableRatio = 0.85
)

// finder is the state of one Find: a breadth-first search over decoded
// texts, so that the shortest decoding chain wins.
type finder struct {
	card     Card
	fwd, bwd *digitMatcher
	budget   int
	queue    []node
	// later holds base64 runs that touch an escape: most likely pieces of a
	// blob that a url or json child holds whole, decoded on their own only
	// when nothing else matched, so that the longer chain, which sees all
	// the fields, wins.
	later []pending
	match Match
	found bool
	// parts turns on the search for parts of the card; part is the first
	// text found to carry them, reported if the number is found nowhere.
	parts bool
	part  *Match
}

// node is a text to search and decode further.
type node struct {
	text  []byte
	chain []string
	// fresh marks the positions in text that an unescaping step produced;
	// runs that touch none were already decoded in the parent. nil means
	// every run is new.
	fresh bitmap
	// madeEscape is set when the url (json) step that made text turned
	// escapes into backslashes (percent signs).
	madeEscape bool
}

// pending is a base64 run found in a text reached through chain.
type pending struct {
	run   []byte
	chain []string
}

// newFinder prepares a search for c's number in size bytes of input, with
// a decoding budget that grows with the input.
func newFinder(c Card, size int) *finder {
	num := []byte(c.Number)
	budget := budgetBase + budgetFactor*size
	if budget > budgetMax || budget < 0 {
		budget = budgetMax
	}
	return &finder{
		card:   c,
		fwd:    newDigitMatcher(num),
		bwd:    newDigitMatcher(reversed(num)),
		budget: budget,
	}
}

// find searches data whole, then the texts its decodings reveal, breadth
// first; base64 runs set aside for later go last.
func (f *finder) find(data []byte) (Match, bool) {
	f.checkParts(data, nil)
	if f.check(data, 0, len(data), nil) {
		return f.match, true
	}
	f.queue = append(f.queue, node{text: data})
	for !f.found && (len(f.queue) > 0 || len(f.later) > 0) {
		if len(f.queue) == 0 {
			p := f.later[0]
			f.later = f.later[1:]
			f.decodeBase64(p.run, p.chain)
			continue
		}
		n := f.queue[0]
		f.queue[0] = node{}
		f.queue = f.queue[1:]
		f.expand(n)
	}
	return f.match, f.found
}

// emit checks a decoded text and queues it for further decoding when it
// looks like text. It returns false once the number was found.
func (f *finder) emit(n node) bool {
	f.checkParts(n.text, n.chain)
	if n.fresh != nil {
		// An unescaped text: the number can only be new where escapes
		// were undone, and the text is as printable as its parent.
		if f.checkFresh(n) {
			return false
		}
		if len(n.chain) < maxDepth {
			f.queue = append(f.queue, n)
		}
		return true
	}
	if f.check(n.text, 0, len(n.text), n.chain) {
		return false
	}
	if len(n.chain) < maxDepth && printable(n.text) {
		f.queue = append(f.queue, n)
	}
	return true
}

// checkFresh looks for the number in the runs of digits and separators of
// n.text that hold a fresh position: any other match was in the parent.
func (f *finder) checkFresh(n node) bool {
	t := n.text
	end := 0
	found := false
	n.fresh.each(func(p int) bool {
		if p < end || p >= len(t) {
			return true
		}
		a, b := p, p+1
		for a > 0 && isNumberByte(t[a-1]) {
			a--
		}
		for b < len(t) && isNumberByte(t[b]) {
			b++
		}
		end = b
		found = f.check(t, a, b, n.chain)
		return !found
	})
	return found
}

// extend returns chain with step added, never writing into chain's array:
// siblings share their parent's chain.
func extend(chain []string, step string) []string {
	return append(slices.Clip(chain), step)
}

// check looks for the number in text[lo:hi], plain or reversed, and when
// found records the match with the fields text carries.
func (f *finder) check(text []byte, lo, hi int, chain []string) bool {
	start, end, isRev, ok := f.indexNumber(text[lo:hi], false)
	if !ok {
		return false
	}
	start, end = start+lo, end+lo
	steps := slices.Clone(chain)
	if isRev {
		text = reversed(text)
		start, end = len(text)-end, len(text)-start
		steps = append(steps, "reversed")
	}
	enc := "plain"
	if len(steps) > 0 {
		enc = strings.Join(steps, "+")
	}
	f.match = Match{Fields: f.card.fields(text, start, end), Encoding: enc}
	f.found = true
	return true
}

// expand decodes the escapes, base64 runs and hex runs of n.
func (f *finder) expand(n node) {
	t := n.text
	// url and json unescaping mostly commute: after one, the other is
	// applied only when the first made new escapes of its kind, so that
	// both orders are not searched.
	last := ""
	if len(n.chain) > 0 {
		last = n.chain[len(n.chain)-1]
	}
	if (last != "json" || n.madeEscape) && hasPercentEscape(t) && f.spend(len(t)) {
		out, fresh, made := urlDecode(t)
		if !f.emit(node{text: out, chain: extend(n.chain, "url"), fresh: fresh, madeEscape: made}) {
			return
		}
	}
	if (last != "url" || n.madeEscape) && hasBackslashEscape(t) && f.spend(len(t)) {
		out, fresh, made := unescape(t)
		if !f.emit(node{text: out, chain: extend(n.chain, "json"), fresh: fresh, madeEscape: made}) {
			return
		}
	}
	if n.fresh == nil {
		f.scanRuns(n, 0, len(t))
		return
	}
	// Only the blobs around fresh positions are new.
	end := 0
	n.fresh.each(func(p int) bool {
		if p < end || p >= len(t) {
			return true
		}
		a, b := p, p+1
		for a > 0 && isBlobByte(t[a-1]) {
			a--
		}
		for b < len(t) && isBlobByte(t[b]) {
			b++
		}
		end = b
		f.scanRuns(n, a, b)
		return !f.found
	})
}

// scanRuns decodes the base64 and hex runs of n.text[lo:hi].
func (f *finder) scanRuns(n node, lo, hi int) {
	t := n.text
	// Escapes (%XX, \X) end runs and are skipped whole. Hex runs are
	// found inside base64 runs, whose alphabet holds theirs.
	afterEscape := false
	for i := lo; i < hi && !f.found; {
		if c := t[i]; c == '%' || c == '\\' {
			if k := escapeLen(t[i:]); k > 0 {
				i += k
				afterEscape = true
				continue
			}
		}
		if !isBase64Byte(t[i]) {
			i++
			afterEscape = false
			continue
		}
		j := i
		for j < hi && isBase64Byte(t[j]) {
			j++
		}
		start, run := i, t[i:j]
		touches := afterEscape || (j < hi && escapeLen(t[j:]) > 0)
		i, afterEscape = j, false
		if len(run) < minBase64Run || !isFresh(n.fresh, start, j) {
			continue
		}
		if len(run) >= minHexRun {
			f.hexRuns(run, start, n)
		}
		// Runs of hex digits only (ids, timestamps, digests) are left to
		// the hex decoder: base64 of text is never one.
		if f.found || allHex(run) {
			continue
		}
		if touches {
			f.later = append(f.later, pending{run: run, chain: n.chain})
			continue
		}
		f.decodeBase64(run, n.chain)
	}
}

// hexRuns decodes the hex runs inside run, a base64 run at offset base in
// n's text.
func (f *finder) hexRuns(run []byte, base int, n node) {
	for i := 0; i < len(run) && !f.found; {
		if !isHexByte(run[i]) {
			i++
			continue
		}
		j := i
		for j < len(run) && isHexByte(run[j]) {
			j++
		}
		start, hex := i, run[i:j]
		i = j
		if len(hex) >= minHexRun && isFresh(n.fresh, base+start, base+j) {
			f.decodeHex(hex, n.chain)
		}
	}
}

// isFresh reports whether [start, end) touches one of the fresh positions.
func isFresh(fresh bitmap, start, end int) bool {
	if fresh == nil {
		return true
	}
	return fresh.any(max(start-1, 0), end+1)
}

// decodeBase64 decodes a base64 run, in each direction, in the first
// alignment whose sample reads as text; runs that read as text in none are
// left alone, so digits inside base64 of binary data are not seen. Both
// directions are tried: a forward decode of reversed base64 can pass the
// text test by chance and must not hide the reversed reading.
func (f *finder) decodeBase64(run []byte, chain []string) {
	var buf [sampleLen]byte
	for _, rev := range []bool{false, true} {
		if f.found {
			return
		}
		src := run
		if rev {
			src = reversed(run)
		}
	alignments:
		for off := 0; off < 4 && off < len(src); off++ {
			smp := sample(src, off, 4)
			if !f.spend(len(smp)) {
				return
			}
			if !printable(base64Decode(buf[:0], smp)) {
				continue
			}
			if !f.spend(len(src)) {
				return
			}
			name := "base64"
			if rev {
				name = "base64-reversed"
			}
			f.emit(node{text: base64Decode(nil, src[off:]), chain: extend(chain, name)})
			break alignments
		}
	}
	// Not text in any alignment: binary data, or not base64 at all.
}

// decodeHex is decodeBase64 for hex runs, without the reversal.
func (f *finder) decodeHex(run []byte, chain []string) {
	var buf [sampleLen]byte
	for off := range 2 {
		smp := sample(run, off, 2)
		if !f.spend(len(smp)) {
			return
		}
		if !printable(hexDecode(buf[:0], smp)) {
			continue
		}
		if f.spend(len(run)) {
			f.emit(node{text: hexDecode(nil, run[off:]), chain: extend(chain, "hex")})
		}
		return
	}
}

// sample returns up to sampleLen characters from the middle of src, at a
// position that keeps the alignment off modulo group.
func sample(src []byte, off, group int) []byte {
	n := len(src) - off
	if n <= sampleLen {
		return src[off:]
	}
	start := off + (n-sampleLen)/2/group*group
	return src[start : start+sampleLen]
}

// spend takes n bytes from the decoding budget. Once it reports false the
// budget is gone and every later spend fails too.
func (f *finder) spend(n int) bool {
	if n > f.budget {
		f.budget = 0
		return false
	}
	f.budget -= n
	return true
}

// fields lists the card fields in text, whose bytes [start, end) hold the
// number.
func (c Card) fields(text []byte, start, end int) []skimguard.CardField {
	fields := []skimguard.CardField{skimguard.FieldNumber}
	rest := make([]byte, 0, len(text)-(end-start)+1)
	rest = append(rest, text[:start]...)
	rest = append(rest, ' ')
	rest = append(rest, text[end:]...)

	// The fields may still be escaped where the number needed no decoding:
	// "%22cvc%22%3A%22417%22".
	variants := [][]byte{rest}
	if hasPercentEscape(rest) {
		out, _, _ := urlDecode(rest)
		variants = append(variants, out)
	}
	if hasBackslashEscape(rest) {
		out, _, _ := unescape(rest)
		variants = append(variants, out)
	}
	tokens := map[string]bool{}
	for _, v := range variants {
		addDigitTokens(tokens, v)
	}
	if c.CVC != "" && tokens[c.CVC] {
		fields = append(fields, skimguard.FieldCVC)
	}
	if c.ExpMonth != "" && c.ExpYear != "" {
		hasMonth := tokens[c.ExpMonth] || tokens[strings.TrimLeft(c.ExpMonth, "0")]
		hasYear := tokens[c.ExpYear] || tokens["20"+c.ExpYear]
		joined := tokens[c.ExpMonth+c.ExpYear] || tokens[c.ExpMonth+"20"+c.ExpYear]
		if joined || (hasMonth && hasYear) {
			fields = append(fields, skimguard.FieldExpiry)
		}
	}
	if words := strings.Fields(strings.ToLower(c.Name)); len(words) > 0 {
		for _, v := range variants {
			if containsWords(bytes.ToLower(v), words) {
				fields = append(fields, skimguard.FieldName)
				break
			}
		}
	}
	slices.Sort(fields)
	return fields
}

// containsWords reports whether every word is in text.
func containsWords(text []byte, words []string) bool {
	for _, w := range words {
		if !bytes.Contains(text, []byte(w)) {
			return false
		}
	}
	return true
}

// addDigitTokens adds the short maximal digit runs of text to tokens.
func addDigitTokens(tokens map[string]bool, text []byte) {
	for i, j := nextDigits(text, 0); i >= 0; i, j = nextDigits(text, j) {
		if j-i <= 6 {
			tokens[string(text[i:j])] = true
		}
	}
}
