package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden .err files of testdata/bad from what Load reports")

// TestLoadBadGolden compares the whole error of each bad fixture with the
// .err file next to it, so that any change of wording, position or order
// shows in review. Run with -update to rewrite them.
func TestLoadBadGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, f := range files {
		// Slashes on every system, as the golden files have them.
		f = filepath.ToSlash(f)
		golden := strings.TrimSuffix(f, ".yaml") + ".err"
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v: run go test ./config -run TestLoadBadGolden -update to write it, and review it", err)
			}
			if got != string(want) {
				t.Errorf("error differs from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
	goldens, _ := filepath.Glob("testdata/bad/*.err")
	for _, g := range goldens {
		if _, err := os.Stat(strings.TrimSuffix(g, ".err") + ".yaml"); err != nil {
			t.Errorf("%s has no fixture: %v", g, err)
		}
	}
}

func TestTooManyEntries(t *testing.T) {
	// 400 alerts routing to 400 sites each: 160,000 entries once aliases are
	// expanded, from a file of a few kilobytes, each entry valid.
	data := "sites:\n  - name: shop\n    pages: [{name: p, url: \"https://a.example/\"}]\n" +
		"alerts: [&a {type: console, sites: [" + strings.Repeat("shop, ", 399) + "shop]}, " + strings.Repeat("*a, ", 398) + "*a]\n"
	_, err := Parse("bomb.yaml", []byte(data))
	want := "bomb.yaml: too many entries (more than 100000 once aliases are expanded): list each site and page once"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}
