package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	skimguard "github.com/skimguard/skimguard"
)

// openFindingsTimeout bounds the store query of one scrape, well inside
// Prometheus's default 10 s scrape timeout so that the scrape reports the
// store's error instead of timing out itself.
const openFindingsTimeout = 5 * time.Second

// severities are reported at every scrape, 0 when none is open, so that an
// alert on one severity sees a value rather than an absent series.
var severities = []skimguard.Severity{
	skimguard.SeverityCritical, skimguard.SeverityHigh,
	skimguard.SeverityMedium, skimguard.SeverityLow,
}

// openFindingsCollector counts the open findings in the store at each
// scrape. Counting them at scrape time, rather than keeping a gauge up to
// date, keeps the number right when findings are approved or rejected in
// the web interface or by another process sharing the store.
type openFindingsCollector struct {
	store   skimguard.Store
	logger  *slog.Logger
	desc    *prometheus.Desc
	timeout time.Duration
}

func newOpenFindingsCollector(store skimguard.Store, logger *slog.Logger) *openFindingsCollector {
	return &openFindingsCollector{
		store:  store,
		logger: logger,
		desc: prometheus.NewDesc(
			prometheus.BuildFQName(namespace, "", "open_findings"),
			"Findings waiting for review (neither approved nor rejected), by severity, read from the store at each scrape. Any critical finding may be a skimmer on a payment page.",
			[]string{"severity"}, nil,
		),
		timeout: openFindingsTimeout,
	}
}

// Describe implements prometheus.Collector.
func (c *openFindingsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
}

// Collect implements prometheus.Collector. When the store fails it sends an
// invalid metric carrying the error, which fails the scrape: zeros would
// tell the operator nothing is open.
func (c *openFindingsCollector) Collect(ch chan<- prometheus.Metric) {
	// Collect has no context of its own: a scrape's request is not passed
	// down by the registry.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	findings, err := c.store.Findings(ctx, skimguard.FindingFilter{Status: skimguard.StatusOpen})
	if err != nil {
		err = fmt.Errorf("reading open findings from the store for metrics: %w", err)
		c.logger.Error("metrics scrape failed: check the store", "err", err)
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	counts := make(map[skimguard.Severity]int, len(severities))
	for _, s := range severities {
		counts[s] = 0
	}
	for _, f := range findings {
		// A severity outside the four still counts, under its own name,
		// so that the sum over severities is every open finding.
		counts[f.Severity]++
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(s))
	}
}
