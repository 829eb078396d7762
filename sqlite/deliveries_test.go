package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/storetest"
)

func TestDeliveriesRecordedBeforeMigration0004AreSelectedByFinding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old := openAt(t, path, 3)
	storetest.SaveDeliveries(t, old, time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	old.Close()
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Deliveries(t.Context(), skimguard.DeliveryFilter{Findings: []int64{9}})
	if err != nil || len(got) != 1 || got[0].ScanID != 8 {
		t.Fatalf("deliveries of finding 9 = %+v, %v", got, err)
	}
}
