package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/skimguard/skimguard/internal/storetest"
	"github.com/skimguard/skimguard/postgres"
	"github.com/skimguard/skimguard/sqlite"
)

// counts reads migrate's table of counts: sqlite, postgres, new and
// updated rows by table.
func counts(t *testing.T, out string) map[string][4]int {
	t.Helper()
	got := map[string][4]int{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+) +(\d+) +(\d+) +(\d+) +(\d+)$`).FindAllStringSubmatch(out, -1) {
		var n [4]int
		for i := range n {
			n[i], _ = strconv.Atoi(m[i+2])
		}
		got[m[1]] = n
	}
	if len(got) != len(postgres.CopyTables()) {
		t.Fatalf("migrate printed counts of %d tables, want %d:\n%s", len(got), len(postgres.CopyTables()), out)
	}
	return got
}

func TestMigrate(t *testing.T) {
	from := filepath.Join(t.TempDir(), "skimguard.db")
	src, err := sqlite.Open(t.Context(), from)
	if err != nil {
		t.Fatal(err)
	}
	storetest.History(t, src)
	src.Close()
	to := pg.Database(t)

	t.Run("copies every table, says so by counts, and the history reads the same", func(t *testing.T) {
		code, out, errOut := cliEnv(t, nil, "", "migrate", "--from", from, "--to", to)
		if code != exitOK || !strings.Contains(out, "Every table has as many rows in PostgreSQL as in the SQLite file") {
			t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
		}
		got := counts(t, out)
		for table, n := range got {
			if n[0] == 0 || n[0] != n[1] || (n[2] != n[0] && table != "delivery_findings") {
				t.Errorf("%s: %d in SQLite, %d in PostgreSQL, %d new; want all copied", table, n[0], n[1], n[2])
			}
		}
		// Shoppers' reports are history too: verdicts, links to findings.
		for _, table := range []string{"shopper_reports", "report_tokens"} {
			if _, ok := got[table]; !ok {
				t.Errorf("migrate did not count %s:\n%s", table, out)
			}
		}
		a, err := sqlite.Open(t.Context(), from)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := postgres.Open(t.Context(), to, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		storetest.Same(t, a, b)
	})

	t.Run("running it again changes nothing", func(t *testing.T) {
		code, out, errOut := cliEnv(t, nil, "", "migrate", "--from", from, "--to", to)
		if code != exitOK {
			t.Fatalf("migrate again: exit %d\n%s%s", code, out, errOut)
		}
		for table, n := range counts(t, out) {
			if n[0] != n[1] || n[2] != 0 || n[3] != 0 {
				t.Errorf("again: %s: %d in SQLite, %d in PostgreSQL, %d new, %d updated; want nothing new", table, n[0], n[1], n[2], n[3])
			}
		}
	})

	t.Run("a PostgreSQL database with rows of its own fails the check, naming the table", func(t *testing.T) {
		b, err := postgres.Open(t.Context(), to, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		storetest.MustSaveBaseline(t, b, storetest.BaselineOf("elsewhere", "pay", "x"))
		b.Close()
		code, out, errOut := cliEnv(t, nil, "", "migrate", "--from", from, "--to", to)
		if code != exitError || !strings.Contains(errOut, "the copy is not whole: pages (") || !strings.Contains(errOut, "new, empty database") {
			t.Fatalf("migrate: exit %d, want %d naming the tables that differ\n%s%s", code, exitError, out, errOut)
		}
	})

	t.Run("refuses what it cannot copy", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			says string
		}{
			{[]string{"--to", to}, "--from"},
			{[]string{"--from", from}, "--to"},
			{[]string{"--from", from, "--to", filepath.Join(t.TempDir(), "other.db")}, "not a PostgreSQL URL"},
			{[]string{"--from", filepath.Join(t.TempDir(), "none.db"), "--to", to}, "does not exist"},
		} {
			code, _, errOut := cliEnv(t, nil, "", append([]string{"migrate"}, tc.args...)...)
			if code != exitError || !strings.Contains(errOut, tc.says) {
				t.Errorf("migrate %q: exit %d, %s; want it to say %q", tc.args, code, errOut, tc.says)
			}
		}
	})
}
