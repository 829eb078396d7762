// Package scriptdiff pretty-prints JavaScript and diffs two script texts
// line by line for people to read.
package scriptdiff

import (
	"strings"

	"github.com/skimguard/skimguard/jstoken"
)

// maxIndent caps indentation, in levels of two spaces, so that deep
// nesting followed by many lines cannot make the output quadratic.
const maxIndent = 16

// Pretty lays JavaScript out for reading: a line break after each ";"
// (except inside parentheses, as in for(;;) headers), after "{", before
// "}" and between a "}" and a following statement; the input's own line
// breaks kept, blank lines collapsed to one, and lines indented by two
// spaces per open brace. Tokens are never changed, only the whitespace
// between them: string, template and regex literals and comments stay
// verbatim, and tokens the input separated stay separated (return a,
// a - -b).
//
// Pretty accepts any input (invalid JavaScript, HTML, binary) and yields
// the same tokens, as package jstoken splits them: where the lexer's
// regex-or-division guess depends on a line's extent, that stretch of the
// line is left on one line. Pretty(Pretty(src)) == Pretty(src).
func Pretty(src string) string {
	out, _ := pretty(src, -1)
	return out
}

// pretty is Pretty with a cap on the output size: ok is false when the
// output would exceed limit bytes (no cap when limit < 0).
//
// The layout keeps tokens by construction, so it is not lexed again (the
// tests do that): it never joins tokens (a gap that had whitespace keeps
// some), never splits a line where the lexer's slashes depend on the line
// (SlashesAreDivisions), and copies the bytes after a backslash as they
// were, since inside a regex or string scan a backslash escapes the next
// byte whatever it is.
func pretty(src string, limit int) (out string, ok bool) {
	lx := jstoken.NewLexer(src)
	k, text, more := lx.Next()
	if !more {
		return "", true
	}
	var b strings.Builder
	b.Grow(len(src) + len(src)/4)
	if k != jstoken.Comment && strings.HasPrefix(src[lx.Pos():], "#!") {
		b.WriteByte(' ') // at the very start it would become a hashbang comment
	}
	var (
		open     []byte // unclosed ( [ {
		braces   int    // how many of them are {
		prevK    jstoken.Kind
		prev     string
		prevDivs bool // SlashesAreDivisions at prev
		end      int  // where prev ends
	)
	for first := true; more; first = false {
		pos, divs := lx.Pos(), lx.SlashesAreDivisions()
		isPunct := k == jstoken.Punct
		if isPunct && text == "}" && braces > 0 {
			for open[len(open)-1] != '{' {
				open = open[:len(open)-1]
			}
			open = open[:len(open)-1]
			braces--
		}
		if !first {
			gap := src[end:pos]
			nl := newlines(gap)
			switch {
			case strings.HasSuffix(prev, `\`):
				b.WriteString(gap)
			case nl > 0 || !(prevDivs && divs) && breakBetween(prevK, prev, k, text, open):
				b.WriteByte('\n')
				if nl > 1 {
					b.WriteByte('\n')
				}
				for range min(braces, maxIndent) {
					b.WriteString("  ")
				}
			case gap != "":
				b.WriteByte(' ')
			}
		}
		b.WriteString(text)
		if limit >= 0 && b.Len() > limit {
			return "", false
		}
		if isPunct {
			switch text {
			case "(", "[":
				open = append(open, text[0])
			case "{":
				open = append(open, '{')
				braces++
			case ")":
				open = closeBracket(open, '(')
			case "]":
				open = closeBracket(open, '[')
			}
		}
		prevK, prev, prevDivs, end = k, text, divs, pos+len(text)
		k, text, more = lx.Next()
	}
	// A final line break, unless the last literal or comment runs to the
	// end of the input and would take it in.
	if prevK == jstoken.Punct || prevK == jstoken.Ident || prevK == jstoken.Number || prevK == jstoken.Regex || newlines(src[end:]) > 0 {
		b.WriteByte('\n')
	}
	return b.String(), true
}

// closeBracket pops opener when it is the innermost open bracket; a stray
// closer leaves the nesting as it is.
func closeBracket(open []byte, opener byte) []byte {
	if n := len(open); n > 0 && open[n-1] == opener {
		return open[:n-1]
	}
	return open
}

// breakBetween reports whether Pretty puts a line break between two
// tokens that the input has on one line. open holds the brackets open
// after prev.
func breakBetween(prevK jstoken.Kind, prev string, k jstoken.Kind, text string, open []byte) bool {
	if k == jstoken.Punct && text == "}" {
		return !(prevK == jstoken.Punct && prev == "{") // {} stays together
	}
	if prevK != jstoken.Punct {
		return false
	}
	switch prev {
	case "{":
		return true
	case ";":
		return len(open) == 0 || open[len(open)-1] == '{'
	case "}":
		// A statement after a block; not else, catch, an operator word...
		return k == jstoken.Ident && !continuesBlock(text)
	}
	return false
}

// continuesBlock reports whether word, after a closing brace, belongs to
// the same statement or expression.
func continuesBlock(word string) bool {
	switch word {
	case "else", "catch", "finally", "while", "in", "instanceof", "of":
		return true
	}
	return false
}

// newlines counts the line breaks (\n, \r\n or \r, as the lexer reads
// them) in gap, up to two.
func newlines(gap string) int {
	n := 0
	for i := 0; i < len(gap) && n < 2; i++ {
		switch gap[i] {
		case '\n':
			n++
		case '\r':
			if i+1 == len(gap) || gap[i+1] != '\n' {
				n++
			}
		}
	}
	return n
}

// Minified reports whether src looks minified: a line longer than 1,000
// bytes, or lines averaging more than 200 bytes.
func Minified(src string) bool {
	lines, longest := 0, 0
	for rest := src; rest != ""; lines++ {
		n := strings.IndexByte(rest, '\n')
		if n < 0 {
			n = len(rest)
		}
		longest = max(longest, n)
		rest = rest[min(n+1, len(rest)):]
	}
	return longest > 1000 || lines > 0 && len(src)/lines > 200
}
