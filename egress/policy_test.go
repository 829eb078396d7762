package egress

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in     string
		prefix string // for address rules
		host   string // for name rules
		port   uint16
	}{
		{in: "10.0.0.0/8", prefix: "10.0.0.0/8"},
		{in: "fd00::/8", prefix: "fd00::/8"},
		{in: "::ffff:169.254.0.0/112", prefix: "169.254.0.0/16"},
		{in: "10.1.2.3", prefix: "10.1.2.3/32"},
		{in: " 10.1.2.3:8443 ", prefix: "10.1.2.3/32", port: 8443},
		{in: "fd00::1", prefix: "fd00::1/128"},
		{in: "[fd00::1]", prefix: "fd00::1/128"},
		{in: "[fd00::1]:8443", prefix: "fd00::1/128", port: 8443},
		{in: "::ffff:10.1.2.3", prefix: "10.1.2.3/32"},
		{in: "Shop.Internal.", host: "shop.internal"},
		{in: "shop.internal:8443", host: "shop.internal", port: 8443},
		{in: "localhost", host: "localhost"},
	} {
		r, err := ParseRule(tc.in)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.in, err)
			continue
		}
		if got := r.prefix.String(); tc.prefix != "" && got != tc.prefix || r.host != tc.host || r.port != tc.port {
			t.Errorf("ParseRule(%q) = prefix %s host %q port %d, want %s %q %d", tc.in, r.prefix, r.host, r.port, tc.prefix, tc.host, tc.port)
		}
		if r.String() != strings.TrimSpace(tc.in) {
			t.Errorf("ParseRule(%q).String() = %q", tc.in, r.String())
		}
	}
	for in, want := range map[string]string{
		"":                        "empty",
		"http://10.0.0.1/":        "URL",
		"shop.internal?x=1":       "URL",
		"shop.internal/checkout":  "host name has no path",
		"10.0.0.0/33":             "not an address range",
		"10.1.2.3/8":              "write 10.0.0.0/8",
		"10.0.0.0/8:443":          "not a range",
		"shop.internal:":          "no port after it",
		"shop.internal:99999":     `port "99999"`,
		"shop.internal:0":         `port "0"`,
		"shop.internal:https":     `port "https"`,
		"bad host!":               "not an address range, an address or a host name",
		"-shop.internal":          "not an address range, an address or a host name",
		"fe80::1%eth0":            "zone",
		"[fe80::1%eth0]:80":       "zone",
		"shop..internal":          "not an address range, an address or a host name",
		"user@shop.internal:8443": "URL",
	} {
		_, err := ParseRule(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRule(%q) error = %v, want one that says %q", in, err, want)
		}
	}
}

func TestOwnAddress(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080": "prefix 127.0.0.1/32 port 8080",
		"[::1]:8080":     "prefix ::1/128 port 8080",
		":8080":          "local port 8080",
		"0.0.0.0:8080":   "local port 8080",
		"[::]:8080":      "local port 8080",
		"localhost:8080": "local port 8080",
	} {
		r, err := OwnAddress(in)
		if err != nil {
			t.Errorf("OwnAddress(%q): %v", in, err)
			continue
		}
		got := "prefix " + r.prefix.String()
		if r.local {
			got = "local"
		}
		if got += " port " + strconv.Itoa(int(r.port)); got != want {
			t.Errorf("OwnAddress(%q) = %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"127.0.0.1", "off", ":0", ":http"} {
		if _, err := OwnAddress(in); err == nil || !strings.Contains(err.Error(), "own address") {
			t.Errorf("OwnAddress(%q) error = %v", in, err)
		}
	}
}

func mustRules(t *testing.T, list ...string) []Rule {
	t.Helper()
	var rules []Rule
	for _, s := range list {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", s, err)
		}
		rules = append(rules, r)
	}
	return rules
}

func TestCheck(t *testing.T) {
	own, err := OwnAddress("127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	anyOwn, err := OwnAddress(":9090")
	if err != nil {
		t.Fatal(err)
	}
	def := NewGuard(Policy{Own: []Rule{own, anyOwn}}, nil)
	configured := NewGuard(Policy{
		Own:   []Rule{own},
		Deny:  mustRules(t, "10.0.0.0/8", "tracker.example", "127.0.0.5:443", "192.168.1.1"),
		Allow: mustRules(t, "10.1.0.0/16", "shop.internal", "169.254.0.0/16", "169.254.169.254:8080", "127.0.0.0/8", "192.168.1.1"),
	}, nil)
	for _, tc := range []struct {
		name string
		g    *Guard
		host string
		addr string
		why  string // "" when allowed
	}{
		{"loopback", def, "127.0.0.1", "127.0.0.1:3000", ""},
		{"other loopback", def, "127.0.0.2", "127.0.0.2:8080", ""},
		{"private range", def, "10.1.2.3", "10.1.2.3:443", ""},
		{"public", def, "shop.example", "93.184.216.34:443", ""},
		{"metadata", def, "169.254.169.254", "169.254.169.254:80", "cloud metadata"},
		{"metadata by a name", def, "metadata.google.internal", "169.254.169.254:80", "cloud metadata"},
		{"metadata, IPv4-mapped", def, "::ffff:169.254.169.254", "[::ffff:169.254.169.254]:80", "cloud metadata"},
		{"metadata through NAT64", def, "64:ff9b::a9fe:a9fe", "[64:ff9b::a9fe:a9fe]:80", "cloud metadata"},
		{"ECS task metadata", def, "169.254.170.2", "169.254.170.2:80", "cloud metadata"},
		{"IPv6 metadata", def, "fd00:ec2::254", "[fd00:ec2::254]:80", "cloud metadata"},
		{"Alibaba metadata", def, "100.100.100.200", "100.100.100.200:80", "cloud metadata"},
		{"link-local", def, "169.254.1.1", "169.254.1.1:80", "link-local"},
		{"IPv6 link-local with zone", def, "fe80::1", "[fe80::1%eth0]:80", "link-local"},
		{"unspecified", def, "0.0.0.0", "0.0.0.0:8080", "unspecified"},
		{"IPv6 unspecified", def, "::", "[::]:8080", "unspecified"},
		{"own address", def, "127.0.0.1", "127.0.0.1:8080", "own address 127.0.0.1:8080"},
		{"own address by a name", def, "ui.example", "127.0.0.1:8080", "own address"},
		{"own address, other port", def, "127.0.0.1", "127.0.0.1:8081", ""},
		{"own address on every interface", def, "127.0.0.9", "127.0.0.9:9090", "own address :9090"},
		{"own address on IPv6 loopback", def, "::1", "[::1]:9090", "own address :9090"},
		{"denied range", configured, "10.2.0.1", "10.2.0.1:443", "denied by 10.0.0.0/8"},
		{"allowed inside a denied range", configured, "10.1.2.3", "10.1.2.3:443", ""},
		{"allowed name in a denied range", configured, "shop.internal", "10.2.0.1:443", ""},
		{"allowed name with a final dot and capitals", configured, "Shop.Internal.", "10.2.0.1:443", ""},
		{"denied name", configured, "tracker.example", "93.184.216.34:443", "denied by tracker.example"},
		{"denied address and port", configured, "127.0.0.5", "127.0.0.5:443", "denied by 127.0.0.5:443"},
		{"same address, other port", configured, "127.0.0.5", "127.0.0.5:80", ""},
		{"allowed link-local", configured, "169.254.1.1", "169.254.1.1:80", ""},
		{"metadata stays refused under an allowed range", configured, "169.254.169.254", "169.254.169.254:80", "cloud metadata"},
		{"metadata allowed on one port", configured, "169.254.169.254", "169.254.169.254:8080", ""},
		{"deny beats allow on a tie", configured, "192.168.1.1", "192.168.1.1:80", "denied by 192.168.1.1"},
		{"own address whatever allow says", configured, "127.0.0.1", "127.0.0.1:8080", "own address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.g.Check(tc.host, netip.MustParseAddrPort(tc.addr))
			if tc.why == "" {
				if err != nil {
					t.Errorf("Check(%s, %s) = %v, want allowed", tc.host, tc.addr, err)
				}
				return
			}
			r, ok := errors.AsType[*Refusal](err)
			if !ok || !strings.Contains(r.Why, tc.why) || !strings.Contains(err.Error(), "refused by egress policy") {
				t.Errorf("Check(%s, %s) = %v, want a refusal for %q", tc.host, tc.addr, err, tc.why)
			}
		})
	}
}
