package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/carddata"
	"github.com/skimguard/skimguard/demo"
)

// cli runs the command in-process and returns its exit status and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := run(ctx, args, env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

// startShop serves the demo shop on free ports for a test that drives
// real Chromium against it; such tests are skipped with -short.
func startShop(t testing.TB) *demo.Shop {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Chromium; skipped with -short")
	}
	shop, err := demo.Start(context.Background(), demo.Options{Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shop.Close() })
	return shop
}

func writeConfig(t *testing.T, dir, url string) string {
	t.Helper()
	path := filepath.Join(dir, "sites.yaml")
	body := fmt.Sprintf(`sites:
  - name: shop
    pages:
      - name: checkout
        url: %s
        wait: 2s
`, url)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckExitCodesAndReviewFlow(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, shop.CheckoutURL())
	db := filepath.Join(dir, "sg.db")
	base := []string{"--config", cfg, "--db", db}

	t.Run("check without a baseline cannot check", func(t *testing.T) {
		code, out, _ := cli(t, append([]string{"check"}, base...)...)
		if code != exitError || !strings.Contains(out, "skimguard baseline") {
			t.Fatalf("exit %d, want %d with advice to take a baseline; output:\n%s", code, exitError, out)
		}
	})
	t.Run("baseline needs a reason", func(t *testing.T) {
		code, _, errOut := cli(t, append([]string{"baseline"}, base...)...)
		if code != exitError || !strings.Contains(errOut, "--reason") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("baseline then check of the unchanged shop exits 0", func(t *testing.T) {
		code, out, errOut := cli(t, append([]string{"baseline", "--samples", "3", "--by", "alice", "--reason", "onboarding"}, base...)...)
		if code != exitOK || !strings.Contains(out, "version 1 approved by alice") {
			t.Fatalf("baseline: exit %d\n%s\n%s", code, out, errOut)
		}
		code, out, errOut = cli(t, append([]string{"check"}, base...)...)
		if code != exitOK {
			t.Fatalf("check of the unchanged shop: exit %d, want 0\n%s\n%s", code, out, errOut)
		}
	})

	lock := filepath.Join(dir, "skimguard.lock.json")
	t.Run("a lock file round-trips and checks the clean shop without a database", func(t *testing.T) {
		code, out, errOut := cli(t, append([]string{"baseline", "export", "--out", lock}, base...)...)
		if code != exitOK {
			t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
		}
		code, out, errOut = cli(t, append([]string{"baseline", "import", lock, "--reason", "PR #12", "--by", "carol"}, base...)...)
		if code != exitOK || !strings.Contains(out, "baseline version 2 imported") {
			t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
		}
		noDB := filepath.Join(dir, "must-not-exist.db")
		code, out, errOut = cli(t, "check", "--config", cfg, "--db", noDB, "--baseline-file", lock)
		if code != exitOK {
			t.Fatalf("check --baseline-file of the clean shop: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := os.Stat(noDB); !os.IsNotExist(err) {
			t.Fatalf("check --baseline-file touched a database: %v", err)
		}
	})

	shop.Plant()
	t.Run("check --baseline-file catches the planted skimmer and --write-lock proposes the new state", func(t *testing.T) {
		proposed := filepath.Join(dir, "proposed.lock.json")
		code, out, errOut := cli(t, "check", "--config", cfg, "--baseline-file", lock, "--write-lock", proposed)
		if code != exitFindings || !strings.Contains(out, "data.exfiltration") {
			t.Fatalf("exit %d, want 1 with the exfiltration\n%s%s", code, out, errOut)
		}
		code, out, errOut = cli(t, "check", "--config", cfg, "--baseline-file", proposed)
		if code != exitOK {
			t.Fatalf("checking against the proposed lock must pass (it holds the skimmer): exit %d\n%s%s", code, out, errOut)
		}
	})
	var ids []string
	t.Run("check of the compromised shop exits 1 with a JSON report", func(t *testing.T) {
		code, out, errOut := cli(t, append([]string{"check", "--format", "json"}, base...)...)
		if code != exitFindings {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
		}
		var rep struct {
			Version int `json:"version"`
			Pages   []struct {
				Site, Page, URL, Status, Error string
				FinalURL                       string `json:"final_url"`
			} `json:"pages"`
			Findings []struct {
				ID                                          int64
				Kind, Severity, Site, Page, Subject, Detail string
				Evidence                                    map[string]any
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, out)
		}
		if rep.Version != 1 || len(rep.Pages) != 1 || rep.Pages[0].Status != "findings" {
			t.Fatalf("report: %+v", rep)
		}
		kinds := map[string]bool{}
		for _, f := range rep.Findings {
			kinds[f.Kind] = true
			if f.ID == 0 || f.Detail == "" || f.Subject == "" {
				t.Errorf("finding lacks id, subject or detail: %+v", f)
			}
			ids = append(ids, strconv.FormatInt(f.ID, 10))
		}
		for _, k := range []string{"script.added", "data.exfiltration"} {
			if !kinds[k] {
				t.Errorf("no %s finding; got %v", k, kinds)
			}
		}
		if rep.Findings[0].Severity != "critical" {
			t.Errorf("most severe finding first: got %s", rep.Findings[0].Severity)
		}
		if carddata.MaskPANs(out) != out {
			t.Errorf("the report holds an unmasked card number (the scan's canary)")
		}
	})
	t.Run("--out writes the CI format while the terminal gets text", func(t *testing.T) {
		junit := filepath.Join(dir, "report.xml")
		code, out, errOut := cli(t, append([]string{"check", "--format", "junit", "--out", junit, "--fail-on", "critical"}, base...)...)
		if code != exitFindings || !strings.Contains(out, "[CRITICAL]") {
			t.Fatalf("exit %d, want 1 with a text report on the terminal\n%s\n%s", code, out, errOut)
		}
		data, err := os.ReadFile(junit)
		if err != nil {
			t.Fatal(err)
		}
		var suites struct {
			Failures int `xml:"failures,attr"`
		}
		if err := xml.Unmarshal(data, &suites); err != nil || suites.Failures != 1 {
			t.Fatalf("JUnit file: %v, %+v\n%s", err, suites, data)
		}
	})
	t.Run("a second check reports the same open findings, not new ones", func(t *testing.T) {
		code, out, _ := cli(t, append([]string{"findings"}, base...)...)
		if code != exitOK {
			t.Fatalf("findings: exit %d", code)
		}
		if n := strings.Count(out, "\n") - 1; n != len(ids) {
			t.Fatalf("findings lists %d rows, want %d:\n%s", n, len(ids), out)
		}
		cli(t, append([]string{"check"}, base...)...)
		_, out2, _ := cli(t, append([]string{"findings"}, base...)...)
		if strings.Count(out2, "\n") != strings.Count(out, "\n") {
			t.Fatalf("a repeated check opened new findings:\nbefore:\n%s\nafter:\n%s", out, out2)
		}
	})
	t.Run("rejecting keeps the baseline, so the check still fails", func(t *testing.T) {
		code, out, errOut := cli(t, append(append([]string{"reject"}, ids...), append(base, "--reason", "skimmer")...)...)
		if code != exitOK {
			t.Fatalf("reject: exit %d: %s", code, errOut)
		}
		if want := fmt.Sprintf("rejected %d finding(s) as ", len(ids)); !strings.HasPrefix(out, want) {
			t.Errorf("reject says %q, want it to start with %q", out, want)
		}
		code, _, errOut = cli(t, append(append([]string{"reject"}, ids[0]), append(base, "--reason", "again")...)...)
		if code != exitError || !strings.Contains(errOut, "not open") {
			t.Fatalf("rejecting a closed finding: exit %d: %s", code, errOut)
		}
		code, _, _ = cli(t, append([]string{"check"}, base...)...)
		if code != exitFindings {
			t.Fatalf("check after reject: exit %d, want 1", code)
		}
	})
	t.Run("approving accepts the change into a new baseline version", func(t *testing.T) {
		_, out, _ := cli(t, append([]string{"findings"}, base...)...)
		var open []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			open = append(open, strings.Fields(line)[0])
		}
		code, out, errOut := cli(t, append(append([]string{"approve"}, open...), append(base, "--reason", "accepted for the test", "--by", "bob")...)...)
		if code != exitOK {
			t.Fatalf("approve: exit %d: %s", code, errOut)
		}
		if want := fmt.Sprintf("approved %d finding(s) as bob\n", len(open)); out != want {
			t.Errorf("approve says %q, want %q", out, want)
		}
		code, out, _ = cli(t, append([]string{"check"}, base...)...)
		if code != exitOK {
			t.Fatalf("check after approving every change: exit %d, want 0\n%s", code, out)
		}
		report := filepath.Join(dir, "evidence.html")
		code, _, errOut = cli(t, append([]string{"report", "--out", report}, base...)...)
		data, _ := os.ReadFile(report)
		if code != exitOK || !strings.Contains(string(data), "6.4.3: script inventory") || !strings.Contains(string(data), "skimmer") {
			t.Fatalf("report: exit %d: %s\n%.300s", code, errOut, data)
		}
		code, out, _ = cli(t, append([]string{"inventory"}, base...)...)
		if code != exitOK || !strings.Contains(out, "/static/app.js") || !strings.Contains(out, "bob") || !strings.Contains(out, "onboarding") {
			t.Fatalf("inventory: exit %d\n%s", code, out)
		}
	})
}

func TestBadInputExitsTwoWithAClearMessage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "sites.yaml")
	os.WriteFile(bad, []byte("sites:\n  - name: shop\n    shedule: \"@hourly\"\n    pages: []\n"), 0o600)
	goodDir := filepath.Join(dir, "good")
	os.Mkdir(goodDir, 0o700)
	good := writeConfig(t, goodDir, "http://127.0.0.1:9/checkout")
	journey := filepath.Join(dir, "journey.yaml")
	os.WriteFile(journey, []byte("sites:\n  - name: shop\n    pages:\n      - name: pay\n        url: http://127.0.0.1:9/pay\n        steps:\n"+
		"          - goto: http://127.0.0.1:9/login\n          - fill: {\"#password\": \"${SKIMGUARD_TEST_UNSET}\"}\n"), 0o600)
	corrupt := filepath.Join(dir, "corrupt.db")
	garbage := []byte("this is not a database, and skimguard must not touch it\n")
	os.WriteFile(corrupt, garbage, 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing Chromium says how to install it", []string{"check", "--config", good, "--db", filepath.Join(dir, "a.db"), "--chromium", "/nonexistent/chromium"}, "apt-get install"},
		{"a bad --browser is named", []string{"check", "--config", good, "--db", filepath.Join(dir, "b.db"), "--browser", "10.0.0.5:9222"},
			`--browser: browser "10.0.0.5:9222" is not a DevTools endpoint: write ws://HOST:PORT`},
		{"a corrupt database is named and left alone", []string{"findings", "--config", good, "--db", corrupt}, "corrupt.db"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"missing config file", []string{"check", "--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"config error names the line", []string{"check", "--config", bad}, "sites.yaml:3"},
		{"a journey's variable that is not set is named where it is used", []string{"check", "--config", journey, "--db", filepath.Join(dir, "j.db")},
			"journey.yaml:8:13: page \"pay\", step 2 (fill \"#password\"): ${SKIMGUARD_TEST_UNSET} is not set in the environment"},
		{"bad format", []string{"check", "--format", "xml", "--config", bad}, "--format"},
		{"bad --fail-on", []string{"check", "--fail-on", "urgent", "--config", bad}, "--fail-on"},
		{"report with a bad date", []string{"report", "--from", "01/10/2026", "--config", bad}, "YYYY-MM-DD"},
		{"approve without ids", []string{"approve", "--reason", "x", "--config", bad}, "finding ids"},
		{"approve with a bad id", []string{"approve", "abc", "--config", bad}, "not a finding id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, tc.args...)
			if code != exitError || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d, want 2 with %q; output:\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
	if b, _ := os.ReadFile(corrupt); !bytes.Equal(b, garbage) {
		t.Fatalf("the corrupt database was modified")
	}
}

func TestFailOnSetsTheLowestSeverityThatFails(t *testing.T) {
	fs := []skimguard.Finding{{Severity: skimguard.SeverityMedium}, {Severity: skimguard.SeverityLow}}
	for _, tc := range []struct {
		threshold skimguard.Severity
		want      bool
	}{
		{skimguard.SeverityLow, true},
		{skimguard.SeverityMedium, true},
		{skimguard.SeverityHigh, false},
		{skimguard.SeverityCritical, false},
	} {
		if got := anyAtLeast(fs, tc.threshold); got != tc.want {
			t.Errorf("--fail-on %s with medium and low findings: fails=%v, want %v", tc.threshold, got, tc.want)
		}
	}
	if anyAtLeast(nil, skimguard.SeverityLow) {
		t.Error("no findings must never fail")
	}
}

func TestProgressIsSilentWhenNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if progressPrinter(f) != nil {
		t.Error("a regular file got progress output")
	}
	if progressPrinter(&bytes.Buffer{}) != nil {
		t.Error("a buffer got progress output")
	}
}

// The command table is the one list of commands: every entry runs, and a
// two-word name is found before its first word.
func TestTheCommandTableDispatchesEveryCommand(t *testing.T) {
	for _, c := range commands() {
		if c.run == nil {
			t.Errorf("command %q has no run function", c.name)
		}
		got, rest, ok := lookup(append(strings.Fields(c.name), "--flag", "x"))
		if !ok || got.name != c.name || strings.Join(rest, " ") != "--flag x" {
			t.Errorf("%q dispatched to %q with %q", c.name, got.name, rest)
		}
	}
	if c, rest, ok := lookup([]string{"baseline", "--reason", "export"}); !ok || c.name != "baseline" || len(rest) != 2 {
		t.Errorf("baseline with flags went to %q with %q", c.name, rest)
	}
	if _, _, ok := lookup([]string{"frobnicate"}); ok {
		t.Error("an unknown command was found")
	}
}
