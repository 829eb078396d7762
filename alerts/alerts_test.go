package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/config"
)

var started = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testAlert() Alert {
	return Alert{
		Site: "outfitters",
		Page: "checkout",
		URL:  "https://shop.example/checkout",
		Scan: skimguard.Scan{ID: 42, Site: "outfitters", Page: "checkout", StartedAt: started, Status: skimguard.ScanFindings},
		Findings: []skimguard.Finding{
			{
				ID: 8, Kind: skimguard.KindScriptAdded, Severity: skimguard.SeverityHigh,
				Site: "outfitters", Page: "checkout", Subject: "https://jquery-cdn.example/jquery.min.js",
				Detail:   "a new external script from https://jquery-cdn.example, loaded by the parser",
				Evidence: skimguard.Evidence{After: "sha256:ab12", AfterSource: "var x=1;", LoadedBy: "parser"},
			},
			{
				ID: 7, Kind: skimguard.KindDataExfiltration, Severity: skimguard.SeverityCritical,
				Site: "outfitters", Page: "checkout", Subject: "https://evil.example",
				// A careless detail with the full number: alerts must mask it.
				Detail:   "card number, cvc sent to https://evil.example in a POST body\nnumber 4929386160871730",
				Evidence: skimguard.Evidence{URL: "https://evil.example/gate.php?cc=4929386160871730", Initiator: "https://jquery-cdn.example/jquery.min.js"},
			},
		},
		Link: "http://127.0.0.1:8080/findings?scan=42",
	}
}

func TestConsole(t *testing.T) {
	t.Run("one readable block, most severe first, card data masked", func(t *testing.T) {
		var buf bytes.Buffer
		if err := (Console{W: &buf}).Send(context.Background(), testAlert()); err != nil {
			t.Fatal(err)
		}
		want := `skimguard: 2 findings on outfitters/checkout (https://shop.example/checkout)
  scan 42 at 2026-11-23T10:00:00Z
  [CRITICAL] data.exfiltration https://evil.example
      card number, cvc sent to https://evil.example in a POST body
      number 492938******1730
      url: https://evil.example/gate.php?cc=492938******1730
      sent by: https://jquery-cdn.example/jquery.min.js
  [HIGH] script.added https://jquery-cdn.example/jquery.min.js
      a new external script from https://jquery-cdn.example, loaded by the parser
  review: http://127.0.0.1:8080/findings?scan=42
`
		if got := buf.String(); got != want {
			t.Errorf("console output:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("single finding without scan or link", func(t *testing.T) {
		var buf bytes.Buffer
		a := Alert{Site: "s", Page: "p", URL: "https://s.example/p", Findings: []skimguard.Finding{{Kind: skimguard.KindScanFailed, Severity: skimguard.SeverityMedium, Subject: "https://s.example/p", Detail: "timeout"}}}
		if err := (Console{W: &buf}).Send(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		want := "skimguard: 1 finding on s/p (https://s.example/p)\n  [MEDIUM] scan.failed https://s.example/p\n      timeout\n"
		if buf.String() != want {
			t.Errorf("got %q, want %q", buf.String(), want)
		}
	})
	t.Run("write error is returned", func(t *testing.T) {
		err := (Console{W: failWriter{}}).Send(context.Background(), testAlert())
		if err == nil || !strings.Contains(err.Error(), "write alert to console") {
			t.Errorf("err = %v", err)
		}
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// receiver is a real HTTP receiver that answers with the statuses given, in
// turn, repeating the last, and records what it got.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	headers  []http.Header
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.bodies)
		r.bodies = append(r.bodies, body)
		r.headers = append(r.headers, req.Header.Clone())
		status := r.statuses[min(n, len(r.statuses)-1)]
		r.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(status)
		if status >= 300 {
			io.WriteString(w, "  receiver says "+http.StatusText(status)+"  ")
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

var secret = []byte("s3cret-for-tests")

func TestWebhookDelivers(t *testing.T) {
	r := newReceiver(t, http.StatusNoContent)
	w := &Webhook{URL: r.srv.URL + "/hook", Secret: secret, Backoff: time.Millisecond}
	if err := w.Send(context.Background(), testAlert()); err != nil {
		t.Fatal(err)
	}
	if r.count() != 1 {
		t.Fatalf("receiver got %d requests, want 1", r.count())
	}
	body, h := r.bodies[0], r.headers[0]
	t.Run("signature verifies", func(t *testing.T) {
		if !Verify(secret, body, h.Get(SignatureHeader)) {
			t.Errorf("Verify failed for header %q", h.Get(SignatureHeader))
		}
	})
	t.Run("tampered body fails", func(t *testing.T) {
		tampered := bytes.Replace(body, []byte("evil.example"), []byte("good.example"), 1)
		if Verify(secret, tampered, h.Get(SignatureHeader)) {
			t.Error("Verify accepted a tampered body")
		}
	})
	t.Run("wrong secret fails", func(t *testing.T) {
		if Verify([]byte("other"), body, h.Get(SignatureHeader)) {
			t.Error("Verify accepted another secret")
		}
	})
	t.Run("malformed headers fail", func(t *testing.T) {
		for _, hdr := range []string{"", "sha256=", "sha256=zz", "sha1=" + strings.TrimPrefix(h.Get(SignatureHeader), "sha256="), strings.TrimPrefix(h.Get(SignatureHeader), "sha256=")} {
			if Verify(secret, body, hdr) {
				t.Errorf("Verify accepted header %q", hdr)
			}
		}
		if Verify(nil, body, Sign(nil, body)) {
			t.Error("Verify accepted an empty secret")
		}
	})
	t.Run("headers", func(t *testing.T) {
		if got := h.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := h.Get("User-Agent"); got != "skimguard" {
			t.Errorf("User-Agent = %q", got)
		}
		if h.Get(DeliveryHeader) == "" {
			t.Error("no delivery id")
		}
	})
	t.Run("payload", func(t *testing.T) {
		var p Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Version != 1 || p.Site != "outfitters" || p.Page != "checkout" || p.URL != "https://shop.example/checkout" ||
			p.ScanID != 42 || !p.StartedAt.Equal(started) || p.Link != "http://127.0.0.1:8080/findings?scan=42" || len(p.Findings) != 2 {
			t.Errorf("payload = %+v", p)
		}
		f := p.Findings[1]
		if f.ID != 7 || f.Kind != skimguard.KindDataExfiltration || f.Severity != skimguard.SeverityCritical || f.Subject != "https://evil.example" ||
			f.Evidence.Initiator != "https://jquery-cdn.example/jquery.min.js" {
			t.Errorf("finding = %+v", f)
		}
		var raw map[string]any
		json.Unmarshal(body, &raw)
		for _, key := range []string{"version", "site", "page", "url", "scan_id", "started_at", "findings", "link"} {
			if _, ok := raw[key]; !ok {
				t.Errorf("payload lacks %q", key)
			}
		}
	})
	t.Run("no card data in the body", func(t *testing.T) {
		if c := carddata.Test(); c.Mask(string(body)) != string(body) {
			t.Errorf("body carries the card number: %s", body)
		}
		if !bytes.Contains(body, []byte("492938******1730")) {
			t.Errorf("body lacks the masked number: %s", body)
		}
	})
}

func TestWebhookUnsignedWithoutSecret(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	if err := (&Webhook{URL: r.srv.URL}).Send(context.Background(), testAlert()); err != nil {
		t.Fatal(err)
	}
	if got := r.headers[0].Get(SignatureHeader); got != "" {
		t.Errorf("signature %q sent without a secret", got)
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Run("retries on 500 then succeeds with one delivery id", func(t *testing.T) {
		r := newReceiver(t, 500, 502, 200)
		w := &Webhook{URL: r.srv.URL, Secret: secret, Backoff: time.Millisecond}
		if err := w.Send(context.Background(), testAlert()); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if r.count() != 3 {
			t.Fatalf("attempts = %d, want 3", r.count())
		}
		id := r.headers[0].Get(DeliveryHeader)
		for i, h := range r.headers {
			if h.Get(DeliveryHeader) != id {
				t.Errorf("attempt %d delivery id %q, want %q", i+1, h.Get(DeliveryHeader), id)
			}
			if !bytes.Equal(r.bodies[i], r.bodies[0]) {
				t.Errorf("attempt %d sent another body", i+1)
			}
		}
	})
	t.Run("retries on 429", func(t *testing.T) {
		r := newReceiver(t, 429, 200)
		if err := (&Webhook{URL: r.srv.URL, Backoff: time.Millisecond}).Send(context.Background(), testAlert()); err != nil {
			t.Fatal(err)
		}
		if r.count() != 2 {
			t.Errorf("attempts = %d, want 2", r.count())
		}
	})
	t.Run("gives up after N attempts with a clear error", func(t *testing.T) {
		r := newReceiver(t, 503)
		w := &Webhook{URL: r.srv.URL + "/hook?token=abc", Retries: 4, Backoff: time.Millisecond}
		err := w.Send(context.Background(), testAlert())
		if err == nil {
			t.Fatal("no error")
		}
		if r.count() != 4 {
			t.Errorf("attempts = %d, want 4", r.count())
		}
		for _, want := range []string{"webhook " + r.srv.URL + "/hook", "503 Service Unavailable", `"receiver says Service Unavailable"`, "gave up after 4 attempts"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "token=abc") {
			t.Errorf("error %q shows the query", err)
		}
	})
	t.Run("default is three attempts", func(t *testing.T) {
		r := newReceiver(t, 500)
		(&Webhook{URL: r.srv.URL, Backoff: time.Millisecond}).Send(context.Background(), testAlert())
		if r.count() != 3 {
			t.Errorf("attempts = %d, want 3", r.count())
		}
	})
	t.Run("no retry on 400", func(t *testing.T) {
		r := newReceiver(t, 400)
		err := (&Webhook{URL: r.srv.URL, Backoff: time.Millisecond}).Send(context.Background(), testAlert())
		if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "receiver says Bad Request") {
			t.Errorf("err = %v", err)
		}
		if r.count() != 1 {
			t.Errorf("attempts = %d, want 1", r.count())
		}
	})
	t.Run("retries network errors", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		err := (&Webhook{URL: url, Retries: 2, Backoff: time.Millisecond}).Send(context.Background(), testAlert())
		if err == nil || !strings.Contains(err.Error(), "gave up after 2 attempts") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("cancelled context stops the backoff", func(t *testing.T) {
		r := newReceiver(t, 500)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := (&Webhook{URL: r.srv.URL, Retries: 5, Backoff: 10 * time.Second}).Send(ctx, testAlert())
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("Send waited %s", time.Since(start))
		}
		if r.count() != 1 {
			t.Errorf("attempts = %d, want 1", r.count())
		}
	})
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	err := (&Webhook{URL: srv.URL, Timeout: 100 * time.Millisecond, Retries: 2, Backoff: time.Millisecond}).Send(context.Background(), testAlert())
	if err == nil || !strings.Contains(err.Error(), "no response within 100ms") {
		t.Errorf("err = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Send took %s with a 100ms timeout", elapsed)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 2 {
		t.Errorf("attempts = %d, want 2 (timeouts are retried)", attempts)
	}
}

func TestMulti(t *testing.T) {
	ok := newReceiver(t, 200)
	bad := newReceiver(t, 400)
	var buf bytes.Buffer
	m := Multi{Console{W: &buf}, &Webhook{URL: ok.srv.URL}, &Webhook{URL: bad.srv.URL}}
	err := m.Send(context.Background(), testAlert())
	t.Run("delivers to all", func(t *testing.T) {
		if buf.Len() == 0 || ok.count() != 1 || bad.count() != 1 {
			t.Errorf("console %d bytes, ok %d, bad %d", buf.Len(), ok.count(), bad.count())
		}
	})
	t.Run("joins errors naming the sink", func(t *testing.T) {
		if err == nil || !strings.HasPrefix(err.Error(), "webhook "+bad.srv.URL+": webhook") || strings.Contains(err.Error(), ok.srv.URL+":") {
			t.Errorf("err = %v", err)
		}
	})
	if got := m.Name(); !strings.HasPrefix(got, "multi(console, webhook ") {
		t.Errorf("Name = %q", got)
	}
}

// recorder is a Sink that keeps what it was sent.
type recorder struct{ got []Alert }

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Send(_ context.Context, a Alert) error {
	r.got = append(r.got, a)
	return nil
}

func TestFilter(t *testing.T) {
	t.Run("drops findings below the minimum severity", func(t *testing.T) {
		rec := &recorder{}
		Filter{Sink: rec, MinSeverity: skimguard.SeverityCritical}.Send(context.Background(), testAlert())
		if len(rec.got) != 1 || len(rec.got[0].Findings) != 1 || rec.got[0].Findings[0].ID != 7 {
			t.Errorf("got %+v", rec.got)
		}
	})
	t.Run("sends nothing when no finding is left", func(t *testing.T) {
		rec := &recorder{}
		a := testAlert()
		a.Findings = a.Findings[:1]
		Filter{Sink: rec, MinSeverity: skimguard.SeverityCritical}.Send(context.Background(), a)
		if len(rec.got) != 0 {
			t.Errorf("got %+v", rec.got)
		}
	})
	t.Run("routes by site", func(t *testing.T) {
		rec := &recorder{}
		f := Filter{Sink: rec, Sites: []string{"other"}}
		f.Send(context.Background(), testAlert())
		if len(rec.got) != 0 {
			t.Errorf("alert for outfitters passed a filter for other")
		}
		f.Sites = append(f.Sites, "outfitters")
		f.Send(context.Background(), testAlert())
		if len(rec.got) != 1 || len(rec.got[0].Findings) != 2 {
			t.Errorf("got %+v", rec.got)
		}
	})
	t.Run("Routed says what a sink takes before it is sent", func(t *testing.T) {
		rec := &recorder{}
		if got := Routed(rec, testAlert()); len(got.Findings) != 2 {
			t.Errorf("a sink without a route takes every finding: %+v", got.Findings)
		}
		var s Sink = Filter{Sink: rec, MinSeverity: skimguard.SeverityCritical}
		if got := Routed(s, testAlert()); len(got.Findings) != 1 || got.Findings[0].ID != 7 {
			t.Errorf("a filter takes the findings its route keeps: %+v", got.Findings)
		}
		s = Filter{Sink: rec, Sites: []string{"other"}}
		if got := Routed(s, testAlert()); len(got.Findings) != 0 {
			t.Errorf("a filter for another site takes nothing: %+v", got.Findings)
		}
		if len(rec.got) != 0 {
			t.Errorf("Routed sent something: %+v", rec.got)
		}
	})
}

func TestNew(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	t.Run("console", func(t *testing.T) {
		s, err := New(config.Alert{Type: "console"}, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(Console); !ok {
			t.Errorf("sink = %T", s)
		}
	})
	t.Run("webhook reads its secret from the environment", func(t *testing.T) {
		s, err := New(config.Alert{Type: "webhook", URL: "https://hooks.example/x", SecretEnv: "HOOK_SECRET"}, env(map[string]string{"HOOK_SECRET": "abc"}))
		if err != nil {
			t.Fatal(err)
		}
		w, ok := s.(*Webhook)
		if !ok || w.URL != "https://hooks.example/x" || string(w.Secret) != "abc" {
			t.Errorf("sink = %#v", s)
		}
	})
	t.Run("webhook url from the environment", func(t *testing.T) {
		s, err := New(config.Alert{Type: "webhook", URLEnv: "HOOK_URL"}, env(map[string]string{"HOOK_URL": "https://hooks.example/y"}))
		if err != nil {
			t.Fatal(err)
		}
		if w := s.(*Webhook); w.URL != "https://hooks.example/y" {
			t.Errorf("URL = %q", w.URL)
		}
	})
	t.Run("routing wraps in a filter", func(t *testing.T) {
		s, err := New(config.Alert{Type: "console", MinSeverity: "high", Sites: []string{"a"}}, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := s.(Filter); !ok || f.MinSeverity != "high" || f.Sites[0] != "a" {
			t.Errorf("sink = %#v", s)
		}
	})
	t.Run("slack url from the environment", func(t *testing.T) {
		s, err := New(config.Alert{Type: "slack", URLEnv: "SLACK_WEBHOOK_URL"}, env(map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x"}))
		if err != nil {
			t.Fatal(err)
		}
		if sl, ok := s.(*Slack); !ok || sl.URL != "https://hooks.slack.com/services/T0/B0/x" || !strings.HasPrefix(sl.Name(), "slack https://hooks.slack.com #") || strings.Contains(sl.Name(), "B0") {
			t.Errorf("sink = %#v", s)
		}
	})
	emailCfg := config.Alert{Type: "email", SMTP: "smtp.shop.example:587", From: "skimguard@shop.example", To: []string{"security@shop.example"}, UsernameEnv: "SMTP_USERNAME", PasswordEnv: "SMTP_PASSWORD"}
	t.Run("email credentials from the environment", func(t *testing.T) {
		s, err := New(emailCfg, env(map[string]string{"SMTP_USERNAME": "alerts", "SMTP_PASSWORD": "hunter2"}))
		if err != nil {
			t.Fatal(err)
		}
		e, ok := s.(*Email)
		if !ok || e.Addr != "smtp.shop.example:587" || e.From != "skimguard@shop.example" || len(e.To) != 1 || e.Username != "alerts" || e.Password != "hunter2" {
			t.Fatalf("sink = %#v", s)
		}
		if strings.Contains(e.Name(), "hunter2") {
			t.Errorf("Name %q shows the password", e.Name())
		}
	})
	t.Run("email without credentials", func(t *testing.T) {
		s, err := New(config.Alert{Type: "email", SMTP: "localhost:25", From: "a@shop.example", To: []string{"b@shop.example"}}, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if e := s.(*Email); e.Username != "" || e.Password != "" || e.Name() != "email to b@shop.example via localhost:25" {
			t.Errorf("sink = %#v", s)
		}
	})
	errorCases := []struct {
		name string
		cfg  config.Alert
		env  map[string]string
		want string
	}{
		{"missing secret variable is named", config.Alert{Type: "webhook", URL: "https://hooks.example/x", SecretEnv: "HOOK_SECRET"}, nil, "environment variable HOOK_SECRET (its secret_env) is not set"},
		{"missing url variable is named", config.Alert{Type: "webhook", URLEnv: "HOOK_URL"}, nil, "environment variable HOOK_URL (its url_env) is not set"},
		{"url variable must hold a url", config.Alert{Type: "webhook", URLEnv: "HOOK_URL"}, map[string]string{"HOOK_URL": "hooks.example"}, "does not hold an absolute http or https URL"},
		{"webhook without url", config.Alert{Type: "webhook"}, nil, "webhook alert has no URL"},
		{"missing slack url variable is named", config.Alert{Type: "slack", URLEnv: "SLACK_WEBHOOK_URL"}, nil, "slack alert: environment variable SLACK_WEBHOOK_URL (its url_env) is not set"},
		{"slack url variable must hold a url", config.Alert{Type: "slack", URLEnv: "SLACK_WEBHOOK_URL"}, map[string]string{"SLACK_WEBHOOK_URL": "T0/B0/x"}, "does not hold an absolute http or https URL"},
		{"slack takes its url from the environment only", config.Alert{Type: "slack", URL: "https://hooks.slack.com/services/x"}, nil, "slack alert has no url_env"},
		{"missing smtp password variable is named", emailCfg, map[string]string{"SMTP_USERNAME": "u"}, "environment variable SMTP_PASSWORD (its password_env) is not set"},
		{"missing smtp username variable is named", emailCfg, map[string]string{"SMTP_PASSWORD": "p"}, "environment variable SMTP_USERNAME (its username_env) is not set"},
		{"smtp username without password", config.Alert{Type: "email", SMTP: "smtp.shop.example:587", From: "a@shop.example", To: []string{"b@shop.example"}, UsernameEnv: "SMTP_USERNAME"}, map[string]string{"SMTP_USERNAME": "u"}, "set both username_env and password_env, or neither"},
		{"email without recipients", config.Alert{Type: "email", SMTP: "smtp.shop.example:587", From: "a@shop.example"}, nil, "at least one address in to"},
		{"unknown type", config.Alert{Type: "pager"}, nil, `unknown alert type "pager"`},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNewPayloadCutsSources(t *testing.T) {
	a := testAlert()
	a.Findings[0].Evidence.AfterSource = strings.Repeat("x", MaxSourceBytes+100)
	p := NewPayload(a)
	if got := len(p.Findings[0].Evidence.AfterSource); got > MaxSourceBytes+64 {
		t.Errorf("source of %d bytes kept", got)
	}
	if len(p.Findings) != 2 || p.Findings == nil {
		t.Errorf("findings = %+v", p.Findings)
	}
	empty := NewPayload(Alert{})
	b, _ := json.Marshal(empty)
	if !bytes.Contains(b, []byte(`"findings":[]`)) {
		t.Errorf("empty payload = %s, want an empty findings list", b)
	}
}

func TestNewFromSitesYAML(t *testing.T) {
	cfg, err := config.Parse("sites.yaml", []byte(`
sites:
  - name: outfitters
    pages:
      - name: checkout
        url: https://shop.example/checkout
alerts:
  - type: webhook
    url: https://hooks.example/skimguard
    secret_env: SKIMGUARD_WEBHOOK_SECRET
    min_severity: high
  - type: console
  - type: slack
    url_env: SLACK_WEBHOOK_URL
  - type: email
    smtp: smtp.shop.example:587
    from: skimguard@shop.example
    to: [security@shop.example]
    username_env: SMTP_USERNAME
    password_env: SMTP_PASSWORD
`))
	if err != nil {
		t.Fatal(err)
	}
	var sinks Multi
	for _, a := range cfg.Alerts {
		s, err := New(a, func(k string) string {
			return map[string]string{
				"SKIMGUARD_WEBHOOK_SECRET": "x", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
				"SMTP_USERNAME": "u", "SMTP_PASSWORD": "p",
			}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, s)
	}
	if got, want := sinks.Name(), "multi(webhook https://hooks.example/skimguard, console, slack https://hooks.slack.com #fdf3d470, email to security@shop.example via smtp.shop.example:587)"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
}

// A card number that straddles the cut of a long script text must not
// reach the payload in part: cut first, its first digits would pass no
// Luhn check and escape the mask.
func TestPayloadMasksACardNumberCutAtTheSourceLimit(t *testing.T) {
	src := strings.Repeat("x", MaxSourceBytes-8) + "4929386160871730 tail"
	p := NewPayload(Alert{Site: "s", Page: "p", Findings: []skimguard.Finding{{
		Kind: skimguard.KindScriptChanged, Evidence: skimguard.Evidence{AfterSource: src},
	}}})
	got := p.Findings[0].Evidence.AfterSource
	if strings.Contains(got, "49293861") {
		t.Fatalf("the payload holds the card number's first digits: …%s", got[len(got)-40:])
	}
}

func TestWebhooksThatDifferOnlyInTheirSecretHaveTwoNames(t *testing.T) {
	a := &Webhook{URL: "https://hooks.example/in?token=one"}
	b := &Webhook{URL: "https://hooks.example/in?token=two"}
	if a.Name() == b.Name() {
		t.Errorf("both named %q: their deliveries would be counted as one channel's", a.Name())
	}
	for _, n := range []string{a.Name(), b.Name()} {
		if strings.Contains(n, "token") || strings.Contains(n, "one") || strings.Contains(n, "two") {
			t.Errorf("name %q shows the query", n)
		}
	}
	if plain := (&Webhook{URL: "https://hooks.example/in"}).Name(); plain != "webhook https://hooks.example/in" {
		t.Errorf("a URL with nothing secret is named %q, want it as it is", plain)
	}
}
