package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// rejectReasons are the collector's reasons to refuse a request (see
// web.ReportCounter), each counted from 0.
var rejectReasons = []string{"token", "too_large", "rate_limited", "media_type", "malformed", "store"}

// shopperReports counts what the collector of shoppers' reports took in.
type shopperReports struct {
	received *prometheus.CounterVec
	filtered *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

func newShopperReports(reg prometheus.Registerer) *shopperReports {
	r := &shopperReports{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "shopper_reports_received_total",
			Help:      "Reports from shoppers' browsers kept, by site and type (csp-hash: a script's hash; csp-violation: something the page's policy blocked; integrity-violation: a script without integrity).",
		}, []string{"site", "type"}),
		filtered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "shopper_reports_filtered_total",
			Help:      "Reports from shoppers' browsers not kept, by site and why (extension: a browser extension's doing; browser: the browser's own pages; not_a_page: about no page of the site; unread: a type skimguard does not read).",
		}, []string{"site", "reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "shopper_report_requests_rejected_total",
			Help:      "Requests to the report collector refused whole, by why (token: unknown site or token, 404; too_large: 413; rate_limited: 429; media_type: 415; malformed: 400; store: the store failed, 503). A rise in token rejections after a rotation means pages still carry the old token.",
		}, []string{"reason"}),
	}
	reg.MustRegister(r.received, r.filtered, r.rejected)
	for _, why := range rejectReasons {
		r.rejected.WithLabelValues(why)
	}
	return r
}

// Received counts reports of a site kept (web.ReportCounter).
func (m *Metrics) Received(site, typ string, n int) {
	m.reports.received.WithLabelValues(site, typ).Add(float64(n))
}

// Filtered counts reports of a site not kept, by why (web.ReportCounter).
func (m *Metrics) Filtered(site, why string, n int) {
	m.reports.filtered.WithLabelValues(site, why).Add(float64(n))
}

// Rejected counts a request to the collector refused whole
// (web.ReportCounter).
func (m *Metrics) Rejected(why string) {
	m.reports.rejected.WithLabelValues(why).Inc()
}
