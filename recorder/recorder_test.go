package recorder

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// alts is a target with the given alternatives, each a one-part chain.
func alts(sels ...string) skimguard.Target {
	t := skimguard.Target{}
	for _, s := range sels {
		t.Selectors = append(t.Selectors, []string{s})
	}
	return t
}

func TestParseTheCartExport(t *testing.T) {
	rec, err := Parse(read(t, "cart.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Title != "Outfitters: from the product page to the payment step" {
		t.Errorf("Title = %q", rec.Title)
	}
	shop := "http://127.0.0.1:8780"
	want := []skimguard.Step{
		{Kind: skimguard.StepGoto, URL: shop + "/product/42", Line: 13, Column: 5},
		{Kind: skimguard.StepClick, Target: alts("aria/Add to cart", "#add-to-cart", `xpath///*[@id="add-to-cart"]`, "pierce/#add-to-cart", "text/Add to cart"), Line: 24, Column: 5},
		{Kind: skimguard.StepClick, Target: alts("aria/Proceed to checkout", "#checkout", `xpath///*[@id="checkout"]`, "pierce/#checkout", "text/Proceed to checkout"), Line: 54, Column: 5},
		{Kind: skimguard.StepClick, Target: alts("aria/Email", "#email", `xpath///*[@id="email"]`, "pierce/#email"), Line: 84, Column: 5},
		{Kind: skimguard.StepFill, Fields: []skimguard.Field{{Target: alts("aria/Email", "#email", `xpath///*[@id="email"]`, "pierce/#email"), Value: "monitor@example.com"}}, Line: 104, Column: 5},
		{Kind: skimguard.StepPress, Key: "Tab", Line: 123, Column: 5},
		{Kind: skimguard.StepFill, Fields: []skimguard.Field{{Target: alts("aria/Postcode", "#postcode", `xpath///*[@id="postcode"]`, "pierce/#postcode"), Value: "10115"}}, Line: 133, Column: 5},
		{Kind: skimguard.StepFill, Fields: []skimguard.Field{{Target: alts("aria/Country", "#country", `xpath///*[@id="country"]`, "pierce/#country"), Value: "DE"}}, Line: 152, Column: 5},
		{Kind: skimguard.StepScroll, ScrollY: 120, Line: 171, Column: 5},
		{Kind: skimguard.StepClick, Target: alts("aria/Continue to payment", "#to-payment", `xpath///*[@id="to-payment"]`, "pierce/#to-payment", "text/Continue to payment"), Line: 177, Column: 5},
		{Kind: skimguard.StepWaitFor, Target: alts("aria/Card number", "#card-number"), Line: 200, Column: 5},
	}
	if len(rec.Steps) != len(want) {
		t.Fatalf("%d steps, want %d: %+v", len(rec.Steps), len(want), rec.Steps)
	}
	for i := range want {
		if !reflect.DeepEqual(rec.Steps[i], want[i]) {
			t.Errorf("step %d =\n%#v\nwant\n%#v", i+1, rec.Steps[i], want[i])
		}
	}
}

func TestParseTheMembersExport(t *testing.T) {
	rec, err := Parse(read(t, "members.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []skimguard.StepKind
	for _, s := range rec.Steps {
		kinds = append(kinds, s.Kind)
	}
	if want := []skimguard.StepKind{skimguard.StepGoto, skimguard.StepFill, skimguard.StepFill, skimguard.StepPress, skimguard.StepClick, skimguard.StepWaitFor}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
	t.Run("the flow's timeout is each step's unless it has its own", func(t *testing.T) {
		for i, s := range rec.Steps {
			want := 20 * time.Second
			if s.Kind == skimguard.StepClick {
				want = 10 * time.Second
			}
			if s.Timeout != want {
				t.Errorf("step %d: Timeout = %s, want %s", i+1, s.Timeout, want)
			}
		}
	})
	t.Run("a reference stays as written", func(t *testing.T) {
		if v := rec.Steps[2].Fields[0].Value; v != "${SHOP_PASSWORD}" {
			t.Errorf("password value = %q", v)
		}
	})
	t.Run("the Enter key press keeps the keyDown's place", func(t *testing.T) {
		if s := rec.Steps[3]; s.Key != "Enter" || s.Line != 51 {
			t.Errorf("press = %#v", s)
		}
	})
}

func TestStepsThatCannotBeReplayedAreNamed(t *testing.T) {
	_, err := Parse(read(t, "unreplayable.json"))
	if err == nil {
		t.Fatal("parsed")
	}
	want := []string{
		`5:5: steps[1]: keyDown "Shift" is not followed by its keyUp`,
		`6:5: steps[2]: click with the secondary button cannot be replayed`,
		`7:5: steps[3]: keyUp "Shift" comes without its keyDown`,
		`8:5: steps[4]: click acts in another tab (http://127.0.0.1:8780/popup)`,
		`9:5: steps[5]: emulateNetworkConditions cannot be replayed: remove the step`,
		`10:5: steps[6]: waitForElement for at most 2 elements cannot be replayed`,
		`11:5: steps[7]: change has no "selectors"`,
		`13:5: steps[9]: unknown step type "wiggle"`,
		`14:5: steps[10]: key "F5" cannot be pressed`,
		`16:5: steps[12]: timeout -3 ms is out of range`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q; got:\n%s", w, err)
		}
	}
	if strings.Contains(err.Error(), "steps[8]") {
		t.Errorf("a chain through a shadow root in a frame was refused:\n%s", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Step != 1 || e.Line != 5 {
		t.Errorf("errors.As(*Error) = %+v", e)
	}
}

func TestParseRefusesWhatIsNotAnExport(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"not JSON", "{\n  \"title\": \"x\",\n  steps: []\n}", "3:3: it is not a Recorder export"},
		{"no steps", `{"title": "x"}`, `it has no "steps"`},
		{"only a viewport", `{"title": "x", "steps": [{"type": "setViewport", "width": 10, "height": 10}]}`, "the flow has no step skimguard replays"},
		{"a step that is not an object", `{"title": "x", "steps": [3]}`, "1:26: steps[0]: it is not a step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"cart.json", "members.json", "unreplayable.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Parse(data)
		if err != nil {
			for _, e := range unwrap(err) {
				var re *Error
				if !errors.As(e, &re) || re.Line < 1 || re.Column < 1 {
					t.Fatalf("error without a position: %v", e)
				}
			}
			return
		}
		if len(rec.Steps) == 0 {
			t.Fatal("a recording without steps parsed")
		}
	})
}

func unwrap(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
