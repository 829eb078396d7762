package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

func css(sel string) skimguard.Target { return skimguard.Target{Selectors: [][]string{{sel}}} }

func TestLoadJourney(t *testing.T) {
	cfg, err := Load("testdata/good/journey.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := cfg.Pages(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("steps in file order, with their values as written", func(t *testing.T) {
		j := pages[0].Journey
		if j == nil || j.File != "testdata/good/journey.yaml" {
			t.Fatalf("Journey = %+v", j)
		}
		want := []skimguard.Step{
			{Kind: skimguard.StepGoto, URL: "https://shop.example/product/42", Line: 8, Column: 13},
			{Kind: skimguard.StepClick, Target: css("#add-to-cart"), Line: 9, Column: 13},
			{Kind: skimguard.StepGoto, URL: "https://shop.example/checkout", Line: 10, Column: 13},
			{Kind: skimguard.StepFill, Fields: []skimguard.Field{{Target: css("#email"), Value: "monitor@example.com"}, {Target: css("#postcode"), Value: "10115"}}, Line: 11, Column: 13},
			{Kind: skimguard.StepSelect, Fields: []skimguard.Field{{Target: css("#country"), Value: "DE"}}, Line: 12, Column: 13},
			{Kind: skimguard.StepScroll, ScrollY: 600, Line: 13, Column: 13},
			{Kind: skimguard.StepScroll, Target: css("#terms"), IntoView: true, Line: 14, Column: 13},
			{Kind: skimguard.StepScroll, Target: css("#basket"), ScrollY: 120, Line: 15, Column: 13},
			{Kind: skimguard.StepHover, Target: css(".summary"), Line: 16, Column: 13},
			{Kind: skimguard.StepClick, Target: css("form#shipping button[type=submit]"), Timeout: 30 * time.Second, Line: 17, Column: 13},
			{Kind: skimguard.StepWaitFor, Target: css("#card-number"), Line: 19, Column: 13},
		}
		if !reflect.DeepEqual(j.Steps, want) {
			t.Errorf("Steps =\n%+v\nwant\n%+v", j.Steps, want)
		}
	})
	t.Run("references stay unexpanded in the configuration", func(t *testing.T) {
		j := pages[1].Journey
		if got := j.Steps[0].URL; got != "https://shop.example/login?next=${SHOP_NEXT}" {
			t.Errorf("goto = %q", got)
		}
		f := j.Steps[1].Fields
		if len(f) != 3 || f[1].Value != "${SHOP_PASSWORD}" || f[2].Value != "${SHOP_USER}${SHOP_PIN}" {
			t.Errorf("fill = %+v", f)
		}
		if j.Steps[2].Key != "Enter" || j.Steps[3].Duration != 2*time.Second {
			t.Errorf("press, wait = %+v, %+v", j.Steps[2], j.Steps[3])
		}
	})
	t.Run("pages without steps have no journey", func(t *testing.T) {
		cfg, err := Load("testdata/good/full.yaml")
		if err != nil {
			t.Fatal(err)
		}
		pages, _ := cfg.Pages(nil)
		for _, p := range pages {
			if p.Journey != nil {
				t.Errorf("%s has a journey", p.Name)
			}
		}
	})
}

func TestCheckEnvNamesEachMissingVariableAtItsStep(t *testing.T) {
	cfg, err := Load("testdata/good/journey.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := cfg.Pages(nil)
	env := map[string]string{"SHOP_NEXT": "/account", "SHOP_USER": "u", "SHOP_PIN": ""}
	err = CheckEnv(pages, func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("no error with SHOP_PASSWORD and SHOP_PIN unset")
	}
	want := []string{
		`testdata/good/journey.yaml:24:13: page "member-payment", step 2 (fill "#user", "#password", "input[name=pin]"): ${SHOP_PASSWORD} is not set in the environment: set SHOP_PASSWORD before running skimguard`,
		`testdata/good/journey.yaml:24:13: page "member-payment", step 2 (fill "#user", "#password", "input[name=pin]"): ${SHOP_PIN} is not set in the environment`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q; got:\n%s", w, err)
		}
	}
	if strings.Contains(err.Error(), "SHOP_NEXT") || strings.Contains(err.Error(), "SHOP_USER}") {
		t.Errorf("error names variables that are set:\n%s", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 24 {
		t.Errorf("errors.As(*Error) = %+v", e)
	}
	env["SHOP_PASSWORD"], env["SHOP_PIN"] = "pw", "1234"
	if err := CheckEnv(pages, func(k string) string { return env[k] }); err != nil {
		t.Errorf("every variable set: %v", err)
	}
}

func TestLiteralSecretCheck(t *testing.T) {
	page := func(fill string) []byte {
		return []byte("sites:\n  - name: s\n    pages:\n      - name: p\n        url: https://s.example/pay\n        steps:\n" +
			"          - goto: https://s.example/login\n          - fill: " + fill + "\n")
	}
	for _, fill := range []string{
		`{"#password": "${SHOP_PASSWORD}"}`,
		`{"input[name=pwd]": "${A}${B}"}`,
		`{"#user": monitor, "#email": "a@b.example"}`,
	} {
		t.Run("accepts "+fill, func(t *testing.T) {
			if _, err := Parse("sites.yaml", page(fill)); err != nil {
				t.Error(err)
			}
		})
	}
	for _, fill := range []string{
		`{"#password": hunter2}`,
		`{"#Password": "${A}hunter2"}`,
		`{"input[type=password]": "hunter2"}`,
		`{"#pass": "hunter2${A}"}`,
	} {
		t.Run("refuses "+fill, func(t *testing.T) {
			_, err := Parse("sites.yaml", page(fill))
			if err == nil || !strings.Contains(err.Error(), "gets a literal secret") {
				t.Fatalf("error = %v, want a literal secret refused", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
	t.Run("a reference under an unknown key is not called a literal secret", func(t *testing.T) {
		data := []byte("sites:\n  - name: s\n    pages:\n      - name: p\n        url: https://s.example/pay\n" +
			"alerts:\n  - type: email\n    smtp: m.example:587\n    from: a@b.example\n    to: c@d.example\n    password: ${SMTP_PASSWORD}\n")
		_, err := Parse("sites.yaml", data)
		if err == nil || strings.Contains(err.Error(), "literal") || !strings.Contains(err.Error(), `unknown key "password": put secrets in environment variables: use password_env: NAME`) {
			t.Errorf("error = %v", err)
		}
	})
}

func TestStepStringNamesNoValues(t *testing.T) {
	cfg, err := Load("testdata/good/journey.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := cfg.Pages(nil)
	var got []string
	for _, s := range pages[1].Journey.Steps {
		got = append(got, s.String())
	}
	want := []string{
		"goto https://shop.example/login?next=${SHOP_NEXT}",
		`fill "#user", "#password", "input[name=pin]"`,
		"press Enter",
		"wait 2s",
		"goto https://shop.example/account/pay",
		`wait_for "#cc-number"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("String() =\n%q\nwant\n%q", got, want)
	}
}

func TestLoadRecording(t *testing.T) {
	cfg, err := Load("testdata/good/recording.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := cfg.Pages(nil)
	t.Run("a recording is the page's journey, at its own lines, its path relative to sites.yaml", func(t *testing.T) {
		j := pages[0].Journey
		if j == nil || j.File != filepath.Join("..", "recorder", "testdata", "cart.json") || len(j.Steps) != 11 {
			t.Fatalf("Journey = %+v", j)
		}
		if s := j.Steps[1]; s.Kind != skimguard.StepClick || s.Line != 24 || s.Target.Selectors[0][0] != "aria/Add to cart" {
			t.Errorf("step 2 = %#v", s)
		}
	})
	t.Run("recorder selectors, chains and frames in sites.yaml", func(t *testing.T) {
		steps := pages[1].Journey.Steps
		if got := steps[1].Target; !reflect.DeepEqual(got, skimguard.Target{Selectors: [][]string{{`aria/Accept cookies[role="button"]`}}, Frame: []int{0}}) {
			t.Errorf("click target = %#v", got)
		}
		if got := steps[3].Fields[0].Target.Selectors; !reflect.DeepEqual(got, [][]string{{"checkout-form", "#email"}}) {
			t.Errorf("fill chain = %q", got)
		}
		if s := steps[2]; s.Kind != skimguard.StepDoubleClick {
			t.Errorf("double_click = %#v", s)
		}
		if s := steps[6]; s.Kind != skimguard.StepWaitForExpression || s.Expression != "window.checkout && window.checkout.ready" || s.Timeout != 20*time.Second {
			t.Errorf("wait_for_expression = %#v", s)
		}
	})
}

func TestRecordingProblemsAreReportedWhereTheyAre(t *testing.T) {
	dir := t.TempDir()
	sites := filepath.Join(dir, "sites.yaml")
	os.WriteFile(sites, []byte("sites:\n  - name: s\n    pages:\n      - name: p\n        url: https://s.example/pay\n        recording: flows/pay.json\n"), 0o600)
	os.Mkdir(filepath.Join(dir, "flows"), 0o700)
	flow := `{
  "title": "pay",
  "steps": [
    {"type": "navigate", "url": "https://s.example/login"},
    {"type": "change", "selectors": [["aria/Password"], ["#pw"]], "value": "hunter2"},
    {"type": "click", "selectors": [["#a["]], "offsetX": 1, "offsetY": 1},
    {"type": "keyDown", "key": "Shift"},
    {"type": "navigate", "url": "ftp://s.example/pay"}
  ]
}`
	os.WriteFile(filepath.Join(dir, "flows", "pay.json"), []byte(flow), 0o600)
	_, err := Load(sites)
	if err == nil {
		t.Fatal("loaded")
	}
	rec := filepath.Join(dir, "flows", "pay.json")
	want := []string{
		rec + `:7:5: steps[3]: keyDown "Shift" is not followed by its keyUp`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q; got:\n%s", w, err)
		}
	}
	t.Run("once the format is right, the steps are checked as sites.yaml's", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "flows", "pay.json"), []byte(strings.Replace(flow, `{"type": "keyDown", "key": "Shift"},`, "", 1)), 0o600)
		_, err := Load(sites)
		if err == nil {
			t.Fatal("loaded")
		}
		for _, w := range []string{
			rec + `:5:5: fill: "aria/Password" gets a literal secret: write its value as "${NAME}"`,
			rec + `:6:5: click: "#a[" is not a CSS selector`,
			rec + `:8:5: goto "ftp://s.example/pay" is not an absolute http or https address`,
		} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q; got:\n%s", w, err)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error repeats the password:\n%s", err)
		}
	})
}

func TestWrittenStepsReadBackAsTheRecording(t *testing.T) {
	j, title, err := LoadRecording("../recorder/testdata/cart.json")
	if err != nil {
		t.Fatal(err)
	}
	if title == "" {
		t.Error("no title")
	}
	var out strings.Builder
	if err := WriteSteps(&out, j.Steps); err != nil {
		t.Fatal(err)
	}
	t.Logf("written:\n%s", out.String())
	// Indented as a page's key, under a page with its url.
	indented := "sites:\n  - name: s\n    pages:\n      - name: p\n        url: http://127.0.0.1:8780/checkout\n" +
		"        " + strings.ReplaceAll(strings.TrimSpace(out.String()), "\n", "\n        ") + "\n"
	cfg, err := Parse("sites.yaml", []byte(indented))
	if err != nil {
		t.Fatalf("the written steps do not read back: %v\n%s", err, indented)
	}
	got := cfg.Sites[0].Pages[0].Journey.Steps
	if len(got) != len(j.Steps) {
		t.Fatalf("%d steps read back, want %d", len(got), len(j.Steps))
	}
	for i, s := range j.Steps {
		w := s
		w.Line, w.Column = got[i].Line, got[i].Column
		// One selector of each target is written: the first of CSS only.
		one := func(t skimguard.Target) skimguard.Target {
			return skimguard.Target{Selectors: [][]string{strings.Split(selectorString(t), skimguard.ChainSeparator)}, Frame: t.Frame}
		}
		if w.Target.Selectors != nil {
			w.Target = one(w.Target)
		}
		for k := range w.Fields {
			w.Fields[k].Target = one(w.Fields[k].Target)
		}
		if !reflect.DeepEqual(got[i], w) {
			t.Errorf("step %d reads back as\n%#v\nwant\n%#v", i+1, got[i], w)
		}
	}
	if !strings.Contains(out.String(), `  - click: "#add-to-cart"`) {
		t.Errorf("a target is not written with its CSS selector:\n%s", out.String())
	}
}

// The README's journey example is valid sites.yaml.
func TestREADMEJourneyExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Pages behind a cart or a sign-in")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("the README has no journey example")
	}
	data := "sites:\n  - name: shop\n    " + strings.ReplaceAll(strings.TrimSpace(block), "\n", "\n    ") + "\n"
	cfg, err := Parse("README.md", []byte(data))
	if err != nil {
		t.Fatalf("the README's example: %v\n%s", err, data)
	}
	pages, _ := cfg.Pages(nil)
	if len(pages) != 2 || len(pages[0].Journey.Steps) != 7 || len(pages[1].Journey.Steps) != 5 {
		t.Errorf("pages = %+v", pages)
	}
}
