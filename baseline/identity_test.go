package baseline

import (
	"fmt"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func TestIdentityShowsWhatComparisonRecognisesAScriptBy(t *testing.T) {
	var loads []*skimguard.Observation
	for n := 1; n <= 3; n++ {
		o := shop(n)
		s := scriptByURL(o, "https://cdn.good.test/")
		s.URL += fmt.Sprintf("?k=%d&lang=en", n) // k varies only between samples
		o.Scripts = append(o.Scripts, script(skimguard.ScriptInline, "", o.Frames[0].URL, `parent.postMessage("ready","*")`))
		numberOrdinals(o)
		loads = append(loads, o)
	}
	b := learn(t, loads...)
	got := map[string]bool{}
	for _, it := range b.Items {
		if it.Type == skimguard.ItemScript {
			got[Identity(it)] = true
		}
	}
	for _, want := range []string{
		"https://shop.test/static/js/modernizr.js?cb=*",        // a cache buster by name
		"https://cdn.good.test/*?k=*&lang=en",                  // a versioned file name; k learnt to vary, lang stable
		"https://www.googletagmanager.com/gtm.js?id=GTM-ABC12", // nothing volatile
		"https://pay.provider.test/v3/fields.js in frame https://pay.provider.test",
		"inline #1 in the page",
		"handler button#place-order[onclick] in the page",
		"dynamic #1 in the page",
		"inline #1 in https://pay.provider.test/v3/card-fields.html?session=*&origin=*", // an encoded URL looks generated
	} {
		if !got[want] {
			t.Errorf("no script identified as %q; got %v", want, got)
		}
	}
	conn := skimguard.Item{Type: skimguard.ItemConnection, Key: "https://shop.test", Subject: "https://shop.test"}
	if Identity(conn) != conn.Key {
		t.Errorf("a connection's identity is its key: %q", Identity(conn))
	}
}
