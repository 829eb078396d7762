package baseline

import (
	"reflect"
	"slices"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// relearn learns the shop again a day later from loads, starting from b.
func relearn(t *testing.T, b *skimguard.Baseline, loads ...*skimguard.Observation) *skimguard.Baseline {
	t.Helper()
	nb, err := Relearn(b, loads, "bob", "re-learnt after the redesign", at.Add(24*time.Hour))
	if err != nil {
		t.Fatalf("Relearn: %v", err)
	}
	return nb
}

func item(t *testing.T, b *skimguard.Baseline, typ skimguard.ItemType, key string) skimguard.Item {
	t.Helper()
	for _, it := range b.Items {
		if it.Type == typ && it.Key == key {
			return it
		}
	}
	t.Fatalf("no %s %q in the baseline", typ, key)
	return skimguard.Item{}
}

func TestRelearnKeepsWhatDidNotChange(t *testing.T) {
	jqKey := "external https://cdn.good.test/* in top"
	t.Run("an unchanged page gives the same items", func(t *testing.T) {
		b := learn(t, shop(1), shop(2), shop(3))
		before := cloneBaseline(b)
		nb := relearn(t, b, shop(4), shop(5), shop(6))
		if added, removed, changed := Diff(b.Items, nb.Items); len(added)+len(removed)+len(changed) != 0 {
			t.Fatalf("re-learning an unchanged page: added %v, removed %v, changed %v", added, removed, changed)
		}
		if !reflect.DeepEqual(nb.Items, b.Items) {
			for i := range b.Items {
				if i < len(nb.Items) && !reflect.DeepEqual(nb.Items[i], b.Items[i]) {
					t.Errorf("item %s %s:\nwas %+v\nnow %+v", b.Items[i].Type, b.Items[i].Key, b.Items[i], nb.Items[i])
				}
			}
			t.FailNow()
		}
		if nb.ApprovedBy != "bob" || nb.Samples != 3 || !nb.CreatedAt.Equal(at.Add(24*time.Hour)) {
			t.Errorf("the version itself is the new approval: %+v", nb)
		}
		if !reflect.DeepEqual(b, before) {
			t.Error("Relearn modified the current baseline")
		}
		if fs := Compare(nb, shop(7)); len(fs) != 0 {
			t.Fatalf("a later load has findings:%s", describe(fs))
		}
	})
	t.Run("a changed script keeps its first-seen time and takes the new approval", func(t *testing.T) {
		b := learn(t, shop(1), shop(2), shop(3))
		loads := []*skimguard.Observation{shop(4), shop(5), shop(6)}
		for _, o := range loads {
			setSource(scriptByURL(o, "https://cdn.good.test/"), jquery+`jQuery.fn.extend({ready:function(){}});`)
		}
		nb := relearn(t, b, loads...)
		was, now := item(t, b, skimguard.ItemScript, jqKey), item(t, nb, skimguard.ItemScript, jqKey)
		if !now.FirstSeen.Equal(was.FirstSeen) || now.ApprovedBy != "bob" || !now.ApprovedAt.Equal(at.Add(24*time.Hour)) {
			t.Errorf("first seen %s (was %s), approved by %s at %s; want the first-seen time kept and bob's approval", now.FirstSeen, was.FirstSeen, now.ApprovedBy, now.ApprovedAt)
		}
		if now.SHA256 != loads[0].Scripts[1].SHA256 || !slices.Contains(now.Values, skimguard.ScriptHash(loads[0].Scripts[1].SHA256)) {
			t.Errorf("the new text is not approved: %+v", now)
		}
		added, removed, changed := Diff(b.Items, nb.Items)
		if len(added)+len(removed) != 0 || len(changed) != 1 || changed[0] != "script https://cdn.good.test/jquery-3.7.1.min.js" {
			t.Errorf("want only jquery changed: added %v, removed %v, changed %v", added, removed, changed)
		}
		if fs := Compare(nb, loads[0]); len(fs) != 0 {
			t.Fatalf("a load like the samples has findings:%s", describe(fs))
		}
	})
	t.Run("a new script is learnt and one gone from the page is dropped", func(t *testing.T) {
		b := learn(t, shop(1), shop(2), shop(3))
		var loads []*skimguard.Observation
		for n := 4; n <= 6; n++ {
			o := shop(n)
			o.Scripts = slices.DeleteFunc(o.Scripts, func(s skimguard.Script) bool { return s.URL == "https://www.googletagmanager.com/gtm.js?id=GTM-ABC12" })
			o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, "https://shop.test/static/js/reviews.js", o.FinalURL, `window.reviews={}`))
			numberOrdinals(o)
			loads = append(loads, o)
		}
		nb := relearn(t, b, loads...)
		added, removed, _ := Diff(b.Items, nb.Items)
		if !slices.Equal(added, []string{"script https://shop.test/static/js/reviews.js"}) || !slices.Contains(removed, "script https://www.googletagmanager.com/gtm.js?id=GTM-ABC12") {
			t.Fatalf("added %v, removed %v", added, removed)
		}
		reviews := item(t, nb, skimguard.ItemScript, "external https://shop.test/static/js/reviews.js in top")
		if !reviews.FirstSeen.Equal(at.Add(24*time.Hour)) || reviews.ApprovedBy != "bob" || reviews.Reason != "re-learnt after the redesign" {
			t.Errorf("a new script is first seen and approved now: %+v", reviews)
		}
		if jq := item(t, nb, skimguard.ItemScript, jqKey); jq.ApprovedBy != "alice" || !jq.FirstSeen.Equal(at) {
			t.Errorf("an unchanged script keeps its approval: %+v", jq)
		}
	})
	t.Run("a changed header replaces its approved value", func(t *testing.T) {
		b := learn(t, shop(1), shop(2), shop(3))
		var loads []*skimguard.Observation
		for n := 4; n <= 6; n++ {
			o := shop(n)
			o.Headers["x-frame-options"] = "DENY"
			loads = append(loads, o)
		}
		h := item(t, relearn(t, b, loads...), skimguard.ItemHeader, "x-frame-options")
		if !slices.Equal(h.Values, []string{"DENY"}) || h.ApprovedBy != "bob" {
			t.Errorf("x-frame-options %+v; want DENY alone, approved by bob", h)
		}
	})
	t.Run("a script once learnt optional stays optional and unchanged", func(t *testing.T) {
		widget := func(o *skimguard.Observation) *skimguard.Observation {
			o.Scripts = append(o.Scripts, script(skimguard.ScriptExternal, "https://chat.widget.test/loader.js", o.FinalURL, `window.chat={open:function(){}}`))
			return o
		}
		b := learn(t, widget(shop(1)), shop(2), shop(3))
		key := "external https://chat.widget.test/loader.js in top"
		if !item(t, b, skimguard.ItemScript, key).Optional {
			t.Fatal("the widget seen once in three loads must be optional")
		}
		nb := relearn(t, b, widget(shop(4)), widget(shop(5)), widget(shop(6)))
		if w := item(t, nb, skimguard.ItemScript, key); !reflect.DeepEqual(w, item(t, b, skimguard.ItemScript, key)) {
			t.Errorf("the widget changed: %+v", w)
		}
	})
	t.Run("identical copies of a script are all kept", func(t *testing.T) {
		twice := func(o *skimguard.Observation) *skimguard.Observation {
			for range 2 {
				o.Scripts = append(o.Scripts, script(skimguard.ScriptInline, "", o.FinalURL, `trackPage("checkout");`))
			}
			numberOrdinals(o)
			return o
		}
		b := learn(t, twice(shop(1)), twice(shop(2)), twice(shop(3)))
		nb := relearn(t, b, twice(shop(4)), twice(shop(5)), twice(shop(6)))
		if added, removed, changed := Diff(b.Items, nb.Items); len(added)+len(removed)+len(changed) != 0 {
			t.Fatalf("added %v, removed %v, changed %v", added, removed, changed)
		}
	})
	t.Run("samples of another page are refused", func(t *testing.T) {
		b := learn(t, shop(1))
		o := shop(2)
		o.Page = "cart"
		if _, err := Relearn(b, []*skimguard.Observation{o}, "bob", "r", at); err == nil {
			t.Fatal("re-learnt the checkout from the cart")
		}
	})
}

func cloneBaseline(b *skimguard.Baseline) *skimguard.Baseline {
	c := *b
	c.Items = make([]skimguard.Item, len(b.Items))
	for i, it := range b.Items {
		c.Items[i] = cloneItem(it)
	}
	return &c
}
