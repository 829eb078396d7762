// Package metrics exposes skimguard's Prometheus metrics: what the daemon
// scanned and how it went, where each check's time went (phase by phase,
// and the checks waiting for room and running), when each page was last
// scanned, the findings still open, the alerts delivered and what the store
// would not keep.
//
// Every Metrics has a registry of its own, never Prometheus's global default,
// so that two daemons (or two tests) in one process do not share counters.
package metrics

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	skimguard "github.com/skimguard/skimguard"
)

// namespace prefixes every metric skimguard defines.
const namespace = "skimguard"

// scanStatuses are the statuses a scan can end with; each site's series are
// created for all of them at its first scan, so that a counter exists at 0
// before its first increase and increase() sees that first one.
var scanStatuses = []skimguard.ScanStatus{
	skimguard.ScanOK, skimguard.ScanFindings, skimguard.ScanFailed, skimguard.ScanObserved, skimguard.ScanStopped,
}

// Delivery results, the values of the result label.
const (
	resultOK     = "ok"
	resultFailed = "failed"
)

// Why a save failed, the values of the reason label.
const (
	reasonFull   = "full"
	reasonLocked = "locked"
	reasonOther  = "other"
)

// Metrics counts what the daemon does and serves it to Prometheus. Its
// methods may be called from several goroutines at once.
type Metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	scans          *prometheus.CounterVec
	scanFailures   *prometheus.CounterVec
	scanDuration   *prometheus.HistogramVec
	phaseDuration  *prometheus.HistogramVec
	lastScan       *prometheus.GaugeVec
	lastSuccessful *prometheus.GaugeVec
	deliveries     *prometheus.CounterVec
	saveFailures   *prometheus.CounterVec
	openFindings   *openFindingsCollector
	reports        *shopperReports

	// mu guards the latest times below, which keep the timestamp gauges
	// from moving backwards when two scans of one page are reported out of
	// order (a manual check running alongside the schedule).
	mu            sync.Mutex
	latest        map[pageKey]time.Time
	latestSuccess map[pageKey]time.Time
}

type pageKey struct{ site, page string }

// New makes metrics on a registry of their own (never the global default
// registerer), with the Go and process collectors, reading open findings
// from store at each scrape. A nil logger discards logs.
func New(store skimguard.Store, logger *slog.Logger) *Metrics {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "scans_total",
			Help:      "Scans stored, by site and status (ok: matched the baseline; findings: differed from it; failed: the page could not be checked; observed: loaded without comparison).",
		}, []string{"site", "status"}),
		scanFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "scan_failures_total",
			Help:      "Scans that could not check their page (status failed), by site. A rising rate means pages are going unmonitored.",
		}, []string{"site"}),
		scanDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "scan_duration_seconds",
			Help:      "How long scans took, page load and checks included, failed scans too, by site. Scans growing longer mean a page slows down or fails to load.",
			// A page load with a test card typed in takes seconds; one
			// that hangs runs into its load timeout (30 s by default, set
			// per site), so the buckets reach a few minutes.
			Buckets: []float64{1, 2, 5, 10, 15, 30, 60, 120, 180, 300},
		}, []string{"site"}),
		phaseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "check_phase_seconds",
			Help: "Where each check's time went, by phase: queued (waiting for the browser to have room, before the check's timeout starts), " +
				"setup (the scan's browser context and tab), journey, load, window (the observation window, typing excluded), typing, " +
				"sources (the DOM and script text read after the window), screenshot, departure (the shopper leaving the page), store. Checks that load or store slowly show here; a growing queued means too few --workers or a machine short of memory or CPU.",
			// From a store's milliseconds to a window of minutes.
			Buckets: []float64{0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120},
		}, []string{"phase"}),
		lastScan: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "last_scan_timestamp_seconds",
			Help:      "Unix time the latest stored scan of the page started, whatever its result. Absent after a restart until the page is scanned again.",
		}, []string{"site", "page"}),
		lastSuccessful: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "last_successful_scan_timestamp_seconds",
			Help:      "Unix time the latest scan that checked the page (status ok, findings or observed) started. Alert when time() minus this exceeds your PCI DSS 11.6.1 interval (weekly at most).",
		}, []string{"site", "page"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "alert_deliveries_total",
			Help:      "Alert delivery attempts, by sink and result (ok or failed). Failed deliveries mean people were not told of findings.",
		}, []string{"sink", "result"}),
		saveFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "store_save_failures_total",
			Help:      "Scans, alert deliveries and baselines the store would not keep, retries spent, by reason (full: its disk is full; locked: another process held the database; other). Their findings were reported and alerted but are not in the database: any increase needs a person.",
		}, []string{"reason"}),
		openFindings:  newOpenFindingsCollector(store, logger),
		latest:        make(map[pageKey]time.Time),
		latestSuccess: make(map[pageKey]time.Time),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.scans, m.scanFailures, m.scanDuration, m.phaseDuration, m.lastScan, m.lastSuccessful,
		m.deliveries, m.saveFailures, m.openFindings,
	)
	m.reports = newShopperReports(m.registry)
	// Every reason exists at 0 from the start, so that increase() sees the
	// first failure.
	for _, r := range []string{reasonFull, reasonLocked, reasonOther} {
		m.saveFailures.WithLabelValues(r)
	}
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		// A scrape whose open findings could not be read fails with HTTP
		// 500 and the error in its body: Prometheus then records up == 0
		// for it, where a partial answer would have passed for "no open
		// findings". The collector logs the store's failure itself, with
		// its context, so no ErrorLog is set to log it a second time.
		ErrorHandling: promhttp.HTTPErrorOnError,
		// Counts failed scrapes as promhttp_metric_handler_errors_total,
		// seen on the next scrape that succeeds.
		Registry: m.registry,
	})
	return m
}

// Scanned counts one stored scan (call after the store saved it).
func (m *Metrics) Scanned(s skimguard.Scan) {
	for _, status := range scanStatuses {
		m.scans.WithLabelValues(s.Site, string(status))
	}
	m.scans.WithLabelValues(s.Site, string(s.Status)).Inc()
	failures := m.scanFailures.WithLabelValues(s.Site)
	if s.Status == skimguard.ScanFailed {
		failures.Inc()
	}
	m.scanDuration.WithLabelValues(s.Site).Observe(s.Duration.Seconds())
	if o := s.Observation; o != nil {
		m.phaseDuration.WithLabelValues("queued").Observe(o.Queued.Seconds())
		o.Phases.Each(func(name string, d time.Duration) {
			// A phase the check did not go through (a journey, typing)
			// is not observed as a zero.
			if d > 0 {
				m.phaseDuration.WithLabelValues(name).Observe(d.Seconds())
			}
		})
	}

	if s.StartedAt.IsZero() {
		// No time to report; a year-1 timestamp would read as "never".
		return
	}
	key := pageKey{s.Site, s.Page}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.StartedAt.After(m.latest[key]) {
		m.latest[key] = s.StartedAt
		m.lastScan.WithLabelValues(s.Site, s.Page).Set(unixSeconds(s.StartedAt))
	}
	if s.Status.Completed() && s.StartedAt.After(m.latestSuccess[key]) {
		m.latestSuccess[key] = s.StartedAt
		m.lastSuccessful.WithLabelValues(s.Site, s.Page).Set(unixSeconds(s.StartedAt))
	}
}

// WatchQueue serves, at each scrape, how many checks wait for room
// (skimguard_checks_waiting) and how many run (skimguard_checks_running),
// as queue tells; the daemon passes its scheduler's Queue. Call it once.
func (m *Metrics) WatchQueue(queue func() (waiting, running int)) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "checks_waiting",
			Help:      "Checks due that wait for a worker or for the browser to have room (--workers reached, or the machine short of memory or CPU). Staying above 0 means checks come due faster than they run. On PostgreSQL, the due checks of the queue all serves share: the same in each.",
		}, func() float64 { w, _ := queue(); return float64(w) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "checks_running",
			Help:      "Checks running, each a page in its own browser tab; at most --workers.",
		}, func() float64 { _, r := queue(); return float64(r) }),
	)
}

// Delivered counts one alert delivery attempt.
func (m *Metrics) Delivered(d skimguard.Delivery) {
	ok := m.deliveries.WithLabelValues(d.Sink, resultOK)
	failed := m.deliveries.WithLabelValues(d.Sink, resultFailed)
	if d.OK {
		ok.Inc()
	} else {
		failed.Inc()
	}
}

// SaveFailed counts one save the store would not keep (monitor.Monitor's
// SaveFailed), by why.
func (m *Metrics) SaveFailed(err error) {
	reason := reasonOther
	switch {
	case errors.Is(err, skimguard.ErrStoreFull):
		reason = reasonFull
	case errors.Is(err, skimguard.ErrStoreLocked):
		reason = reasonLocked
	}
	m.saveFailures.WithLabelValues(reason).Inc()
}

// Handler serves the metrics in the Prometheus exposition format. When the
// open findings cannot be read from the store, it answers HTTP 500 with the
// error in the body instead of a partial set of metrics.
func (m *Metrics) Handler() http.Handler {
	return m.handler
}

// unixSeconds is t as Unix seconds with sub-second precision.
func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / float64(time.Second)
}
