package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
)

// parseSlack reads a Slack message body back, failing on anything Slack
// would not take.
func parseSlack(t *testing.T, body []byte) slackMessage {
	t.Helper()
	var m slackMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not a Slack message: %v\n%s", err, body)
	}
	if m.Text == "" {
		t.Error("no fallback text")
	}
	if len(m.Blocks) == 0 || len(m.Blocks) > 50 {
		t.Errorf("%d blocks; Slack takes 1 to 50", len(m.Blocks))
	}
	for i, b := range m.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || utf8.RuneCountInString(b.Text.Text) > 150 {
				t.Errorf("block %d: bad header %+v", i, b.Text)
			}
		case "section":
			if b.Text == nil || b.Text.Type != "mrkdwn" || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > 3000 {
				t.Errorf("block %d: bad section text of %d bytes", i, len(b.Text.Text))
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				t.Errorf("block %d: context with %d elements", i, len(b.Elements))
			}
		default:
			t.Errorf("block %d: unexpected type %q", i, b.Type)
		}
	}
	return m
}

func sections(m slackMessage) []string {
	var s []string
	for _, b := range m.Blocks {
		if b.Type == "section" {
			s = append(s, b.Text.Text)
		}
	}
	return s
}

func TestSlackDelivers(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	s := &Slack{URL: r.srv.URL + "/services/T0/B0/s3cr3tpath", Backoff: time.Millisecond}
	a := testAlert()
	a.Findings[0].Detail = "a new external script <b>from</b> https://jquery-cdn.example & more"
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if r.count() != 1 {
		t.Fatalf("receiver got %d requests, want 1", r.count())
	}
	body := r.bodies[0]
	m := parseSlack(t, body)
	t.Run("content type", func(t *testing.T) {
		if got := r.headers[0].Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
	})
	t.Run("header counts findings and names the page", func(t *testing.T) {
		want := "skimguard: 2 findings (1 critical) on outfitters/checkout"
		if m.Blocks[0].Type != "header" || m.Blocks[0].Text.Text != want {
			t.Errorf("first block = %+v, want header %q", m.Blocks[0], want)
		}
		if m.Text != want {
			t.Errorf("text = %q, want %q", m.Text, want)
		}
	})
	t.Run("one section per finding, most severe first, with severity kind page subject why", func(t *testing.T) {
		secs := sections(m)
		if len(secs) != 3 { // two findings and the review link
			t.Fatalf("sections = %q", secs)
		}
		for _, want := range []string{":rotating_light: *CRITICAL* `data.exfiltration`", "*Page:* outfitters/checkout", "*Subject:* `https://evil.example`", "*Why:* card number, cvc sent to"} {
			if !strings.Contains(secs[0], want) {
				t.Errorf("first section lacks %q:\n%s", want, secs[0])
			}
		}
		for _, want := range []string{":red_circle: *HIGH* `script.added`", "*Subject:* `https://jquery-cdn.example/jquery.min.js`"} {
			if !strings.Contains(secs[1], want) {
				t.Errorf("second section lacks %q:\n%s", want, secs[1])
			}
		}
		if want := "<http://127.0.0.1:8080/findings?scan=42|Review the findings in skimguard>"; secs[2] != want {
			t.Errorf("last section = %q, want %q", secs[2], want)
		}
	})
	t.Run("mrkdwn control characters are escaped", func(t *testing.T) {
		if want := "&lt;b&gt;from&lt;/b&gt; https://jquery-cdn.example &amp; more"; !strings.Contains(sections(m)[1], want) {
			t.Errorf("section lacks %q:\n%s", want, sections(m)[1])
		}
	})
	t.Run("no card data in the body", func(t *testing.T) {
		if c := carddata.Test(); c.Mask(string(body)) != string(body) {
			t.Errorf("body carries the card number: %s", body)
		}
		if !strings.Contains(sections(m)[0], "492938******1730") {
			t.Errorf("section lacks the masked number: %s", sections(m)[0])
		}
	})
	t.Run("name shows only the host, and tells two channels apart", func(t *testing.T) {
		if got, want := s.Name(), "slack "+r.srv.URL+" #"; !strings.HasPrefix(got, want) || strings.Contains(got, "/services") {
			t.Errorf("Name = %q, want %q and a hash", got, want)
		}
		other := &Slack{URL: r.srv.URL + "/services/T0/B1/other"}
		if other.Name() == s.Name() || other.Name() != (&Slack{URL: other.URL}).Name() {
			t.Errorf("two channels' names %q and %q: want distinct, each stable", s.Name(), other.Name())
		}
	})
}

func TestSlackRetries(t *testing.T) {
	t.Run("retries on 500 then succeeds", func(t *testing.T) {
		r := newReceiver(t, 500, 200)
		if err := (&Slack{URL: r.srv.URL, Backoff: time.Millisecond}).Send(context.Background(), testAlert()); err != nil {
			t.Fatal(err)
		}
		if r.count() != 2 {
			t.Errorf("attempts = %d, want 2", r.count())
		}
		if !bytes.Equal(r.bodies[0], r.bodies[1]) {
			t.Error("the retry sent another body")
		}
	})
	t.Run("gives up after Retries with an error that hides the URL's path", func(t *testing.T) {
		r := newReceiver(t, 503)
		err := (&Slack{URL: r.srv.URL + "/services/T0/B0/s3cr3tpath", Retries: 2, Backoff: time.Millisecond}).Send(context.Background(), testAlert())
		if err == nil {
			t.Fatal("no error")
		}
		if r.count() != 2 {
			t.Errorf("attempts = %d, want 2", r.count())
		}
		for _, want := range []string{"slack " + r.srv.URL + ": 503 Service Unavailable", "gave up after 2 attempts"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "s3cr3tpath") {
			t.Errorf("error %q shows the secret path", err)
		}
	})
	t.Run("no retry on 400", func(t *testing.T) {
		r := newReceiver(t, 400)
		err := (&Slack{URL: r.srv.URL, Backoff: time.Millisecond}).Send(context.Background(), testAlert())
		if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "receiver says Bad Request") {
			t.Errorf("err = %v", err)
		}
		if r.count() != 1 {
			t.Errorf("attempts = %d, want 1", r.count())
		}
	})
	t.Run("network error hides the URL's path", func(t *testing.T) {
		r := newReceiver(t, 200)
		u := r.srv.URL
		r.srv.Close()
		err := (&Slack{URL: u + "/services/T0/B0/s3cr3tpath", Retries: 1}).Send(context.Background(), testAlert())
		if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "s3cr3tpath") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSlackTruncates(t *testing.T) {
	a := testAlert()
	a.Findings = nil
	for i := range 120 {
		sev := skimguard.SeverityLow
		if i == 119 {
			sev = skimguard.SeverityCritical
		}
		a.Findings = append(a.Findings, skimguard.Finding{
			ID: int64(i), Kind: skimguard.KindConnectionAdded, Severity: sev, Site: "outfitters", Page: "checkout",
			Subject: fmt.Sprintf("https://host%d.example", i),
			// Long, with escapes that grow, and the card number at the end.
			Detail: strings.Repeat("a<b&c ", 1000) + " 4929386160871730",
		})
	}
	r := newReceiver(t, 200)
	if err := (&Slack{URL: r.srv.URL}).Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	m := parseSlack(t, r.bodies[0])
	if len(m.Blocks) > SlackMaxBlocks {
		t.Errorf("%d blocks, want at most %d", len(m.Blocks), SlackMaxBlocks)
	}
	secs := sections(m)
	t.Run("most severe finding is kept", func(t *testing.T) {
		if !strings.Contains(secs[0], "CRITICAL") || !strings.Contains(secs[0], "host119.example") {
			t.Errorf("first section:\n%.200s", secs[0])
		}
	})
	t.Run("says how many more", func(t *testing.T) {
		shown := 0
		for _, s := range secs {
			if strings.Contains(s, "*Subject:*") {
				shown++
			}
		}
		want := fmt.Sprintf("and %d more findings", 120-shown)
		if !strings.Contains(secs[len(secs)-2], want) {
			t.Errorf("second to last section = %q, want it to say %q", secs[len(secs)-2], want)
		}
		if shown < 30 {
			t.Errorf("only %d findings shown", shown)
		}
	})
	t.Run("section texts are cut whole escapes and all", func(t *testing.T) {
		for _, s := range secs {
			if len(s) > SlackMaxSectionText {
				t.Errorf("section of %d bytes", len(s))
			}
			if i := strings.LastIndexByte(s, '&'); i >= 0 && !strings.Contains(s[i:], ";") {
				t.Errorf("section ends in a cut escape: %q", s[max(0, len(s)-20):])
			}
		}
		if !strings.HasSuffix(secs[0], "…") {
			t.Errorf("long section not marked as cut: %q", secs[0][len(secs[0])-20:])
		}
	})
	t.Run("no card data", func(t *testing.T) {
		if c := carddata.Test(); c.Mask(string(r.bodies[0])) != string(r.bodies[0]) {
			t.Error("body carries the card number")
		}
	})
}

func TestCutText(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 8, "abcde…"},
		{"ab&amp;cdef", 8, "ab…"},
		{"abc&lt;", 7, "abc&lt;"},
		{"ééééé", 6, "é…"}, // é is 2 bytes: no half characters
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			got := cutText(tt.s, tt.n)
			if got != tt.want || len(got) > tt.n || !utf8.ValidString(got) {
				t.Errorf("cutText(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
		})
	}
}
