// Package alerts delivers findings to people and machines: a readable block
// on a console, a signed JSON POST to a webhook, a Slack message or an
// email.
//
// # Webhook payload
//
// A Webhook POSTs one JSON object per alert, with Content-Type
// application/json and User-Agent skimguard:
//
//	{"version":1,"site":"outfitters","page":"checkout",
//	 "url":"https://shop.example/checkout","scan_id":42,
//	 "started_at":"2026-11-23T10:00:00Z",
//	 "findings":[{"id":7,"kind":"data.exfiltration","severity":"critical",
//	   "site":"outfitters","page":"checkout","subject":"https://evil.example",
//	   "detail":"...","evidence":{"url":"...","initiator":"..."}}],
//	 "link":"https://skimguard.example/findings?scan=42"}
//
// When the webhook has a secret, the header X-Skimguard-Signature carries
// "sha256=" and the hex HMAC-SHA256 of the exact body bytes, keyed with the
// secret; receivers check it with Verify before parsing the body. The
// header X-Skimguard-Delivery carries an id that stays the same across the
// retries of one delivery, so that receivers can drop duplicates. Card data
// in the payload is masked, and script sources are cut to
// MaxSourceBytes.
package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/config"
)

// Alert is what one scan of one page has to tell.
type Alert struct {
	Site string
	Page string
	URL  string
	// Scan is the scan that raised the findings; its Observation is not
	// needed.
	Scan     skimguard.Scan
	Findings []skimguard.Finding
	// Link points to the findings in the web interface; it may be empty.
	Link string
}

// Sink delivers alerts.
type Sink interface {
	// Name says where alerts go, for logs and errors; it holds no secret.
	Name() string
	Send(ctx context.Context, a Alert) error
}

// SignatureHeader is the header that carries a webhook body's signature.
const SignatureHeader = "X-Skimguard-Signature"

// DeliveryHeader is the header that carries a delivery's id.
const DeliveryHeader = "X-Skimguard-Delivery"

// MaxSourceBytes is how much of each script source a webhook payload holds.
const MaxSourceBytes = 16 << 10

// mask hides card numbers in s. Findings hold only masked data already:
// the crawler masks the card it typed, in every encoding, before anything
// is stored. Alerts cannot know that card (each scan may type its own), so
// this last pass masks any card number written out, so that no alert ever
// carries a full one.
func mask(s string) string {
	return carddata.MaskPANs(s)
}

// Console writes one readable block per alert.
type Console struct {
	W io.Writer
}

// Name returns "console".
func (c Console) Name() string { return "console" }

// Send writes a's block to c.W in one Write: a heading with the page, then
// each finding, most severe first, with its severity, kind, subject and
// detail.
func (c Console) Send(ctx context.Context, a Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := io.WriteString(c.W, consoleText(a)); err != nil {
		return fmt.Errorf("write alert to console: %w", err)
	}
	return nil
}

// consoleText is the readable block of a, card data masked; the console
// prints it and emails carry it as their plain text.
func consoleText(a Alert) string {
	var b strings.Builder
	noun := "findings"
	if len(a.Findings) == 1 {
		noun = "finding"
	}
	fmt.Fprintf(&b, "skimguard: %d %s on %s/%s (%s)\n", len(a.Findings), noun, a.Site, a.Page, mask(a.URL))
	if a.Scan.ID != 0 || !a.Scan.StartedAt.IsZero() {
		fmt.Fprintf(&b, "  scan %d at %s\n", a.Scan.ID, a.Scan.StartedAt.UTC().Format(time.RFC3339))
	}
	for _, f := range bySeverity(a.Findings) {
		fmt.Fprintf(&b, "  [%s] %s %s\n", strings.ToUpper(string(f.Severity)), f.Kind, oneLine(mask(f.Subject)))
		if f.Detail != "" {
			for _, line := range strings.Split(strings.TrimRight(mask(f.Detail), "\n"), "\n") {
				fmt.Fprintf(&b, "      %s\n", line)
			}
		}
		if f.Evidence.URL != "" {
			fmt.Fprintf(&b, "      url: %s\n", oneLine(mask(f.Evidence.URL)))
		}
		if f.Evidence.Initiator != "" {
			fmt.Fprintf(&b, "      sent by: %s\n", oneLine(mask(f.Evidence.Initiator)))
		}
		if f.Evidence.CallChain != "" {
			fmt.Fprintf(&b, "      call chain: %s\n", oneLine(mask(f.Evidence.CallChain)))
		}
	}
	if a.Link != "" {
		fmt.Fprintf(&b, "  review: %s\n", a.Link)
	}
	return b.String()
}

// bySeverity returns a copy of findings, most severe first, otherwise in
// their order.
func bySeverity(findings []skimguard.Finding) []skimguard.Finding {
	findings = slices.Clone(findings)
	slices.SortStableFunc(findings, func(x, y skimguard.Finding) int { return y.Severity.Rank() - x.Severity.Rank() })
	return findings
}

// summary counts a's findings and those of the highest severity among
// them, and names the page: "2 findings (1 critical) on shop/checkout".
func summary(a Alert) string {
	noun := "findings"
	if len(a.Findings) == 1 {
		noun = "finding"
	}
	s := fmt.Sprintf("%d %s", len(a.Findings), noun)
	if len(a.Findings) > 0 {
		top := bySeverity(a.Findings)[0].Severity
		n := 0
		for _, f := range a.Findings {
			if f.Severity == top {
				n++
			}
		}
		if top != "" {
			s += fmt.Sprintf(" (%d %s)", n, top)
		}
	}
	return oneLine(s + " on " + a.Site + "/" + a.Page)
}

// oneLine puts s on one line, for headers and one-line fields.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

// Webhook POSTs alerts as JSON to a URL, signed when Secret is set, with
// retries.
type Webhook struct {
	URL string
	// Secret keys the HMAC-SHA256 signature of each body; none when empty.
	Secret []byte
	// Client sends the requests; a client with no timeout of its own when
	// nil.
	Client *http.Client
	// Timeout bounds each attempt; 10s when zero.
	Timeout time.Duration
	// Retries is how many attempts a delivery gets in all, 3 when zero.
	// Network errors, 5xx and 429 responses are tried again; other 4xx
	// responses are not.
	Retries int
	// Backoff is the wait before the second attempt, doubled for each
	// further one; 1s when zero. A Retry-After header of up to a minute
	// takes its place.
	Backoff time.Duration
	// Logger receives a warning for each failed attempt; none when nil.
	Logger *slog.Logger
}

// Payload is the JSON body a Webhook sends.
type Payload struct {
	Version   int       `json:"version"`
	Site      string    `json:"site"`
	Page      string    `json:"page"`
	URL       string    `json:"url"`
	ScanID    int64     `json:"scan_id"`
	StartedAt time.Time `json:"started_at"`
	// Findings serialise as in the JSON report: id, kind, severity, site,
	// page, subject, detail, evidence.
	Findings []skimguard.Finding `json:"findings"`
	Link     string              `json:"link"`
}

// PayloadVersion is the version of the Payload format.
const PayloadVersion = 1

// NewPayload builds the payload of a, card data masked and sources cut.
func NewPayload(a Alert) Payload {
	p := Payload{
		Version:   PayloadVersion,
		Site:      a.Site,
		Page:      a.Page,
		URL:       mask(a.URL),
		ScanID:    a.Scan.ID,
		StartedAt: a.Scan.StartedAt.UTC(),
		Findings:  make([]skimguard.Finding, 0, len(a.Findings)),
		Link:      a.Link,
	}
	for _, f := range a.Findings {
		ev := f.Evidence
		ev.Before = mask(ev.Before)
		ev.After = mask(ev.After)
		ev.BeforeSource = truncate(mask(ev.BeforeSource), MaxSourceBytes) // masked first: a cut number would pass no Luhn check
		ev.AfterSource = truncate(mask(ev.AfterSource), MaxSourceBytes)
		ev.URL = mask(ev.URL)
		ev.Initiator = mask(ev.Initiator)
		ev.CallChain = mask(ev.CallChain)
		ev.LoadedBy = mask(ev.LoadedBy)
		// Only the reported fields travel: the item and review state stay home.
		p.Findings = append(p.Findings, skimguard.Finding{
			ID: f.ID, Kind: f.Kind, Severity: f.Severity, Site: f.Site, Page: f.Page,
			Subject: mask(f.Subject), Detail: mask(f.Detail), Evidence: ev,
		})
	}
	return p
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n... [cut at " + strconv.Itoa(n) + " bytes]"
}

// Name returns "webhook" and the URL without its query or password; when
// those were dropped, a short hash of the whole URL follows, so that two
// webhooks that differ only there keep two delivery histories.
func (w *Webhook) Name() string {
	if shown := redact(w.URL); shown != w.URL {
		return "webhook " + shown + " #" + urlHash(w.URL)
	}
	return "webhook " + w.URL
}

// urlHash is a short hash of a URL that holds a secret: enough to tell two
// channels apart, too short and too wide a preimage to give the secret away.
func urlHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:4])
}

// redact drops what in a URL is most likely secret: the password and the
// query.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	return u.Redacted()
}

// Sign returns the signature header value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header, an X-Skimguard-Signature value, is the
// signature of body under secret. It runs in constant time over the
// signature; an empty secret verifies nothing.
func Verify(secret, body []byte, header string) bool {
	if len(secret) == 0 {
		return false
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Defaults of a Webhook.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 3
	DefaultBackoff = time.Second
	maxBackoff     = time.Minute
)

// Send POSTs a to the webhook, trying again on network errors, 5xx and 429
// responses with exponential backoff, until Retries attempts were made or
// ctx ends.
func (w *Webhook) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(NewPayload(a))
	if err != nil {
		return fmt.Errorf("webhook %s: encode alert: %w", redact(w.URL), err)
	}
	h := http.Header{}
	// One id for all attempts of the delivery, so that receivers can drop
	// duplicates.
	h.Set(DeliveryHeader, newDeliveryID())
	if len(w.Secret) > 0 {
		h.Set(SignatureHeader, Sign(w.Secret, body))
	}
	return post{
		kind: "webhook", shown: redact(w.URL), url: w.URL, body: body, header: h,
		client: w.Client, timeout: w.Timeout, retries: w.Retries, backoff: w.Backoff, logger: w.Logger,
	}.send(ctx)
}

// post is one JSON delivery by HTTP POST with retries, the way Webhook and
// Slack deliver.
type post struct {
	// kind ("webhook", "slack") and shown, the destination without its
	// secrets, name the destination in errors and logs.
	kind, shown string
	url         string
	body        []byte
	// header is added to each request, after Content-Type and User-Agent.
	header  http.Header
	client  *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
	logger  *slog.Logger
}

// send POSTs p.body, trying again on network errors, 5xx and 429 responses
// with exponential backoff, until p.retries attempts were made or ctx ends.
func (p post) send(ctx context.Context) error {
	attempts := p.retries
	if attempts <= 0 {
		attempts = DefaultRetries
	}
	backoff := p.backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	log := p.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		retryAfter, retry, err := p.attempt(ctx)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry || attempt >= attempts || ctx.Err() != nil {
			if retry && attempt > 1 {
				return fmt.Errorf("%w (gave up after %d attempts)", lastErr, attempt)
			}
			return lastErr
		}
		wait := backoff << (attempt - 1)
		if wait > maxBackoff || wait <= 0 {
			wait = maxBackoff
		}
		// Jitter, so that many senders do not retry in step.
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		if retryAfter > 0 {
			wait = retryAfter
		}
		log.Warn(p.kind+" delivery failed; will retry", p.kind, p.shown, "attempt", attempt, "of", attempts, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped retrying: %w)", lastErr, ctx.Err())
		case <-t.C:
		}
	}
}

// attempt makes one POST. retry says whether a failure is worth another
// attempt; retryAfter is the wait the server asked for, if any.
func (p post) attempt(ctx context.Context) (retryAfter time.Duration, retry bool, err error) {
	timeout := p.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return 0, false, fmt.Errorf("%s %s: %w", p.kind, p.shown, scrub(err, p.url, p.shown))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "skimguard")
	for k, vs := range p.header {
		req.Header[k] = vs
	}
	client := p.client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		// Network errors are worth another try; the caller's own
		// cancellation is not.
		var ue *url.Error
		retry := errors.As(err, &ue) && !errors.Is(err, context.Canceled)
		err = scrub(err, p.url, p.shown)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() != nil {
			err = fmt.Errorf("no response within %s: %w", timeout, err)
		}
		return 0, retry, fmt.Errorf("%s %s: %w", p.kind, p.shown, err)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	// Drain a little more so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, false, nil
	}
	err = fmt.Errorf("%s %s: %s: %q", p.kind, p.shown, resp.Status, bytes.TrimSpace(excerpt))
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	if retry {
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s >= 0 && time.Duration(s)*time.Second <= maxBackoff {
			retryAfter = time.Duration(s) * time.Second
		}
	}
	return retryAfter, retry, err
}

// scrub replaces the full URL in a client error by shown, its form without
// secrets.
func scrub(err error, rawURL, shown string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	if rawURL != "" && strings.Contains(err.Error(), rawURL) {
		return errors.New(strings.ReplaceAll(err.Error(), rawURL, shown))
	}
	return err
}

func newDeliveryID() string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Names returns the sinks' names, in order.
func Names(sinks []Sink) []string {
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.Name()
	}
	return names
}

// Multi delivers each alert to every sink in it.
type Multi []Sink

// Name lists the sinks' names.
func (m Multi) Name() string {
	return "multi(" + strings.Join(Names(m), ", ") + ")"
}

// Send delivers a to all sinks at once, so that a slow one does not hold
// the others back, and joins their errors.
func (m Multi) Send(ctx context.Context, a Alert) error {
	errs := make([]error, len(m))
	var wg sync.WaitGroup
	for i, s := range m {
		wg.Go(func() {
			if err := s.Send(ctx, a); err != nil {
				errs[i] = fmt.Errorf("%s: %w", s.Name(), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Filter passes on only the findings a route asks for.
type Filter struct {
	Sink Sink
	// MinSeverity drops findings below it; none are dropped when empty.
	MinSeverity skimguard.Severity
	// Sites limits alerts to these sites; all when empty.
	Sites []string
}

// Name returns the name of the filtered sink.
func (f Filter) Name() string { return f.Sink.Name() }

// Send passes on what Route keeps of a, when some finding is left.
func (f Filter) Send(ctx context.Context, a Alert) error {
	if a = f.Route(a); len(a.Findings) == 0 {
		return nil
	}
	return f.Sink.Send(ctx, a)
}

// Route returns a with only the findings at or above MinSeverity, or with
// none when a is not for one of Sites.
func (f Filter) Route(a Alert) Alert {
	if len(f.Sites) > 0 && !slices.Contains(f.Sites, a.Site) {
		a.Findings = nil
		return a
	}
	if f.MinSeverity != "" {
		var kept []skimguard.Finding
		for _, fd := range a.Findings {
			if fd.Severity.Rank() >= f.MinSeverity.Rank() {
				kept = append(kept, fd)
			}
		}
		a.Findings = kept
	}
	return a
}

// Routed returns what of a the sink s delivers: for a sink with a route
// (a Filter), the findings its route keeps; for any other sink, a whole.
// The monitor records and retries deliveries of those findings only, so
// that a finding a channel does not take is never counted as told to it.
func Routed(s Sink, a Alert) Alert {
	if r, ok := s.(interface{ Route(Alert) Alert }); ok {
		return r.Route(a)
	}
	return a
}

// New builds the sink of one configured alert: a Webhook, a Slack, an
// Email, or a Console on standard output, wrapped in a Filter when the
// alert routes by severity or site. env looks up environment variables
// (os.Getenv when nil): the URL when url_env is set, the signing secret
// when secret_env is, the SMTP username and password when username_env and
// password_env are.
func New(cfg config.Alert, env func(string) string) (Sink, error) {
	if env == nil {
		env = os.Getenv
	}
	var sink Sink
	switch cfg.Type {
	case config.AlertConsole:
		sink = Console{W: os.Stdout}
	case config.AlertWebhook:
		w := &Webhook{URL: cfg.URL}
		if cfg.URLEnv != "" {
			u, err := urlFromEnv(cfg, env)
			if err != nil {
				return nil, err
			}
			w.URL = u
		}
		if w.URL == "" {
			return nil, errors.New("webhook alert has no URL: set url or url_env in its configuration")
		}
		if cfg.SecretEnv != "" {
			secret := env(cfg.SecretEnv)
			if secret == "" {
				return nil, fmt.Errorf("webhook alert %s: environment variable %s (its secret_env) is not set: set it to the webhook's signing secret", redact(w.URL), cfg.SecretEnv)
			}
			w.Secret = []byte(secret)
		}
		sink = w
	case config.AlertSlack:
		// The URL is the secret that lets anyone post to the channel, so it
		// comes from the environment only.
		if cfg.URLEnv == "" {
			return nil, errors.New("slack alert has no url_env: set url_env: SLACK_WEBHOOK_URL in its configuration and SLACK_WEBHOOK_URL in the environment")
		}
		u, err := urlFromEnv(cfg, env)
		if err != nil {
			return nil, err
		}
		sink = &Slack{URL: u}
	case config.AlertEmail:
		e := &Email{Addr: cfg.SMTP, From: cfg.From, To: cfg.To}
		if (cfg.UsernameEnv == "") != (cfg.PasswordEnv == "") {
			return nil, errors.New("email alert: set both username_env and password_env, or neither")
		}
		for _, v := range []struct {
			key, name string
			dst       *string
		}{{"username_env", cfg.UsernameEnv, &e.Username}, {"password_env", cfg.PasswordEnv, &e.Password}} {
			if v.name == "" {
				continue
			}
			if *v.dst = env(v.name); *v.dst == "" {
				return nil, fmt.Errorf("email alert %s: environment variable %s (its %s) is not set: set it to the SMTP %s", e.Name(), v.name, v.key, strings.TrimSuffix(v.key, "_env"))
			}
		}
		if _, _, err := net.SplitHostPort(e.Addr); err != nil || e.From == "" || len(e.To) == 0 {
			return nil, errors.New("email alert needs smtp (host:port), from and at least one address in to")
		}
		sink = e
	default:
		return nil, fmt.Errorf("unknown alert type %q: use webhook, slack, email or console", cfg.Type)
	}
	if cfg.MinSeverity != "" || len(cfg.Sites) > 0 {
		sink = Filter{Sink: sink, MinSeverity: cfg.MinSeverity, Sites: cfg.Sites}
	}
	return sink, nil
}

// urlFromEnv reads the URL of a webhook or Slack alert from the
// environment variable its url_env names.
func urlFromEnv(cfg config.Alert, env func(string) string) (string, error) {
	raw := env(cfg.URLEnv)
	if raw == "" {
		return "", fmt.Errorf("%s alert: environment variable %s (its url_env) is not set: set it to the %s's URL", cfg.Type, cfg.URLEnv, cfg.Type)
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s alert: environment variable %s (its url_env) does not hold an absolute http or https URL", cfg.Type, cfg.URLEnv)
	}
	return raw, nil
}
