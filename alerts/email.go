package alerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// Email sends each alert as one email over SMTP: a multipart/alternative
// message with a plain-text and an HTML part, card data masked. It uses
// STARTTLS whenever the server offers it, and sends a password only over
// TLS or to a server on localhost.
type Email struct {
	// Addr is the SMTP server's host:port, such as smtp.example.com:587.
	Addr string
	// From is the sender and To the recipients, as RFC 5322 addresses
	// ("alerts@shop.example" or "skimguard <alerts@shop.example>").
	From string
	To   []string
	// Username and Password authenticate with AUTH PLAIN; none when both
	// are empty.
	Username, Password string
	// Timeout bounds one delivery, connection included;
	// DefaultEmailTimeout when zero.
	Timeout time.Duration
	// TLSConfig configures STARTTLS; when nil or without a ServerName, the
	// certificate is checked against Addr's host.
	TLSConfig *tls.Config
}

// DefaultEmailTimeout bounds an email delivery when Email.Timeout is zero.
const DefaultEmailTimeout = 30 * time.Second

// Name returns "email", the recipients and the server; it holds no secret.
func (e *Email) Name() string {
	return "email to " + strings.Join(e.To, ", ") + " via " + e.Addr
}

// Send delivers a as one email to all recipients. It does not retry: a
// server that accepted the message has queued it, and one that did not
// answers with a reason worth reading.
func (e *Email) Send(ctx context.Context, a Alert) error {
	if err := e.send(ctx, a); err != nil {
		return fmt.Errorf("email via %s: %w", e.Addr, err)
	}
	return nil
}

func (e *Email) send(ctx context.Context, a Alert) error {
	host, _, err := net.SplitHostPort(e.Addr)
	if err != nil || host == "" {
		return fmt.Errorf("server address %q is not host:port: write it with the port, such as smtp.example.com:587", e.Addr)
	}
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return fmt.Errorf("sender %q is not an email address: %w", e.From, err)
	}
	if len(e.To) == 0 {
		return errors.New("no recipients: set at least one address in to")
	}
	to := make([]*mail.Address, len(e.To))
	for i, t := range e.To {
		if to[i], err = mail.ParseAddress(t); err != nil {
			return fmt.Errorf("recipient %q is not an email address: %w", t, err)
		}
	}
	msg, err := emailMessage(a, from, to, time.Now())
	if err != nil {
		return err
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultEmailTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = e.deliver(ctx, host, from.Address, to, msg)
	if err == nil {
		return nil
	}
	// The connection's deadline can pass before ctx's timer says so.
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%w (%w)", err, ctx.Err())
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	return err
}

// deliver speaks SMTP with the server until the message is queued.
func (e *Email) deliver(ctx context.Context, host, from string, to []*mail.Address, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.Addr)
	if err != nil {
		return fmt.Errorf("connect: %w: check the smtp address and that the server accepts connections", err)
	}
	// The deadline bounds every exchange; cancelling ctx ends a wait at
	// once.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("read the server's greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	secure := false
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{}
		if e.TLSConfig != nil {
			cfg = e.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		// No fallback to clear text: a failed STARTTLS may be an attacker
		// in the middle.
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("STARTTLS (nothing was sent in clear): %w", err)
		}
		secure = true
	}
	if e.Username != "" || e.Password != "" {
		if err := plainAuthAllowed(host, secure); err != nil {
			return err
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer AUTH: remove username_env and password_env, or use the server's submission port")
		}
		if err := c.Auth(smtp.PlainAuth("", e.Username, e.Password, host)); err != nil {
			return fmt.Errorf("authenticate as %q: %w: check username_env and password_env", e.Username, err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM %s: %w", from, err)
	}
	for _, t := range to {
		if err := c.Rcpt(t.Address); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", t.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("send the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("the server did not accept the message: %w", err)
	}
	// The message is queued; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// plainAuthAllowed refuses to send a password in clear to anything but
// localhost, by the same names net/smtp's PlainAuth trusts.
func plainAuthAllowed(host string, tls bool) error {
	switch {
	case tls, host == "localhost", host == "127.0.0.1", host == "::1":
		return nil
	}
	return fmt.Errorf("refusing to send the SMTP password to %s in clear: the server does not offer STARTTLS; use a port where it does (often 587), or a relay on localhost", host)
}

// helloName is the name the client gives in EHLO.
func helloName() string {
	if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") {
		return h
	}
	return "localhost"
}

// emailMessage builds the whole message of a, headers included, with CRLF
// line ends.
func emailMessage(a Alert, from *mail.Address, to []*mail.Address, now time.Time) ([]byte, error) {
	html, err := emailHTML(a)
	if err != nil {
		return nil, fmt.Errorf("render the message: %w", err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ ctype, text string }{
		{"text/plain; charset=utf-8", consoleText(a)},
		{"text/html; charset=utf-8", html},
	} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", part.ctype)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(pw)
		if _, err := qw.Write([]byte(part.text)); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	recipients := make([]string, len(to))
	for i, t := range to {
		recipients[i] = t.String()
	}
	domain := "skimguard.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 && i+1 < len(from.Address) {
		domain = from.Address[i+1:]
	}
	var m bytes.Buffer
	for _, h := range [][2]string{
		{"From", from.String()},
		{"To", strings.Join(recipients, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", "[skimguard] "+summary(a))},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + newDeliveryID() + "." + strconv.FormatInt(now.UnixNano(), 36) + "@" + domain + ">"},
		// Tells vacation responders not to answer (RFC 3834).
		{"Auto-Submitted", "auto-generated"},
		{"MIME-Version", "1.0"},
		{"Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()})},
	} {
		m.WriteString(h[0] + ": " + oneLine(h[1]) + "\r\n")
	}
	m.WriteString("\r\n")
	m.Write(body.Bytes())
	return m.Bytes(), nil
}

// emailHTMLTemplate escapes every value: findings quote what the page
// loaded, which an attacker wrote.
var emailHTMLTemplate = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Summary}}</title></head>
<body style="font-family:sans-serif">
<h2>skimguard: {{.Summary}}</h2>
<p>Page {{.Site}}/{{.Page}}: <code>{{.URL}}</code>{{if .Scan}}<br>Scan {{.Scan}}{{end}}</p>
<table cellpadding="6" style="border-collapse:collapse">
{{- range .Findings}}
<tr style="border-top:1px solid #ccc"><td><b style="color:{{.Color}}">{{.Severity}}</b></td><td><code>{{.Kind}}</code></td></tr>
<tr><td>Page</td><td>{{.Page}}</td></tr>
<tr><td>Subject</td><td><code>{{.Subject}}</code></td></tr>
{{- if .Why}}
<tr><td>Why</td><td style="white-space:pre-wrap">{{.Why}}</td></tr>
{{- end}}
{{- end}}
</table>
{{- if .Link}}
<p><a href="{{.Link}}">Review the findings in skimguard</a></p>
{{- end}}
</body></html>
`))

type emailFinding struct {
	Severity, Color, Kind, Page, Subject, Why string
}

// emailColors mark severities in the HTML part.
var emailColors = map[skimguard.Severity]string{
	skimguard.SeverityCritical: "#b00020",
	skimguard.SeverityHigh:     "#d14900",
	skimguard.SeverityMedium:   "#a07000",
	skimguard.SeverityLow:      "#1f5fa8",
}

// emailHTML renders the HTML part of a, card data masked.
func emailHTML(a Alert) (string, error) {
	data := struct {
		Summary, Site, Page, URL, Scan, Link string
		Findings                             []emailFinding
	}{Summary: summary(a), Site: a.Site, Page: a.Page, URL: mask(a.URL), Link: a.Link}
	if a.Scan.ID != 0 || !a.Scan.StartedAt.IsZero() {
		data.Scan = fmt.Sprintf("%d at %s", a.Scan.ID, a.Scan.StartedAt.UTC().Format(time.RFC3339))
	}
	for _, f := range bySeverity(a.Findings) {
		site, page := f.Site, f.Page
		if site == "" {
			site, page = a.Site, a.Page
		}
		color, ok := emailColors[f.Severity]
		if !ok {
			color = "#555555"
		}
		data.Findings = append(data.Findings, emailFinding{
			Severity: strings.ToUpper(string(f.Severity)), Color: color, Kind: string(f.Kind),
			Page: site + "/" + page, Subject: mask(f.Subject), Why: strings.TrimRight(mask(f.Detail), "\n"),
		})
	}
	var b strings.Builder
	if err := emailHTMLTemplate.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
