package carddata

import (
	"bytes"
	"slices"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// partsWindow is how close, in bytes, the parts of a card must sit in a
// text to count as sent together: a JSON object's fields, a query
// string's parameters. Short digit runs far apart in a large payload are
// chance.
const partsWindow = 96

// digitRun is a maximal run of digits in a text.
type digitRun struct {
	at   int
	text string
}

// checkParts looks in text for the card's parts, once none was found yet:
// the first six (to eight) digits with the last four, or the expiry with
// the CVC, within partsWindow of each other.
func (f *finder) checkParts(text []byte, chain []string) {
	if !f.parts || f.part != nil || f.found {
		return
	}
	c := f.card
	last4 := c.Number[len(c.Number)-4:]
	// Every part found holds the last four digits or the CVC: most texts
	// hold neither, and are passed over at the cost of two searches.
	if !bytes.Contains(text, []byte(last4)) && (c.CVC == "" || !bytes.Contains(text, []byte(c.CVC))) {
		return
	}
	var runs []digitRun
	for i, j := nextDigits(text, 0); i >= 0; i, j = nextDigits(text, j) {
		if j-i <= 12 {
			runs = append(runs, digitRun{i, string(text[i:j])})
		}
	}
	if len(runs) == 0 {
		return
	}
	enc := "plain"
	if len(chain) > 0 {
		enc = strings.Join(chain, "+")
	}
	isBIN := func(r string) bool { return len(r) >= 6 && len(r) <= 8 && strings.HasPrefix(c.Number, r) }
	near := func(want func(string) bool, at int) bool {
		return slices.ContainsFunc(runs, func(r digitRun) bool { return abs(r.at-at) <= partsWindow && want(r.text) })
	}
	is := func(s string) func(string) bool { return func(r string) bool { return r == s } }
	for _, r := range runs {
		// Joined ("4929381730") or apart ("492938", "1730"; masked
		// "492938******1730" too).
		joined := len(r.text) >= 10 && isBIN(r.text[:len(r.text)-4]) && strings.HasSuffix(r.text, last4)
		if joined || (isBIN(r.text) && near(is(last4), r.at)) {
			fields := []skimguard.CardField{skimguard.FieldNumber}
			if f.expiryCVCNear(runs, r.at) {
				fields = append(fields, skimguard.FieldCVC, skimguard.FieldExpiry)
			}
			slices.Sort(fields)
			f.part = &Match{Fields: fields, Encoding: enc, Truncated: true}
			return
		}
	}
	for _, r := range runs {
		if r.text == c.CVC && f.expiryCVCNear(runs, r.at) {
			f.part = &Match{Fields: []skimguard.CardField{skimguard.FieldCVC, skimguard.FieldExpiry}, Encoding: enc}
			return
		}
	}
}

// expiryCVCNear reports whether the CVC and the expiry are within
// partsWindow of at: the expiry joined ("0931", "092031") or its month
// followed closely by its year ("09/31", "m=9&y=2031").
func (f *finder) expiryCVCNear(runs []digitRun, at int) bool {
	c := f.card
	if c.CVC == "" || c.ExpMonth == "" || c.ExpYear == "" {
		return false
	}
	isMonth := func(r string) bool { return r == c.ExpMonth || r == strings.TrimLeft(c.ExpMonth, "0") }
	isYear := func(r string) bool { return r == c.ExpYear || r == "20"+c.ExpYear }
	var cvc, expiry bool
	for i, r := range runs {
		if abs(r.at-at) > partsWindow {
			continue
		}
		switch {
		case r.text == c.CVC:
			cvc = true
		case r.text == c.ExpMonth+c.ExpYear, r.text == c.ExpMonth+"20"+c.ExpYear:
			expiry = true
		case isMonth(r.text) && i+1 < len(runs) && isYear(runs[i+1].text) && runs[i+1].at-(r.at+len(r.text)) <= maxExpiryGap:
			expiry = true
		}
	}
	return cvc && expiry
}

// maxExpiryGap is how many bytes may separate an expiry's month from its
// year: "/", " y=", `","exp_year":"`.
const maxExpiryGap = 16

func abs(n int) int { return max(n, -n) }
