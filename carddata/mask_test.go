package carddata

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMaskPANs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"digits whole", "cc=4929386160871730&x=1", "cc=492938******1730&x=1"},
		{"groups of four with spaces", "card 4929 3861 6087 1730 ok", "card 492938******1730 ok"},
		{"groups of four with dashes", "4929-3861-6087-1730", "492938******1730"},
		{"any spacing of separators between groups", "4929  -  3861\t6087 -1730", "492938******1730"},
		{"plus as space in a form", "cc=4929+3861+6087+1730&cvv=417", "cc=492938******1730&cvv=417"},
		{"url-encoded spaces", "https://x.example/p?cc=4929%203861%206087%201730&v=1", "https://x.example/p?cc=492938******1730&v=1"},
		{"twice url-encoded dashes", "cc=4929%252D3861%252D6087%252D1730", "cc=492938******1730"},
		{"amex grouping, 15 digits", "3782 822463 10005", "378282******0005"},
		{"13 digits", "n=4222222222222;", "n=422222******2222;"},
		{"19 digits", "6222 0210 0000 0000 009", "622202******0009"},
		{"two cards", "4929386160871730/6011-0009-9013-9424", "492938******1730/601100******9424"},
		{"after a short number in the same run", "qty 2 4929 3861 6087 1730", "qty 2 492938******1730"},
		{"before a short number in the same run", "4929 3861 6087 1730 417", "492938******1730 417"},
		{"next to letters", "id4111111111111111x", "id411111******1111x"},
		{"failing the Luhn check", "cc=4929386160871731", "cc=4929386160871731"},
		{"timestamp in milliseconds", "ts=1732271234567", "ts=1732271234567"},
		{"order id", "order 100000123456789 placed", "order 100000123456789 placed"},
		{"date then a timestamp", "2024-11-23 1732271234", "2024-11-23 1732271234"},
		{"number and cvc run together", "x=4929386160871730417", "x=4929386160871730417"},
		{"12 digits", "411111111117", "411111111117"},
		{"20 digits", "41111111111111111115", "41111111111111111115"},
		{"a card inside a longer id", "id=99949293861608717309", "id=99949293861608717309"},
		{"already masked", "492938******1730", "492938******1730"},
		{"masked, between numbers it would make cards with", "1234562 492938******1730 12345678904", "1234562 492938******1730 12345678904"},
		{"between stars", "**4111111111111111**", "**411111******1111**"},
		{"no digits", "https://shop.example/checkout", "https://shop.example/checkout"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskPANs(tt.in); got != tt.want {
				t.Errorf("MaskPANs(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// MaskPANs writes the test card as Card.Mask does, where both see it.
func TestMaskPANsAgreesWithMask(t *testing.T) {
	for _, in := range []string{
		"cc=" + number + "&x=1",
		"card 4929 3861 6087 1730 ok",
		"4929-3861-6087-1730",
		"cc=4929%25203861%25206087%25201730",
		number + "/" + number,
		"https://evil.example/log?cc=" + number + "#" + number,
	} {
		if got, want := MaskPANs(in), card.Mask(in); got != want {
			t.Errorf("MaskPANs(%q) = %q, Mask gives %q", in, got, want)
		}
	}
}

// Random Luhn-valid numbers of every length, grouped in every way a form
// or a skimmer writes them, are masked and keep their last four digits.
func TestMaskPANsRandomCards(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seps := []string{"", " ", "-", " - ", "\t", "+", "%20", "%2D", "%2520"}
	for range 2000 {
		n := minPAN + r.IntN(maxPAN-minPAN+1)
		num := luhnNumber(r, n)
		sep := seps[r.IntN(len(seps))]
		var grouped strings.Builder
		for i := 0; i < len(num); {
			j := min(i+3+r.IntN(4), len(num))
			if i > 0 {
				grouped.WriteString(sep)
			}
			grouped.WriteString(num[i:j])
			i = j
		}
		in := "a=" + grouped.String() + "&b=1"
		want := "a=" + num[:6] + "******" + num[n-4:] + "&b=1"
		if got := MaskPANs(in); got != want {
			t.Fatalf("MaskPANs(%q) = %q, want %q", in, got, want)
		}
	}
}

// Digit runs that fail the Luhn check stay whatever their length and
// grouping.
func TestMaskPANsLeavesOtherNumbers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		n := 1 + r.IntN(24)
		digits := []byte(luhnNumber(r, n))
		// Change the check digit: the run fails the Luhn check.
		digits[n-1] = '0' + (digits[n-1]-'0'+1+byte(r.IntN(9)))%10
		in := fmt.Sprintf("id=%s;", digits)
		if got := MaskPANs(in); got != in {
			t.Fatalf("MaskPANs(%q) = %q, want it unchanged", in, got)
		}
	}
}

// luhnNumber returns a random Luhn-valid number of n digits.
func luhnNumber(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range n - 1 {
		b[i] = byte('0' + r.IntN(10))
	}
	for c := byte('0'); c <= '9'; c++ {
		b[n-1] = c
		if Luhn(string(b)) {
			break
		}
	}
	return string(b)
}

func FuzzMaskPANs(f *testing.F) {
	f.Add("")
	f.Add("qty 2 4929 3861 6087 1730 417")
	f.Add("1234562 4929386160871730 12345678904")
	f.Add("cc=4929%25203861%25206087%25201730")
	f.Fuzz(func(t *testing.T, s string) {
		masked := MaskPANs(s)
		if again := MaskPANs(masked); again != masked {
			t.Fatalf("MaskPANs(%q) = %q, masked again %q", s, masked, again)
		}
		// "|" joins no groups: the number stands alone.
		withCard := s + "|" + number + "|"
		if got := MaskPANs(withCard); !strings.HasSuffix(got, "|492938******1730|") {
			t.Fatalf("MaskPANs(%q) = %q, want the number masked", withCard, got)
		}
	})
}
