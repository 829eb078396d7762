package sqlite

import (
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

func TestDeliveries(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	t.Run("are kept with their result and listed by period, oldest first", func(t *testing.T) {
		db, _ := openTest(t)
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
	t.Run("are append-only", func(t *testing.T) {
		db, _ := openTest(t)
		d := skimguard.Delivery{At: t0, Sink: "console", Site: "shop", Page: "checkout", OK: true}
		db.SaveDelivery(t.Context(), &d)
		for _, q := range []string{"UPDATE deliveries SET ok = 0", "DELETE FROM deliveries"} {
			if _, err := db.sql.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
}
