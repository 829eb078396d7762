package carddata

import (
	"bytes"
	"unicode/utf8"
)

func isHexByte(b byte) bool { return hexValue[b] != 0xff }

func isBase64Byte(b byte) bool { return base64Value[b] != 0xff }

// reversed returns a reversed copy of b, byte by byte.
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

// hasPercentEscape reports whether t holds a %XX escape that urlDecode
// would undo.
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

// hasBackslashEscape reports whether t holds a \u, \x or \/ escape; only
// these start a json decoding step.
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

// allHex reports whether b is hex digits only.
func allHex(b []byte) bool {
	for _, c := range b {
		if !isHexByte(c) {
			return false
		}
	}
	return true
}
