package baseline

// TEMPORARY differential harness; removed before hand-off.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func TestZZGoldenDump(t *testing.T) {
	out := os.Getenv("GOLDEN_OUT")
	if out == "" {
		t.Skip()
	}
	var b strings.Builder
	srcs := []string{modernizr, jquery, gtm(1), inlineConfig(1), baPayload, inlineNonce(3),
		"`a${`b${c}`}d`", "/[/]/", "if(x)/re/.test(y)", "a/b/c", "x=function(){}/\"/;y()",
		"/* unterminated", "'unterminated", "`unterminated ${", "}}}}", "#!/usr/bin/env node\nx()",
		"\xff\xfe\x00", "\u2028\u00a0caf\u00e9", `"https:\/\/evil.pw\/x"`, "//host.test/x", "", "\n\n", "a\n\n", "{\n}\n\n"}
	files, _ := filepath.Glob("../../shared/skimmer-corpus/*")
	for _, f := range files {
		d, _ := os.ReadFile(f)
		srcs = append(srcs, string(d))
	}
	fz, _ := filepath.Glob("testdata/fuzz/*/*")
	for _, f := range fz {
		d, _ := os.ReadFile(f)
		srcs = append(srcs, string(d))
	}
	o := bigPage(2)
	for i := range o.Scripts {
		srcs = append(srcs, o.Scripts[i].Source)
	}
	for _, s := range srcs {
		fmt.Fprintf(&b, "%q\n%s\n%q\n%q\n", s, Fingerprint(s), Normalize(s), normTokens(s))
		p, m, n := tokenDelta(jquery, s)
		fmt.Fprintf(&b, "%d %d %q %q\n", p, m, n, scriptOrigins(s))
	}
	dump := func(name string, v any) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "== %s\n%s\n", name, j)
	}
	clean := learn(t, shop(1), shop(2))
	dump("clean", clean)
	for i, c := range changes {
		o := shop(5)
		c.apply(o)
		fs := Compare(clean, o)
		dump(fmt.Sprint("change ", i), fs)
		nb, err := Apply(clean, fs, bob)
		dump(fmt.Sprint("apply ", i, err), nb)
		dump(fmt.Sprint("again ", i), Compare(nb, o))
		lb, _ := Learn([]*skimguard.Observation{o, shop(6), shop(7)}, "x", "y", at)
		dump(fmt.Sprint("learn ", i), lb)
		dump(fmt.Sprint("learncmp ", i), Compare(lb, shop(9)))
	}
	big := learn(t, bigPage(1), bigPage(3))
	dump("big", big)
	ob := bigPage(2)
	setSource(&ob.Scripts[10], ob.Scripts[10].Source+baPayload)
	setSource(&ob.Scripts[2600], ob.Scripts[2600].Source+baPayload)
	ob.Scripts = append(ob.Scripts, script(skimguard.ScriptExternal, "https://jquery-cdn.pw/j.js", ob.FinalURL, baPayload))
	ob.Scripts = append(ob.Scripts, ob.Scripts[5], ob.Scripts[2700], ob.Scripts[5])
	ob.Frames = append(ob.Frames[1:], ob.Frames[0], ob.Frames[3])
	ob.Frames[7].Origin = "https://evil.test"
	ob.Connections = append(ob.Connections, skimguard.Connection{Origin: "https://C1.beacons.test", AfterTyping: true}, skimguard.Connection{Origin: "https://new.test"})
	dump("bigcmp", Compare(big, ob))
	dump("bigcmp2", Compare(big, bigPage(4)))
	dump("bigcmp1", Compare(learn(t, bigPage(1)), bigPage(2)))
	for _, f := range fz {
		d, _ := os.ReadFile(f)
		var o skimguard.Observation
		if json.Unmarshal([]byte(strings.TrimSpace(string(d))), &o) == nil {
			dump("fz", Compare(clean, &o))
		}
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
