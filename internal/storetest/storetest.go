// Package storetest is the one conformance suite of skimguard.Store: the
// same tests run against every database store (package sqlite's and
// package postgres's tests call Run), so that what one promises the other
// keeps. It also holds the fixtures those stores' own tests share.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/obspack"
)

// Harness says how to get the stores the suite tests.
type Harness struct {
	// Open returns a new, empty store, closed when the test ends.
	Open func(t *testing.T) skimguard.Store
	// Again opens another store on s's database, as another process
	// would, closed when the test ends.
	Again func(t *testing.T, s skimguard.Store) skimguard.Store
	// Exec runs one SQL statement on a store's database directly, as
	// another program would: the suite checks what the schema itself
	// refuses (changing the append-only logs), which the Store cannot be
	// asked to do.
	Exec func(t *testing.T, s skimguard.Store, sql string) error
	// Count runs a SQL query that returns one number on a store's
	// database directly, failing the test on an error.
	Count func(t *testing.T, s skimguard.Store, sql string) int
}

// Run runs the suite, each test on its own store, in parallel.
func Run(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, Harness)
	}{
		{"Baselines", testBaselines},
		{"SaveScan", testSaveScan},
		{"Scan", testScan},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ResolveFindings", testResolveFindings},
		{"ApproveWithBaselineApply", testApproveWithBaselineApply},
		{"ResolveFindingsUnderTheTwoPersonRule", testResolveFindingsUnderTheTwoPersonRule},
		{"FindingFilters", testFindingFilters},
		{"Audit", testAudit},
		{"AppendAudit", testAppendAudit},
		{"Deliveries", testDeliveries},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"SignInFailures", testSignInFailures},
		{"HostileText", testHostileText},
		{"Health", testHealth},
		{"Reports", testReports},
		{"ReportedFindings", testReportedFindings},
		{"ReportTokens", testReportTokens},
		{"ConcurrentReports", testConcurrentReports},
		{"AlertClaims", testAlertClaims},
		{"AlertsOncePerFindingAcrossProcesses", testAlertsOncePerFindingAcrossProcesses},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, h)
		})
	}
}

// T0 is the suite's reference time: microseconds, the finest PostgreSQL
// keeps, so that every store gives it back exactly.
var T0 = time.Date(2025, 3, 1, 9, 30, 0, 123456000, time.UTC)

// Script makes an external script with a text of about size bytes.
func Script(url string, n, size int) skimguard.Script {
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

// Observation makes a realistic observation of a checkout page with n
// external scripts, the first `changed` of which differ with variant.
func Observation(site, page string, at time.Time, n, changed int, variant string) *skimguard.Observation {
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
		s := Script(fmt.Sprintf("https://cdn.test/js/lib%d.js", i), i, 500+(i%20)*400)
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

// Finding makes a high script.added finding of site/page with fingerprint
// fp, to be opened by a scan.
func Finding(site, page, fp string) skimguard.Finding {
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

// ScanOf makes a scan of site/page at a time with findings.
func ScanOf(site, page string, at time.Time, fs ...skimguard.Finding) *skimguard.Scan {
	st := skimguard.ScanOK
	if len(fs) > 0 {
		st = skimguard.ScanFindings
	}
	return &skimguard.Scan{
		Site: site, Page: page, URL: "https://shop.test/" + page, StartedAt: at, Duration: 3 * time.Second,
		Status: st, BaselineVersion: 1, Findings: fs,
	}
}

// BaselineOf makes a baseline of site/page with items named by keys.
func BaselineOf(site, page string, keys ...string) *skimguard.Baseline {
	b := &skimguard.Baseline{
		Site: site, Page: page, URL: "https://shop.test/" + page, Samples: 3, CreatedAt: T0,
		ApprovedBy: "alice", Reason: "initial baseline",
	}
	for _, k := range keys {
		b.Items = append(b.Items, skimguard.Item{
			Type: skimguard.ItemScript, Key: k, Subject: "https://cdn.test/" + k, Origin: "https://cdn.test",
			Values: []string{"sha256:" + k, "struct:" + k}, Attrs: map[string]string{"crossorigin": "anonymous"},
			Source: "console.log(" + fmt.Sprintf("%q", k) + ")", SHA256: "hash-" + k, SRI: "sha384-" + k,
			FirstSeen: T0, ApprovedBy: "alice", Reason: "initial", ApprovedAt: T0.Add(time.Minute),
		})
	}
	return b
}

// MustSaveScan saves a scan, failing the test on an error.
func MustSaveScan(t testing.TB, db skimguard.Store, s *skimguard.Scan) {
	t.Helper()
	if err := db.SaveScan(context.Background(), s); err != nil {
		t.Fatalf("SaveScan: %v", err)
	}
}

// MustSaveBaseline saves a baseline, failing the test on an error.
func MustSaveBaseline(t testing.TB, db skimguard.Store, b *skimguard.Baseline) {
	t.Helper()
	if err := db.SaveBaseline(context.Background(), b); err != nil {
		t.Fatalf("SaveBaseline: %v", err)
	}
}

// MustFindings lists findings, failing the test on an error.
func MustFindings(t testing.TB, db skimguard.Store, f skimguard.FindingFilter) []skimguard.Finding {
	t.Helper()
	fs, err := db.Findings(context.Background(), f)
	if err != nil {
		t.Fatalf("Findings: %v", err)
	}
	return fs
}

// MustAudit reads the audit log, failing the test on an error.
func MustAudit(t testing.TB, db skimguard.Store) []skimguard.AuditEntry {
	t.Helper()
	log, err := db.Audit(context.Background())
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return log
}
