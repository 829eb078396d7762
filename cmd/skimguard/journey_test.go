package main

import (
	"os"
	"strings"
	"testing"
)

func TestJourneyImportPrintsTheStepsOfARecording(t *testing.T) {
	code, out, errOut := cli(t, "journey", "import", "../../recorder/testdata/cart.json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want, err := os.ReadFile("testdata/cart.steps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("output differs from testdata/cart.steps.yaml:\n%s", out)
	}
}

func TestJourneyImportNamesTheStepsItCannotReplay(t *testing.T) {
	code, out, errOut := cli(t, "journey", "import", "../../recorder/testdata/unreplayable.json")
	if code != exitError || out != "" {
		t.Fatalf("exit %d, stdout %q; want 2 and nothing printed", code, out)
	}
	for _, want := range []string{
		`unreplayable.json:5:5: steps[1]: keyDown "Shift" is not followed by its keyUp`,
		`unreplayable.json:9:5: steps[5]: emulateNetworkConditions cannot be replayed`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := cli(t, "journey", "import"); code != exitError || !strings.Contains(errOut, "needs one file") {
		t.Errorf("without a file: exit %d, %q", code, errOut)
	}
}
