package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/jstoken"
)

// This file holds the structural normalisation of JavaScript, built on the
// jstoken tokenizer: per-load values (nonces, tokens, timestamps, ids,
// build stamps) disappear while any change to the code shows. It must never
// panic, and its cost stays linear in the input (fuzzed by
// FuzzFingerprint).

// Placeholders replacing literal values in normalised text.
const (
	phString = `"…"`
	phNumber = "0"
)

// appendToken appends the normalised form of one token to dst; it appends
// nothing when the token is dropped. Tokens are appended to one buffer
// rather than returned as strings: Compare normalises hundreds of scripts.
func appendToken(dst []byte, k jstoken.Kind, text string) []byte {
	switch k {
	case jstoken.Ident:
		return appendIdent(dst, text)
	case jstoken.Number:
		return append(dst, phNumber...)
	case jstoken.String:
		body := text[1:]
		if len(text) >= 2 && text[len(text)-1] == text[0] && !escapedAt(text, len(text)-1) {
			body = body[:len(body)-1]
		}
		start := len(dst)
		dst = append(dst, '"')
		if dst = appendLiteral(dst, body); len(dst) == start+1 {
			return append(dst[:start], phString...)
		}
		return append(dst, '"')
	case jstoken.Template:
		open, body, closing := splitTemplate(text)
		dst = append(dst, open...)
		start := len(dst)
		if dst = appendLiteral(dst, body); len(dst) == start {
			dst = append(dst, "…"...)
		}
		return append(dst, closing...)
	case jstoken.Regex:
		end := strings.LastIndexByte(text, '/')
		if end <= 0 {
			return append(dst, "/…/"...)
		}
		start := len(dst)
		dst = append(dst, '/')
		if dst = appendLiteral(dst, text[1:end]); len(dst) == start+1 {
			dst = append(dst, "…"...)
		}
		return append(dst, text[end:]...)
	case jstoken.Comment:
		body := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(text, "//"), "/*"), "#!")
		body = strings.TrimSuffix(body, "*/")
		start := len(dst)
		dst = append(dst, "/*"...)
		if dst = appendLiteral(dst, body); len(dst) == start+2 {
			return dst[:start]
		}
		return append(dst, "*/"...)
	}
	return append(dst, text...)
}

func splitTemplate(text string) (open, body, closing string) {
	open = text[:1] // ` or }
	body = text[1:]
	switch {
	case strings.HasSuffix(body, "${"):
		body, closing = body[:len(body)-2], "${"
	case strings.HasSuffix(body, "`") && !escapedAt(text, len(text)-1):
		body, closing = body[:len(body)-1], "`"
	}
	return open, body, closing
}

// escapedAt reports whether s[i] follows an odd run of backslashes.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// appendIdent appends identifier s with runs of five or more digits
// replaced by "#", so that per-load JSONP callback names
// (jQuery3410123_1732271234) stay equal.
func appendIdent(dst []byte, s string) []byte {
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		switch {
		case j-i >= 5:
			dst = append(dst, '#')
			i = j
		case j > i:
			dst = append(dst, s[i:j]...)
			i = j
		default:
			dst = append(dst, s[i])
			i++
		}
	}
	return dst
}

// dataLike reports whether a literal's text could only be a value: letters,
// digits, spaces and the separators of dates, versions, ids and base64,
// with "=" only as trailing padding. Such text cannot be code, whatever the
// tokenizer got wrong, so dropping it cannot hide code; text with any other
// character ("(", "=", ";", quotes, brackets...) is kept in a coarsened form.
func dataLike(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case strings.IndexByte("_-+/.:,@%~|!*#", c) >= 0:
		case c == '=':
			if strings.TrimRight(s[i:], "=") != "" {
				return false
			}
			return true
		default:
			return false
		}
	}
	return true
}

// wordish reports whether a data literal reads like a name in code, which
// is kept: a lower-case word ("script", "mouseup", "card-number") or a
// camelCase one whose capitals each start a lower-case run of at least two
// ("addEventListener"), at most 32 bytes. Random tokens almost never take
// these shapes (they carry digits or capitals in a row), so keeping them
// costs no false alerts while createElement("script") and
// createElement("iframe") stay apart.
func wordish(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c == '-' || c == '_':
			i++
		case c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			if j-i-1 < 2 {
				return false
			}
			i = j
		default:
			return false
		}
	}
	return true
}

// appendLiteral appends what of a literal's text stays in the normalised
// form: nothing when it is plain data without URLs; the URL origins it
// names, space separated, when it is data; else (it might be code) its text
// with URLs cut to their origins, words that carry digits or are 24+
// characters long replaced by "…", and whitespace collapsed.
func appendLiteral(dst []byte, s string) []byte {
	s = strings.TrimSpace(s)       // padding is not structure
	if strings.Contains(s, `\/`) { // JSON-escaped slashes in URLs
		s = strings.ReplaceAll(s, `\/`, "/")
	}
	if dataLike(s) {
		if wordish(s) {
			return append(dst, s...)
		}
		return appendOrigins(dst, s)
	}
	start := len(dst)
	space := false
	i := 0
	for i < len(s) {
		c := s[i]
		if scheme, host, end := urlSpan(s, i); end > i {
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space = false
			dst = appendOrigin(dst, scheme, host)
			i = end
			continue
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
			i++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$':
			j, digit := i, false
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_' || s[j] == '$') {
				digit = digit || s[j] >= '0' && s[j] <= '9'
				j++
			}
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space = false
			if digit || j-i >= 24 {
				dst = append(dst, "…"...)
			} else {
				dst = append(dst, s[i:j]...)
			}
			i = j
		default:
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space = false
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// urlAt returns the origin of a URL starting at i (scheme://host or
// //host) and where the URL ends, or end == i when none starts there.
func urlAt(s string, i int) (origin string, end int) {
	scheme, host, end := urlSpan(s, i)
	if end == i {
		return "", i
	}
	return string(appendOrigin(nil, scheme, host)), end
}

// urlSpan finds a URL starting at i: its scheme ("" for //host), its host
// as written and where the URL ends, or end == i when none starts there.
func urlSpan(s string, i int) (scheme, host string, end int) {
	if i > 0 && isSchemeByte(s[i-1]) {
		return "", "", i // inside a word, not at the start of a scheme
	}
	j := i
	for j < len(s) && isSchemeByte(s[j]) {
		j++
	}
	scheme = s[i:j]
	var h int
	switch {
	case scheme != "" && isLetter(scheme[0]) && strings.HasPrefix(s[j:], "://"):
		h = j + 3
	case scheme == "" && strings.HasPrefix(s[i:], "//"):
		h = i + 2
	default:
		return "", "", i
	}
	hostStart := h
	for h < len(s) && (isHostByte(s[h]) || s[h] == '@') {
		if s[h] == '@' {
			hostStart = h + 1
		}
		h++
	}
	if hostStart == h {
		return "", "", i
	}
	end = h
	for end < len(s) && !isURLStop(s[end]) {
		end++
	}
	return scheme, s[hostStart:h], end
}

// appendOrigin appends the origin urlSpan found, lower case: "//host" or
// "scheme://host". Scheme and host bytes are ASCII (isSchemeByte,
// isHostByte), so lowering them byte by byte is strings.ToLower.
func appendOrigin(dst []byte, scheme, host string) []byte {
	if scheme == "" {
		dst = append(dst, "//"...)
	} else {
		dst = appendLowerASCII(dst, scheme)
		dst = append(dst, "://"...)
	}
	return appendLowerASCII(dst, strings.TrimRight(host, ".:"))
}

func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '_' || c == '[' || c == ']'
}

func isURLStop(c byte) bool {
	return c <= ' ' || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == ')' || c == '\\'
}

// literalOrigins returns the origins of the URLs in s, in order of
// appearance, repeats included (dedupe is for display, see dedupe).
func literalOrigins(s string) []string {
	if !strings.Contains(s, "//") {
		return nil
	}
	var out []string
	for i := 0; i < len(s); {
		o, end := urlAt(s, i)
		if end > i {
			out = append(out, o)
			i = end
			continue
		}
		i++
	}
	return out
}

// appendOrigins appends the origins of the URLs in s, in order of
// appearance and space separated: literalOrigins joined, without the
// slice.
func appendOrigins(dst []byte, s string) []byte {
	if !strings.Contains(s, "//") {
		return dst
	}
	start := len(dst)
	for i := 0; i < len(s); {
		if scheme, host, end := urlSpan(s, i); end > i {
			if len(dst) > start {
				dst = append(dst, ' ')
			}
			dst = appendOrigin(dst, scheme, host)
			i = end
			continue
		}
		i++
	}
	return dst
}

// dedupe drops repeats, keeping first occurrences in order; a set keeps it
// linear on hostile input.
func dedupe(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0:0]
	for _, x := range list {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normTokens returns the normalised tokens of src. They are built in one
// buffer and cut from one string.
func normTokens(src string) []string {
	var buf []byte
	var ends []int
	jstoken.Scan(src, func(k jstoken.Kind, text string) {
		start := len(buf)
		if buf = appendToken(buf, k, text); len(buf) > start {
			ends = append(ends, len(buf))
		}
	})
	if len(ends) == 0 {
		return nil
	}
	all := string(buf)
	toks := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		toks[i] = all[start:end]
		start = end
	}
	return toks
}

// Normalize returns the structural form of JavaScript source that
// Fingerprint hashes, laid out for people to diff: one token per word,
// whitespace and plain comments dropped, numbers as 0, and string,
// template and regex literals that hold plain data (letters, digits and the
// separators of ids, dates and base64) as "…" or, when they name URLs, as
// those URLs' origins; data literals that read like names in code
// ("script", "mouseup", "addEventListener") are kept. Literals that might be code (any bracket, quote,
// semicolon or "=") keep their punctuation and words, with words that carry
// digits shown as "…". Identifiers keep their names, except that runs of
// five or more digits become "#".
//
// Two script texts count as the same version when their Normalize outputs
// are equal: a nonce, CSRF token, timestamp, cart id or build stamp only
// changes literal values, whereas appended code adds tokens and a swapped
// loader URL changes the origin kept from its literal.
func Normalize(src string) string {
	return string(bytes.TrimRight(appendNormalized(make([]byte, 0, len(src)), src), "\n"))
}

// appendNormalized appends Normalize's text to dst, except that final
// newlines may follow (Normalize and Fingerprint trim them).
func appendNormalized(dst []byte, src string) []byte {
	depth, lineStart := 0, true
	lx := jstoken.NewLexer(src)
	for k, text, ok := lx.Next(); ok; k, text, ok = lx.Next() {
		if k == jstoken.Punct && text == "}" && depth > 0 { // punctuators are never dropped
			depth--
		}
		// The separator goes first and is taken back when the token is
		// dropped, so that each token is normalised straight into dst.
		mark := len(dst)
		if lineStart {
			// Indentation is capped: deep nesting times many lines would
			// make the output, and the hashing, quadratic.
			for i := 0; i < min(depth, 12); i++ {
				dst = append(dst, "  "...)
			}
		} else {
			dst = append(dst, ' ')
		}
		tok := len(dst)
		if dst = appendToken(dst, k, text); len(dst) == tok {
			dst = dst[:mark]
			continue
		}
		lineStart = false
		if k == jstoken.Punct {
			switch text {
			case "{":
				depth++
				dst = append(dst, '\n')
				lineStart = true
			case "}", ";":
				dst = append(dst, '\n')
				lineStart = true
			}
		}
	}
	return dst
}

// Fingerprint returns the structural fingerprint of JavaScript source:
// skimguard.ScriptFingerprintPrefix ("fp:") and the hex SHA-256 of
// Normalize(src). Baseline items keep it next to the exact
// skimguard.ScriptHash, so a script whose text differs from every approved
// version only in literal values still counts as approved.
func Fingerprint(src string) string {
	// Normalised into one buffer and hashed once: Compare may fingerprint
	// hundreds of scripts. Small scripts fit the stack buffer.
	var small [1024]byte
	buf := bytes.TrimRight(appendNormalized(small[:0], src), "\n")
	sum := sha256.Sum256(buf)
	const prefix = skimguard.ScriptFingerprintPrefix
	var out [len(prefix) + 2*sha256.Size]byte
	copy(out[:], prefix)
	hex.Encode(out[len(prefix):], sum[:])
	return string(out[:])
}

// tokenDelta counts the normalised tokens added to and removed from before
// to make after, as multisets, and lists the literal origins after names
// that before does not: the "why" of a changed script.
func tokenDelta(before, after string) (added, removed int, newOrigins []string) {
	count := map[string]int{}
	for _, t := range normTokens(before) {
		count[t]++
	}
	for _, t := range normTokens(after) {
		count[t]--
	}
	for _, n := range count {
		if n < 0 {
			added -= n
		} else {
			removed += n
		}
	}
	old := map[string]bool{}
	for _, o := range scriptOrigins(before) {
		old[o] = true
	}
	for _, o := range scriptOrigins(after) {
		if !old[o] {
			newOrigins = append(newOrigins, o)
		}
	}
	return added, removed, newOrigins
}

// scriptOrigins lists the origins of URLs written in the literals and
// comments of src, in order, without repeats.
func scriptOrigins(src string) []string {
	var out []string
	if !strings.Contains(src, "//") {
		return nil
	}
	jstoken.Scan(src, func(k jstoken.Kind, text string) {
		switch k {
		case jstoken.String, jstoken.Template, jstoken.Regex:
			out = append(out, literalOrigins(strings.ReplaceAll(text, `\/`, "/"))...)
		}
	})
	return dedupe(out)
}
