package skimguard

import "testing"

func TestKindOrderFollowsKindsAndPutsUnknownKindsLast(t *testing.T) {
	for i, k := range Kinds {
		if k.Order() != i {
			t.Errorf("%s.Order() = %d, want %d", k, k.Order(), i)
		}
	}
	if got := Kind("card.accessed").Order(); got != len(Kinds) {
		t.Errorf("unknown kind's Order() = %d, want %d (last)", got, len(Kinds))
	}
}

func TestEveryKindSaysWhatItMeans(t *testing.T) {
	for _, k := range Kinds {
		if k.Help() == "" {
			t.Errorf("%s has no Help", k)
		}
	}
}
