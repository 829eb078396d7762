package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/pgtest"
	"github.com/skimguard/skimguard/postgres"
	"github.com/skimguard/skimguard/web"
)

// pg is the test binary's PostgreSQL server, started by the first test
// that needs it.
var pg = &pgtest.Shared{Prepare: func(ctx context.Context, url string) error {
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		return err
	}
	return db.Close()
}}

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// cliEnv runs the command in-process with environment variables and
// standard input, and returns its exit status and output.
func cliEnv(t *testing.T, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := run(ctx, args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }})
	return code, out.String(), errb.String()
}

// writePostgresConfig writes a sites.yaml whose database is url, with more
// top-level lines.
func writePostgresConfig(t *testing.T, url string, more ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sites.yaml")
	body := fmt.Sprintf("database: %s\n%s\nsites:\n  - name: shop\n    pages:\n      - name: checkout\n        url: http://127.0.0.1:9/checkout\n",
		url, strings.Join(more, "\n"))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPostgresDatabase(t *testing.T) {
	t.Run("--db postgres:// and sites.yaml's database: open PostgreSQL", func(t *testing.T) {
		url := pg.Database(t)
		if code, out, errOut := cliEnv(t, nil, "a long enough password\n", "user", "add", "alice", "--db", url); code != exitOK {
			t.Fatalf("user add: exit %d: %s%s", code, out, errOut)
		}
		cfg := writePostgresConfig(t, url)
		code, out, errOut := cliEnv(t, nil, "", "user", "list", "--config", cfg)
		if code != exitOK || !strings.Contains(out, "alice") {
			t.Fatalf("user list with database: %s: exit %d: %s%s", url, code, out, errOut)
		}
		db, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.User(t.Context(), "alice"); err != nil {
			t.Fatalf("alice is not in PostgreSQL: %v", err)
		}
	})

	t.Run("shoppers' reports are kept in PostgreSQL: reports token, reports", func(t *testing.T) {
		url := pg.Database(t)
		cfg := writePostgresConfig(t, url)
		code, out, errOut := cliEnv(t, nil, "", "reports", "token", "shop", "--url", "https://sg.example", "--by", "alice", "--config", cfg)
		m := regexp.MustCompile(`Collector URL: https://sg\.example/reports/shop/([0-9a-f]{64})\n`).FindStringSubmatch(out)
		if code != exitOK || m == nil {
			t.Fatalf("reports token: exit %d: %s%s", code, out, errOut)
		}
		db, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if hash, err := db.ReportToken(t.Context(), "shop"); err != nil || hash != web.ReportTokenHash(m[1]) {
			t.Fatalf("stored token hash %q, %v; want the hash of the token printed", hash, err)
		}
		r := skimguard.ShopperReport{Site: "shop", Page: "checkout", Type: skimguard.ReportScriptHash, Subject: "https://cdn.test/lib.js",
			Hash: "sha256:" + strings.Repeat("ab", 32), Count: 3}
		if _, _, err := db.AddReports(t.Context(), []skimguard.ShopperReport{r}); err != nil {
			t.Fatal(err)
		}
		code, out, errOut = cliEnv(t, nil, "", "reports", "--config", cfg)
		if code != exitOK || !strings.Contains(out, "shop/checkout") || !strings.Contains(out, "https://cdn.test/lib.js") {
			t.Fatalf("reports: exit %d: %s%s", code, out, errOut)
		}
	})

	t.Run("the password comes from the environment, never the URL", func(t *testing.T) {
		srv := pgtest.Start(t)
		if err := srv.RequirePassword("guarded", "right horse battery"); err != nil {
			t.Fatal(err)
		}
		url := strings.Replace(srv.URL("postgres"), "//"+pgtest.Role+"@", "//guarded@", 1)
		list := func(vars map[string]string, args ...string) (int, string) {
			t.Helper()
			code, out, errOut := cliEnv(t, vars, "", append([]string{"user", "list"}, args...)...)
			return code, out + errOut
		}
		if code, out := list(map[string]string{"PGPASSWORD": "right horse battery"}, "--db", url); code != exitOK {
			t.Fatalf("with PGPASSWORD: exit %d: %s", code, out)
		}
		code, out := list(map[string]string{"PGPASSWORD": "wrong"}, "--db", url)
		if code != exitError || !strings.Contains(out, "PostgreSQL refused") || !strings.Contains(out, "PGPASSWORD") {
			t.Fatalf("with a wrong PGPASSWORD: exit %d: %s", code, out)
		}
		cfg := writePostgresConfig(t, url, "database_password_env: SG_DB_PASSWORD")
		if code, out := list(map[string]string{"SG_DB_PASSWORD": "right horse battery", "PGPASSWORD": "wrong"}, "--config", cfg); code != exitOK {
			t.Fatalf("with database_password_env: exit %d: %s", code, out)
		}
		code, out = list(map[string]string{"PGPASSWORD": "right horse battery"}, "--config", cfg)
		if code != exitError || !strings.Contains(out, "database_password_env names SG_DB_PASSWORD, which is not set") {
			t.Fatalf("with database_password_env unset: exit %d: %s", code, out)
		}
		withPassword := strings.Replace(url, "//guarded@", "//guarded:right%20horse%20battery@", 1)
		code, out = list(nil, "--db", withPassword)
		if code != exitError || !strings.Contains(out, "holds a password") || strings.Contains(out, "horse") {
			t.Fatalf("with the password in --db: exit %d: %s", code, out)
		}
	})
}

func TestPostgresDownAtStart(t *testing.T) {
	dir := t.TempDir() // a socket directory where nothing listens
	url := "postgres://sg@/skimguard?host=" + dir
	cfg := writePostgresConfig(t, url, "approvals: one-person")
	for _, args := range [][]string{
		{"findings", "--db", url},
		{"serve", "--config", cfg, "--listen", "off"},
		{"check", "--config", cfg},
	} {
		t.Run(args[0], func(t *testing.T) {
			start := time.Now()
			code, out, errOut := cliEnv(t, nil, "", args...)
			if code != exitError {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitError, out, errOut)
			}
			for _, s := range []string{"cannot reach the PostgreSQL database \"skimguard\"", filepath.Join(dir, ".s.PGSQL.5432"), "check that the server is running"} {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr does not say %q:\n%s", s, errOut)
				}
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %s to say so", d)
			}
		})
	}
}
