package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

func testDeliveries(t *testing.T, h Harness) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	t.Run("are kept with their result and listed by period, oldest first", func(t *testing.T) {
		db := h.Open(t)
		for i, d := range []skimguard.Delivery{
			{At: t0.Add(2 * time.Hour), Sink: "webhook https://hooks.test", Site: "shop", Page: "checkout", ScanID: 7, Findings: []int64{3, 4}, OK: true},
			{At: t0, Sink: "webhook https://hooks.test", Site: "shop", Page: "checkout", ScanID: 5, OK: false, Error: "503 Service Unavailable"},
			{At: t0.Add(48 * time.Hour), Sink: "console", Site: "blog", Page: "donate", OK: true},
		} {
			if err := db.SaveDelivery(t.Context(), &d); err != nil || d.ID == 0 {
				t.Fatalf("delivery %d: %v", i, err)
			}
		}
		all, err := db.Deliveries(t.Context(), skimguard.DeliveryFilter{})
		if err != nil || len(all) != 3 || all[0].Error != "503 Service Unavailable" || all[0].OK || len(all[0].Findings) != 0 {
			t.Fatalf("all = %+v, %v", all, err)
		}
		if all[1].ScanID != 7 || len(all[1].Findings) != 2 || all[1].Findings[1] != 4 || !all[1].At.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("round trip: %+v", all[1])
		}
		day, _ := db.Deliveries(t.Context(), skimguard.DeliveryFilter{Sites: []string{"shop"}, From: t0.Add(time.Hour), To: t0.Add(24 * time.Hour)})
		if len(day) != 1 || day[0].ScanID != 7 {
			t.Errorf("filtered = %+v", day)
		}
	})
	t.Run("are selected by the findings they carried and their sink", func(t *testing.T) {
		db := h.Open(t)
		SaveDeliveries(t, db, t0)
		got, err := db.Deliveries(t.Context(), skimguard.DeliveryFilter{Findings: []int64{4, 9}, Sinks: []string{"webhook https://hooks.test"}})
		if err != nil || len(got) != 2 || got[0].ScanID != 7 || got[1].ScanID != 8 {
			t.Fatalf("deliveries of findings 4 or 9 to the webhook = %+v, %v", got, err)
		}
		notices, _ := db.Deliveries(t.Context(), skimguard.DeliveryFilter{Findings: []int64{0}})
		if len(notices) != 1 || notices[0].Sink != "console" {
			t.Fatalf("scan.failed notices (finding 0) = %+v", notices)
		}
	})
	t.Run("are append-only", func(t *testing.T) {
		db := h.Open(t)
		d := skimguard.Delivery{At: t0, Sink: "console", Site: "shop", Page: "checkout", Findings: []int64{3}, OK: true}
		db.SaveDelivery(t.Context(), &d)
		for _, q := range []string{"UPDATE deliveries SET error = 'x'", "DELETE FROM deliveries",
			"UPDATE delivery_findings SET finding_id = 1", "DELETE FROM delivery_findings"} {
			if err := h.Exec(t, db, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
}

// SaveDeliveries records deliveries of findings 3, 4 and 9 to a webhook,
// one to another sink and a scan.failed notice.

func SaveDeliveries(t *testing.T, db skimguard.Store, t0 time.Time) {
	t.Helper()
	for i, d := range []skimguard.Delivery{
		{At: t0, Sink: "webhook https://hooks.test", Site: "shop", Page: "checkout", ScanID: 7, Findings: []int64{3, 4}, OK: true},
		{At: t0.Add(time.Minute), Sink: "webhook https://other.test", Site: "shop", Page: "checkout", ScanID: 7, Findings: []int64{3, 4}, OK: true},
		{At: t0.Add(2 * time.Minute), Sink: "webhook https://hooks.test", Site: "shop", Page: "checkout", ScanID: 8, Findings: []int64{9}},
		{At: t0.Add(3 * time.Minute), Sink: "console", Site: "shop", Page: "cart", ScanID: 10, Findings: []int64{0}, OK: true},
	} {
		if err := db.SaveDelivery(t.Context(), &d); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
}
