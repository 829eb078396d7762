package baseline

import "testing"

func TestURLNormDropsVolatileParts(t *testing.T) {
	n := newURLNorm(map[string]bool{"qk": true}, "https://shop.test/checkout")
	tests := []struct{ name, in, want string }{
		{"cache buster by name", "https://shop.test/a.js?cb=1732271234", "https://shop.test/a.js"},
		{"version by name", "https://shop.test/a.js?v=abc123", "https://shop.test/a.js"},
		{"session by name", "https://shop.test/a.js?sid=xyz&lang=en", "https://shop.test/a.js?lang=en"},
		{"generated value under any name", "https://x.test/a.js?q=9f86d081884c7d65", "https://x.test/a.js"},
		{"learnt name", "https://x.test/a.js?qk=1&id=GTM-ABC12", "https://x.test/a.js?id=GTM-ABC12"},
		{"stable params sorted", "https://x.test/a.js?b=2&a=1", "https://x.test/a.js?a=1&b=2"},
		{"fragment dropped", "https://x.test/a.js#frag", "https://x.test/a.js"},
		{"host case and default port", "HTTPS://X.Test:443/A.js", "https://x.test/A.js"},
		{"hash piece in file name", "https://x.test/app.3f9a8c7d.js", "https://x.test/app.*.js"},
		{"UUID path segment", "https://p.test/s/123e4567-e89b-12d3-a456-426614174000/f.html", "https://p.test/s/*/f.html"},
		{"timestamp path segment", "https://x.test/v1732271234/a.js", "https://x.test/v1732271234/a.js"},
		{"pure timestamp segment", "https://x.test/1732271234/a.js", "https://x.test/*/a.js"},
		{"blob URL", "blob:https://shop.test/123e4567-e89b-12d3-a456-426614174000", "blob:https://shop.test/*"},
		{"data URL by media type", "data:text/javascript;base64,YWxlcnQoMSk=", "data:text/javascript;base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := n.norm(tt.in); got != tt.want {
				t.Errorf("norm(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	t.Run("main document whatever its query and fragment", func(t *testing.T) {
		if d := n.doc("https://shop.test/checkout?SID=abc#payment"); d != "top" {
			t.Errorf("doc = %q, want top", d)
		}
		if d := n.doc("https://pay.test/f?session=1"); d == "top" {
			t.Error("an iframe document taken for the main document")
		}
	})
}

func TestHeaderNormalisation(t *testing.T) {
	a := normHeader("content-security-policy", "script-src 'self' 'NONCE-abc123' 'sha256-AbC='; report-uri https://r.test/c?id=9f86d081884c7d65;  default-src 'self'")
	b := normHeader("content-security-policy", "default-src 'self';script-src 'nonce-zzz999' 'sha256-AbC=' 'self'; report-uri https://r.test/c?id=0a1b2c3d4e5f6789")
	if a != b {
		t.Errorf("equivalent policies differ:\n%s\n%s", a, b)
	}
	c := normHeader("content-security-policy", "default-src 'self';script-src 'nonce-zzz999' 'sha256-XyZ=' 'self'")
	if w := cspWeakening(a, c); w != "script-src now allows 'sha256-XyZ='" {
		t.Errorf("weakening = %q", w)
	}
	if w := cspWeakening(a, a); w != "" {
		t.Errorf("a policy is weaker than itself: %q", w)
	}
}
