package baseline

import (
	"slices"

	skimguard "github.com/skimguard/skimguard"
)

// Diff names the items ("<type> <subject>") that one baseline version
// added, removed and changed from the version before it, items being the
// same when they have the same type and key; an item changed when its
// accepted values, its optionality or its approved script text did. The
// lists are never nil.
func Diff(before, after []skimguard.Item) (added, removed, changed []string) {
	added, removed, changed = []string{}, []string{}, []string{}
	old := map[string]skimguard.Item{}
	for _, it := range before {
		old[string(it.Type)+" "+it.Key] = it
	}
	name := func(it skimguard.Item) string { return string(it.Type) + " " + it.Subject }
	for _, it := range after {
		k := string(it.Type) + " " + it.Key
		o, ok := old[k]
		delete(old, k)
		switch {
		case !ok:
			added = append(added, name(it))
		case !slices.Equal(o.Values, it.Values) || o.Optional != it.Optional || o.SHA256 != it.SHA256:
			changed = append(changed, name(it))
		}
	}
	for _, it := range before {
		if _, ok := old[string(it.Type)+" "+it.Key]; ok {
			removed = append(removed, name(it))
		}
	}
	return added, removed, changed
}
