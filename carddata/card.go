// Package carddata makes the canary card the crawler types into payment forms
// (a fresh one per scan; Test is a fixed one for tests),
// finds that card's data in the bytes of a request, through the encodings
// skimmers use, and masks card numbers in text that people see: Card.Mask
// for the card typed, in every encoding Find sees, and MaskPANs for any
// card number written out.
package carddata

import (
	skimguard "github.com/skimguard/skimguard"
)

// Card is a test payment card. Its number is Luhn-valid so that a skimmer
// that validates cards before stealing them still fires.
type Card struct {
	Number   string // digits only
	ExpMonth string // two digits, "01".."12"
	ExpYear  string // two digits
	CVC      string
	Name     string
}

// Test returns a fixed card, for tests that must know the card typed. Scans
// type a fresh Canary: kits that know this number skip it.
func Test() Card {
	return Card{Number: "4929386160871730", ExpMonth: "09", ExpYear: "31", CVC: "417", Name: "Tessa Skimguard"}
}

// Expiry returns the expiry as typed into a single field, "MM/YY".
func (c Card) Expiry() string { return c.ExpMonth + "/" + c.ExpYear }

// Value returns what to type into a field asking for f.
func (c Card) Value(f skimguard.CardField) string {
	switch f {
	case skimguard.FieldNumber:
		return c.Number
	case skimguard.FieldExpiry:
		return c.Expiry()
	case skimguard.FieldCVC:
		return c.CVC
	case skimguard.FieldName:
		return c.Name
	}
	return ""
}

// Luhn reports whether digits, a string of decimal digits only, passes the
// Luhn (mod 10) check that card numbers carry.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := digits[i]
		if d < '0' || d > '9' {
			return false
		}
		n := int(d - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// validNumber reports whether n is a number Find can search for: 12 to 19
// digits.
func validNumber(n string) bool {
	if len(n) < 12 || len(n) > 19 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !isDigit(n[i]) {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// nextDigits returns the first maximal run of ASCII digits in text at or
// after from, as text[i:j]; i is -1 when there is none.
func nextDigits(text []byte, from int) (i, j int) {
	i = from
	for i < len(text) && !isDigit(text[i]) {
		i++
	}
	if i == len(text) {
		return -1, i
	}
	j = i
	for j < len(text) && isDigit(text[j]) {
		j++
	}
	return i, j
}
