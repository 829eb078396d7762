package monitor

import (
	"context"
	"testing"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// A proposal is the baseline approving the check's changes would make, so
// checking against it passes; it is not stored.
func TestProposedBaselinesHoldWhatTheCheckSaw(t *testing.T) {
	ctx := context.Background()
	m, sc, _, pages := setup(t)
	if _, err := m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"}); err != nil {
		t.Fatal(err)
	}
	sc.set("checkout", planted())
	var seen Observations
	m.Observed = seen.Add
	if _, err := m.Check(ctx, pages); err != nil {
		t.Fatal(err)
	}
	// A page the check could not compare is proposed as it was seen.
	fresh := skimguard.Page{Site: "shop", Name: "thanks", URL: "https://shop.test/thanks"}
	sc.set(fresh.Name, cleanObservation())
	o, _ := sc.Scan(ctx, fresh)
	seen.Add(fresh, o)

	bs, err := m.ProposeBaselines(ctx, &seen, "carol", "PR #12")
	if err != nil || len(bs) != 3 {
		t.Fatalf("want a proposal for each of the 3 pages seen: %d, %v", len(bs), err)
	}
	for _, b := range bs {
		if b.Page == "checkout" {
			approved := false
			for _, it := range b.Items {
				approved = approved || (it.Subject == "https://jquery-cdn.pw/x.js" && it.ApprovedBy == "carol" && it.Reason == "PR #12")
			}
			if !approved {
				t.Errorf("the new script is not in the proposal as approved by carol: %+v", b.Items)
			}
		}
		if b.Site != "shop" || b.URL == "" {
			t.Errorf("proposal not labelled with its page: %+v", b)
		}
		o, err := sc.Scan(ctx, skimguard.Page{Site: b.Site, Name: b.Page, URL: b.URL})
		if err != nil {
			t.Fatal(err)
		}
		if fs := baseline.Compare(&b, o); len(fs) != 0 {
			t.Errorf("%s: what the check saw differs from its proposal: %+v", b.Page, fs)
		}
	}
	if b, err := m.Store.Baseline(ctx, "shop", "checkout"); err != nil || b.Version != 1 {
		t.Fatalf("a proposal must not be stored: %+v, %v", b, err)
	}
}
