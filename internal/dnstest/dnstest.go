// Package dnstest serves DNS answers of a test's choosing on loopback, so
// that tests can make a name resolve to any address (a link-local one, say)
// without touching /etc/hosts.
package dnstest

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Resolver starts a DNS server on 127.0.0.1 that answers A and AAAA
// queries for the names in names (without a final dot, any case) with their
// addresses, and NXDOMAIN for others, until the test ends. It returns a
// resolver that asks only that server.
func Resolver(tb testing.TB, names map[string][]netip.Addr) *net.Resolver {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("dnstest: listening: %v", err)
	}
	tb.Cleanup(func() { pc.Close() })
	known := map[string][]netip.Addr{}
	for n, addrs := range names {
		known[strings.ToLower(strings.TrimSuffix(n, "."))] = addrs
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if msg, ok := answer(buf[:n], known); ok {
				pc.WriteTo(msg, from)
			}
		}
	}()
	server := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		},
	}
}

// answer builds the response to one query.
func answer(query []byte, known map[string][]netip.Addr) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	addrs, ok := known[strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	res := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			err = b.AResource(res, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			err = b.AAAAResource(res, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, false
		}
	}
	msg, err := b.Finish()
	return msg, err == nil
}
