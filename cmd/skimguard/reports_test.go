package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/skimguard/skimguard/sqlite"
	"github.com/skimguard/skimguard/web"
)

func TestReportsTokenMakesAndRotatesTheCollectorURL(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	cfg := writeConfig(t, dir, "https://shop.test/checkout")
	flags := []string{"--config", cfg, "--db", db}
	collector := regexp.MustCompile(`Collector URL: https://sg\.example/reports/shop/([0-9a-f]{64})\n`)

	token := func() string {
		t.Helper()
		code, out, errOut := cli(t, append([]string{"reports", "token", "shop", "--url", "https://sg.example/", "--by", "alice"}, flags...)...)
		m := collector.FindStringSubmatch(out)
		if code != exitOK || m == nil || !strings.Contains(out, "skimguard csp --site shop --report-to https://sg.example/reports/shop/"+m[1]) {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		return m[1]
	}
	first := token()
	second := token()
	if first == second {
		t.Fatal("rotating gave the same token")
	}
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	hash, err := store.ReportToken(context.Background(), "shop")
	if err != nil || hash != web.ReportTokenHash(second) || hash == second {
		t.Fatalf("stored %q, %v; want the hash of the newest token", hash, err)
	}
	log, _ := store.Audit(context.Background())
	if last := log[len(log)-1]; last.Action != "report_token.rotated" || last.Actor != "alice" || last.Site != "shop" {
		t.Errorf("audit %+v", last)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"reports", "token", "nosuch"}, `no site "nosuch"`},
		{[]string{"reports", "token", "shop", "--url", "http://sg.example"}, "https://"},
		{[]string{"reports", "token"}, "give one site"},
	} {
		code, out, errOut := cli(t, append(c.args, flags...)...)
		if code != exitError || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%q: exit %d, want 2 saying %q:\n%s%s", c.args, code, c.want, out, errOut)
		}
	}
	if code, out, _ := cli(t, append([]string{"reports"}, flags...)...); code != exitOK || !strings.Contains(out, "No shoppers' reports") {
		t.Errorf("reports with none: exit %d\n%s", code, out)
	}
}
