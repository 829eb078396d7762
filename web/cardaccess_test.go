package web

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// A skimmer that sends through the page's approved library is named as
// the sender, not the library, and the scan page says what each script
// sees of the card.
func TestWrapperSentRequestNamesTheSkimmerAndScanShowsCardAccess(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC().Add(-50 * time.Minute)
	// The shop's library listens to the holder's name field: approved.
	libSees := skimguard.CardAccess{Script: 0, Field: skimguard.FieldName, How: skimguard.AccessListens + "change", Frame: payURL}
	clean := payPage(false)
	clean.CardAccess = []skimguard.CardAccess{libSees}
	b, err := baseline.Learn([]*skimguard.Observation{clean, clean}, "alice", "onboarding", now)
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "pay", payURL
	if err := f.store.SaveBaseline(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	o := payPage(true)
	lib, skim := -1, -1
	for i, sc := range o.Scripts {
		switch {
		case sc.URL == libURL:
			lib = i
		case sc.Kind == skimguard.ScriptInline && sc.Ordinal == 2:
			skim = i
		}
	}
	if lib < 0 || skim < 0 {
		t.Fatalf("the pay page has no library or no inline skimmer: %+v", o.Scripts)
	}
	chain := []skimguard.CallSite{{Script: lib, URL: libURL, Line: 3}, {Script: skim, URL: payURL, Line: 25}}
	o.Leaks = []skimguard.Leak{{Origin: thief, URL: thief + "/g.php", Method: "POST", Type: "XHR", Initiator: libURL,
		Fields: []skimguard.CardField{skimguard.FieldNumber}, Encoding: "base64", Where: "body", Chain: chain}}
	if lib != 0 {
		t.Fatalf("the library is script %d, want 0", lib)
	}
	o.CardAccess = []skimguard.CardAccess{libSees, {Script: skim, Field: skimguard.FieldNumber, How: skimguard.AccessListens + "change", Frame: payURL}}
	scan := f.checkWith(t, now.Add(time.Minute), o)
	var exfil skimguard.Finding
	for _, fd := range scan.Findings {
		if fd.Kind == skimguard.KindDataExfiltration {
			exfil = fd
		}
	}
	if exfil.ID == 0 {
		t.Fatalf("no exfiltration among %+v", scan.Findings)
	}
	c := f.client(t)
	f.login(t, c, "alice", password)

	_, doc := get(t, c, f.url("/findings/"+itoa(exfil.ID)))
	if name := strings.TrimSpace(doc.Find("#sent-by .culprit-name").First().Text()); name != skimName {
		t.Errorf("sent by %q, want the inline skimmer %q, not the library", name, skimName)
	}
	if ch := doc.Find("#call-chain").Text(); !strings.Contains(ch, libURL+":3") || !strings.Contains(ch, payURL+":25") {
		t.Errorf("the call chain shown is %q", ch)
	}

	_, doc = get(t, c, f.url("/scans/"+itoa(scan.ID)))
	sees := map[string]string{}
	doc.Find("table.scripts tbody tr").Each(func(_ int, tr *goquery.Selection) {
		sees[tr.Find("td.subject").Text()] = tr.Find("td.sees-card").Text()
	})
	if sees[skimName] != "number (listens to change)" || sees[libURL] != "name (listens to change)" {
		t.Errorf("what scripts see of the card, on the scan page: %q", sees)
	}

	_, doc = get(t, c, f.url("/pages/shop/pay"))
	if got := doc.Find(".sees-card").Text(); got != "sees the card: name (listens to change)" {
		t.Errorf("the page's inventory says %q of what approved scripts see of the card", got)
	}
}
