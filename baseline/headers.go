package baseline

import (
	"sort"
	"strings"
)

// normHeader returns the comparable form of a security header's value:
// whitespace collapsed and, for CSP, directives and sources sorted (their
// order has no meaning), nonces as 'nonce-*', and report-uri URLs without
// volatile parts. Hashes ('sha256-...') stay: they name approved inline
// code.
func normHeader(name, value string) string {
	value = strings.Join(strings.Fields(value), " ")
	if !isCSP(name) {
		return value
	}
	return formatCSP(parseCSP(value))
}

func isCSP(name string) bool {
	return name == "content-security-policy" || name == "content-security-policy-report-only"
}

// parseCSP parses a policy into directive → sources, normalising per-load
// parts. Repeated headers joined with ", " are separate policies that all
// apply; merging their sources is close enough for change detection.
func parseCSP(v string) map[string][]string {
	n := &urlNorm{}
	out := map[string][]string{}
	for _, d := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		srcs := append(out[name], f[1:]...)
		for i, s := range srcs {
			ls := strings.ToLower(s)
			switch {
			case strings.HasPrefix(ls, "'nonce-"):
				s = "'nonce-*'"
			case name == "report-uri":
				s = n.norm(s)
			case name == "report-to" && volatileValue(s):
				s = "*"
			case strings.HasPrefix(ls, "'") && !strings.HasPrefix(ls, "'sha"):
				s = ls // keywords are case-insensitive; base64 hashes are not
			}
			srcs[i] = s
		}
		out[name] = sortedSet(srcs)
	}
	return out
}

func formatCSP(p map[string][]string) string {
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, strings.TrimSpace(n+" "+strings.Join(p[n], " ")))
	}
	return strings.Join(parts, "; ")
}

// cspWeakening says how policy after allows more than policy before: a
// directive gone (its fetch type falls back to default-src or to no limit),
// or a source added to a directive (a new host, 'unsafe-inline', *...).
// It returns "" when after is no weaker.
func cspWeakening(before, after string) string {
	b, a := parseCSP(before), parseCSP(after)
	var why []string
	names := make([]string, 0, len(b))
	for n := range b {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "report-uri" || n == "report-to" {
			continue
		}
		as, ok := a[n]
		if !ok {
			why = append(why, "directive "+n+" removed")
			continue
		}
		had := make(map[string]bool, len(b[n]))
		for _, s := range b[n] {
			had[s] = true
		}
		for _, s := range as {
			if !had[s] {
				why = append(why, n+" now allows "+s)
			}
		}
	}
	return strings.Join(why, "; ")
}
