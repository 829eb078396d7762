package evidence

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/sqlite"
)

// The inventory says what of the card each approved script sees: PCI DSS
// 6.4.3 reviewers ask which scripts can see the card.
func TestInventorySaysWhatEachScriptSeesOfTheCard(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var loads []*skimguard.Observation
	for n := 1; n <= 2; n++ {
		o := load(n)
		o.CardAccess = []skimguard.CardAccess{
			{Script: 0, Field: skimguard.FieldNumber, How: skimguard.AccessListens + "input", Frame: checkoutURL},
			{Script: 0, Field: skimguard.FieldNumber, How: skimguard.AccessReadsValue, Frame: checkoutURL},
		}
		loads = append(loads, o)
	}
	b, err := baseline.Learn(loads, "alice", "onboarding", t0)
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "checkout", checkoutURL
	if err := db.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	inv, err := Inventory(ctx, db, []skimguard.Baseline{*b}, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sees := map[string]string{}
	for _, s := range inv {
		sees[s.Script] = s.CardAccess
	}
	if got, want := sees[appURL], "number (listens to input, reads value)"; got != want {
		t.Errorf("app.js sees %q, want %q", got, want)
	}
	for script, s := range sees {
		if script != appURL && s != "" {
			t.Errorf("%s sees %q, want nothing", script, s)
		}
	}
	var csv bytes.Buffer
	if err := InventoryCSV(&csv, inv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), ",card_access\n") || !strings.Contains(csv.String(), `,"number (listens to input, reads value)"`) {
		t.Errorf("the CSV inventory does not say what app.js sees:\n%s", csv.String())
	}
}
