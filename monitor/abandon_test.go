package monitor

import (
	"context"
	"strings"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

// A check given up (its process died on every attempt) is a failed scan,
// alerted under the failure policy like any failed check.
func TestAnAbandonedCheckIsAFailedScanAndAlerted(t *testing.T) {
	m, _, rcv, pages := setup(t)
	m.FailureAlertAfter = 1
	const reason = "its check was started 2 times and never finished"
	if err := m.Abandon(context.Background(), pages[0], reason); err != nil {
		t.Fatal(err)
	}
	scans, err := m.Store.Scans(context.Background(), skimguard.ScanFilter{Site: "shop", Page: "checkout"})
	if err != nil || len(scans) != 1 || scans[0].Status != skimguard.ScanFailed || scans[0].Error != reason {
		t.Fatalf("scans = %+v, %v; want one failed scan saying why", scans, err)
	}
	if rcv.count() != 1 || rcv.payload(0).Findings[0].Kind != skimguard.KindScanFailed || !strings.Contains(rcv.payload(0).Findings[0].Detail, reason) {
		t.Fatalf("want one failure alert saying why: %+v", rcv.bodies)
	}
}
