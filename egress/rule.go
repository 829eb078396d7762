// Package egress decides where the crawler's browser may connect, and
// enforces it in a forward proxy that the browser sends all its traffic
// through.
//
// A page the crawler loads is hostile by assumption. Left alone it could make
// the browser fetch the cloud metadata service (169.254.169.254), anything
// else on a link-local address, or skimguard's own web interface. A Policy
// refuses, by default:
//
//   - link-local addresses: 169.254.0.0/16 and fe80::/10;
//   - cloud metadata addresses: 169.254.169.254, 169.254.170.2,
//     fd00:ec2::254 and 100.100.100.200;
//   - the unspecified addresses 0.0.0.0/8 and ::, which reach this machine;
//   - skimguard's own listening addresses (Policy.Own), whatever else says.
//
// Loopback and private ranges stay allowed: test shops and intranet shops
// live there. Policy.Deny refuses more, and Policy.Allow makes exceptions.
// When several rules match a connection the most specific one decides: a
// host name is more specific than any address, a longer prefix than a
// shorter one, and a rule with a port than the same without. On a tie a
// rule from the configuration beats a built-in one, and deny beats allow.
// So "allow: [169.254.0.0/16]" opens link-local addresses but not the
// metadata ones, which need to be allowed one by one.
//
// The decision is made on the address actually dialed, in the dialer's
// Control hook, after the proxy resolved the name: a page cannot get past it
// with a name that resolves to a refused address (DNS rebinding). Name rules
// match the name the browser asked for; a name that is denied can still be
// reached through another name or its address, so deny addresses to keep
// pages off them.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one entry of an allow or deny list: an address range (CIDR), an
// address, or a host name, the last two with an optional port.
type Rule struct {
	prefix netip.Prefix // address rules
	host   string       // name rules: lower case, without a final dot
	// local matches any address of this machine: loopback, unspecified
	// and the interfaces' addresses. Only own addresses are local.
	local bool
	port  uint16 // 0 for any port
	text  string
}

// String returns the rule as written.
func (r Rule) String() string { return r.text }

// ParseRule reads an allow or deny entry: "10.0.0.0/8", "fd00::/8",
// "10.1.2.3", "10.1.2.3:8443", "[fd00::1]:8443", "shop.internal" or
// "shop.internal:8443". Its errors say what to write instead.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	r := Rule{text: s}
	if s == "" {
		return r, errors.New("it is empty: write an address range such as 10.0.0.0/8, an address, or a host name, with an optional :port")
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "?#@") {
		return r, errors.New("it is a URL: write only the host name or address, with an optional :port, such as shop.internal:8443")
	}
	if addr, bits, ok := strings.Cut(s, "/"); ok {
		if _, err := netip.ParseAddr(addr); err != nil {
			return r, errors.New("it is not an address range, and a host name has no path: write a range such as 10.0.0.0/8, or only the host name")
		}
		if strings.Contains(bits, ":") {
			return r, errors.New("a port can only follow one address or host name, not a range: write the range without its :port")
		}
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return r, errors.New("it is not an address range: write one such as 10.0.0.0/8 or fd00::/8")
		}
		if p.Masked() != p {
			return r, fmt.Errorf("it has bits set past the /%d prefix: write %s", p.Bits(), p.Masked())
		}
		r.prefix = unmapPrefix(p)
		return r, nil
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		host = h
		if port == "" {
			return r, errors.New("it has a colon but no port after it: write host:port, such as shop.internal:8443")
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return r, fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
		r.port = uint16(n)
	} else if strings.Count(s, ":") == 1 {
		return r, errors.New("it has a colon but no port after it: write host:port, such as shop.internal:8443")
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return r, errors.New("it has an IPv6 zone: write the address without its %zone")
		}
		a = a.Unmap()
		r.prefix = netip.PrefixFrom(a, a.BitLen())
		return r, nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if !isHostName(name) {
		return r, errors.New("it is not an address range, an address or a host name: write one such as 10.0.0.0/8, 10.1.2.3:8443 or shop.internal")
	}
	r.host = name
	return r, nil
}

// OwnAddress makes the rule for one of skimguard's own listening addresses,
// such as serve's --listen "127.0.0.1:8080" or ":8080". An address given
// without a host, as the unspecified address or as a name (which can only
// name this machine) stands for every address of this machine on that port.
func OwnAddress(listen string) (Rule, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(listen))
	if err != nil {
		return Rule{}, fmt.Errorf("own address %q: %w: write host:port, such as 127.0.0.1:8080 or :8080", listen, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return Rule{}, fmt.Errorf("own address %q: port %q is not a number from 1 to 65535", listen, port)
	}
	r := Rule{port: uint16(n), text: listen}
	if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
		a = a.WithZone("").Unmap()
		r.prefix = netip.PrefixFrom(a, a.BitLen())
		return r, nil
	}
	r.local = true
	return r, nil
}

// matches reports whether r covers a connection to addr (unmapped, no
// zone) for the name host.
func (r *Rule) matches(host string, addr netip.AddrPort, locals []netip.Addr) bool {
	if r.port != 0 && r.port != addr.Port() {
		return false
	}
	switch {
	case r.host != "":
		return r.host == host
	case r.local:
		a := addr.Addr()
		if a.IsLoopback() || a.IsUnspecified() {
			return true
		}
		for _, l := range locals {
			if l == a {
				return true
			}
		}
		return false
	}
	return r.prefix.IsValid() && r.prefix.Contains(addr.Addr())
}

// specificity orders the rules that match one connection: names first,
// then longer prefixes, then rules with a port.
func (r *Rule) specificity() int {
	s := 0
	switch {
	case r.host != "":
		s = 1000
	case r.local:
		s = 999 // what a local rule covers is this machine: as narrow as it gets
	default:
		s = r.prefix.Bits()
		if r.prefix.Addr().Is4() {
			s += 96 // an IPv4 /32 is one address, as an IPv6 /128 is
		}
	}
	s *= 2
	if r.port != 0 {
		s++
	}
	return s
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix of at least /96 into the
// IPv4 prefix it stands for, as addresses are compared unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// isHostName reports whether s is a DNS name: labels of letters, digits,
// '-' and '_', separated by dots.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := range len(label) {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
