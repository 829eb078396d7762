// Package jstoken splits JavaScript source into tokens: identifiers,
// punctuators, strings, templates, regex literals, numbers, comments.
//
// It is not a parser: it only needs to tell code from literal values well
// enough for structural fingerprints and pretty-printing. It never fails,
// panics or loops on arbitrary bytes, and every step consumes at least one
// byte, so its cost is linear in the input (fuzzed by FuzzLexer). Every
// byte of the source belongs to exactly one token or is whitespace between
// tokens. Whether a slash starts a regex or is a division is guessed from
// the previous token, and a guess that fails makes the other slashes on
// the same line divisions: line breaks can change how a text lexes (see
// Lexer.SlashesAreDivisions).
//
// The token boundaries are part of stored baseline fingerprints: any change
// to how a text splits changes fingerprints in users' databases.
package jstoken

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of a token.
type Kind uint8

// Token kinds.
const (
	Ident    Kind = iota + 1 // names and keywords; non-ASCII and invalid UTF-8 bytes too
	Punct                    // punctuators, longest match (( ; >>>= ?.), and any other single byte
	Number                   // numeric literals: 1, 0x1F, 1e-3, .5, 1_000n
	String                   // '...' or "..." with quotes; an unterminated one ends before the line break
	Template                 // one chunk of a template literal with its delimiters: `..${ or }..${ or }..`
	Regex                    // /body/flags
	Comment                  // // or /* */ with delimiters, or a #! line at the very start
)

// String returns the kind's name, such as "Ident".
func (k Kind) String() string {
	switch k {
	case Ident:
		return "Ident"
	case Punct:
		return "Punct"
	case Number:
		return "Number"
	case String:
		return "String"
	case Template:
		return "Template"
	case Regex:
		return "Regex"
	case Comment:
		return "Comment"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

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

// Lexer walks JavaScript source one token at a time. Its state only
// serves the regex-or-division decision and template literal nesting.
type Lexer struct {
	src string
	pos int
	// kind and text are the token out last produced; next produces at
	// most one.
	kind    Kind
	text    string
	started bool

	prevKind Kind
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

// Scan calls emit for every token of src in order, comments included,
// whitespace excluded.
func Scan(src string, emit func(k Kind, text string)) {
	lx := NewLexer(src)
	for k, text, ok := lx.Next(); ok; k, text, ok = lx.Next() {
		emit(k, text)
	}
}

// NewLexer returns a Lexer at the start of src.
func NewLexer(src string) *Lexer { return &Lexer{src: src, noRegexLine: -1} }

// Next returns the next token of the source, comments included,
// whitespace excluded; ok is false at the end. Pulling tokens, rather than
// pushing them to a callback, lets callers keep their buffers on the
// stack.
func (lx *Lexer) Next() (k Kind, text string, ok bool) {
	lx.kind = 0
	if !lx.started {
		lx.started = true
		if strings.HasPrefix(lx.src, "#!") { // hashbang line: a comment like any other
			lx.pos = lineEnd(lx.src, 0)
			lx.out(Comment, 0)
			return lx.kind, lx.text, true
		}
	}
	for lx.pos < len(lx.src) {
		if lx.next(); lx.kind != 0 {
			return lx.kind, lx.text, true
		}
	}
	lx.text = "" // so that Pos says where the source ends
	return 0, "", false
}

// Pos returns the byte offset in the source at which the token Next last
// returned starts, or where the source ends once Next returned false.
func (lx *Lexer) Pos() int { return lx.pos - len(lx.text) }

// SlashesAreDivisions reports whether, from the token Next last returned to
// the end of its line, the lexer takes every slash for a division: a slash
// on that line (this token, or one before it) looked like the start of a
// regex that does not end on the line. Only there does the layout of a
// line change how a text lexes: a line break added between two such tokens
// would let a later slash start a regex.
func (lx *Lexer) SlashesAreDivisions() bool { return lx.Pos() < lx.noRegexLine }

func (lx *Lexer) out(k Kind, start int) {
	text := lx.src[start:lx.pos]
	lx.kind, lx.text = k, text
	if k != Comment {
		lx.prevKind, lx.prevText = k, text
	}
}

func (lx *Lexer) next() {
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
		lx.out(String, start)
	case c == '`':
		lx.pos++
		lx.template(start)
	case c == '/' && start+1 < len(s) && s[start+1] == '/':
		lx.pos = lineEnd(s, start)
		lx.out(Comment, start)
	case c == '/' && start+1 < len(s) && s[start+1] == '*':
		end := strings.Index(s[start+2:], "*/")
		if end < 0 {
			lx.pos = len(s)
		} else {
			lx.pos = start + 2 + end + 2
		}
		lx.out(Comment, start)
	case c == '/' && lx.regexAllowed() && start >= lx.noRegexLine:
		if end, ok := regexEnd(s, start); ok {
			lx.pos = end
			lx.out(Regex, start)
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

func (lx *Lexer) ident() {
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
	lx.out(Ident, start)
}

func (lx *Lexer) number() {
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
			lx.out(Number, start)
			return
		}
	}
	lx.out(Number, start)
}

// template scans a template chunk whose opening delimiter (` or }) ends at
// lx.pos, up to and including the closing ` or ${.
func (lx *Lexer) template(start int) {
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
			lx.out(Template, start)
			return
		case '$':
			if lx.pos+1 < len(s) && s[lx.pos+1] == '{' {
				lx.pos += 2
				lx.templates = append(lx.templates, len(lx.braces))
				lx.out(Template, start)
				// An expression follows, as after an opening parenthesis.
				lx.prevKind, lx.prevText = Punct, "("
				return
			}
		}
		lx.pos++
	}
	lx.out(Template, start)
}

func (lx *Lexer) punct() {
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
		lx.parens = append(lx.parens, prevKind == Ident && parenKeyword(prevText))
	case ")":
		stmt := false
		if k := len(lx.parens); k > 0 {
			stmt = lx.parens[k-1]
			lx.parens = lx.parens[:k-1]
		}
		lx.out(Punct, start)
		if stmt {
			// Mark the head's end so regexAllowed says yes.
			lx.prevText = ")stmt"
		}
		return
	case "{":
		block := prevKind == 0 ||
			prevKind == Punct && (prevText == ")" || prevText == ")stmt" || prevText == ";" || prevText == "{" || prevText == "}" || prevText == "=>" || prevText == "}block") ||
			prevKind == Ident && blockKeyword(prevText)
		lx.braces = append(lx.braces, block)
	case "}":
		block := true
		if k := len(lx.braces); k > 0 {
			block = lx.braces[k-1]
			lx.braces = lx.braces[:k-1]
		}
		lx.out(Punct, start)
		if block {
			lx.prevText = "}block"
		}
		return
	}
	lx.out(Punct, start)
}

// regexAllowed says whether a slash at the current position starts a
// regular expression literal, judged by the previous token.
func (lx *Lexer) regexAllowed() bool {
	switch lx.prevKind {
	case 0:
		return true
	case Ident:
		return keywordBeforeRegex(lx.prevText)
	case Punct:
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
