package config

import (
	"errors"
	"strings"
	"time"
	// The zone names are checked against Go's own copy of the IANA
	// database, so that a container without /usr/share/zoneinfo validates
	// them too; Chromium carries its own copy in ICU.
	_ "time/tzdata"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// locale reads a shopper's language, a BCP 47 tag such as ja-JP, and
// returns it in canonical form ("JA-jp" gives "ja-JP").
func (d *decoder) locale(n *yaml.Node) string {
	s, ok := d.str(n, "locale", "ja-JP")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "locale is empty: write a BCP 47 language tag such as en-US, de-DE or ja-JP, or leave it out for en-US")
		}
		return ""
	}
	if strings.Contains(s, "_") {
		// ja_JP is a POSIX locale name; browsers speak BCP 47.
		d.errorf(n, "locale %q is not a BCP 47 language tag: write it with hyphens, as %s", s, strings.ReplaceAll(s, "_", "-"))
		return ""
	}
	tag, err := language.Parse(s)
	var unknown language.ValueError
	switch {
	case errors.As(err, &unknown):
		d.errorf(n, "locale %q has an unknown subtag %q: write a tag such as en-US, de-DE or ja-JP", s, unknown.Subtag())
		return ""
	case err != nil:
		d.errorf(n, "locale %q is not a BCP 47 language tag: write one such as en-US, de-DE or ja-JP", s)
		return ""
	}
	if _, conf := tag.Base(); tag == language.Und || conf == language.No {
		d.errorf(n, "locale %q names no language: write one such as en-US, de-DE or ja-JP", s)
		return ""
	}
	return tag.String()
}

// timezone reads a shopper's time zone, an IANA name such as Asia/Tokyo.
func (d *decoder) timezone(n *yaml.Node) string {
	s, ok := d.str(n, "timezone", "Asia/Tokyo")
	if !ok {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "timezone is empty: write an IANA time zone such as Europe/Berlin or Asia/Tokyo, or leave it out for this machine's zone")
		}
		return ""
	}
	if s == "Local" {
		d.errorf(n, "timezone Local is this machine's zone, the default: leave timezone out, or name a zone such as Europe/Berlin")
		return ""
	}
	if _, err := time.LoadLocation(s); err != nil {
		d.errorf(n, "timezone %q is not an IANA time zone: write one such as Europe/Berlin, America/New_York or Asia/Tokyo (names are case-sensitive)", s)
		return ""
	}
	return s
}
