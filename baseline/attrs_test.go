package baseline

import (
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// A baseline item may come without attributes (an imported or hand-edited
// lock file); a script that gained an integrity attribute must be reported,
// not crash the check.
func TestScriptItemWithoutAttrsIsComparedNotPanicked(t *testing.T) {
	o := &skimguard.Observation{Site: "s", Page: "p", URL: "https://shop.test/", FinalURL: "https://shop.test/",
		Scripts: []skimguard.Script{{Kind: skimguard.ScriptExternal, URL: "https://cdn.test/lib.js", Frame: "https://shop.test/",
			Ordinal: 1, SHA256: "aa", Source: "lib();", LoadedBy: "parser"}}}
	b, err := Learn([]*skimguard.Observation{o}, "a", "r", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range b.Items {
		b.Items[i].Attrs = nil
	}
	o.Scripts[0].Integrity = "sha384-abc"
	fs := Compare(b, o)
	if len(fs) != 1 || fs[0].Kind != skimguard.KindScriptAttributesChanged {
		t.Fatalf("findings: %+v", fs)
	}
}
