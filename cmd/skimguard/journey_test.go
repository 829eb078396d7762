package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/demo"
	"github.com/skimguard/skimguard/sqlite"
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

func TestMembersPageBehindASignInThroughTheCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium; skipped with -short")
	}
	const password = "Cli2026MemberPassword"
	shop, err := demo.StartJourneys(context.Background(), demo.JourneyOptions{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shop.Close() })
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte(`sites:
  - name: outfitters
    pages:
      - name: invoice
        url: `+shop.AccountPayURL()+`
        wait: 2s
        steps:
          - goto: `+shop.LoginURL()+`
          - fill: {"#user": "monitor", "#password": "${SHOP_PASSWORD}"}
          - click: "#login"
            timeout: 4s
          - goto: `+shop.AccountPayURL()+`
          - wait_for: "#cc-number"
`), 0o600)
	db := filepath.Join(dir, "sg.db")
	base := []string{"--config", cfg, "--db", db, "--verbose"}
	env := map[string]string{"SHOP_PASSWORD": password}
	var said strings.Builder // everything the commands printed: reports and logs
	sg := func(args ...string) (int, string) {
		t.Helper()
		code, out, errOut := cliEnv(t, env, "", append(args, base...)...)
		said.WriteString(out + errOut)
		return code, out + errOut
	}

	t.Run("baseline, then a check of the unchanged page finds nothing", func(t *testing.T) {
		if code, out := sg("baseline", "--samples", "2", "--reason", "onboarding"); code != exitOK {
			t.Fatalf("baseline: exit %d\n%s", code, out)
		}
		if shop.SignIns() < 2 {
			t.Fatalf("%d sign-ins: the journey did not sign in", shop.SignIns())
		}
		if code, out := sg("check", "--format", "json", "--out", filepath.Join(dir, "clean.json")); code != exitOK {
			t.Fatalf("check: exit %d, want 0\n%s", code, out)
		}
	})
	t.Run("a skimmer behind the sign-in fires for the shopper and is caught", func(t *testing.T) {
		shop.PlantAccount(true)
		defer shop.PlantAccount(false)
		before := shop.Stolen()
		code, out := sg("check", "--format", "json", "--out", filepath.Join(dir, "planted.json"))
		if shop.Stolen() == before {
			t.Fatalf("the planted skimmer did not fire for the shopper; fix the shop, not skimguard")
		}
		report, _ := os.ReadFile(filepath.Join(dir, "planted.json"))
		if code != exitFindings || !strings.Contains(string(report), "data.exfiltration") {
			t.Fatalf("exit %d, want 1 with data.exfiltration\n%s\n%s", code, out, report)
		}
		// The skimmer sent the password along: the report shows it masked.
		if !strings.Contains(string(report), "p=[secret]") {
			t.Errorf("the report does not show the stolen password masked:\n%s", report)
		}
	})
	t.Run("a renamed button fails the check as could not check, naming the step", func(t *testing.T) {
		shop.RenameButtons(true)
		defer shop.RenameButtons(false)
		code, out := sg("check")
		if code != exitError || !strings.Contains(out, "scan.failed") || !strings.Contains(out, `journey step 3 of 5 (click "#login", at `+cfg+`:10) failed: no element matches "#login"`) {
			t.Fatalf("exit %d, want 2 with scan.failed naming the step\n%s", code, out)
		}
		store, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		scans, err := store.Scans(context.Background(), skimguard.ScanFilter{Limit: 1})
		if err != nil || len(scans) != 1 || scans[0].Status != skimguard.ScanFailed {
			t.Fatalf("latest scan: %+v, %v", scans, err)
		}
		if png, err := store.Screenshot(context.Background(), scans[0].ID); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("the failed scan keeps no screenshot: %v", err)
		}
		t.Run("and baseline refuses to approve the page", func(t *testing.T) {
			code, out := sg("baseline", "--samples", "1", "--reason", "after the redesign")
			if code != exitError || !strings.Contains(out, "no baseline taken") {
				t.Fatalf("exit %d, want 2 and no baseline\n%s", code, out)
			}
			b, err := store.Baseline(context.Background(), "outfitters", "invoice")
			if err != nil || b.Version != 1 {
				t.Errorf("baseline = %+v, %v; want version 1 still", b, err)
			}
		})
	})
	t.Run("the password is nowhere: database, logs, reports", func(t *testing.T) {
		forms := []string{password, url.QueryEscape(password), base64.StdEncoding.EncodeToString([]byte(password))}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		var stored bool
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, form := range forms {
				if bytes.Contains(data, []byte(form)) && filepath.Base(f) != "sites.yaml" {
					t.Errorf("%s holds the password", f)
				}
			}
			stored = stored || strings.HasPrefix(filepath.Base(f), "sg.db") && bytes.Contains(data, []byte("[secret]"))
		}
		if !stored {
			t.Errorf("the database holds no masked secret: the page's echo of the password was not stored masked, so this test proves nothing")
		}
		for _, form := range forms {
			if strings.Contains(said.String(), form) {
				t.Errorf("the commands' output holds the password")
			}
		}
		// Compressed columns too: every stored observation and finding.
		store, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		scans, _ := store.Scans(context.Background(), skimguard.ScanFilter{Limit: -1})
		for _, s := range scans {
			full, err := store.Scan(context.Background(), s.ID)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(full)
			for _, form := range forms {
				if bytes.Contains(data, []byte(form)) {
					t.Errorf("scan %d holds the password", s.ID)
				}
			}
		}
	})
}
