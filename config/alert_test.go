package config

import (
	"slices"
	"testing"
)

func TestAlertTypesNameKnownKeys(t *testing.T) {
	var keys []string
	for _, f := range alertFields {
		keys = append(keys, f.key)
	}
	for _, k := range commonAlertKeys {
		if !slices.Contains(keys, k) {
			t.Errorf("common key %q is not in alertFields", k)
		}
	}
	for _, typ := range alertTypes {
		named := slices.Clone(typ.takes)
		for _, r := range typ.requires {
			named = append(named, r.key)
			if !slices.Contains(typ.takes, r.key) {
				t.Errorf("%s alert requires %q but does not take it", typ.name, r.key)
			}
		}
		for k := range typ.refused {
			named = append(named, k)
			if slices.Contains(typ.takes, k) {
				t.Errorf("%s alert both takes and refuses %q", typ.name, k)
			}
		}
		for _, k := range named {
			if !slices.Contains(keys, k) || slices.Contains(commonAlertKeys, k) {
				t.Errorf("%s alert names %q, not a key of alertFields beyond the common ones", typ.name, k)
			}
		}
	}
}
