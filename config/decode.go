package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the YAML nodes walked, aliases expanded.
const maxNodes = 100000

type parser struct {
	file  string
	errs  []error // all *Error
	nodes int
	// alertSites remembers the site names alerts route to, checked once
	// all sites are known.
	alertSites []*yaml.Node
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns an error of the YAML parser into an Error with its line.
func (p *parser) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		e := &Error{File: p.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = "invalid YAML: " + m[2]
		}
		p.errs = append(p.errs, e)
	}
}

// resolve follows aliases and counts nodes, so that alias bombs stop.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	p.nodes++
	return n
}

func (p *parser) tooBig() bool {
	if p.nodes > maxNodes {
		if !slices.ContainsFunc(p.errs, func(e error) bool { return strings.Contains(e.Error(), "too many entries") }) {
			p.errs = append(p.errs, &Error{File: p.file, Msg: fmt.Sprintf("too many entries (more than %d once aliases are expanded): list each site and page once", maxNodes)})
		}
		return true
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "something else"
}

// mapping walks the keys of a map, reporting duplicate, unknown and secret
// keys, and calls fn for each known key.
func (p *parser) mapping(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	n = p.resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a map of keys (%s), not %s", what, strings.Join(known, ", "), kindName(n))
		return false
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if p.tooBig() {
			return false
		}
		k, v := p.resolve(n.Content[i]), p.resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "keys in %s must be plain words, not %s", what, kindName(k))
			continue
		}
		key := k.Value
		if prev, ok := seen[key]; ok {
			p.errorf(k, "key %q appears twice in %s (first at line %d): keep one", key, what, prev.Line)
			continue
		}
		seen[key] = k
		if isSecretKey(key) && !slices.Contains(known, key) {
			p.secret(k, v, known)
			continue
		}
		if !slices.Contains(known, key) {
			msg := fmt.Sprintf("unknown key %q in %s", key, what)
			if s := closest(key, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; known keys are " + strings.Join(known, ", ")
			}
			p.errorf(k, "%s", msg)
			p.scanSecrets(v, 0)
			continue
		}
		fn(key, k, v)
	}
	return true
}

// str reads a scalar as a string. Empty values give "", false without an
// error; lists and maps are errors that say what to write.
func (p *parser) str(n *yaml.Node, key, example string) (string, bool) {
	n = p.resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a single value such as %s, not %s", key, example, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

// list walks a list of maps.
func (p *parser) list(n *yaml.Node, what, example string, fn func(i int, item *yaml.Node)) bool {
	n = p.resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list, each item starting with \"- \" (%s), not %s", what, example, kindName(n))
		return false
	}
	for i, item := range n.Content {
		if p.tooBig() {
			return false
		}
		fn(i, item)
	}
	return true
}

// url reads an absolute http or https URL.
func (p *parser) url(n *yaml.Node, key string) string {
	s, ok := p.str(n, key, "https://shop.example/checkout")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			p.errorf(n, "%s is empty: write an absolute address such as https://shop.example/checkout", key)
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(n, "%s %q is not an absolute http or https address: write it in full, such as https://shop.example/checkout", key, s)
		return s
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		p.errorf(n, "%s %q holds a password: put secrets in environment variables: use url_env: NAME and set NAME in the environment", key, u.Redacted())
	}
	return s
}

func (p *parser) boolean(n *yaml.Node, key string, def bool) bool {
	s, ok := p.str(n, key, "true")
	if !ok {
		return def
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	p.errorf(n, "%s must be true or false, not %q", key, s)
	return def
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (p *parser) envName(n *yaml.Node, key string) string {
	s, ok := p.str(n, key, "SKIMGUARD_WEBHOOK_SECRET")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			p.errorf(n, "%s is empty: write the name of an environment variable, such as SKIMGUARD_WEBHOOK_SECRET", key)
		}
		return ""
	}
	if !envNameRE.MatchString(s) {
		p.errorf(n, "%s %q is not an environment variable name: use letters, digits and '_', such as SKIMGUARD_WEBHOOK_SECRET", key, s)
	}
	return s
}

// closest returns the candidate nearest to s in edit distance, when near
// enough to be a typo.
func closest(s string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > max(2, len(best)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
