package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/config"
	"github.com/skimguard/skimguard/internal/browsertest"
	"github.com/skimguard/skimguard/internal/pgtest"
	"github.com/skimguard/skimguard/postgres"
	"github.com/skimguard/skimguard/river"
)

// buildSkimguard builds the binary into a temporary directory, for tests
// that run serve as separate processes.
func buildSkimguard(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "skimguard")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProc is a `skimguard serve` process in a process group of its own,
// so that a SIGKILL takes its Chromium with it, as a machine that dies.
type serveProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	ui   string
	done chan error
}

const e2eToken = "a-test-api-token-of-at-least-32-characters"

func startServe(t testing.TB, bin string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	p.cmd.Env = append(os.Environ(), "SKIMGUARD_API_TOKEN="+e2eToken)
	p.cmd.Stderr, p.cmd.Stdout = p.logs, io.Discard
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	waitFor(t, 2*time.Minute, "serve's web interface", func() bool {
		select {
		case err := <-p.done:
			t.Fatalf("serve exited at start: %v\n%s", err, p.logs.String())
		default:
		}
		_, after, ok := strings.Cut(p.logs.String(), "msg=\"web interface\" url=")
		p.ui, _, _ = strings.Cut(after, " ")
		return ok
	})
	waitFor(t, 2*time.Minute, "serve's job queue", func() bool { return strings.Contains(p.logs.String(), "job queue started") })
	return p
}

// kill ends the process and its Chromium at once (SIGKILL to its group)
// and waits for them to be gone.
func (p *serveProc) kill() {
	browsertest.KillGroup(p.cmd.Process.Pid)
}

// stop asks the process to stop (SIGTERM) and returns its exit error.
func (p *serveProc) stop(t testing.TB) error {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(2 * time.Minute):
		t.Errorf("serve did not stop in 2 minutes:\n%s", p.logs.String())
		return nil
	}
}

func (p *serveProc) api(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.ui+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTwoServesShareOnePostgreSQL is the long end-to-end test of issue 13
// (about five minutes): one PostgreSQL, two serve processes, each with its
// own Chromium, 20 loopback pages on a 20-second schedule for three
// minutes. Every page is checked once per period, none doubled, none
// missing; a process killed with SIGKILL mid-check has its job finished by
// the other; a planted skimmer is alerted exactly once; a finding approved
// through one process's API is seen approved through the other's.
func TestTwoServesShareOnePostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two serves with Chromium for three minutes; skipped with -short")
	}
	clean, planted := startShop(t), startShop(t)
	url := pg.Database(t)
	bin := buildSkimguard(t)

	var mu sync.Mutex
	alerted := map[int64]int{}
	var kinds []skimguard.Kind
	var exfiltration int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p alerts.Payload
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		defer mu.Unlock()
		if p.Page != "pay" {
			return
		}
		for _, f := range p.Findings {
			alerted[f.ID]++
			kinds = append(kinds, f.Kind)
			if f.Kind == skimguard.KindDataExfiltration {
				exfiltration = f.ID
			}
		}
	}))
	defer hook.Close()

	var yaml strings.Builder
	fmt.Fprintf(&yaml, "sites:\n  - name: shop\n    schedule: \"@every 20s\"\n    pages:\n")
	var names []string
	for i := 1; i <= 19; i++ {
		names = append(names, fmt.Sprintf("p%02d", i))
		fmt.Fprintf(&yaml, "      - name: p%02d\n        url: %s\n        wait: 1s\n", i, clean.CheckoutURL())
	}
	fmt.Fprintf(&yaml, "  - name: other\n    schedule: \"@every 20s\"\n    pages:\n      - name: pay\n        url: %s\n        wait: 1s\n", planted.CheckoutURL())
	fmt.Fprintf(&yaml, "alerts:\n  - type: webhook\n    url: %s\n", hook.URL)
	cfg := filepath.Join(t.TempDir(), "sites.yaml")
	if err := os.WriteFile(cfg, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"baseline", "--config", cfg, "--db", url, "--reason", "onboarding", "--samples", "1"},
		env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out.String(), errb.String())
	}
	planted.Plant()

	args := []string{"--config", cfg, "--db", url, "--listen", "127.0.0.1:0", "--jitter", "0", "--workers", "2", "--check-timeout", "40s", "--grace", "30s"}
	a := startServe(t, bin, args...)
	b := startServe(t, bin, args...)
	started := time.Now()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	dump := func() {
		if t.Failed() {
			t.Logf("first serve's log:\n%s", a.logs.String())
			t.Logf("second serve's log:\n%s", b.logs.String())
		}
	}
	defer dump()

	// The one that is not River's leader is killed mid-check: the leader
	// rescues its job and either process finishes it.
	var leader string
	if err := raw.QueryRow(ctx, `SELECT leader_id FROM `+river.Schema+`.river_leader`).Scan(&leader); err != nil {
		t.Fatalf("no leader: %v", err)
	}
	victim, survivor := b, a
	if strings.Contains(leader, fmt.Sprintf("_%d_", b.cmd.Process.Pid)) {
		victim, survivor = a, b
	}
	time.Sleep(20 * time.Second)
	n := strings.Count(victim.logs.String(), "check started")
	waitFor(t, time.Minute, "the victim to start a check", func() bool { return strings.Count(victim.logs.String(), "check started") > n })
	time.Sleep(time.Second)
	victim.kill()
	<-victim.done
	killedAt := time.Now()
	// It comes back, as a restarted machine would.
	time.Sleep(10 * time.Second)
	back := startServe(t, bin, args...)

	time.Sleep(time.Until(started.Add(150 * time.Second)))
	mu.Lock()
	id := exfiltration
	mu.Unlock()
	if id == 0 {
		t.Fatalf("the planted skimmer was not alerted (alerts: %v)", kinds)
	}
	if code, body := survivor.api(t, "POST", fmt.Sprintf("/api/v1/findings/%d/approve", id), `{"reason":"checked: the new script is ours"}`); code != http.StatusOK {
		t.Fatalf("approve through one process: %d %s", code, body)
	}
	code, body := back.api(t, "GET", fmt.Sprintf("/api/v1/findings/%d", id), "")
	var seen struct {
		Finding struct {
			Status     string `json:"status"`
			ResolvedBy string `json:"resolved_by"`
		} `json:"finding"`
	}
	if err := json.Unmarshal([]byte(body), &seen); code != http.StatusOK || err != nil || seen.Finding.Status != "approved" {
		t.Errorf("the finding through the other process: %d %v %s", code, err, body)
	}

	time.Sleep(time.Until(started.Add(180 * time.Second)))
	// The checks of the periods begun in the three minutes are all made,
	// late on a loaded machine; the processes then stop.
	sched, _ := config.ParseSchedule("@every 20s")
	sched = river.Aligned(sched)
	cutoff := river.PeriodOf(sched, time.Now())
	waitFor(t, 5*time.Minute, "the queue to work the periods begun", func() bool {
		var left int
		err := raw.QueryRow(ctx, `SELECT count(*) FROM `+river.Schema+`.river_job
			WHERE state IN ('available', 'scheduled', 'running', 'retryable', 'pending') AND (args->>'period')::timestamptz < $1`, cutoff).Scan(&left)
		return err == nil && left == 0
	})
	for _, p := range []*serveProc{survivor, back} {
		if err := p.stop(t); err != nil {
			t.Errorf("serve exited with %v", err)
		}
	}

	t.Run("every page is checked once per period, none doubled, none missing", func(t *testing.T) {
		rows, err := raw.Query(ctx, `SELECT args->>'page', (args->>'period')::timestamptz FROM `+river.Schema+`.river_job WHERE state = 'completed'`)
		if err != nil {
			t.Fatal(err)
		}
		done := map[string]map[int64]int{}
		for rows.Next() {
			var page string
			var period time.Time
			if err := rows.Scan(&page, &period); err != nil {
				t.Fatal(err)
			}
			if done[page] == nil {
				done[page] = map[int64]int{}
			}
			done[page][period.Unix()]++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		for _, page := range append(names, "pay") {
			// As in TestServeRidesOutAPostgreSQLRestart: the check at
			// start may fall in the next period on a loaded machine.
			first := river.PeriodOf(sched, started)
			if done[page][first.Unix()] == 0 {
				first = sched.Next(first)
			}
			for p := first; p.Before(cutoff); p = sched.Next(p) {
				if n := done[page][p.Unix()]; n != 1 {
					t.Errorf("page %s, period %s: %d checks completed, want one", page, p.Format(time.TimeOnly), n)
				}
			}
			scans, err := db.Scans(ctx, skimguard.ScanFilter{Page: page, From: started.Add(-time.Minute), Limit: -1})
			if err != nil {
				t.Fatal(err)
			}
			made := 0
			for _, s := range scans {
				if s.Status == skimguard.ScanOK || s.Status == skimguard.ScanFindings || s.Status == skimguard.ScanFailed {
					made++
				}
			}
			if made != len(done[page]) {
				t.Errorf("page %s: %d scans for %d checks completed", page, made, len(done[page]))
			}
		}
	})

	t.Run("the killed process's check was finished by another", func(t *testing.T) {
		var n int
		err := raw.QueryRow(ctx, `SELECT count(*) FROM `+river.Schema+`.river_job
			WHERE state = 'completed' AND attempt >= 2 AND cardinality(attempted_by) >= 2 AND attempted_at > $1`, killedAt.Add(-time.Minute)).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Error("no job was attempted by two processes and completed")
		}
	})

	t.Run("the planted skimmer is alerted exactly once", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		for fid, n := range alerted {
			if n != 1 {
				t.Errorf("finding %d alerted %d times", fid, n)
			}
		}
		t.Logf("alerted: %v", kinds)
	})
}

// TestServeRidesOutAPostgreSQLRestart: PostgreSQL restarted while serve runs
// on River, down across a period's start: serve keeps running, reconnects,
// and no period is lost or doubled.
func TestServeRidesOutAPostgreSQLRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve with Chromium for a minute and a half; skipped with -short")
	}
	shop := startShop(t)
	srv := pgtest.Start(t)
	if err := srv.Exec("postgres", "CREATE DATABASE skimguard"); err != nil {
		t.Fatal(err)
	}
	url := srv.URL("skimguard")
	cfg := filepath.Join(t.TempDir(), "sites.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sites:\n  - name: shop\n    schedule: \"@every 10s\"\n    pages:\n      - name: checkout\n        url: %s\n        wait: 1s\n", shop.CheckoutURL())), 0o600)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"baseline", "--config", cfg, "--db", url, "--reason", "onboarding", "--samples", "1"},
		env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out.String(), errb.String())
	}
	bin := buildSkimguard(t)
	p := startServe(t, bin, "--config", cfg, "--db", url, "--listen", "127.0.0.1:0", "--jitter", "0", "--check-timeout", "30s")
	started := time.Now()
	defer func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", p.logs.String())
		}
	}()
	sched, _ := config.ParseSchedule("@every 10s")
	sched = river.Aligned(sched)
	// Down across a period's start, so that the leader's enqueue of that
	// period fails: the period is queued late, once the server is back.
	time.Sleep(20 * time.Second)
	boundary := sched.Next(time.Now())
	time.Sleep(time.Until(boundary.Add(-time.Second)))
	if err := srv.Down(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(boundary.Add(time.Second)))
	if err := srv.Up(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Second)
	stoppedAt := time.Now()
	select {
	case err := <-p.done:
		t.Fatalf("serve exited during the restart: %v", err)
	default:
	}
	if err := p.stop(t); err != nil {
		t.Errorf("serve exited with %v", err)
	}
	raw, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(context.Background())
	rows, err := raw.Query(context.Background(), `SELECT (args->>'period')::timestamptz, count(*) FROM `+river.Schema+`.river_job WHERE state = 'completed' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	done := map[int64]int{}
	for rows.Next() {
		var at time.Time
		var n int
		if err := rows.Scan(&at, &n); err != nil {
			t.Fatal(err)
		}
		done[at.Unix()] = n
	}
	// The check at start is River's leader's: when electing it and starting
	// its periodic jobs takes serve past a period's end (a loaded machine
	// takes seconds), the first check is the next period's. Every period
	// from the first check on must be checked once.
	first := river.PeriodOf(sched, started)
	if done[first.Unix()] == 0 {
		first = sched.Next(first)
	}
	for at := first; at.Before(stoppedAt.Add(-30 * time.Second)); at = sched.Next(at) {
		if done[at.Unix()] != 1 {
			t.Errorf("period %s: %d checks completed, want one (all: %v)", at.Format(time.TimeOnly), done[at.Unix()], done)
		}
	}
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	scans, _ := db.Scans(context.Background(), skimguard.ScanFilter{From: started.Add(-time.Second), Limit: -1})
	made := 0
	for _, s := range scans {
		if s.Status == skimguard.ScanOK || s.Status == skimguard.ScanFindings || s.Status == skimguard.ScanFailed {
			made++
		}
	}
	total := 0
	for _, n := range done {
		total += n
	}
	if made != total {
		t.Errorf("%d scans stored for %d checks completed", made, total)
	}
}

// SIGHUP reloads a serve on PostgreSQL: a page added to sites.yaml is
// added to River's periodic jobs, and so checked at once (its current
// period).
func TestServeOnPostgreSQLReloadsItsPagesOnSIGHUP(t *testing.T) {
	shop := startShop(t)
	url := pg.Database(t)
	cfg := filepath.Join(t.TempDir(), "sites.yaml")
	write := func(pages ...string) {
		var b strings.Builder
		fmt.Fprintf(&b, "sites:\n  - name: shop\n    schedule: \"@hourly\"\n    pages:\n")
		for _, p := range pages {
			fmt.Fprintf(&b, "      - name: %s\n        url: %s\n        wait: 1s\n", p, shop.CheckoutURL())
		}
		if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("checkout", "cart")
	if code, out, errOut := cli(t, "baseline", "--config", cfg, "--db", url, "--samples", "1", "--reason", "onboarding"); code != exitOK {
		t.Fatalf("baseline: %d\n%s%s", code, out, errOut)
	}
	write("checkout")
	ctx, stop := context.WithCancel(context.Background())
	var logs syncBuffer
	exited := make(chan int, 1)
	started := time.Now()
	go func() {
		exited <- run(ctx, []string{"serve", "--config", cfg, "--db", url, "--listen", "off", "--jitter", "0"},
			env{stdout: io.Discard, stderr: &logs, getenv: func(string) string { return "" }})
	}()
	defer func() {
		stop()
		if code := <-exited; code != exitOK {
			t.Errorf("serve exited %d", code)
		}
		if t.Failed() {
			t.Logf("serve's log:\n%s", logs.String())
		}
	}()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checked := func(page string) bool {
		s, _ := db.Scans(ctx, skimguard.ScanFilter{Site: "shop", Page: page, From: started, Limit: 1})
		return len(s) == 1
	}
	waitFor(t, 2*time.Minute, "the checkout's check at start", func() bool { return checked("checkout") })
	if checked("cart") {
		t.Fatal("the cart, not in sites.yaml yet, was checked")
	}
	write("checkout", "cart")
	sighup(t)
	waitFor(t, 2*time.Minute, "the cart's check once added by SIGHUP", func() bool { return checked("cart") })
	if !strings.Contains(logs.String(), "schedules reloaded") {
		t.Error("the job queue's periodic jobs were not reloaded")
	}
}
