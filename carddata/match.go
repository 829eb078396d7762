package carddata

import (
	"bytes"
)

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

// byteClass maps each byte to its class for indexNumber.
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

// newDigitMatcher builds the failure table for pat.
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

// isSepEscape reports whether the hex digits x, y encode a separator.
func isSepEscape(x, y byte) bool {
	switch x {
	case '2':
		return y == '0' || y == 'd' || y == 'D' || y == 'b' || y == 'B'
	case '0':
		return y == '9'
	}
	return false
}
