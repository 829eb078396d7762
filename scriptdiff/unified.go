package scriptdiff

import (
	"strconv"
	"strings"
)

// Unified returns the diff as unified diff text, as diff -u writes it and
// patch reads it, headed by the two names; "" when there are no hunks. A
// Truncated result over the size caps has no hunks, so it gives "" too.
// Lines end in \n; a last line without a line break is followed by
// "\ No newline at end of file".
func (r Result) Unified(beforeName, afterName string) string {
	if len(r.Hunks) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("--- " + headerName(beforeName) + "\n")
	b.WriteString("+++ " + headerName(afterName) + "\n")
	for _, h := range r.Hunks {
		b.WriteString("@@ -" + hunkRange(h.OldStart, h.OldLines) + " +" + hunkRange(h.NewStart, h.NewLines) + " @@\n")
		for _, l := range h.Lines {
			switch l.Op {
			case Equal:
				b.WriteByte(' ')
			case Delete:
				b.WriteByte('-')
			case Insert:
				b.WriteByte('+')
			}
			b.WriteString(l.Text)
			b.WriteByte('\n')
			if l.NoNewline {
				b.WriteString("\\ No newline at end of file\n")
			}
		}
	}
	return b.String()
}

// headerName keeps a name on its header line.
func headerName(name string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(name)
}

func hunkRange(start, lines int) string {
	return strconv.Itoa(start) + "," + strconv.Itoa(lines)
}
