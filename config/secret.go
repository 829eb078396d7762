package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	skimguard "github.com/skimguard/skimguard"
)

// secretWords are the parts of key names that say the value is a secret.
var secretWords = []string{"secret", "password", "passwd", "token", "api_key", "apikey", "private_key", "credential"}

// isSecretKey reports whether a key's name says its value is a secret;
// names ending in _env hold the name of a variable, not a secret.
func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "_env") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// selectorSecretWords are the parts of selectors, beyond secretWords, that
// say the element takes a secret ("#pass", "input[name=pwd]").
var selectorSecretWords = []string{"pass", "pwd"}

// looksSecret reports whether a journey's selector names an element that
// takes a secret, whose value must then come from the environment.
func looksSecret(selector string) bool {
	s := strings.ToLower(selector)
	for _, w := range selectorSecretWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return isSecretKey(s)
}

// secret reports a secret-looking key: refused with a literal value,
// unknown otherwise. It points to the key's _env form when the map takes
// one (password: to password_env:), to secret_env otherwise.
func (d *decoder) secret(k, v *yaml.Node, known []string) {
	envKey := "secret_env"
	if slices.Contains(known, k.Value+"_env") {
		envKey = k.Value + "_env"
	}
	if isLiteral(v) {
		d.errorf(v, "%q holds a literal secret: put secrets in environment variables: use %s: NAME and set NAME in the environment", k.Value, envKey)
		return
	}
	d.errorf(k, "unknown key %q: put secrets in environment variables: use %s: NAME", k.Value, envKey)
}

// isLiteral reports whether v is a value written out in the file: not
// empty, and not made only of ${NAME} references to the environment.
func isLiteral(v *yaml.Node) bool {
	return v.Kind == yaml.ScalarNode && v.Tag != "!!null" && v.Value != "" && !skimguard.IsEnvRef(v.Value)
}

// scanSecrets looks for literal secrets under an unknown key, so that a
// secret is refused wherever it was written. It does not follow aliases.
func (d *decoder) scanSecrets(n *yaml.Node, depth int) {
	if depth > 20 || d.tooBig() {
		return
	}
	d.nodes++
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && isSecretKey(k.Value) && isLiteral(v) {
				d.errorf(v, "%q holds a literal secret: put secrets in environment variables: use secret_env: NAME and set NAME in the environment", k.Value)
				continue
			}
			d.scanSecrets(v, depth+1)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			d.scanSecrets(c, depth+1)
		}
	}
}
