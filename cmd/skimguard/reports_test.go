package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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

// serve runs the collector: a report posted with the site's token is kept
// and counted in /metrics, one with another token is refused, and the
// reports view shows what was kept.
func TestServeCollectsShoppersReports(t *testing.T) {
	if testing.Short() {
		t.Skip("serve starts Chromium; skipped with -short")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sites.yaml")
	os.WriteFile(cfg, []byte(`sites:
  - name: shop
    schedule: "@monthly"
    pages:
      - name: checkout
        url: https://shop.test/checkout
`), 0o600)
	db := filepath.Join(dir, "sg.db")
	code, out, errOut := cli(t, "reports", "token", "shop", "--config", cfg, "--db", db)
	m := regexp.MustCompile(`/reports/shop/([0-9a-f]{64})`).FindStringSubmatch(out)
	if code != exitOK || m == nil {
		t.Fatalf("reports token: exit %d\n%s%s", code, out, errOut)
	}
	const apiToken = "0123456789abcdef0123456789abcdef-serve"
	getenv := func(k string) string { return map[string]string{"SKIMGUARD_API_TOKEN": apiToken}[k] }
	// serve refuses port 0 (it keeps its own address from the crawler):
	// a port free a moment ago.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--config", cfg, "--db", db, "--listen", listen, "--jitter", "0", "--report-retention", "72h"},
			env{stdout: io.Discard, stderr: &logs, getenv: getenv})
	}()
	defer func() {
		stop()
		<-exited
	}()
	var ui string
	defer func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", logs.String())
		}
	}()
	waitFor(t, 30*time.Second, "the web interface to start", func() bool {
		_, after, ok := strings.Cut(logs.String(), "msg=\"web interface\" url=")
		ui, _, _ = strings.Cut(after, " ")
		return ok
	})
	post := func(token string) int {
		t.Helper()
		body := `[{"type":"csp-hash","url":"https://shop.test/checkout","user_agent":"Mozilla/5.0 Test",
			"body":{"destination":"script","documentURL":"https://shop.test/checkout","hash":"sha256-pTDr/aZMZ2wIdZZPWJ65jdoRkuAFFEfh4AOhmOzypnU=","subresourceURL":"https://shop.test/a.js","type":"subresource"}}]`
		req, _ := http.NewRequest("POST", ui+web.ReportPath("shop", token), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/reports+json")
		req.Header.Set("Origin", "https://shop.test")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(m[1]); got != http.StatusNoContent {
		t.Fatalf("a report with the site's token: %d, want 204\n%s", got, logs.String())
	}
	if got := post(strings.Repeat("f", 64)); got != http.StatusNotFound {
		t.Fatalf("a report with another token: %d, want 404", got)
	}
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", ui+path, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	metrics := get("/metrics")
	for _, want := range []string{`skimguard_shopper_reports_received_total{site="shop",type="csp-hash"} 1`,
		`skimguard_shopper_report_requests_rejected_total{reason="token"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	var d struct {
		Retention string `json:"retention"`
		Reports   []struct {
			Subject string `json:"subject"`
			Verdict string `json:"verdict"`
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(get("/api/v1/pages/shop/checkout/reports")), &d); err != nil {
		t.Fatal(err)
	}
	if d.Retention != "3 days" || len(d.Reports) != 1 || d.Reports[0].Subject != "https://shop.test/a.js" || d.Reports[0].Verdict != "unjudged" {
		t.Errorf("reports %+v", d)
	}
}
