package alerts

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skimguard/skimguard/carddata"
)

// smtpServer is a small real SMTP server on loopback: EHLO, STARTTLS (when
// it has a certificate), AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
// It records what each session did.
type smtpServer struct {
	ln  net.Listener
	tls *tls.Config // nil: STARTTLS is not offered

	mu       sync.Mutex
	sessions []*smtpSession
	wg       sync.WaitGroup
}

// smtpSession is what one connection did.
type smtpSession struct {
	TLS            bool // STARTTLS was used
	User, Password string
	AuthInClear    bool
	From           string
	To             []string
	Data           []byte
	DataOverTLS    bool
}

func newSMTPServer(t *testing.T, addr string, cfg *tls.Config) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, tls: cfg}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpServer) addr() string { return s.ln.Addr().String() }

func (s *smtpServer) got() []*smtpSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*smtpSession(nil), s.sessions...)
}

func (s *smtpServer) serve(conn net.Conn) {
	defer func() { conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	sess := &smtpSession{}
	s.mu.Lock()
	s.sessions = append(s.sessions, sess)
	s.mu.Unlock()
	tp := textproto.NewConn(conn)
	reply := func(lines ...string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, l := range lines {
			tp.PrintfLine("%s", l)
		}
	}
	reply("220 test.invalid ESMTP ready")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"250-test.invalid hello " + arg, "250-8BITMIME"}
			if s.tls != nil && !sess.TLS {
				lines = append(lines, "250-STARTTLS")
			}
			// AUTH is offered in clear too, as badly configured servers
			// do: the client must refuse by itself.
			lines = append(lines, "250 AUTH PLAIN")
			reply(lines...)
		case "HELO", "NOOP", "RSET":
			reply("250 OK")
		case "STARTTLS":
			if s.tls == nil || sess.TLS {
				reply("502 5.5.1 not now")
				continue
			}
			reply("220 2.0.0 go ahead")
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn = tc
			tp = textproto.NewConn(tc)
			s.mu.Lock()
			sess.TLS = true
			s.mu.Unlock()
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				reply("504 5.5.4 unknown mechanism")
				continue
			}
			if resp == "" {
				reply("334 ")
				if resp, err = tp.ReadLine(); err != nil {
					return
				}
			}
			raw, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 {
				reply("501 5.5.2 bad AUTH PLAIN response")
				continue
			}
			s.mu.Lock()
			sess.User, sess.Password, sess.AuthInClear = parts[1], parts[2], !sess.TLS
			s.mu.Unlock()
			reply("235 2.7.0 authenticated")
		case "MAIL":
			s.mu.Lock()
			sess.From = strings.TrimPrefix(strings.Fields(arg)[0], "FROM:")
			s.mu.Unlock()
			reply("250 2.1.0 OK")
		case "RCPT":
			s.mu.Lock()
			sess.To = append(sess.To, strings.TrimPrefix(arg, "TO:"))
			s.mu.Unlock()
			reply("250 2.1.5 OK")
		case "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			s.mu.Lock()
			sess.Data, sess.DataOverTLS = data, sess.TLS
			s.mu.Unlock()
			reply("250 2.0.0 queued")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 unknown command")
		}
	}
}

// testCert makes a self-signed certificate for 127.0.0.1 and localhost,
// and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "skimguard test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// readEmail parses a received message into its headers and its parts by
// content type, transfer encoding undone.
func readEmail(t *testing.T, data []byte) (mail.Header, map[string]string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("not a mail message: %v\n%s", err, data)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(b)
	}
	return msg.Header, parts
}

func TestEmailDelivers(t *testing.T) {
	cert, pool := testCert(t)
	srv := newSMTPServer(t, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	e := &Email{
		Addr: srv.addr(), From: "skimguard <alerts@shop.example>", To: []string{"security@shop.example", "On call <oncall@shop.example>"},
		Username: "alerts", Password: "p4ss word", TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second,
	}
	a := testAlert()
	a.Findings[0].Detail = `a new script <script>alert("x")</script> & more`
	if err := e.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	sessions := srv.got()
	if len(sessions) != 1 || sessions[0].Data == nil {
		t.Fatalf("sessions = %+v", sessions)
	}
	s := sessions[0]
	t.Run("STARTTLS was used before credentials and message", func(t *testing.T) {
		if !s.TLS || s.AuthInClear || !s.DataOverTLS {
			t.Errorf("TLS %v, auth in clear %v, data over TLS %v", s.TLS, s.AuthInClear, s.DataOverTLS)
		}
	})
	t.Run("AUTH PLAIN credentials received", func(t *testing.T) {
		if s.User != "alerts" || s.Password != "p4ss word" {
			t.Errorf("user %q password %q", s.User, s.Password)
		}
	})
	t.Run("envelope", func(t *testing.T) {
		if s.From != "<alerts@shop.example>" || strings.Join(s.To, ",") != "<security@shop.example>,<oncall@shop.example>" {
			t.Errorf("MAIL FROM %q RCPT TO %q", s.From, s.To)
		}
	})
	h, parts := readEmail(t, s.Data)
	t.Run("headers", func(t *testing.T) {
		subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
		if want := "[skimguard] 2 findings (1 critical) on outfitters/checkout"; err != nil || subject != want {
			t.Errorf("Subject = %q (%v), want %q", subject, err, want)
		}
		if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "alerts@shop.example" || from.Name != "skimguard" {
			t.Errorf("From = %q", h.Get("From"))
		}
		to, err := h.AddressList("To")
		if err != nil || len(to) != 2 || to[0].Address != "security@shop.example" || to[1].Name != "On call" {
			t.Errorf("To = %q (%v)", h.Get("To"), err)
		}
		if d, err := h.Date(); err != nil || time.Since(d) > time.Minute || time.Since(d) < -time.Minute {
			t.Errorf("Date = %q (%v)", h.Get("Date"), err)
		}
		if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@shop.example>") {
			t.Errorf("Message-ID = %q", id)
		}
		if h.Get("MIME-Version") != "1.0" {
			t.Errorf("MIME-Version = %q", h.Get("MIME-Version"))
		}
	})
	text, html := parts["text/plain"], parts["text/html"]
	t.Run("both parts are readable", func(t *testing.T) {
		if len(parts) != 2 {
			t.Fatalf("parts = %v", parts)
		}
		for _, want := range []string{"outfitters/checkout", "[CRITICAL] data.exfiltration https://evil.example", "card number, cvc sent to https://evil.example", "[HIGH] script.added"} {
			if !strings.Contains(text, want) {
				t.Errorf("text part lacks %q:\n%s", want, text)
			}
		}
		for _, want := range []string{"2 findings (1 critical) on outfitters/checkout", "CRITICAL", "<code>data.exfiltration</code>", "<code>https://evil.example</code>", "Why", "card number, cvc sent to https://evil.example", `<a href="http://127.0.0.1:8080/findings?scan=42">`} {
			if !strings.Contains(html, want) {
				t.Errorf("HTML part lacks %q:\n%s", want, html)
			}
		}
		if strings.Index(html, "CRITICAL") > strings.Index(html, "HIGH") {
			t.Error("HTML part does not put the most severe finding first")
		}
	})
	t.Run("HTML is escaped", func(t *testing.T) {
		if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "&amp; more") {
			t.Errorf("HTML part not escaped:\n%s", html)
		}
	})
	t.Run("card data masked", func(t *testing.T) {
		for name, b := range map[string]string{"raw message": string(s.Data), "text part": text, "HTML part": html} {
			if c := carddata.Test(); c.Mask(b) != b {
				t.Errorf("%s carries the card number", name)
			}
		}
		if !strings.Contains(text, "492938******1730") || !strings.Contains(html, "492938******1730") {
			t.Error("a part lacks the masked number")
		}
	})
}

func TestEmailWithoutSTARTTLS(t *testing.T) {
	t.Run("without credentials the message goes in clear", func(t *testing.T) {
		srv := newSMTPServer(t, "127.0.0.1:0", nil)
		if err := (&Email{Addr: srv.addr(), From: "a@shop.example", To: []string{"b@shop.example"}}).Send(context.Background(), testAlert()); err != nil {
			t.Fatal(err)
		}
		if s := srv.got(); len(s) != 1 || s[0].Data == nil || s[0].TLS || s[0].User != "" {
			t.Errorf("sessions = %+v", s)
		}
	})
	t.Run("credentials go in clear to localhost only", func(t *testing.T) {
		srv := newSMTPServer(t, "127.0.0.1:0", nil)
		e := &Email{Addr: srv.addr(), From: "a@shop.example", To: []string{"b@shop.example"}, Username: "u", Password: "p"}
		if err := e.Send(context.Background(), testAlert()); err != nil {
			t.Fatal(err)
		}
		if s := srv.got(); len(s) != 1 || s[0].User != "u" || s[0].Data == nil {
			t.Errorf("sessions = %+v", s)
		}
	})
	t.Run("credentials are refused in clear to a host that is not loopback", func(t *testing.T) {
		ip := nonLoopbackIP(t)
		srv := newSMTPServer(t, net.JoinHostPort(ip, "0"), nil)
		e := &Email{Addr: srv.addr(), From: "a@shop.example", To: []string{"b@shop.example"}, Username: "u", Password: "p"}
		err := e.Send(context.Background(), testAlert())
		if err == nil || !strings.Contains(err.Error(), "refusing to send the SMTP password to "+ip+" in clear") {
			t.Errorf("err = %v", err)
		}
		for _, s := range srv.got() {
			if s.User != "" || s.Password != "" || s.From != "" || s.Data != nil {
				t.Errorf("server got %+v", s)
			}
		}
	})
}

// nonLoopbackIP returns an address of this machine that is not loopback,
// to test what happens with a remote server without leaving the machine.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address; TestPlainAuthAllowed covers the rule")
	return ""
}

func TestPlainAuthAllowed(t *testing.T) {
	tests := []struct {
		host string
		tls  bool
		ok   bool
	}{
		{"smtp.shop.example", true, true},
		{"localhost", false, true},
		{"127.0.0.1", false, true},
		{"::1", false, true},
		{"smtp.shop.example", false, false},
		{"10.0.0.5", false, false},
		{"localhost.shop.example", false, false},
	}
	for _, tt := range tests {
		err := plainAuthAllowed(tt.host, tt.tls)
		if (err == nil) != tt.ok {
			t.Errorf("plainAuthAllowed(%q, tls %v) = %v, want allowed %v", tt.host, tt.tls, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "in clear") {
			t.Errorf("error %q does not say why", err)
		}
	}
}

func TestEmailFailures(t *testing.T) {
	t.Run("connection refused is clear", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		err = (&Email{Addr: addr, From: "a@shop.example", To: []string{"b@shop.example"}}).Send(context.Background(), testAlert())
		for _, want := range []string{"email via " + addr + ": connect:", "connection refused", "check the smtp address"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to say %q", err, want)
			}
		}
	})
	t.Run("untrusted certificate stops the delivery without falling back to clear text", func(t *testing.T) {
		cert, _ := testCert(t)
		srv := newSMTPServer(t, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
		err := (&Email{Addr: srv.addr(), From: "a@shop.example", To: []string{"b@shop.example"}, Username: "u", Password: "p"}).Send(context.Background(), testAlert())
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("err = %v", err)
		}
		for _, s := range srv.got() {
			if s.User != "" || s.Data != nil {
				t.Errorf("server got %+v", s)
			}
		}
	})
	t.Run("a silent server times out", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Say nothing until the client gives up.
			io.Copy(io.Discard, bufio.NewReader(c))
			c.Close()
		}()
		start := time.Now()
		err = (&Email{Addr: ln.Addr().String(), From: "a@shop.example", To: []string{"b@shop.example"}, Timeout: 200 * time.Millisecond}).Send(context.Background(), testAlert())
		if err == nil || !strings.Contains(err.Error(), "no answer within 200ms") {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %s with a 200ms timeout", d)
		}
		<-done
	})
	t.Run("bad addresses are named", func(t *testing.T) {
		for _, tt := range []struct {
			e    Email
			want string
		}{
			{Email{Addr: "smtp.shop.example", From: "a@shop.example", To: []string{"b@shop.example"}}, `server address "smtp.shop.example" is not host:port`},
			{Email{Addr: "127.0.0.1:25", From: "nobody", To: []string{"b@shop.example"}}, `sender "nobody" is not an email address`},
			{Email{Addr: "127.0.0.1:25", From: "a@shop.example", To: []string{"b at shop"}}, `recipient "b at shop" is not an email address`},
			{Email{Addr: "127.0.0.1:25", From: "a@shop.example"}, "no recipients"},
		} {
			if err := tt.e.Send(context.Background(), testAlert()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		}
	})
}
