package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	skimguard "github.com/skimguard/skimguard"
)

// Slack posts alerts to a Slack incoming webhook: a header with the page
// and a count of findings, then one section per finding, most severe
// first, with its severity, kind, page, subject and why. Card data is
// masked. It retries as a Webhook does.
type Slack struct {
	// URL is the incoming webhook's URL. It is a secret (whoever has it can
	// post to the channel), so Name and errors show only its host.
	URL string
	// Client sends the requests; a client with no timeout of its own when
	// nil.
	Client *http.Client
	// Timeout bounds each attempt; DefaultTimeout when zero.
	Timeout time.Duration
	// Retries is how many attempts a delivery gets in all, DefaultRetries
	// when zero. Network errors, 5xx and 429 responses are tried again;
	// other 4xx responses are not.
	Retries int
	// Backoff is the wait before the second attempt, doubled for each
	// further one; DefaultBackoff when zero. A Retry-After header of up to
	// a minute takes its place.
	Backoff time.Duration
}

// Slack's limits on a message, with some room left.
const (
	// SlackMaxBlocks is how many blocks a Slack message holds at most (Slack
	// takes 50); findings beyond them are counted in an "and N more
	// findings" line.
	SlackMaxBlocks = 45
	// SlackMaxSectionText is the longest text of a section, in bytes (Slack
	// takes 3000 characters).
	SlackMaxSectionText = 3000
	// slackMaxHeaderText is the longest plain text of a header block.
	slackMaxHeaderText = 150
)

// Name returns "slack", the webhook's host (the rest of the URL is the
// secret) and a short hash of the whole URL, so that two Slack channels
// have two names: the delivery history is kept per name, and a channel
// must not count as told because another one was.
func (s *Slack) Name() string { return "slack " + slackHost(s.URL) + " #" + urlHash(s.URL) }

// slackHost is the scheme and host of a Slack webhook URL: all of it that
// is not secret.
func slackHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}

// Send POSTs a as a Slack message, trying again on network errors, 5xx and
// 429 responses with exponential backoff, until Retries attempts were made
// or ctx ends.
func (s *Slack) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(slackMessageOf(a))
	if err != nil {
		return fmt.Errorf("slack %s: encode alert: %w", slackHost(s.URL), err)
	}
	return post{
		kind: "slack", shown: slackHost(s.URL), url: s.URL, body: body,
		client: s.Client, timeout: s.Timeout, retries: s.Retries, backoff: s.Backoff,
	}.send(ctx)
}

// slackMessage is the body of an incoming-webhook POST.
type slackMessage struct {
	// Text is the notification's text, and the message where blocks are
	// not shown.
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"` // "plain_text" or "mrkdwn"
	Text string `json:"text"`
}

// slackEmoji marks each severity, so that the worst stands out in a
// channel.
var slackEmoji = map[skimguard.Severity]string{
	skimguard.SeverityCritical: ":rotating_light:",
	skimguard.SeverityHigh:     ":red_circle:",
	skimguard.SeverityMedium:   ":large_orange_circle:",
	skimguard.SeverityLow:      ":large_blue_circle:",
}

// slackMessageOf builds the message of a within Slack's limits.
func slackMessageOf(a Alert) slackMessage {
	head := "skimguard: " + summary(a)
	m := slackMessage{Text: cutText(slackEscape(head), SlackMaxSectionText)}
	m.Blocks = append(m.Blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: cutText(head, slackMaxHeaderText)}})
	about := []slackText{{Type: "mrkdwn", Text: cutText(slackEscape(fmt.Sprintf("Page %s/%s: %s", a.Site, a.Page, oneLine(mask(a.URL)))), SlackMaxSectionText)}}
	if a.Scan.ID != 0 || !a.Scan.StartedAt.IsZero() {
		about = append(about, slackText{Type: "mrkdwn", Text: fmt.Sprintf("Scan %d at %s", a.Scan.ID, a.Scan.StartedAt.UTC().Format(time.RFC3339))})
	}
	m.Blocks = append(m.Blocks, slackBlock{Type: "context", Elements: about})
	var review *slackBlock
	if u, err := url.Parse(a.Link); err == nil && (u.Scheme == "http" || u.Scheme == "https") && !strings.ContainsAny(a.Link, "|<> ") {
		review = &slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "<" + strings.ReplaceAll(a.Link, "&", "&amp;") + "|Review the findings in skimguard>"}}
	}
	findings := bySeverity(a.Findings)
	room := SlackMaxBlocks - len(m.Blocks)
	if review != nil {
		room--
	}
	shown := len(findings)
	if shown > room {
		shown = room - 1 // one block says how many more there are
	}
	for _, f := range findings[:shown] {
		m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: slackFinding(a, f)}})
	}
	if more := len(findings) - shown; more > 0 {
		noun := "findings"
		if more == 1 {
			noun = "finding"
		}
		m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn",
			Text: fmt.Sprintf("_…and %d more %s, none more severe than those above: see them all in skimguard._", more, noun)}})
	}
	if review != nil {
		m.Blocks = append(m.Blocks, *review)
	}
	return m
}

// slackFinding is the section text of one finding, card data masked, cut to
// Slack's limit.
func slackFinding(a Alert, f skimguard.Finding) string {
	emoji, ok := slackEmoji[f.Severity]
	if !ok {
		emoji = ":grey_question:"
	}
	site, page := f.Site, f.Page
	if site == "" {
		site, page = a.Site, a.Page
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s *%s* %s\n", emoji, strings.ToUpper(slackEscape(string(f.Severity))), slackCode(string(f.Kind)))
	fmt.Fprintf(&b, "*Page:* %s\n", slackEscape(site+"/"+page))
	// In code, so that Slack does not turn a skimmer's address into a link.
	fmt.Fprintf(&b, "*Subject:* %s", slackCode(cutText(oneLine(mask(f.Subject)), 500)))
	if f.Detail != "" {
		fmt.Fprintf(&b, "\n*Why:* %s", slackEscape(strings.TrimRight(mask(f.Detail), "\n")))
	}
	return cutText(b.String(), SlackMaxSectionText)
}

// slackEscape escapes the characters Slack's mrkdwn gives a meaning.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackCode puts s in inline code, escaped.
func slackCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + slackEscape(strings.ReplaceAll(s, "`", "'")) + "`"
}

// cutText cuts s to at most n bytes, ending it with "…" when cut, on a
// character boundary and not inside an escape such as "&amp;".
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	i := max(n-len(ellipsis), 0)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if amp := strings.LastIndexByte(s[max(i-len("&amp;"), 0):i], '&'); amp >= 0 {
		start := max(i-len("&amp;"), 0) + amp
		if !strings.Contains(s[start:i], ";") {
			i = start
		}
	}
	return s[:i] + ellipsis
}
