package baseline

import (
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func TestLearntByStructureMarksTheScriptsWhoseTextVariesPerLoad(t *testing.T) {
	b := learn(t, shop(1), shop(2), shop(3))
	key := func(k string) int {
		t.Helper()
		for i, it := range b.Items {
			if it.Type == skimguard.ItemScript && it.Key == k {
				return i
			}
		}
		t.Fatalf("no script %q in the baseline", k)
		return -1
	}
	config := key("inline #1 in top")
	modern := key("external https://shop.test/static/js/modernizr.js in top")

	t.Run("the baseline's own samples show the per-load inline config by structure", func(t *testing.T) {
		got := LearntByStructure(b, []*skimguard.Observation{shop(1), shop(2), shop(3)})
		if !got[config] {
			t.Errorf("the inline config, which differs in every sample, is not marked")
		}
		if got[modern] {
			t.Errorf("modernizr, the same in every sample, is marked")
		}
	})
	t.Run("one load alone cannot tell: its own text is approved by value", func(t *testing.T) {
		if got := LearntByStructure(b, []*skimguard.Observation{shop(1)}); got[config] {
			t.Errorf("the inline config is marked from the sample whose hash the baseline holds")
		}
	})
	t.Run("no baseline, nothing", func(t *testing.T) {
		if got := LearntByStructure(nil, []*skimguard.Observation{shop(1)}); got != nil {
			t.Errorf("got %v", got)
		}
	})
}
