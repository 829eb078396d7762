package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the YAML nodes walked, aliases expanded.
const maxNodes = 100000

// decoder reads the YAML nodes of one file into the configuration types,
// each of which decodes itself with a decode(d, n) method or a table of
// fields, and collects every problem met on the way so that all are
// reported at once.
type decoder struct {
	file  string
	errs  []error // all *Error
	nodes int     // nodes walked so far, aliases expanded
	// tooMany is set once "too many entries" is reported.
	tooMany bool
	// routes are the site names alerts route to, checked once all sites
	// are known.
	routes []*yaml.Node
}

// errorf reports a problem at n, or in the whole file when n is nil.
func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: d.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// err joins the problems found, in file order whatever order the checks
// ran in, or returns nil when there are none. Problems of the files it
// names (a page's recording) follow those of the file itself.
func (d *decoder) err() error {
	slices.SortStableFunc(d.errs, func(a, b error) int {
		ea, eb := a.(*Error), b.(*Error)
		if ea.File != eb.File {
			switch {
			case ea.File == d.file:
				return -1
			case eb.File == d.file:
				return 1
			}
			return strings.Compare(ea.File, eb.File)
		}
		if ea.Line != eb.Line {
			return ea.Line - eb.Line
		}
		return ea.Column - eb.Column
	})
	return errors.Join(d.errs...)
}

// document parses data as a single YAML document and returns its top node,
// aliases followed, or nil when there is nothing to decode.
func (d *decoder) document(data []byte) *yaml.Node {
	if len(bytes.TrimSpace(data)) == 0 {
		d.errorf(&yaml.Node{Line: 1, Column: 1}, "the file is empty: it needs a sites: list, for example\n  sites:\n    - name: shop\n      pages:\n        - name: checkout\n          url: https://shop.example/checkout")
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		d.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "a second YAML document starts here: keep the whole configuration in one document (remove the \"---\")")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			d.errorf(root, "the file has no content: it needs a sites: list")
			return nil
		}
		root = root.Content[0]
	}
	root = d.resolve(root)
	if isNull(root) {
		d.errorf(root, "the file has no content: it needs a sites: list")
		return nil
	}
	return root
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns an error of the YAML parser into an Error with its line.
func (d *decoder) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		e := &Error{File: d.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = "invalid YAML: " + m[2]
		}
		d.errs = append(d.errs, e)
	}
}

// resolve follows aliases and counts nodes, so that alias bombs stop.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	d.nodes++
	return n
}

// tooBig reports, once, when more than maxNodes nodes have been walked;
// walks stop when it returns true.
func (d *decoder) tooBig() bool {
	if d.nodes <= maxNodes {
		return false
	}
	if !d.tooMany {
		d.tooMany = true
		d.errorf(nil, "too many entries (more than %d once aliases are expanded): list each site and page once", maxNodes)
	}
	return true
}

// isNull reports whether n is an empty value ("key:" with nothing after).
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// kindName says what n is, for errors: "a map", "the value \"x\""...
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

// A field is one key of a map in the file: how its value is read into a T
// and, when the key is required, what to say when it is left out. A type's
// fields are listed in one table next to it, in the order the keys are
// named in errors.
type field[T any] struct {
	key string
	// decode reads the value v into t, reporting what is wrong with it;
	// nil leaves the value to the type's decode method.
	decode func(d *decoder, t *T, v *yaml.Node)
	// missing, when set, makes the key required: it returns the problem
	// to report at the map when the key is left out, given the rest of t.
	missing func(t *T) string
	// atStart, when set, says that serve reads the key once, at start (a
	// SIGHUP does not apply it), and returns its value, so that a reload
	// can say that a change waits for a restart.
	atStart func(t *T) any
}

// entry is a key of a map in the file and its value, aliases followed.
type entry struct{ key, value *yaml.Node }

// decodeMap reads the map n (what it is, e.g. "a page") into t by fields,
// reporting duplicate, unknown and secret keys, bad values and missing
// required keys. It returns the keys the map has, and false when n is not
// a map or the file is too big to read it all.
func decodeMap[T any](d *decoder, n *yaml.Node, what string, fields []field[T], t *T) (map[string]entry, bool) {
	n = d.resolve(n)
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a map of keys (%s), not %s", what, strings.Join(known, ", "), kindName(n))
		return nil, false
	}
	has := map[string]entry{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if d.tooBig() {
			return has, false
		}
		k, v := d.resolve(n.Content[i]), d.resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys in %s must be plain words, not %s", what, kindName(k))
			continue
		}
		key := k.Value
		if prev, ok := has[key]; ok {
			d.errorf(k, "key %q appears twice in %s (first at line %d): keep one", key, what, prev.key.Line)
			continue
		}
		has[key] = entry{k, v}
		fi := slices.Index(known, key)
		switch {
		case fi < 0 && isSecretKey(key):
			d.secret(k, v, known)
		case fi < 0:
			msg := fmt.Sprintf("unknown key %q in %s", key, what)
			if s := closest(key, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; known keys are " + strings.Join(known, ", ")
			}
			d.errorf(k, "%s", msg)
			d.scanSecrets(v, 0)
		case fields[fi].decode != nil:
			fields[fi].decode(d, t, v)
		}
	}
	for _, f := range fields {
		if _, ok := has[f.key]; !ok && f.missing != nil {
			d.errorf(n, "%s", f.missing(t))
		}
	}
	return has, true
}

// str reads a scalar as a string. Empty values give "", false without an
// error; lists and maps are errors that say what to write.
func (d *decoder) str(n *yaml.Node, key, example string) (string, bool) {
	n = d.resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value such as %s, not %s", key, example, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

// list calls fn for each item of the list n (what it is, with an example
// item). It returns false when n is empty, not a list, or too big to walk.
func (d *decoder) list(n *yaml.Node, what, example string, fn func(item *yaml.Node)) bool {
	n = d.resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, each item starting with \"- \" (%s), not %s", what, example, kindName(n))
		return false
	}
	for _, item := range n.Content {
		if d.tooBig() {
			return false
		}
		fn(item)
	}
	return true
}

// url reads an absolute http or https URL.
func (d *decoder) url(n *yaml.Node, key string) string {
	s, ok := d.str(n, key, "https://shop.example/checkout")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "%s is empty: write an absolute address such as https://shop.example/checkout", key)
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(n, "%s %q is not an absolute http or https address: write it in full, such as https://shop.example/checkout", key, s)
		return s
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		d.errorf(n, "%s %q holds a password: put secrets in environment variables: use url_env: NAME and set NAME in the environment", key, u.Redacted())
	}
	return s
}

// boolean reads true or false, in any case; def when empty.
func (d *decoder) boolean(n *yaml.Node, key string, def bool) bool {
	s, ok := d.str(n, key, "true")
	if !ok {
		return def
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	d.errorf(n, "%s must be true or false, not %q", key, s)
	return def
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envName reads the name of an environment variable (key is e.g.
// "secret_env"); secrets are kept there, never in the file.
func (d *decoder) envName(n *yaml.Node, key string) string {
	s, ok := d.str(n, key, "SKIMGUARD_WEBHOOK_SECRET")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "%s is empty: write the name of an environment variable, such as SKIMGUARD_WEBHOOK_SECRET", key)
		}
		return ""
	}
	if !envNameRE.MatchString(s) {
		d.errorf(n, "%s %q is not an environment variable name: use letters, digits and '_', such as SKIMGUARD_WEBHOOK_SECRET", key, s)
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
