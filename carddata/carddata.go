// Package carddata holds the test card the crawler types into payment forms
// and finds that card's data in the bytes of a request, through the encodings
// skimmers use.
package carddata

import skimguard "github.com/skimguard/skimguard"

// Card is a test payment card. Its number is Luhn-valid so that a skimmer
// that validates cards before stealing them still fires.
type Card struct {
	Number   string // digits only
	ExpMonth string // two digits, "01".."12"
	ExpYear  string // two digits
	CVC      string
	Name     string
}

// Test returns the card skimguard types by default.
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

// Match says which of the card's fields a piece of data carried, and how
// they were encoded.
type Match struct {
	Fields   []skimguard.CardField // sorted; always includes FieldNumber
	Encoding string                // plain, url, base64, base64-reversed, hex, ...
}

// Find reports whether data carries the card number (digits plain, or grouped
// with spaces or dashes), decoded through URL-encoding, base64 (also of JSON,
// also reversed) and hex. Other fields are reported only alongside the number.
func (c Card) Find(data []byte) (Match, bool) {
	panic("carddata: Find is not written yet")
}

// Mask replaces every occurrence of the card number in s (as Find would see
// it in plain or URL-encoded text) by its masked form, first six and last
// four digits kept, so that logs and evidence never hold the full number.
func (c Card) Mask(s string) string {
	panic("carddata: Mask is not written yet")
}
