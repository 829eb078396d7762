package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	skimguard "github.com/skimguard/skimguard"
)

// fakeStore answers Findings from a list, applying the status filter as a
// real store does; every other Store method is left nil and would panic,
// which is the point: the metrics must not call them.
type fakeStore struct {
	skimguard.Store
	mu       sync.Mutex
	findings []skimguard.Finding
	err      error
	// block makes Findings wait for its context to end, as a store stuck
	// on a lock would.
	block bool
}

func (s *fakeStore) Findings(ctx context.Context, f skimguard.FindingFilter) ([]skimguard.Finding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.err != nil {
		return nil, s.err
	}
	var out []skimguard.Finding
	for _, x := range s.findings {
		if f.Status == "" || x.Status == f.Status {
			out = append(out, x)
		}
	}
	return out, nil
}

func (s *fakeStore) set(findings ...skimguard.Finding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.findings = findings
}

func finding(sev skimguard.Severity, status skimguard.FindingStatus) skimguard.Finding {
	return skimguard.Finding{Kind: skimguard.KindScriptAdded, Severity: sev, Status: status, Site: "shop", Page: "checkout"}
}

// scrape fetches the metrics through the handler as Prometheus would and
// parses them in whatever format the handler chose.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", rec.Code, rec.Body)
	}
	dec := expfmt.NewDecoder(rec.Body, expfmt.ResponseFormat(rec.Header()))
	fams := make(map[string]*dto.MetricFamily)
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			return fams
		}
		if err != nil {
			t.Fatalf("parsing the scrape: %v", err)
		}
		fams[mf.GetName()] = &mf
	}
}

// series returns the sample of family name whose labels are exactly labels,
// or nil when there is none.
func series(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	mf, ok := fams[name]
	if !ok {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is the counter's or gauge's value of one series, failing the test
// when the series is missing.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := series(fams, name, labels)
	if m == nil {
		t.Fatalf("no series %s%v in the scrape", name, labels)
	}
	switch fams[name].GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s is a %v, not a counter or gauge", name, fams[name].GetType())
	return 0
}

func TestScanned(t *testing.T) {
	t.Run("counts each scan under its site and status", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		for _, st := range []skimguard.ScanStatus{skimguard.ScanOK, skimguard.ScanOK, skimguard.ScanFindings, skimguard.ScanFailed, skimguard.ScanObserved} {
			m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: st, StartedAt: time.Now()})
		}
		m.Scanned(skimguard.Scan{Site: "donate", Page: "form", Status: skimguard.ScanOK, StartedAt: time.Now()})

		fams := scrape(t, m)
		for _, c := range []struct {
			site, status string
			want         float64
		}{
			{"shop", "ok", 2}, {"shop", "findings", 1}, {"shop", "failed", 1}, {"shop", "observed", 1},
			// The other statuses of a scanned site exist at zero.
			{"donate", "ok", 1}, {"donate", "findings", 0}, {"donate", "failed", 0}, {"donate", "observed", 0},
		} {
			if got := value(t, fams, "skimguard_scans_total", map[string]string{"site": c.site, "status": c.status}); got != c.want {
				t.Errorf("skimguard_scans_total{site=%q,status=%q} = %v, want %v", c.site, c.status, got, c.want)
			}
		}
	})

	t.Run("counts failed scans as failures of their site", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanFailed})
		m.Scanned(skimguard.Scan{Site: "shop", Page: "cart", Status: skimguard.ScanFailed})
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanFindings})
		m.Scanned(skimguard.Scan{Site: "donate", Page: "form", Status: skimguard.ScanOK})

		fams := scrape(t, m)
		if got := value(t, fams, "skimguard_scan_failures_total", map[string]string{"site": "shop"}); got != 2 {
			t.Errorf("failures of shop = %v, want 2", got)
		}
		if got := value(t, fams, "skimguard_scan_failures_total", map[string]string{"site": "donate"}); got != 0 {
			t.Errorf("failures of donate = %v, want 0", got)
		}
	})

	t.Run("observes every scan's duration in its site's histogram", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		for _, d := range []time.Duration{500 * time.Millisecond, 3 * time.Second, 45 * time.Second, 10 * time.Minute} {
			m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK, Duration: d})
		}
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanFailed, Duration: 2 * time.Minute})

		fams := scrape(t, m)
		s := series(fams, "skimguard_scan_duration_seconds", map[string]string{"site": "shop"})
		if s == nil {
			t.Fatal("no skimguard_scan_duration_seconds{site=\"shop\"} in the scrape")
		}
		h := s.GetHistogram()
		if got := h.GetSampleCount(); got != 5 {
			t.Errorf("sample count = %d, want 5", got)
		}
		if got, want := h.GetSampleSum(), 0.5+3+45+600+120; got != want {
			t.Errorf("sample sum = %v, want %v", got, want)
		}
		// Cumulative counts at some upper bounds; 10 minutes is beyond
		// the last bucket and only in +Inf, the sample count.
		want := map[float64]uint64{1: 1, 5: 2, 60: 3, 120: 4, 300: 4}
		seen := 0
		for _, b := range h.GetBucket() {
			if n, ok := want[b.GetUpperBound()]; ok {
				seen++
				if b.GetCumulativeCount() != n {
					t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), n)
				}
			}
		}
		if seen != len(want) {
			t.Errorf("found %d of the buckets %v", seen, want)
		}
	})

	t.Run("records when each page was last scanned and last checked", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		ok := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		failed := ok.Add(time.Hour)
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK, StartedAt: ok})
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanFailed, StartedAt: failed})
		m.Scanned(skimguard.Scan{Site: "shop", Page: "cart", Status: skimguard.ScanFindings, StartedAt: failed})

		fams := scrape(t, m)
		checkout := map[string]string{"site": "shop", "page": "checkout"}
		if got := value(t, fams, "skimguard_last_scan_timestamp_seconds", checkout); got != float64(failed.Unix()) {
			t.Errorf("last scan of checkout = %v, want %v (the failed scan)", got, failed.Unix())
		}
		if got := value(t, fams, "skimguard_last_successful_scan_timestamp_seconds", checkout); got != float64(ok.Unix()) {
			t.Errorf("last successful scan of checkout = %v, want %v (the ok scan)", got, ok.Unix())
		}
		// A scan with findings checked its page: it is a successful scan.
		if got := value(t, fams, "skimguard_last_successful_scan_timestamp_seconds", map[string]string{"site": "shop", "page": "cart"}); got != float64(failed.Unix()) {
			t.Errorf("last successful scan of cart = %v, want %v", got, failed.Unix())
		}
	})

	t.Run("keeps the latest time when scans are reported out of order", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		later := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK, StartedAt: later})
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK, StartedAt: later.Add(-time.Hour)})

		fams := scrape(t, m)
		for _, name := range []string{"skimguard_last_scan_timestamp_seconds", "skimguard_last_successful_scan_timestamp_seconds"} {
			if got := value(t, fams, name, map[string]string{"site": "shop", "page": "checkout"}); got != float64(later.Unix()) {
				t.Errorf("%s = %v, want %v", name, got, later.Unix())
			}
		}
	})

	t.Run("gives no timestamp for a scan without a start time", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanFailed})

		fams := scrape(t, m)
		if s := series(fams, "skimguard_last_scan_timestamp_seconds", map[string]string{"site": "shop", "page": "checkout"}); s != nil {
			t.Errorf("last scan = %v, want no series", s.GetGauge().GetValue())
		}
		if got := value(t, fams, "skimguard_scans_total", map[string]string{"site": "shop", "status": "failed"}); got != 1 {
			t.Errorf("the scan was not counted: skimguard_scans_total = %v, want 1", got)
		}
	})

	t.Run("counts scans reported from several goroutines", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 100 {
					m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK,
						StartedAt: time.Unix(int64(g*1000+i), 0), Duration: time.Second})
				}
			})
		}
		wg.Wait()

		fams := scrape(t, m)
		if got := value(t, fams, "skimguard_scans_total", map[string]string{"site": "shop", "status": "ok"}); got != 800 {
			t.Errorf("skimguard_scans_total = %v, want 800", got)
		}
		if got := value(t, fams, "skimguard_last_scan_timestamp_seconds", map[string]string{"site": "shop", "page": "checkout"}); got != 7099 {
			t.Errorf("last scan = %v, want 7099, the latest reported", got)
		}
	})
}

func TestDelivered(t *testing.T) {
	t.Run("counts deliveries by sink and result", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		m.Delivered(skimguard.Delivery{Sink: "slack", Site: "shop", OK: true})
		m.Delivered(skimguard.Delivery{Sink: "slack", Site: "donate", OK: true})
		m.Delivered(skimguard.Delivery{Sink: "slack", Site: "shop", OK: false, Error: "HTTP 503"})
		m.Delivered(skimguard.Delivery{Sink: "webhook", Site: "shop", OK: false, Error: "connection refused"})

		fams := scrape(t, m)
		for _, c := range []struct {
			sink, result string
			want         float64
		}{
			{"slack", "ok", 2}, {"slack", "failed", 1},
			// A sink's other result exists at zero.
			{"webhook", "ok", 0}, {"webhook", "failed", 1},
		} {
			if got := value(t, fams, "skimguard_alert_deliveries_total", map[string]string{"sink": c.sink, "result": c.result}); got != c.want {
				t.Errorf("skimguard_alert_deliveries_total{sink=%q,result=%q} = %v, want %v", c.sink, c.result, got, c.want)
			}
		}
	})
}

func TestOpenFindings(t *testing.T) {
	severities := []string{"critical", "high", "medium", "low"}

	t.Run("counts open findings by severity", func(t *testing.T) {
		store := &fakeStore{}
		store.set(
			finding(skimguard.SeverityCritical, skimguard.StatusOpen),
			finding(skimguard.SeverityCritical, skimguard.StatusOpen),
			finding(skimguard.SeverityLow, skimguard.StatusOpen),
			// Closed findings are not counted.
			finding(skimguard.SeverityHigh, skimguard.StatusApproved),
			finding(skimguard.SeverityCritical, skimguard.StatusRejected),
		)
		m := New(store, nil)

		fams := scrape(t, m)
		want := map[string]float64{"critical": 2, "high": 0, "medium": 0, "low": 1}
		for _, sev := range severities {
			if got := value(t, fams, "skimguard_open_findings", map[string]string{"severity": sev}); got != want[sev] {
				t.Errorf("open %s findings = %v, want %v", sev, got, want[sev])
			}
		}
	})

	t.Run("reports every severity at zero when none is open", func(t *testing.T) {
		m := New(&fakeStore{}, nil)

		fams := scrape(t, m)
		if n := len(fams["skimguard_open_findings"].GetMetric()); n != len(severities) {
			t.Errorf("%d series of skimguard_open_findings, want %d", n, len(severities))
		}
		for _, sev := range severities {
			if got := value(t, fams, "skimguard_open_findings", map[string]string{"severity": sev}); got != 0 {
				t.Errorf("open %s findings = %v, want 0", sev, got)
			}
		}
	})

	t.Run("reads the store again at each scrape", func(t *testing.T) {
		store := &fakeStore{}
		store.set(finding(skimguard.SeverityHigh, skimguard.StatusOpen))
		m := New(store, nil)
		high := map[string]string{"severity": "high"}
		if got := value(t, scrape(t, m), "skimguard_open_findings", high); got != 1 {
			t.Fatalf("open high findings = %v, want 1", got)
		}

		// Approved in the web interface meanwhile.
		store.set(finding(skimguard.SeverityHigh, skimguard.StatusApproved))
		if got := value(t, scrape(t, m), "skimguard_open_findings", high); got != 0 {
			t.Errorf("open high findings after approval = %v, want 0", got)
		}
	})

	t.Run("fails the scrape and logs when the store fails", func(t *testing.T) {
		var logs syncBuffer
		store := &fakeStore{err: errors.New("database is locked")}
		m := New(store, slog.New(slog.NewTextHandler(&logs, nil)))

		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("HTTP %d, want 500", rec.Code)
		}
		if body := rec.Body.String(); !strings.Contains(body, "database is locked") {
			t.Errorf("the response does not say what failed:\n%s", body)
		}
		if strings.Contains(rec.Body.String(), "skimguard_open_findings{") {
			t.Errorf("the failed scrape still reports open findings:\n%s", rec.Body)
		}
		if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "database is locked") {
			t.Errorf("the failure was not logged as an error; logs:\n%s", l)
		}

		// Once the store answers again, so does the scrape.
		store.mu.Lock()
		store.err = nil
		store.mu.Unlock()
		if got := value(t, scrape(t, m), "skimguard_open_findings", map[string]string{"severity": "critical"}); got != 0 {
			t.Errorf("open critical findings = %v, want 0", got)
		}
	})

	t.Run("fails the scrape when the store does not answer in time", func(t *testing.T) {
		m := New(&fakeStore{block: true}, nil)
		m.openFindings.timeout = 50 * time.Millisecond

		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("HTTP %d, want 500", rec.Code)
		}
		if body := rec.Body.String(); !strings.Contains(body, context.DeadlineExceeded.Error()) {
			t.Errorf("the response does not say the store timed out:\n%s", body)
		}
	})
}

func TestNew(t *testing.T) {
	t.Run("keeps two Metrics in one process apart", func(t *testing.T) {
		a, b := New(&fakeStore{}, nil), New(&fakeStore{}, nil)
		a.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK, StartedAt: time.Now()})
		a.Delivered(skimguard.Delivery{Sink: "slack", OK: true})

		if got := value(t, scrape(t, a), "skimguard_scans_total", map[string]string{"site": "shop", "status": "ok"}); got != 1 {
			t.Errorf("first Metrics: skimguard_scans_total = %v, want 1", got)
		}
		fb := scrape(t, b)
		for _, name := range []string{"skimguard_scans_total", "skimguard_alert_deliveries_total", "skimguard_last_scan_timestamp_seconds"} {
			if series := fb[name].GetMetric(); len(series) != 0 {
				t.Errorf("second Metrics has %s series it never counted: %v", name, series)
			}
		}
		global, err := prometheus.DefaultGatherer.Gather()
		if err != nil {
			t.Fatalf("gathering the default registry: %v", err)
		}
		for _, mf := range global {
			if strings.HasPrefix(mf.GetName(), "skimguard_") {
				t.Errorf("%s is on the global default registry", mf.GetName())
			}
		}
	})

	t.Run("exposes each metric with its type and help", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		m.Scanned(skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK, StartedAt: time.Now()})
		m.Delivered(skimguard.Delivery{Sink: "slack", OK: true})

		fams := scrape(t, m)
		for name, typ := range map[string]dto.MetricType{
			"skimguard_scans_total":                            dto.MetricType_COUNTER,
			"skimguard_scan_failures_total":                    dto.MetricType_COUNTER,
			"skimguard_scan_duration_seconds":                  dto.MetricType_HISTOGRAM,
			"skimguard_last_scan_timestamp_seconds":            dto.MetricType_GAUGE,
			"skimguard_last_successful_scan_timestamp_seconds": dto.MetricType_GAUGE,
			"skimguard_open_findings":                          dto.MetricType_GAUGE,
			"skimguard_alert_deliveries_total":                 dto.MetricType_COUNTER,
			"skimguard_store_save_failures_total":              dto.MetricType_COUNTER,
		} {
			mf, ok := fams[name]
			if !ok {
				t.Errorf("%s is missing", name)
				continue
			}
			if mf.GetType() != typ {
				t.Errorf("%s is a %v, want %v", name, mf.GetType(), typ)
			}
			if mf.GetHelp() == "" {
				t.Errorf("%s has no help", name)
			}
		}
	})

	t.Run("serves the Go and process collectors", func(t *testing.T) {
		fams := scrape(t, New(&fakeStore{}, nil))
		for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
			if _, ok := fams[name]; !ok {
				t.Errorf("%s is missing", name)
			}
		}
	})
}

// syncBuffer is a bytes.Buffer that a logger may write to from a collector's
// goroutine while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
