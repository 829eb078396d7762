package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/obspack"
)

// openTest opens a new database in a temporary directory, closed at the end
// of the test.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "skimguard.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, path
}

// rawDB opens path with the driver directly, as another process would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", dsn(path, defaultOptions, false))
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return raw
}

var t0 = time.Date(2025, 3, 1, 9, 30, 0, 123456789, time.UTC)

// script makes an external script with a text of about size bytes.
func script(url string, n, size int) skimguard.Script {
	var b strings.Builder
	for b.Len() < size {
		fmt.Fprintf(&b, "function f%d_%d(a){return a.map(function(x){return x*%d})}\n", n, b.Len(), n)
	}
	src := b.String()
	return skimguard.Script{
		Kind: skimguard.ScriptExternal, URL: url, Frame: "https://shop.test/checkout", Ordinal: n,
		SHA256: obspack.Hash(src), SRI: "sha384-test", Size: len(src), Source: src, LoadedBy: "parser",
	}
}

// observation makes a realistic observation of a checkout page with n
// external scripts, the first `changed` of which differ with variant.
func observation(site, page string, at time.Time, n, changed int, variant string) *skimguard.Observation {
	o := &skimguard.Observation{
		Site: site, Page: page, URL: "https://shop.test/checkout", FinalURL: "https://shop.test/checkout",
		Status: 200, Profile: skimguard.ProfileDesktop, StartedAt: at, Duration: 4200 * time.Millisecond,
		Headers: map[string]string{
			"content-security-policy":   "default-src 'self'; script-src 'self' https://cdn.test",
			"strict-transport-security": "max-age=63072000",
		},
		Frames: []skimguard.Frame{{URL: "https://pay.test/frame", Origin: "https://pay.test", Parent: "https://shop.test/checkout"}},
		Forms: []skimguard.Form{{Frame: "https://pay.test/frame", Action: "https://pay.test/pay", Method: "POST",
			Inputs: []skimguard.Input{{Field: skimguard.FieldNumber, Name: "cc", Visible: true}}}},
		Typed:      true,
		Screenshot: []byte("\x89PNG\r\n\x1a\nnot really a png"),
	}
	for i := 1; i <= n; i++ {
		s := script(fmt.Sprintf("https://cdn.test/js/lib%d.js", i), i, 500+(i%20)*400)
		if i <= changed {
			s.Source += "// " + variant
			s.SHA256 = obspack.Hash(s.Source)
		}
		o.Scripts = append(o.Scripts, s)
	}
	o.Scripts = append(o.Scripts, skimguard.Script{Kind: skimguard.ScriptInline, Frame: o.URL, Ordinal: 1, Location: "line 3 col 1"})
	for i := 0; i < 30; i++ {
		o.Connections = append(o.Connections, skimguard.Connection{
			Origin: fmt.Sprintf("https://api%d.test", i), Types: []string{"Fetch", "Script"},
			Initiators: []string{"parser"}, Example: fmt.Sprintf("https://api%d.test/v1", i), Count: i + 1,
		})
	}
	return o
}

// finding makes an open-to-be finding of site/page with fingerprint fp.
func finding(site, page, fp string) skimguard.Finding {
	return skimguard.Finding{
		Kind: skimguard.KindScriptAdded, Severity: skimguard.SeverityHigh, Site: site, Page: page,
		Subject: "https://evil.test/" + fp + ".js", Detail: "a script not in the baseline ran",
		Evidence:    skimguard.Evidence{After: "sha256:" + fp, URL: "https://evil.test/" + fp + ".js", LoadedBy: "parser"},
		Fingerprint: fp,
		Item: skimguard.Item{
			Type: skimguard.ItemScript, Key: "script https://evil.test/" + fp + ".js", Subject: "https://evil.test/" + fp + ".js",
			Origin: "https://evil.test", Values: []string{"sha256:" + fp}, Source: "steal()", SHA256: fp,
		},
	}
}

// scanOf makes a scan of site/page at a time with findings.
func scanOf(site, page string, at time.Time, fs ...skimguard.Finding) *skimguard.Scan {
	st := skimguard.ScanOK
	if len(fs) > 0 {
		st = skimguard.ScanFindings
	}
	return &skimguard.Scan{
		Site: site, Page: page, URL: "https://shop.test/" + page, StartedAt: at, Duration: 3 * time.Second,
		Status: st, BaselineVersion: 1, Findings: fs,
	}
}

// baselineOf makes a baseline of site/page with items named by keys.
func baselineOf(site, page string, keys ...string) *skimguard.Baseline {
	b := &skimguard.Baseline{
		Site: site, Page: page, URL: "https://shop.test/" + page, Samples: 3, CreatedAt: t0,
		ApprovedBy: "alice", Reason: "initial baseline",
	}
	for _, k := range keys {
		b.Items = append(b.Items, skimguard.Item{
			Type: skimguard.ItemScript, Key: k, Subject: "https://cdn.test/" + k, Origin: "https://cdn.test",
			Values: []string{"sha256:" + k, "struct:" + k}, Attrs: map[string]string{"crossorigin": "anonymous"},
			Source: "console.log(" + fmt.Sprintf("%q", k) + ")", SHA256: "hash-" + k, SRI: "sha384-" + k,
			FirstSeen: t0, ApprovedBy: "alice", Reason: "initial", ApprovedAt: t0.Add(time.Minute),
		})
	}
	return b
}

func mustSaveScan(t testing.TB, db *DB, s *skimguard.Scan) {
	t.Helper()
	if err := db.SaveScan(context.Background(), s); err != nil {
		t.Fatalf("SaveScan: %v", err)
	}
}

func mustSaveBaseline(t testing.TB, db *DB, b *skimguard.Baseline) {
	t.Helper()
	if err := db.SaveBaseline(context.Background(), b); err != nil {
		t.Fatalf("SaveBaseline: %v", err)
	}
}

func mustFindings(t testing.TB, db *DB, f skimguard.FindingFilter) []skimguard.Finding {
	t.Helper()
	fs, err := db.Findings(context.Background(), f)
	if err != nil {
		t.Fatalf("Findings: %v", err)
	}
	return fs
}

func mustAudit(t testing.TB, db *DB) []skimguard.AuditEntry {
	t.Helper()
	log, err := db.Audit(context.Background())
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return log
}

func count(t testing.TB, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.sql.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
