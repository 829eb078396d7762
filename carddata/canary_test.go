package carddata

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// Every canary is a fresh, Luhn-valid card in a Visa or Mastercard range,
// never a test number, expiring ahead, and no two alike.
func TestCanaryIsFreshAndLooksReal(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	names, cvcs := map[string]bool{}, map[string]bool{}
	var visa, mc int
	for range 2000 {
		c := Canary(now)
		if seen[c.Number] {
			t.Fatalf("number repeated after %d cards", len(seen))
		}
		seen[c.Number] = true
		names[c.Name], cvcs[c.CVC] = true, true
		if len(c.Number) != 16 || !Luhn(c.Number) {
			t.Fatalf("%s: want 16 Luhn-valid digits", maskNumber(c.Number))
		}
		if IsTestNumber(c.Number) {
			t.Fatalf("%s is a test number", maskNumber(c.Number))
		}
		switch {
		case c.Number[0] == '4':
			visa++
		case c.Number[0] == '5' && c.Number[1] >= '1' && c.Number[1] <= '5', c.Number[:4] >= "2221" && c.Number[:4] <= "2720":
			mc++
		default:
			t.Fatalf("%s is in no Visa or Mastercard range", maskNumber(c.Number))
		}
		if c.ExpMonth < "01" || c.ExpMonth > "12" || len(c.ExpMonth) != 2 {
			t.Fatalf("month %q", c.ExpMonth)
		}
		if c.ExpYear < "27" || c.ExpYear > "30" {
			t.Fatalf("year %q: want one to four years ahead of 2026", c.ExpYear)
		}
		if len(c.CVC) != 3 || slices.Contains(testCVCs, c.CVC) {
			t.Fatalf("CVC %q", c.CVC)
		}
		if c.Name == Test().Name || len(strings.Fields(c.Name)) != 2 {
			t.Fatalf("name %q", c.Name)
		}
	}
	if visa == 0 || mc == 0 || len(names) < 50 || len(cvcs) < 300 {
		t.Errorf("%d Visa, %d Mastercard, %d names, %d CVCs: want them varied", visa, mc, len(names), len(cvcs))
	}
}

func TestIsTestNumber(t *testing.T) {
	for _, n := range []string{"4111111111111111", "4242424242424242", "4012888888881881", "5555555555554444", "4929386160871730", "4000000000003220"} {
		if !IsTestNumber(n) {
			t.Errorf("IsTestNumber(%s) = false", n)
		}
	}
	if IsTestNumber("4539578763621486") {
		t.Error("a random Visa number counts as a test number")
	}
}

// Find sees the parts of the card kits send apart from the number: the
// first six (or eight) digits with the last four, and the expiry with the
// CVC, plain or encoded; and the masked number Mask writes is not the card.
func TestFindParts(t *testing.T) {
	c := Card{Number: "4539578763621486", ExpMonth: "04", ExpYear: "29", CVC: "582", Name: "Rosa Keller"}
	for _, tc := range []struct {
		name, data string
		fields     []skimguard.CardField
		truncated  bool
	}{
		{"bin and last4 json", `{"bin":"453957","last4":"1486","ts":1764512345}`, partsOf(skimguard.FieldNumber), true},
		{"eight-digit bin", `b=45395787&l=1486`, partsOf(skimguard.FieldNumber), true},
		{"joined", `id=4539571486`, partsOf(skimguard.FieldNumber), true},
		{"masked", `pan=453957******1486&e=04/29&c=582`, partsOf(skimguard.FieldNumber, skimguard.FieldExpiry, skimguard.FieldCVC), true},
		{"expiry and cvc", `{"e":"04/29","c":"582"}`, partsOf(skimguard.FieldExpiry, skimguard.FieldCVC), false},
		{"expiry joined, base64", "d=" + base64.StdEncoding.EncodeToString([]byte(`{"exp":"0429","cvv":"582"}`)), partsOf(skimguard.FieldExpiry, skimguard.FieldCVC), false},
		{"long year, url", "x=" + url.QueryEscape(`m=4 y=2029 cvc=582`), partsOf(skimguard.FieldExpiry, skimguard.FieldCVC), false},
	} {
		m, ok := c.Find([]byte(tc.data))
		if !ok || !slices.Equal(m.Fields, tc.fields) || m.Truncated != tc.truncated {
			t.Errorf("%s: Find = %+v, %v; want %v truncated=%v", tc.name, m, ok, tc.fields, tc.truncated)
		}
	}
	for _, data := range []string{
		`{"bin":"453957"}`, `last4=1486`, `{"cvc":"582"}`, `exp=04/29`,
		`bin=453957&` + strings.Repeat("x", 200) + `&last4=1486`,
		`e=04/29&` + strings.Repeat("x", 200) + `&c=582`,
		`{"bin":"453958","last4":"1486"}`, `{"e":"05/29","c":"582"}`,
	} {
		if m, ok := c.Find([]byte(data)); ok {
			t.Errorf("Find(%s) = %+v: want nothing", data, m)
		}
	}
	// The whole number wins over parts, and masking leaves none.
	if m, ok := c.Find([]byte(`exp=04/29&cvc=582&n=4539578763621486`)); !ok || m.Truncated || len(m.Fields) != 3 {
		t.Errorf("whole card: %+v, %v", m, ok)
	}
	if got := c.Mask("n=4539578763621486"); got != "n=453957******1486" {
		t.Errorf("Mask = %q", got)
	}
}

// partsOf is the sorted list of fs.
func partsOf(fs ...skimguard.CardField) []skimguard.CardField {
	return slices.Sorted(slices.Values(fs))
}
