package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Policy says where pages may make the crawler's browser connect; see the
// package documentation for how its rules combine. The zero Policy refuses
// the built-in destinations only.
type Policy struct {
	// Allow and Deny are the egress: lists of sites.yaml.
	Allow, Deny []Rule
	// Own are skimguard's own listening addresses (see OwnAddress), such as
	// the web interface's; they are refused whatever Allow says.
	Own []Rule
}

// builtin are the destinations refused unless a rule allows them.
var builtin = []struct {
	prefix, why string
}{
	{"169.254.0.0/16", "a link-local address"},
	{"fe80::/10", "a link-local address"},
	{"169.254.169.254/32", "the cloud metadata address"},
	{"169.254.170.2/32", "the cloud metadata address of AWS ECS tasks"},
	{"fd00:ec2::254/128", "the IPv6 cloud metadata address of AWS"},
	{"100.100.100.200/32", "the cloud metadata address of Alibaba Cloud"},
	{"0.0.0.0/8", "an unspecified address, which reaches this machine"},
	{"::/128", "the unspecified address, which reaches this machine"},
}

// nat64 is the well-known NAT64 prefix, whose addresses carry an IPv4
// address in their last 32 bits.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// rule is a Rule with what it does and where it came from.
type rule struct {
	Rule
	allow  bool
	config bool   // from the configuration, not built in
	why    string // for people: why a connection it refuses is refused
}

// Refusal is a connection the policy refused. It is the error a refused
// dial returns (wrapped).
type Refusal struct {
	// Host is the name the browser asked for (an address when it asked
	// for one), Addr the address that would have been dialed.
	Host string
	Addr netip.AddrPort
	// Why says what the address is or which rule refused it.
	Why string
	// Tunnel is set by a Proxy when the connection was asked for with
	// CONNECT (HTTPS, WebSockets), not by a plain HTTP request.
	Tunnel bool
}

// Error says what was refused and why, starting "connection to".
func (r *Refusal) Error() string {
	dest := r.Addr.String()
	if r.Host != "" && r.Host != r.Addr.Addr().String() {
		dest = net.JoinHostPort(r.Host, fmt.Sprint(r.Addr.Port())) + " (" + dest + ")"
	}
	return "connection to " + dest + " refused by egress policy: " + r.Why
}

// Guard decides by a Policy which addresses may be dialed, and dials them.
// It is safe for concurrent use.
type Guard struct {
	rules    []rule
	own      []Rule
	locals   []netip.Addr
	resolver *net.Resolver

	mu      sync.Mutex
	proxies map[netip.AddrPort]bool // listening addresses of the Guard's proxies
	// browsers are the DevTools ports of the crawler's remote browsers.
	browsers map[netip.AddrPort]bool
}

// NewGuard compiles p. The resolver looks up the names pages ask for; nil
// is the system's.
func NewGuard(p Policy, resolver *net.Resolver) *Guard {
	g := &Guard{own: p.Own, resolver: resolver, proxies: map[netip.AddrPort]bool{}, browsers: map[netip.AddrPort]bool{}}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	for _, b := range builtin {
		g.rules = append(g.rules, rule{Rule: Rule{prefix: netip.MustParsePrefix(b.prefix), text: b.prefix}, why: b.why})
	}
	for _, r := range p.Deny {
		g.rules = append(g.rules, rule{Rule: r, config: true, why: "denied by " + r.text + " in egress deny"})
	}
	for _, r := range p.Allow {
		g.rules = append(g.rules, rule{Rule: r, allow: true, config: true})
	}
	// Own addresses given without a host match the machine's own
	// addresses, read once: a page could reach the interface on any of
	// them.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					g.locals = append(g.locals, ip.Unmap())
				}
			}
		}
	}
	return g
}

// Check returns nil when a connection to addr for the name host may be
// made, else a *Refusal.
func (g *Guard) Check(host string, addr netip.AddrPort) error {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	addr = netip.AddrPortFrom(addr.Addr().WithZone("").Unmap(), addr.Port())
	if r := g.check(host, addr); r != nil {
		return r
	}
	// A NAT64 address reaches the IPv4 address inside it.
	if a := addr.Addr(); nat64.Contains(a) {
		b := a.As16()
		v4 := netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:])), addr.Port())
		if r := g.check(host, v4); r != nil {
			r.Addr = addr
			return r
		}
	}
	return nil
}

func (g *Guard) check(host string, addr netip.AddrPort) *Refusal {
	for i := range g.own {
		if g.own[i].matches(host, addr, g.locals) {
			return &Refusal{Host: host, Addr: addr, Why: "skimguard's own address " + g.own[i].text}
		}
	}
	g.mu.Lock()
	proxy, browser := g.proxies[addr], g.browsers[addr]
	g.mu.Unlock()
	if proxy {
		return &Refusal{Host: host, Addr: addr, Why: "the crawler's own proxy"}
	}
	if browser {
		return &Refusal{Host: host, Addr: addr, Why: "a remote browser's DevTools port"}
	}
	var best *rule
	bestSpec := -1
	for i := range g.rules {
		r := &g.rules[i]
		if !r.matches(host, addr, g.locals) {
			continue
		}
		spec := r.specificity()
		switch {
		case spec > bestSpec,
			spec == bestSpec && r.config && !best.config,
			spec == bestSpec && r.config == best.config && !r.allow:
			best, bestSpec = r, spec
		}
	}
	if best == nil || best.allow {
		return nil
	}
	return &Refusal{Host: host, Addr: addr, Why: best.why}
}

// dialTimeout bounds one dial, name lookup included.
const dialTimeout = 10 * time.Second

// DialContext dials address ("host:port") over network as net.Dialer does,
// refusing, in the dialer's Control hook, every address the policy
// refuses; the error of a refused dial wraps a *Refusal. The check is on the
// address dialed after resolution, so a name cannot lead past it.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{
		Timeout:  dialTimeout,
		Resolver: g.resolver,
		Control: func(_, dialed string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(dialed)
			if err != nil {
				return fmt.Errorf("egress policy: cannot read the address %q being dialed: %w", dialed, err)
			}
			return g.Check(host, ap)
		},
	}
	return d.DialContext(ctx, network, address)
}

// addProxy and removeProxy keep the listening addresses of the Guard's
// proxies, which pages must not reach through another proxy.
func (g *Guard) addProxy(a netip.AddrPort) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.proxies[a] = true
}

// RefuseBrowser refuses the DevTools port of a remote browser the crawler
// drives, which would give a page control of the browser.
func (g *Guard) RefuseBrowser(a netip.AddrPort) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.browsers[a] = true
}

func (g *Guard) removeProxy(a netip.AddrPort) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.proxies, a)
}
