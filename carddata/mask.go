package carddata

import (
	"bytes"
	"strings"
)

// Mask replaces every occurrence of the card number in s (as Find would see
// it in plain or URL-encoded text) by its masked form, first six and last
// four digits kept (as MaskPANs writes it), so that logs and evidence never
// hold the full number.
// Reversed digits, and base64, hex and escaped blobs that carry the number
// once decoded, are replaced by "[card data]". Should Find still see the
// number in the result, the whole string is replaced by "[card data]".
func (c Card) Mask(s string) string {
	if !validNumber(c.Number) || s == "" {
		return s
	}
	masked := maskNumber(c.Number)
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
			if _, found := c.findNumber(b[i:j]); found {
				out = append(out, b[last:i]...)
				out = append(out, cardDataMark...)
				last = j
			}
		}
		i = j
	}
	out = append(out, b[last:]...)
	if _, found := c.findNumber(out); found {
		return cardDataMark
	}
	return string(out)
}

// cardDataMark is what Mask writes in place of encoded card data.
const cardDataMark = "[card data]"

// isBlobByte reports whether b can sit inside an encoded blob that Mask
// replaces whole: base64 of either alphabet, percent escapes, backslash
// escapes.
func isBlobByte(b byte) bool { return isBase64Byte(b) || b == '%' || b == '\\' }

// maskNumber is the masked form of a card number, the digits only: first
// six and last four digits kept, so that people can still tell cards apart
// and recognise the test card.
func maskNumber(number string) string {
	if len(number) < 12 {
		return strings.Repeat("*", len(number))
	}
	return number[:6] + maskStars + number[len(number)-4:]
}

// Lengths of the card numbers MaskPANs looks for (ISO/IEC 7812).
const (
	minPAN = 13
	maxPAN = 19
)

// MaskPANs masks every card number in s without knowing which card to look
// for: a run of 13 to 19 digits that passes the Luhn check, written whole or
// in groups split by spaces, tabs, dashes, plus signs or their URL
// encodings, is replaced by its masked form, the digits only with the first
// six and last four kept, as Card.Mask writes it. A run may start or end at
// any group of a longer grouped run ("qty 2 4929 3861 6087 1730"); the
// longest Luhn-valid run from each group wins. Digits inside a group are
// never split, so ids and timestamps longer than 19 digits stay whole. The
// digits of a number masked already are left out of runs, so that masking
// twice changes nothing.
//
// Unlike Card.Mask it sees no encoded card data: it is the last pass over
// text shown to people, for cards the caller does not know (each scan may
// type its own).
func MaskPANs(s string) string {
	// group is a maximal run of digits, b[start:end]; masked when it is
	// one end of a masked number.
	type group struct {
		start, end int
		masked     bool
	}
	b := []byte(s)
	var (
		out    []byte // nil until something is masked
		last   int    // b[:last] is in out
		groups []group
		digits [maxPAN]byte
	)
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		// The groups that separators join, from b[i].
		groups = groups[:0]
		for {
			j := i
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			groups = append(groups, group{i, j, isMaskedEnd(b, i, j)})
			k := j
			for k < len(b) {
				n := separatorLen(b[k:])
				if n == 0 {
					break
				}
				k += n
			}
			i = j
			if k == j || k == len(b) || !isDigit(b[k]) {
				break
			}
			i = k
		}
		for g := 0; g < len(groups); {
			n, end, endLen := 0, -1, 0
			for h := g; h < len(groups); h++ {
				d := b[groups[h].start:groups[h].end]
				if n+len(d) > maxPAN || groups[h].masked {
					break
				}
				n += copy(digits[n:], d)
				if n >= minPAN && Luhn(string(digits[:n])) {
					end, endLen = h, n
				}
			}
			if end < 0 {
				g++
				continue
			}
			out = append(out, b[last:groups[g].start]...)
			out = append(out, maskNumber(string(digits[:endLen]))...)
			last = groups[end].end
			g = end + 1
		}
	}
	if out == nil {
		return s
	}
	return string(append(out, b[last:]...))
}

// maskStars is what maskNumber puts between the digits it keeps.
const maskStars = "******"

// isMaskedEnd reports whether the digits b[i:j] are the first six or the
// last four of a number that maskNumber wrote.
func isMaskedEnd(b []byte, i, j int) bool {
	switch j - i {
	case 6:
		return bytes.HasPrefix(b[j:], []byte(maskStars))
	case 4:
		return bytes.HasSuffix(b[:i], []byte(maskStars))
	}
	return false
}

// separatorLen returns the length of the separator between digit groups
// that b starts with, as indexNumber skips them with URL separators on: a
// space, tab, dash or plus sign, or one of them percent-encoded once or
// twice. It returns 0 when b starts with none.
func separatorLen(b []byte) int {
	switch byteClass[b[0]] {
	case classSeparator:
		return 1
	case classPercent:
		return percentSeparatorLen(b)
	}
	return 0
}
