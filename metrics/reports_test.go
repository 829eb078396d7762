package metrics

import "testing"

func TestShoppersReportsAreCounted(t *testing.T) {
	m := New(&fakeStore{}, nil)
	t.Run("every rejection reason exists at 0 before the first", func(t *testing.T) {
		fams := scrape(t, m)
		for _, why := range rejectReasons {
			if v := value(t, fams, "skimguard_shopper_report_requests_rejected_total", map[string]string{"reason": why}); v != 0 {
				t.Errorf("%s: %v", why, v)
			}
		}
	})
	t.Run("received, filtered and rejected are counted apart", func(t *testing.T) {
		m.Received("shop", "csp-hash", 3)
		m.Received("shop", "csp-hash", 1)
		m.Filtered("shop", "extension", 2)
		m.Rejected("token")
		m.Rejected("token")
		fams := scrape(t, m)
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"skimguard_shopper_reports_received_total", map[string]string{"site": "shop", "type": "csp-hash"}, 4},
			{"skimguard_shopper_reports_filtered_total", map[string]string{"site": "shop", "reason": "extension"}, 2},
			{"skimguard_shopper_report_requests_rejected_total", map[string]string{"reason": "token"}, 2},
		} {
			if v := value(t, fams, c.name, c.labels); v != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
			}
		}
	})
}
