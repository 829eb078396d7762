package scriptdiff

import "unicode"

// Hidden reports whether a reviewer cannot see r where it stands in a
// script, though it changes what the code does or how the text around it
// is shown, so that a display of script text must mark it:
//
//   - bidirectional controls, U+202A–U+202E, U+2066–U+2069, U+200E,
//     U+200F and U+061C: a U+202E shows a comment's text, or code,
//     reversed ("Trojan Source");
//   - zero-width characters U+200B–U+200D, U+2060 and the byte order mark
//     U+FEFF, the soft hyphen U+00AD, tag characters, and every other
//     format (Cf) character;
//   - the line and paragraph separators U+2028 and U+2029, line breaks to
//     JavaScript that a page shows as spaces;
//   - control characters other than tab, line feed and carriage return;
//   - variation selectors and the Hangul fillers (U+115F, U+1160, U+3164,
//     U+FFA0), which show nothing, the fillers being letters that can
//     make up invisible identifiers.
func Hidden(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r == '\u2028' || r == '\u2029':
		return true
	case r == '\u115f' || r == '\u1160' || r == '\u3164' || r == '\uffa0':
		return true
	}
	return unicode.In(r, unicode.Cf, unicode.Cc, unicode.Variation_Selector)
}
