// Package e2e holds skimguard's end-to-end tests: a real Chromium loads pages
// served on several loopback origins, one per technique of THREATS.md and
// real skimmers from the corpus, and the whole pipeline (crawl, learn,
// compare) must catch each one while clean pages stay silent.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/crawler"
)

var (
	shared    *crawler.Crawler
	sharedErr error
	// typed are the cards the shared crawler's scans typed.
	typed issued
)

// issued keeps the cards a crawler's scans typed: each scan types a fresh
// canary, and a skimmer is proven to have fired when one of them, or the
// parts of one a kit sends, reaches its server.
type issued struct {
	mu    sync.Mutex
	cards []carddata.Card
}

// next is the crawler's Card: a fresh canary, as by default, kept.
func (c *issued) next() carddata.Card {
	card := carddata.Canary(time.Now())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cards = append(c.cards, card)
	return card
}

func (c *issued) all() []carddata.Card {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cards)
}

// carried reports whether b carries one of the cards typed.
func (c *issued) carried(b []byte) bool {
	return slices.ContainsFunc(c.all(), func(card carddata.Card) bool { _, ok := card.Find(b); return ok })
}

func TestMain(m *testing.M) {
	if os.Getenv(shopProcessEnv) != "" {
		os.Exit(serveShopProcess())
	}
	ctx, cancel := context.WithCancel(context.Background())
	shared, sharedErr = crawler.New(ctx, crawler.Options{DefaultWait: 2 * time.Second, MaxConcurrent: 4, Card: typed.next})
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	cancel()
	os.Exit(code)
}

// browser returns the shared crawler. Without Chromium the end-to-end tests
// fail (they are the product's proof), unless -short asks to skip them.
func browser(t *testing.T) *crawler.Crawler {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end tests need Chromium; skipped with -short")
	}
	if sharedErr != nil {
		if errors.Is(sharedErr, crawler.ErrNoBrowser) {
			t.Fatalf("no Chromium: %v (scripts/test installs it)", sharedErr)
		}
		t.Fatalf("start Chromium: %v", sharedErr)
	}
	return shared
}

func scan(t *testing.T, cr *crawler.Crawler, p skimguard.Page) *skimguard.Observation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o, err := cr.Scan(ctx, p)
	if err != nil {
		t.Fatalf("scan %s: %v", p.URL, err)
	}
	return o
}

// learn takes n samples concurrently, as `skimguard baseline` does.
func learn(t *testing.T, cr *crawler.Crawler, p skimguard.Page, n int) *skimguard.Baseline {
	t.Helper()
	samples := make([]*skimguard.Observation, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			samples[i], errs[i] = cr.Scan(ctx, p)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("baseline samples of %s: %v", p.URL, err)
	}
	b, err := baseline.Learn(samples, "e2e", "test baseline", time.Now())
	if err != nil {
		t.Fatalf("learn %s: %v", p.URL, err)
	}
	return b
}

func describe(fs []skimguard.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  [%s] %s %s: %s\n", f.Severity, f.Kind, f.Subject, f.Detail)
	}
	return b.String()
}

func kinds(fs []skimguard.Finding) []skimguard.Kind {
	var ks []skimguard.Kind
	for _, f := range fs {
		ks = append(ks, f.Kind)
	}
	return ks
}

func TestTechniquesAreCaughtAndCleanPagesStaySilent(t *testing.T) {
	cr := browser(t)
	w := newWorld(t)
	all := append(techniques(), visitTechniques()...)
	corp, why := corpusTechniques(t)
	if why != "" {
		t.Run("corpus", func(t *testing.T) { t.Skipf("skipped: real skimmer samples not available: %s", why) })
	}
	all = append(all, corp...)
	for _, tc := range all {
		if tc.proof() == 0 {
			t.Fatalf("technique %s does not say what proves it fired (set fires)", tc.name)
		}
		w.add(tc)
	}
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wait := tc.wait
			if wait == 0 {
				wait = 2 * time.Second
			}
			p := skimguard.Page{Site: "e2e", Name: tc.name, URL: w.checkoutURL(tc), Wait: wait, Interact: true, Profile: tc.profile,
				Locale: tc.locale, Timezone: tc.timezone}
			b := learn(t, cr, p, 2)

			if fs := baseline.Compare(b, scan(t, cr, p)); len(fs) > 0 {
				t.Fatalf("the clean page raised %d finding(s); it must raise none:\n%s", len(fs), describe(fs))
			}

			w.plant(tc.name, true)
			for i := range max(tc.repeat, 1) {
				if tc.shopper {
					w.shopperVisit(t, tc, p.URL)
				}
				before := len(w.received(tc.name))
				o := scan(t, cr, p)
				w.mustHaveFired(t, tc, before, i+1)
				fs := baseline.Compare(b, o)
				got := kinds(fs)
				for _, k := range tc.want {
					if !slices.Contains(got, k) {
						t.Errorf("check %d: %s (%s) not caught as %s; findings:\n%s", i+1, tc.name, tc.threat, k, describe(fs))
					}
				}
				if len(tc.anyOf) > 0 && !slices.ContainsFunc(tc.anyOf, func(k skimguard.Kind) bool { return slices.Contains(got, k) }) {
					t.Errorf("check %d: %s (%s): none of %v among findings:\n%s", i+1, tc.name, tc.threat, tc.anyOf, describe(fs))
				}
				for _, n := range tc.named {
					if !slices.ContainsFunc(fs, func(f skimguard.Finding) bool {
						return f.Kind == n.kind && strings.Contains(f.Subject+"\n"+f.Detail+"\n"+f.Evidence.Initiator, n.text) &&
							!slices.ContainsFunc(n.not, func(s string) bool { return strings.Contains(f.Evidence.Initiator, s) })
					}) {
						t.Errorf("check %d: no %s finding names %q (with a sender other than %q); findings:\n%s", i+1, n.kind, n.text, n.not, describe(fs))
					}
				}
				for _, s := range tc.subjects {
					if !slices.ContainsFunc(fs, func(f skimguard.Finding) bool { return strings.Contains(f.Subject, s) }) {
						t.Errorf("check %d: no finding names %q; findings:\n%s", i+1, s, describe(fs))
					}
				}
				for _, in := range tc.initiators {
					if !slices.ContainsFunc(fs, func(f skimguard.Finding) bool { return strings.Contains(f.Evidence.Initiator, in) }) {
						t.Errorf("check %d: no finding's evidence names %q as initiator; findings:\n%s", i+1, in, describe(fs))
					}
				}
				for _, f := range fs {
					if f.Detail == "" {
						t.Errorf("finding %s %s has no detail saying why", f.Kind, f.Subject)
					}
					ev := fmt.Sprintf("%+v", f)
					for _, c := range typed.all() {
						if strings.Contains(ev, c.Number) {
							t.Errorf("finding %s %s holds the unmasked card number", f.Kind, f.Subject)
						}
					}
				}
			}
		})
	}
}

// mustHaveFired fails t unless the technique's attacker received, since
// the first before entries, what proves the skimmer ran for the shopper. A
// beacon can reach the server a moment after the browser sent it, so the
// proof is polled for briefly.
func (w *world) mustHaveFired(t *testing.T, tc *technique, before, check int) {
	t.Helper()
	if tc.pays {
		w.pay(t, tc)
	}
	var got [][]byte
	deadline := time.Now().Add(3 * time.Second)
	for {
		got = w.received(tc.name)[before:]
		switch tc.proof() {
		case fireNothing:
			return
		case fireRequest:
			if len(got) > 0 {
				return
			}
		case fireCard:
			if slices.ContainsFunc(got, func(b []byte) bool {
				if tc.decode != nil {
					b = tc.decode(b)
				}
				return typed.carried(b)
			}) {
				return
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	what := "the card typed (or its parts)"
	if tc.proof() == fireRequest {
		what = "any request"
	}
	t.Fatalf("check %d: the planted skimmer of %s did not fire for the shopper: its server received %d request(s), without %s; fix the technique page, not skimguard", check, tc.name, len(got), what)
}

// TestUnchangedPageGivesZeroFindingsOnEveryCheck checks a page full of
// legitimate per-load variation many times after one baseline: nonces,
// CSRF tokens, timestamps, cart and session ids, cache busters, build
// stamps, an A/B test, volatile headers, and card data sent to the
// provider from its own iframe.
func TestUnchangedPageGivesZeroFindingsOnEveryCheck(t *testing.T) {
	cr := browser(t)
	w := newWorld(t)
	tc := &technique{name: "clean-hosted-fields"}
	w.add(tc)
	p := skimguard.Page{Site: "e2e", Name: tc.name, URL: w.checkoutURL(tc), Wait: 2 * time.Second, Interact: true}
	b := learn(t, cr, p, 3)
	var sinks int
	for _, it := range b.Items {
		if it.Type == skimguard.ItemCardSink {
			sinks++
		}
	}
	if sinks == 0 {
		t.Fatalf("the baseline has no card-data receiver: the test card typed into the provider's iframe was not seen reaching the provider")
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			o, err := cr.Scan(ctx, p)
			if err != nil {
				t.Errorf("check %d: %v", i+1, err)
				return
			}
			if !o.Typed {
				t.Errorf("check %d: the test card was not typed into the provider's hosted fields", i+1)
			}
			if fs := baseline.Compare(b, o); len(fs) > 0 {
				t.Errorf("check %d of an unchanged page raised findings:\n%s", i+1, describe(fs))
			}
		})
	}
	wg.Wait()
}
