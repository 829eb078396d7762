package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"

	"gopkg.in/yaml.v3"
)

// decodeBrowsers reads browsers: the DevTools endpoints of remote Chromium
// browsers to scan in, instead of starting one.
func decodeBrowsers(d *decoder, n *yaml.Node) []string {
	var out []string
	var lines []int
	if r := d.resolve(n); isNull(r) || (r.Kind == yaml.SequenceNode && len(r.Content) == 0) {
		d.errorf(n, "browsers is empty: list DevTools endpoints such as ws://10.0.0.5:9222, or leave browsers out to start a local Chromium")
		return nil
	}
	d.list(n, "browsers", "- ws://10.0.0.5:9222", func(item *yaml.Node) {
		s, ok := d.str(item, "a browser", "ws://10.0.0.5:9222")
		if !ok {
			if item.Kind == yaml.ScalarNode {
				d.errorf(item, "a browser is empty: write its DevTools endpoint, such as ws://10.0.0.5:9222")
			}
			return
		}
		if err := CheckBrowser(s); err != nil {
			d.errorf(item, "%v", err)
			return
		}
		if i := slices.Index(out, s); i >= 0 {
			d.errorf(item, "browser %q is listed twice (first at line %d)", s, lines[i])
			return
		}
		out, lines = append(out, s), append(lines, item.Line)
	})
	return out
}

// CheckBrowser says what is wrong with a remote browser's DevTools endpoint
// (in browsers: or --browser), if anything: it is a ws://, wss://, http://
// or https:// URL with a host, and no password.
func CheckBrowser(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https"):
		return fmt.Errorf("browser %q is not a DevTools endpoint: write ws://HOST:PORT (or wss://, http://, https://), such as ws://10.0.0.5:9222", s)
	case u.Hostname() == "":
		return fmt.Errorf("browser %q has no host: write ws://HOST:PORT, such as ws://10.0.0.5:9222", s)
	case u.User != nil:
		return fmt.Errorf("browser %q holds a user name or password, which the DevTools protocol does not take: give the address alone", u.Redacted())
	}
	return nil
}

// decodeBrowserProxy reads browser_proxy: this machine's IP address at which
// the remote browsers reach skimguard's egress proxy.
func decodeBrowserProxy(d *decoder, n *yaml.Node) netip.Addr {
	s, ok := d.str(n, "browser_proxy", "10.0.0.2")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "browser_proxy is empty: write an IP address of this machine that the browsers reach, such as 10.0.0.2, or leave it out")
		}
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.IsUnspecified() {
		d.errorf(n, "browser_proxy %q is not an IP address of this machine: write one the browsers reach, such as 10.0.0.2 (not a name, not 0.0.0.0)", s)
		return netip.Addr{}
	}
	return a.Unmap()
}
