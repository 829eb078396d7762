package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds a small JavaScript tokenizer and the structural
// normalisation built on it. It is not a parser: it only needs to tell code
// from literal values well enough that per-load values (nonces, tokens,
// timestamps, ids, build stamps) disappear while any change to the code
// shows. It must never panic or loop on arbitrary bytes, and every step
// consumes at least one byte, so its cost is linear in the input (fuzzed by
// FuzzFingerprint).

type tokKind uint8

const (
	tokIdent tokKind = iota + 1
	tokPunct
	tokNumber
	tokString   // '...' or "..." with quotes
	tokTemplate // one chunk of a template literal with its delimiters: `..${ or }..${ or }..`
	tokRegex    // /body/flags
	tokComment  // // or /* */ with delimiters
)

// Placeholders replacing literal values in normalised text.
const (
	phString = `"…"`
	phNumber = "0"
)

// keywordBeforeRegex reports whether s is a word after which a slash
// starts a regular expression rather than a division. (Switches, not maps:
// the tokenizer asks at every parenthesis and brace.)
func keywordBeforeRegex(s string) bool {
	switch s {
	case "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case",
		"do", "else", "yield", "await":
		return true
	}
	return false
}

// parenKeyword reports whether s is a word whose parenthesised head is
// followed by a statement, so a slash after its closing parenthesis starts
// a regex.
func parenKeyword(s string) bool {
	switch s {
	case "if", "while", "for", "with":
		return true
	}
	return false
}

// blockKeyword reports whether s is a word followed by a block rather than
// an object literal.
func blockKeyword(s string) bool {
	switch s {
	case "else", "do", "try", "finally":
		return true
	}
	return false
}

// puncts lists multi-character punctuators, longest first within the
// matching loop (4, then 3, then 2 characters).
var puncts = [...][]string{
	4: {">>>="},
	3: {"===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=", "..."},
	2: {"=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "**", "<<", ">>"},
}

// lexer walks JavaScript source. Its state only serves the regex-or-division
// decision and template literal nesting.
type lexer struct {
	src string
	pos int
	// kind and text are the token out last produced; next produces at
	// most one.
	kind    tokKind
	text    string
	started bool

	prevKind tokKind
	prevText string
	// parens records, per open parenthesis, whether it is the head of
	// if/while/for/with; braces, per open brace, whether it opens a block.
	parens []bool
	braces []bool
	// templates holds len(braces) at each ${ so that the matching } resumes
	// the template literal.
	templates []int
	// noRegexLine is the end of a line on which a regex guess already failed:
	// later slashes on it are divisions, which keeps the scan linear.
	noRegexLine int
}

// scanJS calls emit for every token of src, comments included, whitespace
// excluded.
func scanJS(src string, emit func(k tokKind, text string)) {
	lx := newLexer(src)
	for k, text, ok := lx.token(); ok; k, text, ok = lx.token() {
		emit(k, text)
	}
}

func newLexer(src string) lexer { return lexer{src: src, noRegexLine: -1} }

// token returns the next token of the source, comments included,
// whitespace excluded; ok is false at the end. Pulling tokens, rather than
// pushing them to a callback, lets the normaliser keep its buffer on the
// stack.
func (lx *lexer) token() (k tokKind, text string, ok bool) {
	lx.kind = 0
	if !lx.started {
		lx.started = true
		if strings.HasPrefix(lx.src, "#!") { // hashbang line: a comment like any other
			lx.pos = lineEnd(lx.src, 0)
			lx.out(tokComment, 0)
			return lx.kind, lx.text, true
		}
	}
	for lx.pos < len(lx.src) {
		if lx.next(); lx.kind != 0 {
			return lx.kind, lx.text, true
		}
	}
	return 0, "", false
}

func (lx *lexer) out(k tokKind, start int) {
	text := lx.src[start:lx.pos]
	lx.kind, lx.text = k, text
	if k != tokComment {
		lx.prevKind, lx.prevText = k, text
	}
}

func (lx *lexer) next() {
	s, start := lx.src, lx.pos
	c := s[start]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
		lx.pos++
	case c >= utf8.RuneSelf:
		r, size := utf8.DecodeRuneInString(s[start:])
		if unicode.IsSpace(r) || r == '\uFEFF' {
			lx.pos += size
			return
		}
		lx.ident()
	case c >= '0' && c <= '9' || c == '.' && start+1 < len(s) && s[start+1] >= '0' && s[start+1] <= '9':
		lx.number()
	case isIdentByte(c):
		lx.ident()
	case c == '"' || c == '\'':
		lx.pos = stringEnd(s, start)
		lx.out(tokString, start)
	case c == '`':
		lx.pos++
		lx.template(start)
	case c == '/' && start+1 < len(s) && s[start+1] == '/':
		lx.pos = lineEnd(s, start)
		lx.out(tokComment, start)
	case c == '/' && start+1 < len(s) && s[start+1] == '*':
		end := strings.Index(s[start+2:], "*/")
		if end < 0 {
			lx.pos = len(s)
		} else {
			lx.pos = start + 2 + end + 2
		}
		lx.out(tokComment, start)
	case c == '/' && lx.regexAllowed() && start >= lx.noRegexLine:
		if end, ok := regexEnd(s, start); ok {
			lx.pos = end
			lx.out(tokRegex, start)
			return
		}
		lx.noRegexLine = lineEnd(s, start)
		lx.punct()
	case c == '}' && len(lx.templates) > 0 && lx.templates[len(lx.templates)-1] == len(lx.braces):
		lx.templates = lx.templates[:len(lx.templates)-1]
		lx.pos++
		lx.template(start)
	default:
		lx.punct()
	}
}

func isIdentByte(c byte) bool { return identBytes[c] }

// identBytes is a read-only lookup table: identifier bytes (letters,
// digits, _ $ \ # and every byte of multi-byte runes).
var identBytes = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == '$' || b == '\\' || b == '#' || b >= '0' && b <= '9' || b >= utf8.RuneSelf
	}
	return t
}()

func (lx *lexer) ident() {
	s, start := lx.src, lx.pos
	for lx.pos < len(s) {
		c := s[lx.pos]
		if c < utf8.RuneSelf {
			if !identBytes[c] {
				break
			}
			lx.pos++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[lx.pos:])
		if unicode.IsSpace(r) || r == '\uFEFF' {
			break
		}
		lx.pos += size
	}
	lx.out(tokIdent, start)
}

func (lx *lexer) number() {
	s, start := lx.src, lx.pos
	hex := strings.HasPrefix(s[start:], "0x") || strings.HasPrefix(s[start:], "0X")
	for lx.pos < len(s) {
		c := s[lx.pos]
		switch {
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.':
			lx.pos++
		case (c == '+' || c == '-') && !hex && (s[lx.pos-1] == 'e' || s[lx.pos-1] == 'E'):
			lx.pos++
		default:
			lx.out(tokNumber, start)
			return
		}
	}
	lx.out(tokNumber, start)
}

// template scans a template chunk whose opening delimiter (` or }) ends at
// lx.pos, up to and including the closing ` or ${.
func (lx *lexer) template(start int) {
	s := lx.src
	for lx.pos < len(s) {
		switch s[lx.pos] {
		case '\\':
			lx.pos += 2
			if lx.pos > len(s) {
				lx.pos = len(s)
			}
			continue
		case '`':
			lx.pos++
			lx.out(tokTemplate, start)
			return
		case '$':
			if lx.pos+1 < len(s) && s[lx.pos+1] == '{' {
				lx.pos += 2
				lx.templates = append(lx.templates, len(lx.braces))
				lx.out(tokTemplate, start)
				// An expression follows, as after an opening parenthesis.
				lx.prevKind, lx.prevText = tokPunct, "("
				return
			}
		}
		lx.pos++
	}
	lx.out(tokTemplate, start)
}

func (lx *lexer) punct() {
	s, start := lx.src, lx.pos
	n := 1
	// Most punctuators are one byte and never start a longer one.
	switch {
	case strings.IndexByte("(){}[];,:~", s[start]) >= 0:
		n = 0
	case start+1 >= len(s) || strings.IndexByte("=<>&|?.+-*", s[start+1]) < 0:
		n = 0 // no longer punctuator can start here
	}
	for l := 4; n != 0 && l >= 2; l-- {
		if start+l > len(s) {
			continue
		}
		for _, p := range puncts[l] {
			if s[start:start+l] == p {
				n = l
				break
			}
		}
		if n > 1 {
			break
		}
	}
	if n == 0 {
		n = 1
	}
	prevKind, prevText := lx.prevKind, lx.prevText
	lx.pos += n
	text := s[start:lx.pos]
	switch text {
	case "(":
		lx.parens = append(lx.parens, prevKind == tokIdent && parenKeyword(prevText))
	case ")":
		stmt := false
		if k := len(lx.parens); k > 0 {
			stmt = lx.parens[k-1]
			lx.parens = lx.parens[:k-1]
		}
		lx.out(tokPunct, start)
		if stmt {
			// Mark the head's end so regexAllowed says yes.
			lx.prevText = ")stmt"
		}
		return
	case "{":
		block := prevKind == 0 ||
			prevKind == tokPunct && (prevText == ")" || prevText == ")stmt" || prevText == ";" || prevText == "{" || prevText == "}" || prevText == "=>" || prevText == "}block") ||
			prevKind == tokIdent && blockKeyword(prevText)
		lx.braces = append(lx.braces, block)
	case "}":
		block := true
		if k := len(lx.braces); k > 0 {
			block = lx.braces[k-1]
			lx.braces = lx.braces[:k-1]
		}
		lx.out(tokPunct, start)
		if block {
			lx.prevText = "}block"
		}
		return
	}
	lx.out(tokPunct, start)
}

// regexAllowed says whether a slash at the current position starts a
// regular expression literal, judged by the previous token.
func (lx *lexer) regexAllowed() bool {
	switch lx.prevKind {
	case 0:
		return true
	case tokIdent:
		return keywordBeforeRegex(lx.prevText)
	case tokPunct:
		switch lx.prevText {
		case ")", "]", "}":
			return false
		}
		return true // includes ")stmt" and "}block"
	}
	return false
}

// stringEnd returns the end of the string literal opened at start: after the
// closing quote, or at an unescaped line break or the end of input.
func stringEnd(s string, start int) int {
	q := s[start]
	i := start + 1
	for i < len(s) {
		switch s[i] {
		case q:
			return i + 1
		case '\\':
			i += 2
			continue
		case '\n', '\r':
			return i
		}
		i++
	}
	return len(s)
}

// regexEnd returns the end of the regex literal opened at start (flags
// included), or false when the line ends first: then the slash is taken as
// a division.
func regexEnd(s string, start int) (int, bool) {
	inClass := false
	i := start + 1
	for i < len(s) {
		switch s[i] {
		case '\\':
			i += 2
			continue
		case '\n', '\r':
			return 0, false
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '/':
			if !inClass {
				i++
				for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
					i++
				}
				return i, true
			}
		}
		i++
	}
	return 0, false
}

func lineEnd(s string, from int) int {
	if i := strings.IndexAny(s[from:], "\n\r"); i >= 0 {
		return from + i
	}
	return len(s)
}

// appendToken appends the normalised form of one token to dst; it appends
// nothing when the token is dropped. Tokens are appended to one buffer
// rather than returned as strings: Compare normalises hundreds of scripts.
func appendToken(dst []byte, k tokKind, text string) []byte {
	switch k {
	case tokIdent:
		return appendIdent(dst, text)
	case tokNumber:
		return append(dst, phNumber...)
	case tokString:
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
	case tokTemplate:
		open, body, closing := splitTemplate(text)
		dst = append(dst, open...)
		start := len(dst)
		if dst = appendLiteral(dst, body); len(dst) == start {
			dst = append(dst, "…"...)
		}
		return append(dst, closing...)
	case tokRegex:
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
	case tokComment:
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
	scanJS(src, func(k tokKind, text string) {
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
	lx := newLexer(src)
	for k, text, ok := lx.token(); ok; k, text, ok = lx.token() {
		if k == tokPunct && text == "}" && depth > 0 { // punctuators are never dropped
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
		if k == tokPunct {
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
// "fp:" and the hex SHA-256 of Normalize(src). Baseline items keep it next
// to the exact "sha256:" hash, so a script whose text differs from every
// approved version only in literal values still counts as approved.
func Fingerprint(src string) string {
	// Normalised into one buffer and hashed once: Compare may fingerprint
	// hundreds of scripts. Small scripts fit the stack buffer.
	var small [1024]byte
	buf := bytes.TrimRight(appendNormalized(small[:0], src), "\n")
	sum := sha256.Sum256(buf)
	var out [len("fp:") + 2*sha256.Size]byte
	copy(out[:], "fp:")
	hex.Encode(out[len("fp:"):], sum[:])
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
	scanJS(src, func(k tokKind, text string) {
		switch k {
		case tokString, tokTemplate, tokRegex:
			out = append(out, literalOrigins(strings.ReplaceAll(text, `\/`, "/"))...)
		}
	})
	return dedupe(out)
}
