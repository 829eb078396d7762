package baseline

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

var bob = skimguard.Resolution{Status: skimguard.StatusApproved, By: "bob", Reason: "CHG-1234 reviewed", At: at.Add(48 * time.Hour)}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestApplyThenCompareIsQuiet approves every finding of each technique and
// checks that the same change, on this and later loads, gives no finding.
func TestApplyThenCompareIsQuiet(t *testing.T) {
	b := learn(t, shop(1), shop(2), shop(3))
	before := mustJSON(t, b)
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			o := shop(7)
			c.apply(o)
			fs := Compare(b, o)
			if len(fs) == 0 {
				t.Fatal("vacuous: the change gave no findings")
			}
			nb, err := Apply(b, fs, bob)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := Compare(nb, o); len(got) != 0 {
				t.Errorf("approved change still reported:%s", describe(got))
			}
			later := shop(12)
			c.apply(later)
			if got := Compare(nb, later); len(got) != 0 {
				t.Errorf("approved change reported on a later load:%s", describe(got))
			}
			if nb.ApprovedBy != "bob" || nb.Reason != bob.Reason || !nb.CreatedAt.Equal(bob.At) || nb.Samples != b.Samples {
				t.Errorf("new baseline header: %+v", nb)
			}
		})
	}
	if mustJSON(t, b) != before {
		t.Error("Apply modified the current baseline")
	}
}

func TestApplyStampsOnlyTouchedItems(t *testing.T) {
	b := learn(t, shop(1))
	o := shop(2)
	setSource(scriptByURL(o, "https://shop.test/static/"), modernizr+baPayload)
	nb, err := Apply(b, Compare(b, o), bob)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range nb.Items {
		touched := strings.Contains(it.Key, "modernizr")
		switch {
		case touched && (it.ApprovedBy != "bob" || it.Reason != bob.Reason || !it.ApprovedAt.Equal(bob.At)):
			t.Errorf("changed item not stamped: %+v", it)
		case touched && !it.FirstSeen.Equal(at):
			t.Errorf("changed item lost its first-seen time: %v", it.FirstSeen)
		case touched && (it.Source != modernizr+baPayload || len(it.Values) != 4):
			t.Errorf("changed script: want the new text and 2 versions (4 values), got %d values", len(it.Values))
		case !touched && it.ApprovedBy != "alice":
			t.Errorf("untouched item %s re-stamped: %+v", it.Key, it)
		}
	}
	t.Run("earlier approved version stays acceptable", func(t *testing.T) {
		if fs := Compare(nb, shop(3)); len(fs) != 0 {
			t.Errorf("the original file is no longer accepted:%s", describe(fs))
		}
	})
	t.Run("a further change counts both approved versions", func(t *testing.T) {
		o := shop(4)
		setSource(scriptByURL(o, "https://shop.test/static/"), modernizr+";steal()")
		fs := Compare(nb, o)
		if len(fs) != 1 || !strings.Contains(fs[0].Detail, "not among the 2 approved versions") {
			t.Errorf("want one change against 2 versions:%s", describe(fs))
		}
	})
}

func TestApplyRemovalRemovesItem(t *testing.T) {
	b := learn(t, shop(1))
	o := shop(2)
	o.Scripts = o.Scripts[1:] // modernizr gone
	fs := Compare(b, o)
	if len(fs) != 1 || fs[0].Kind != skimguard.KindScriptRemoved {
		t.Fatalf("want one script.removed:%s", describe(fs))
	}
	nb, err := Apply(b, fs, bob)
	if err != nil {
		t.Fatal(err)
	}
	if len(nb.Items) != len(b.Items)-1 {
		t.Fatalf("%d items after removal, want %d", len(nb.Items), len(b.Items)-1)
	}
	for _, it := range nb.Items {
		if it.Key == fs[0].Item.Key {
			t.Fatalf("removed item %s still there", it.Key)
		}
	}
	if got := Compare(nb, shop(3)); len(got) != 1 || got[0].Kind != skimguard.KindScriptAdded {
		t.Errorf("the removed script coming back must be new again:%s", describe(got))
	}
}

// TestApplyOnlyWhatWasApproved stands for rejection: the store passes only
// approved findings, and what was left out is still reported.
func TestApplyOnlyWhatWasApproved(t *testing.T) {
	b := learn(t, shop(1))
	o := shop(2)
	o.Headers["referrer-policy"] = "no-referrer"
	o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://evil.test", Types: []string{"XHR"}, Count: 1})
	fs := Compare(b, o)
	if len(fs) != 2 {
		t.Fatalf("want 2 findings:%s", describe(fs))
	}
	var approved, rejected []skimguard.Finding
	for _, f := range fs {
		if f.Kind == skimguard.KindHeaderAdded {
			approved = append(approved, f)
		} else {
			rejected = append(rejected, f)
		}
	}
	nb, err := Apply(b, approved, bob)
	if err != nil {
		t.Fatal(err)
	}
	got := Compare(nb, o)
	if len(got) != 1 || got[0].Fingerprint != rejected[0].Fingerprint {
		t.Errorf("want only the rejected finding again, same fingerprint:%s", describe(got))
	}
}

func TestApplyWithoutCurrentBaseline(t *testing.T) {
	// Every item as a finding, the way a first approval of a page seen
	// without baseline might come in.
	empty := &skimguard.Baseline{Site: "shop", Page: "checkout"}
	fs := Compare(empty, shop(1))
	if len(fs) == 0 {
		t.Fatal("vacuous: an empty baseline gave no findings")
	}
	nb, err := Apply(nil, fs, bob)
	if err != nil {
		t.Fatal(err)
	}
	if nb.Site != "shop" || nb.Page != "checkout" || len(nb.Items) == 0 {
		t.Fatalf("baseline from findings: %+v", nb)
	}
	if got := Compare(nb, shop(2)); len(got) != 0 {
		t.Errorf("baseline built from findings still reports:%s", describe(got))
	}
}

func TestApplyRejectsWhatItCannotApply(t *testing.T) {
	b := learn(t, shop(1))
	o := shop(2)
	o.Headers["referrer-policy"] = "no-referrer"
	f := Compare(b, o)[0]

	t.Run("finding of another page", func(t *testing.T) {
		g := f
		g.Page = "cart"
		if _, err := Apply(b, []skimguard.Finding{g}, bob); err == nil {
			t.Error("want an error")
		}
	})
	t.Run("finding without an item", func(t *testing.T) {
		g := f
		g.Item = skimguard.Item{}
		if _, err := Apply(b, []skimguard.Finding{g}, bob); err == nil {
			t.Error("want an error")
		}
	})
	t.Run("nothing at all", func(t *testing.T) {
		if _, err := Apply(nil, nil, bob); err == nil {
			t.Error("want an error")
		}
	})
	t.Run("scan failure changes nothing", func(t *testing.T) {
		nb, err := Apply(b, []skimguard.Finding{{Kind: skimguard.KindScanFailed, Site: "shop", Page: "checkout"}}, bob)
		if err != nil {
			t.Fatal(err)
		}
		if mustJSON(t, nb.Items) != mustJSON(t, b.Items) {
			t.Error("items changed")
		}
	})
}
