package baseline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func FuzzFingerprint(f *testing.F) {
	for _, s := range []string{
		modernizr, jquery, gtm(1), inlineConfig(1), baPayload,
		"`a${`b${c}`}d`", "/[/]/", "if(x)/re/.test(y)", "a/b/c", "x=function(){}/\"/;y()",
		"/* unterminated", "'unterminated", "`unterminated ${", "}}}}", "#!/usr/bin/env node\nx()",
		"\xff\xfe\x00", "\u2028\u00a0caf\u00e9", `"https:\/\/evil.pw\/x"`, "//host.test/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		fp := Fingerprint(src)
		if sum := sha256.Sum256([]byte(Normalize(src))); fp != "fp:"+hex.EncodeToString(sum[:]) {
			t.Fatalf("Fingerprint is not the hash of Normalize for %q", src)
		}
		if fp != Fingerprint(src) || !strings.HasPrefix(fp, "fp:") {
			t.Fatalf("fingerprint not deterministic or malformed: %s", fp)
		}
		// Trailing whitespace is never structure.
		if Fingerprint(src+" \n") != fp {
			t.Errorf("trailing whitespace changed the fingerprint:\n%q\n%q", Normalize(src), Normalize(src+" \n"))
		}
		// Whatever state the tokenizer is left in (string, comment,
		// regex, template), appended code must show.
		if Fingerprint(src+";fetch(u,{body:document.cookie})") == fp {
			t.Errorf("appended code is invisible after %q:\n%s", src, Normalize(src+";fetch(u,{body:document.cookie})"))
		}
	})
}

func FuzzCompare(f *testing.F) {
	seed := func(o *skimguard.Observation) {
		b, err := json.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(shop(1))
	for _, c := range changes {
		o := shop(5)
		c.apply(o)
		seed(o)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"scripts":[{"kind":"","url":"","frame":""},{"kind":"inline","ordinal":1},{"kind":"inline","ordinal":1}],"frames":[{},{}],"forms":[{},{}],"headers":{"CSP":"x","content-security-policy":"'nonce-a'","Content-Security-Policy":"b"},"leaks":[{}],"connections":[{}]}`))
	f.Add([]byte(`{"final_url":"blob:https://x/1","scripts":[{"kind":"external","url":"data:,x"},{"kind":"handler","location":"a[onclick]"},{"kind":"handler","location":"a[onclick]"}]}`))

	clean := learn(f, shop(1), shop(2))
	f.Fuzz(func(t *testing.T, data []byte) {
		var o skimguard.Observation
		if json.Unmarshal(data, &o) != nil {
			return
		}
		b, err := Learn([]*skimguard.Observation{&o}, "fuzz", "fuzz", at)
		if err != nil {
			t.Fatalf("Learn: %v", err)
		}
		if fs := Compare(b, &o); len(fs) != 0 {
			t.Fatalf("Compare(Learn([o]), o) gave findings:%s", describe(fs))
		}
		// Against a real baseline: approving everything found makes the
		// same observation clean.
		fs := Compare(clean, &o)
		for _, fd := range fs {
			if fd.Fingerprint == "" || fd.Item.Key == "" || fd.Severity.Rank() == 0 {
				t.Fatalf("malformed finding: %+v", fd)
			}
		}
		o.Site, o.Page = clean.Site, clean.Page
		fs = Compare(clean, &o)
		nb, err := Apply(clean, fs, bob)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if again := Compare(nb, &o); len(again) != 0 {
			t.Fatalf("after approving all %d findings, still:%s", len(fs), describe(again))
		}
	})
}
