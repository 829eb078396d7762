package carddata

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Canary returns a fresh card for one scan: a Luhn-valid number in a real
// issuer's range (Visa, or Mastercard's 51–55 and 2221–2720), never a
// published test number, with an expiry one to four years ahead, a random
// CVC and a name from a short list. Kits skip the test cards everyone
// knows (4111 1111 1111 1111, Stripe's and Braintree's, and skimguard's
// own fixed Test card); a different card on every scan gives them nothing
// to skip. now sets the expiry.
func Canary(now time.Time) Card {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails (crypto/rand since Go 1.24)
	r := rand.New(rand.NewChaCha8(seed))
	c := Card{
		ExpMonth: fmt.Sprintf("%02d", 1+r.IntN(12)),
		ExpYear:  fmt.Sprintf("%02d", (now.Year()+1+r.IntN(4))%100),
		Name:     firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))],
	}
	for c.CVC == "" || slices.Contains(testCVCs, c.CVC) {
		c.CVC = fmt.Sprintf("%03d", 100+r.IntN(900))
	}
	for c.Number == "" || IsTestNumber(c.Number) {
		c.Number = issuerNumber(r)
	}
	return c
}

// issuerNumber is a random 16-digit Luhn-valid number with a Visa or a
// Mastercard prefix.
func issuerNumber(r *rand.Rand) string {
	var prefix string
	switch r.IntN(3) {
	case 0, 1:
		prefix = "4"
	case 2:
		if r.IntN(4) == 0 {
			prefix = fmt.Sprint(2221 + r.IntN(2720-2221+1))
		} else {
			prefix = fmt.Sprint(51 + r.IntN(5))
		}
	}
	b := []byte(prefix)
	for len(b) < 15 {
		b = append(b, byte('0'+r.IntN(10)))
	}
	b = append(b, '0')
	for d := byte('0'); d <= '9'; d++ {
		b[15] = d
		if Luhn(string(b)) {
			break
		}
	}
	return string(b)
}

// IsTestNumber reports whether number is a published test card number, or
// starts as the well-known test ranges do, or is skimguard's old fixed
// number: numbers that kits skip.
func IsTestNumber(number string) bool {
	if slices.Contains(testNumbers, number) {
		return true
	}
	for _, p := range testPrefixes {
		if strings.HasPrefix(number, p) {
			return true
		}
	}
	// One digit repeated for most of the number reads as made up.
	for d := byte('0'); d <= '9'; d++ {
		if strings.Count(number, string(d)) >= len(number)/2 {
			return true
		}
	}
	return false
}

// testNumbers are published test cards: the card networks' and payment
// providers' documentation (Stripe, Braintree, Adyen, PayPal, Checkout.com,
// Authorize.net), and skimguard's own old fixed card.
var testNumbers = []string{
	"4929386160871730", // skimguard's Test card, once typed on every scan
	"4111111111111111", "4242424242424242", "4000056655665556", "4012888888881881",
	"4222222222222", "4005519200000004", "4009348888881881", "4012000033330026",
	"4012000077777777", "4217651111111119", "4500600000000061", "4000111111111115",
	"4000000000000002", "4000000000009995", "4000002500003155", "4000002760003184",
	"4000000000003220", "4000000000000077", "4000000000000093", "4988438843884305",
	"4166676667666746", "4646464646464644", "4444333322221111", "4917610000000000",
	"4462030000000000", "4484070000000000", "4035501000000008", "4360000001000005",
	"4007000000027", "4012888818888", "4543474002249996", "4929000000006",
	"4917300800000000", "4001919257537193", "4007702835532454", "4263982640269299",
	"5555555555554444", "5200828282828210", "5105105105105100", "2223003122003222",
	"2223000048400011", "2223000048410010", "5425233430109903", "5454545454545454",
	"5555341244441115", "5577000055770004", "5136333333333335", "5101180000000007",
	"5431111111111111", "5500000000000004", "5555555555555557", "2222400070000005",
	"2222410740360010", "5436031030606378", "5199992312641465", "5123450000000008",
	"2720992720992729",
}

// testPrefixes are the first digits of test ranges that providers hand out
// whole (Stripe's 4000 00, Adyen's and others' 4111 11, 4242 42, 5555 55).
var testPrefixes = []string{"400000", "411111", "424242", "401288", "555555", "510510", "520082", "222300", "400551", "400934", "401200", "222240", "545454"}

// testCVCs are the codes test forms are filled with.
var testCVCs = []string{"123", "111", "222", "333", "444", "555", "666", "777", "888", "999", "100", "737", "321"}

var firstNames = []string{"Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "James", "Karin", "Liam", "Maria", "Noah", "Olivia", "Paul", "Rosa", "Samuel", "Tara", "Victor"}

var lastNames = []string{"Adams", "Berger", "Carter", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Jensen", "Keller", "Lopez", "Martin", "Novak", "Olsen", "Parker", "Rossi", "Schmidt", "Turner", "Walsh", "Young"}
