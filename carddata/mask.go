package carddata

import "strings"

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

// isBlobByte reports whether b can sit inside an encoded blob that Mask
// replaces whole: base64 of either alphabet, percent escapes, backslash
// escapes.
func isBlobByte(b byte) bool { return isBase64Byte(b) || b == '%' || b == '\\' }
