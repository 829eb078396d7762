package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/crawler"
	"github.com/skimguard/skimguard/demo"
)

// journeyShop serves demo.JourneyShop on free ports for one test.
func journeyShop(t *testing.T, password string) *demo.JourneyShop {
	t.Helper()
	s, err := demo.StartJourneys(context.Background(), demo.JourneyOptions{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// journeyPages reads the pages of a sites.yaml written in dir, so that
// journeys are those a user writes, read as skimguard reads them.
func journeyPages(t *testing.T, dir, sites string) []skimguard.Page {
	t.Helper()
	path := filepath.Join(dir, "sites.yaml")
	if err := os.WriteFile(path, []byte(sites), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := cfg.Pages(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// cartSteps is the cart journey as a user writes it in sites.yaml.
func cartSteps(shop string) string {
	return fmt.Sprintf(`
        steps:
          - goto: %[1]s/product/42
          - click: "#add-to-cart"
          - goto: %[1]s/checkout
          - fill: {"#email": "monitor@example.com", "#postcode": "10115"}
          - select: {"#country": "DE"}
          - click: "#to-payment"
          - wait_for: "#card-number"
`, shop)
}

// mustHaveStolen fails t unless the attacker received the test card since
// it had received before: the skimmer fired for the shopper.
func mustHaveStolen(t *testing.T, shop *demo.JourneyShop, before int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for shop.Stolen() == before {
		if time.Now().After(deadline) {
			t.Fatalf("the planted skimmer did not fire for the shopper: the attacker received no card; fix the shop, not skimguard")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustFailAtStep scans p, which must fail naming its step want.
func mustFailAtStep(t *testing.T, cr *crawler.Crawler, p skimguard.Page, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	obs, err := cr.Scan(ctx, p)
	var je *crawler.JourneyError
	if !errors.As(err, &je) {
		t.Fatalf("scan of the broken journey: err = %v, want a failed journey step: it must never pass as clean", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the step %q", err, want)
	}
	if obs == nil || len(obs.Screenshot) == 0 {
		t.Errorf("the failed scan keeps no screenshot of the page")
	}
}

func TestCartGatedCheckoutIsCheckedThroughItsJourney(t *testing.T) {
	cr := browser(t)
	shop := journeyShop(t, "unused-password-1")
	p := journeyPages(t, t.TempDir(), `sites:
  - name: outfitters
    pages:
      - name: payment
        url: `+shop.CheckoutURL()+`
        wait: 2s
`+cartSteps(shop.ShopURL))[0]

	b := learn(t, cr, p, 3)
	for i := range 2 {
		if fs := baseline.Compare(b, scan(t, cr, p)); len(fs) > 0 {
			t.Fatalf("check %d of the unchanged checkout raised findings:\n%s", i+1, describe(fs))
		}
	}
	var paymentJS bool
	for _, it := range b.Items {
		paymentJS = paymentJS || it.Type == skimguard.ItemScript && strings.Contains(it.Subject, "/static/payment.js")
	}
	if !paymentJS {
		t.Fatalf("the baseline lacks the payment step's script, which its button loads: the journey did not reach the payment step")
	}

	shop.PlantCheckout(true)
	before := shop.Stolen()
	o := scan(t, cr, p)
	mustHaveStolen(t, shop, before)
	fs := baseline.Compare(b, o)
	if !slices.Contains(kinds(fs), skimguard.KindDataExfiltration) {
		t.Errorf("the skimmer in the payment step's script was not caught as data.exfiltration:\n%s", describe(fs))
	}
	if !slices.ContainsFunc(fs, func(f skimguard.Finding) bool {
		return f.Kind == skimguard.KindScriptChanged && strings.Contains(f.Subject, "/static/payment.js")
	}) {
		t.Errorf("the changed payment-step script was not reported:\n%s", describe(fs))
	}

	shop.PlantCheckout(false)
	shop.RenameButtons(true)
	p.Journey.Steps[5].Timeout = 3 * time.Second
	mustFailAtStep(t, cr, p, `journey step 6 of 7 (click "#to-payment", at `)
}

func TestMembersOnlyPaymentPageIsCheckedBehindItsSignIn(t *testing.T) {
	cr := browser(t)
	const password = "Member2026pw"
	t.Setenv("SKIMGUARD_E2E_SHOP_PASSWORD", password)
	shop := journeyShop(t, password)
	p := journeyPages(t, t.TempDir(), `sites:
  - name: outfitters
    pages:
      - name: invoice
        url: `+shop.AccountPayURL()+`
        wait: 2s
        steps:
          - goto: `+shop.LoginURL()+`
          - fill: {"#user": "monitor", "#password": "${SKIMGUARD_E2E_SHOP_PASSWORD}"}
          - click: "#login"
          - goto: `+shop.AccountPayURL()+`
          - wait_for: "#cc-number"
`)[0]

	b := learn(t, cr, p, 3)
	if shop.SignIns() < 3 {
		t.Fatalf("%d sign-ins for 3 loads: the journey did not sign in", shop.SignIns())
	}
	if fs := baseline.Compare(b, scan(t, cr, p)); len(fs) > 0 {
		t.Fatalf("the unchanged page raised findings:\n%s", describe(fs))
	}

	shop.PlantAccount(true)
	before := shop.Stolen()
	o := scan(t, cr, p)
	mustHaveStolen(t, shop, before)
	fs := baseline.Compare(b, o)
	if !slices.Contains(kinds(fs), skimguard.KindDataExfiltration) {
		t.Errorf("the skimmer behind the sign-in was not caught as data.exfiltration:\n%s", describe(fs))
	}
	if got := fmt.Sprintf("%+v", fs); strings.Contains(got, password) {
		t.Errorf("a finding holds the member's password:\n%s", got)
	}

	shop.PlantAccount(false)
	shop.RenameButtons(true)
	p.Journey.Steps[2].Timeout = 3 * time.Second
	mustFailAtStep(t, cr, p, `journey step 3 of 5 (click "#login", at `)
}

// The Recorder export of the cart journey (recorder/testdata/cart.json,
// recorded against the demo's port) replays as the journey written in
// sites.yaml does: each one's baseline accepts the other's page.
func TestRecordingReplaysAsTheEquivalentSteps(t *testing.T) {
	cr := browser(t)
	shop := journeyShop(t, "unused-password-2")
	dir := t.TempDir()
	flow, err := os.ReadFile(filepath.Join("..", "recorder", "testdata", "cart.json"))
	if err != nil {
		t.Fatal(err)
	}
	flow = []byte(strings.ReplaceAll(string(flow), "http://127.0.0.1:8780", shop.ShopURL))
	if err := os.WriteFile(filepath.Join(dir, "cart.json"), flow, 0o600); err != nil {
		t.Fatal(err)
	}
	pages := journeyPages(t, dir, `sites:
  - name: outfitters
    pages:
      - name: recorded
        url: `+shop.CheckoutURL()+`
        wait: 2s
        recording: cart.json
      - name: written
        url: `+shop.CheckoutURL()+`
        wait: 2s
`+cartSteps(shop.ShopURL))
	recorded, written := pages[0], pages[1]
	if recorded.Journey == nil || len(recorded.Journey.Steps) != 11 {
		t.Fatalf("the recording was not read as the page's journey: %+v", recorded.Journey)
	}

	bRecorded := learn(t, cr, recorded, 2)
	bWritten := learn(t, cr, written, 2)
	oRecorded, oWritten := scan(t, cr, recorded), scan(t, cr, written)
	if fs := baseline.Compare(bWritten, oRecorded); len(fs) > 0 {
		t.Errorf("the recording's page differs from the written journey's baseline:\n%s", describe(fs))
	}
	if fs := baseline.Compare(bRecorded, oWritten); len(fs) > 0 {
		t.Errorf("the written journey's page differs from the recording's baseline:\n%s", describe(fs))
	}
	origins := func(o *skimguard.Observation) []string {
		var out []string
		for _, c := range o.Connections {
			out = append(out, c.Origin)
		}
		slices.Sort(out)
		return out
	}
	if a, b := origins(oRecorded), origins(oWritten); !slices.Equal(a, b) {
		t.Errorf("destinations differ: recording %v, steps %v", a, b)
	}
	var payment int
	for _, o := range []*skimguard.Observation{oRecorded, oWritten} {
		for _, s := range o.Scripts {
			if strings.Contains(s.URL, "/static/payment.js") {
				payment++
			}
		}
	}
	if payment != 2 {
		t.Errorf("the payment step's script is in %d of the 2 observations, want both", payment)
	}
}
