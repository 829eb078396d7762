// Package carddata holds the test card the crawler types into payment forms
// and finds that card's data in the bytes of a request, through the encodings
// skimmers use.
package carddata

import (
	"bytes"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"

	skimguard "github.com/skimguard/skimguard"
)

// Card is a test payment card. Its number is Luhn-valid so that a skimmer
// that validates cards before stealing them still fires.
type Card struct {
	Number   string // digits only
	ExpMonth string // two digits, "01".."12"
	ExpYear  string // two digits
	CVC      string
	Name     string
}

// Test returns the card skimguard types by default.
func Test() Card {
	return Card{Number: "4929386160871730", ExpMonth: "09", ExpYear: "31", CVC: "417", Name: "Tessa Skimguard"}
}

// Expiry returns the expiry as typed into a single field, "MM/YY".
func (c Card) Expiry() string { return c.ExpMonth + "/" + c.ExpYear }

// Value returns what to type into a field asking for f.
func (c Card) Value(f skimguard.CardField) string {
	switch f {
	case skimguard.FieldNumber:
		return c.Number
	case skimguard.FieldExpiry:
		return c.Expiry()
	case skimguard.FieldCVC:
		return c.CVC
	case skimguard.FieldName:
		return c.Name
	}
	return ""
}

// Match says which of the card's fields a piece of data carried, and how
// they were encoded.
type Match struct {
	Fields   []skimguard.CardField // sorted; always includes FieldNumber
	Encoding string                // plain, url, base64, base64-reversed, hex, ...
}

// Find reports whether data carries the card number (digits plain, or grouped
// with spaces or dashes), decoded through URL-encoding, base64 (also of JSON,
// also reversed) and hex. Other fields are reported only alongside the number.
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
	return newFinder(c, len(data)).find(data)
}

// Mask replaces every occurrence of the card number in s (as Find would see
// it in plain or URL-encoded text) by its masked form, first six and last
// four digits kept, so that logs and evidence never hold the full number.
// Reversed digits, and base64, hex and escaped blobs that carry the number
// once decoded, are replaced by "[card data]". Should Find still see the
// number in the result, the whole string is replaced by "[card data]".
func (c Card) Mask(s string) string {
	if !validNumber(c.Number) || s == "" {
		return s
	}
	masked := c.Number[:6] + "******" + c.Number[len(c.Number)-4:]
	if len(c.Number) < 12 {
		masked = strings.Repeat("*", len(c.Number))
	}
	f := newFinder(c, len(s))
	b := []byte(s)
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		start, end, isRev, ok := f.indexNumber(b[i:], true)
		if !ok {
			break
		}
		start, end = start+i, end+i
		out = append(out, b[last:start]...)
		if isRev {
			out = append(out, cardDataMark...)
		} else {
			out = append(out, masked...)
		}
		last, i = end, end
	}
	if out != nil {
		b = append(out, b[last:]...)
	}

	// Blobs: runs that a decoder could turn into the number.
	out = make([]byte, 0, len(b))
	last = 0
	for i := 0; i < len(b); {
		if !isBlobByte(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isBlobByte(b[j]) {
			j++
		}
		for j < len(b) && b[j] == '=' {
			j++
		}
		if j-i >= minBase64Run {
			if _, found := c.Find(b[i:j]); found {
				out = append(out, b[last:i]...)
				out = append(out, cardDataMark...)
				last = j
			}
		}
		i = j
	}
	out = append(out, b[last:]...)
	if _, found := c.Find(out); found {
		return cardDataMark
	}
	return string(out)
}

// cardDataMark is what Mask writes in place of encoded card data.
const cardDataMark = "[card data]"

// Luhn reports whether digits, a string of decimal digits only, passes the
// Luhn (mod 10) check that card numbers carry.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := digits[i]
		if d < '0' || d > '9' {
			return false
		}
		n := int(d - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
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

func validNumber(n string) bool {
	if len(n) < 12 || len(n) > 19 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !isDigit(n[i]) {
			return false
		}
	}
	return true
}

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

func (f *finder) find(data []byte) (Match, bool) {
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

// bitmap is a set of positions in a text.
type bitmap []uint64

func newBitmap(n int) bitmap { return make(bitmap, n/64+1) }

func (b bitmap) set(i int) { b[i/64] |= 1 << (i % 64) }

// each calls fn with the set positions in increasing order until fn
// returns false.
func (b bitmap) each(fn func(int) bool) {
	for wi, w := range b {
		for w != 0 {
			if !fn(wi*64 + bits.TrailingZeros64(w)) {
				return
			}
			w &= w - 1
		}
	}
}

// any reports whether a position in [from, to) is set.
func (b bitmap) any(from, to int) bool {
	to = min(to, len(b)*64)
	for i := from; i < to; {
		w := b[i/64] >> (i % 64)
		if w == 0 {
			i = (i/64 + 1) * 64
			continue
		}
		return i+bits.TrailingZeros64(w) < to
	}
	return false
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
	for i := 0; i < len(text); {
		if !isDigit(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		if j-i <= 6 {
			tokens[string(text[i:j])] = true
		}
		i = j
	}
}

// Byte classes for indexNumber.
const (
	classOther = iota
	classDigit
	classSeparator
	classPercent
)

// isNumberByte reports whether c can be part of a number match: a digit or
// a separator.
func isNumberByte(c byte) bool {
	k := byteClass[c]
	return k == classDigit || k == classSeparator
}

var byteClass = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = classDigit
	}
	for _, c := range " \t-+" {
		t[c] = classSeparator
	}
	t['%'] = classPercent
	return t
}()

// indexNumber finds the first occurrence of the number, or of the number
// written backwards, in text as a run of digits that may be broken by
// separators (spaces, tabs, dashes, plus signs; with urlSeps also their
// percent-encoded forms, once or twice encoded). It returns the byte span
// from the first to the last digit.
func (f *finder) indexNumber(text []byte, urlSeps bool) (start, end int, isRev, ok bool) {
	a, b := f.fwd, f.bwd
	a.q, b.q = 0, 0
	// Outside a partial match, jump to the next digit that can start one.
	nextA, nextB := -1, -1
	for i := 0; i < len(text); i++ {
		if a.q == 0 && b.q == 0 {
			if nextA < i {
				nextA = indexFrom(text, i, a.pat[0])
			}
			if nextB < i {
				nextB = indexFrom(text, i, b.pat[0])
			}
			if i = min(nextA, nextB); i >= len(text) {
				break
			}
		}
		switch byteClass[text[i]] {
		case classDigit:
			ch := text[i]
			// Most digits start no match: skip the calls.
			if a.q == 0 && b.q == 0 && ch != a.pat[0] && ch != b.pat[0] {
				continue
			}
			if s, ok := a.feed(ch, i); ok {
				return s, i + 1, false, true
			}
			if s, ok := b.feed(ch, i); ok {
				return s, i + 1, true, true
			}
		case classSeparator:
		case classPercent:
			if urlSeps {
				if n := percentSeparatorLen(text[i:]); n > 0 {
					i += n - 1
					continue
				}
			}
			a.q, b.q = 0, 0
		default:
			a.q, b.q = 0, 0
		}
	}
	return 0, 0, false, false
}

// indexFrom returns the index of the first c in text at or after from, or
// len(text).
func indexFrom(text []byte, from int, c byte) int {
	if k := bytes.IndexByte(text[from:], c); k >= 0 {
		return from + k
	}
	return len(text)
}

// digitMatcher is a Knuth-Morris-Pratt matcher over a stream of digits that
// remembers where each matched digit sat.
type digitMatcher struct {
	pat  []byte
	fail []int
	pos  []int
	q    int
}

func newDigitMatcher(pat []byte) *digitMatcher {
	fail := make([]int, len(pat)+1)
	k := 0
	for i := 1; i < len(pat); i++ {
		for k > 0 && pat[i] != pat[k] {
			k = fail[k]
		}
		if pat[i] == pat[k] {
			k++
		}
		fail[i+1] = k
	}
	return &digitMatcher{pat: pat, fail: fail, pos: make([]int, len(pat))}
}

// feed adds the digit ch found at index i and reports where a full match
// starts when ch completes one.
func (m *digitMatcher) feed(ch byte, i int) (int, bool) {
	for m.q > 0 && m.pat[m.q] != ch {
		m.shift(m.fail[m.q])
	}
	if m.pat[m.q] == ch {
		m.pos[m.q] = i
		m.q++
	}
	if m.q == len(m.pat) {
		start := m.pos[0]
		m.shift(m.fail[m.q])
		return start, true
	}
	return 0, false
}

// shift keeps the last k matched digits as the new partial match.
func (m *digitMatcher) shift(k int) {
	copy(m.pos[:k], m.pos[m.q-k:m.q])
	m.q = k
}

// percentSeparatorLen returns the length of the percent-encoded separator
// (%20, %2D, %2B, %09, or the same encoded twice: %2520) b starts with, or 0.
func percentSeparatorLen(b []byte) int {
	if len(b) >= 3 && isSepEscape(b[1], b[2]) {
		return 3
	}
	if len(b) >= 5 && b[1] == '2' && b[2] == '5' && isSepEscape(b[3], b[4]) {
		return 5
	}
	return 0
}

func isSepEscape(x, y byte) bool {
	switch x {
	case '2':
		return y == '0' || y == 'd' || y == 'D' || y == 'b' || y == 'B'
	case '0':
		return y == '9'
	}
	return false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isHexByte(b byte) bool { return hexValue[b] != 0xff }

func isBase64Byte(b byte) bool { return base64Value[b] != 0xff }

// isBlobByte reports whether b can sit inside an encoded blob that Mask
// replaces whole: base64 of either alphabet, percent escapes, backslash
// escapes.
func isBlobByte(b byte) bool { return isBase64Byte(b) || b == '%' || b == '\\' }

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

// printable reports whether text looks like text rather than the garbage of
// a wrong decoding: mostly printable ASCII or valid UTF-8 beyond it. It
// gives up as soon as too much is garbage.
func printable(text []byte) bool {
	if len(text) == 0 {
		return false
	}
	allowed := len(text) - int(printableRatio*float64(len(text)))
	bad := 0
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if !printableASCII[c] {
				if bad++; bad > allowed {
					return false
				}
			}
			i++
			continue
		}
		size := 1
		if c >= 0xc2 && c <= 0xf4 {
			// Only these can start a valid multi-byte sequence.
			var r rune
			r, size = utf8.DecodeRune(text[i:])
			if r != utf8.RuneError {
				i += size
				continue
			}
		}
		if bad += size; bad > allowed {
			return false
		}
		i += size
	}
	return true
}

var printableASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\n'], t['\r'], t['\t'] = true, true, true
	return t
}()

// base64Value maps both base64 alphabets to 6-bit values; 0xff marks other
// bytes.
var base64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = byte(i)
	}
	t['-'] = 62
	t['_'] = 63
	return t
}()

// hexValue maps hex digits of either case to their value; 0xff marks other
// bytes.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < 10; i++ {
		t['0'+i] = byte(i)
	}
	for i := 0; i < 6; i++ {
		t['a'+i] = byte(10 + i)
		t['A'+i] = byte(10 + i)
	}
	return t
}()

// base64Decode appends to dst the decoding of a run of base64 characters of
// either alphabet, without padding; a trailing partial group gives the bytes
// it holds.
func base64Decode(dst, run []byte) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(run)*3/4+2)
	}
	var acc uint32
	n := 0
	for _, c := range run {
		v := base64Value[c]
		if v == 0xff {
			break
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		dst = append(dst, byte(acc>>4))
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	}
	return dst
}

// hexDecode appends to dst the decoding of pairs of hex digits; a trailing
// odd digit is dropped.
func hexDecode(dst, run []byte) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(run)/2)
	}
	for i := 0; i+1 < len(run); i += 2 {
		hi, lo := hexValue[run[i]], hexValue[run[i+1]]
		if hi == 0xff || lo == 0xff {
			break
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst
}

// escapeLen returns the length of the percent escape (%XX) or backslash
// escape (\X) that b starts with, or 0.
func escapeLen(b []byte) int {
	switch {
	case len(b) >= 3 && b[0] == '%' && isHexByte(b[1]) && isHexByte(b[2]):
		return 3
	case len(b) >= 2 && b[0] == '\\':
		return 2
	}
	return 0
}

func hasPercentEscape(t []byte) bool {
	for {
		i := bytes.IndexByte(t, '%')
		if i < 0 {
			return false
		}
		if escapeLen(t[i:]) > 0 {
			return true
		}
		t = t[i+1:]
	}
}

// urlDecode undoes percent-encoding leniently: bad escapes stay as they
// are, and "+" is a space as in forms. fresh marks the output positions of
// decoded escapes; backslash reports whether one of them gave a backslash.
func urlDecode(t []byte) (out []byte, fresh bitmap, backslash bool) {
	out = make([]byte, 0, len(t))
	fresh = newBitmap(len(t))
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '%' && escapeLen(t[i:]) == 3:
			fresh.set(len(out))
			b := hexValue[t[i+1]]<<4 | hexValue[t[i+2]]
			backslash = backslash || b == '\\'
			out = append(out, b)
			i += 2
		case c == '+':
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return out, fresh, backslash
}

func hasBackslashEscape(t []byte) bool {
	for {
		i := bytes.IndexByte(t, '\\')
		if i < 0 || i+1 >= len(t) {
			return false
		}
		switch t[i+1] {
		case 'u', 'x', '/':
			return true
		}
		t = t[i+1:]
	}
}

// unescape undoes JSON and JavaScript string escapes leniently: \uXXXX,
// \xHH and the one-letter escapes. fresh marks the output positions of
// unescaped characters; percent reports whether one of them is a percent
// sign.
func unescape(t []byte) (out []byte, fresh bitmap, percent bool) {
	out = make([]byte, 0, len(t))
	fresh = newBitmap(len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '\\' || i+1 >= len(t) {
			out = append(out, c)
			continue
		}
		fresh.set(len(out))
		e := t[i+1]
		switch {
		case e == 'u' && i+5 < len(t) && allHex(t[i+2:i+6]):
			r := rune(0)
			for _, h := range t[i+2 : i+6] {
				r = r<<4 | rune(hexValue[h])
			}
			out = utf8.AppendRune(out, r)
			i += 5
		case e == 'x' && i+3 < len(t) && allHex(t[i+2:i+4]):
			out = append(out, hexValue[t[i+2]]<<4|hexValue[t[i+3]])
			i += 3
		case e == 'n':
			out = append(out, '\n')
			i++
		case e == 't':
			out = append(out, '\t')
			i++
		case e == 'r':
			out = append(out, '\r')
			i++
		default:
			// \" \\ \/ and unknown escapes: the character itself.
			out = append(out, e)
			i++
		}
		percent = percent || out[len(out)-1] == '%'
	}
	return out, fresh, percent
}

func allHex(b []byte) bool {
	for _, c := range b {
		if !isHexByte(c) {
			return false
		}
	}
	return true
}
