package config

import (
	"gopkg.in/yaml.v3"

	"github.com/skimguard/skimguard/egress"
)

// egressFields are the keys of egress:, the destinations the crawler's
// browser may or may not connect to. It is set once, at the top level: all
// sites share the one browser, and what it must not reach (cloud metadata,
// skimguard's own interface, an internal network) belongs to the machine
// skimguard runs on, not to a site.
var egressFields = []field[egress.Policy]{
	{
		key:    "allow",
		decode: func(d *decoder, p *egress.Policy, v *yaml.Node) { p.Allow = d.egressRules(v, "allow") },
	},
	{
		key:    "deny",
		decode: func(d *decoder, p *egress.Policy, v *yaml.Node) { p.Deny = d.egressRules(v, "deny") },
	},
}

// decodeEgress reads egress:; empty means the built-in policy.
func decodeEgress(d *decoder, n *yaml.Node) egress.Policy {
	var p egress.Policy
	if isNull(d.resolve(n)) {
		return p
	}
	decodeMap(d, n, "egress", egressFields, &p)
	return p
}

// egressRules reads the list of egress key (allow or deny).
func (d *decoder) egressRules(n *yaml.Node, key string) []egress.Rule {
	var rules []egress.Rule
	d.list(n, "egress "+key, "- 10.0.0.0/8", func(item *yaml.Node) {
		item = d.resolve(item)
		s, ok := d.str(item, "an egress "+key+" entry", "10.0.0.0/8 or shop.internal:8443")
		if !ok {
			if item.Kind == yaml.ScalarNode {
				d.errorf(item, "empty entry in egress %s: write an address range such as 10.0.0.0/8, an address, or a host name, with an optional :port", key)
			}
			return
		}
		r, err := egress.ParseRule(s)
		if err != nil {
			d.errorf(item, "egress %s entry %q: %v", key, s, err)
			return
		}
		rules = append(rules, r)
	})
	return rules
}
