package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

func testFindingFilters(t *testing.T, h Harness) {
	db := h.Open(t)
	// shop/checkout: a and b (b rejected); shop/cart: c; blog/donate: d,
	// seen before the others.
	s1 := ScanOf("shop", "checkout", T0.Add(time.Hour), Finding("", "", "a"), Finding("", "", "b"))
	s2 := ScanOf("shop", "cart", T0.Add(2*time.Hour), Finding("", "", "c"))
	s3 := ScanOf("blog", "donate", T0, Finding("", "", "d"))
	for _, s := range []*skimguard.Scan{s1, s2, s3} {
		MustSaveScan(t, db, s)
	}
	a, b, c, d := s1.Findings[0].ID, s1.Findings[1].ID, s2.Findings[0].ID, s3.Findings[0].ID
	if err := db.ResolveFindings(t.Context(), []int64{b}, skimguard.Resolution{Status: skimguard.StatusRejected, By: "alice", Reason: "no"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter skimguard.FindingFilter
		want   []int64
	}{
		{skimguard.FindingFilter{}, []int64{d, a, b, c}},
		{skimguard.FindingFilter{Status: skimguard.StatusOpen}, []int64{d, a, c}},
		{skimguard.FindingFilter{Status: skimguard.StatusRejected}, []int64{b}},
		{skimguard.FindingFilter{Status: skimguard.StatusApproved}, nil},
		{skimguard.FindingFilter{Sites: []string{"shop"}}, []int64{a, b, c}},
		{skimguard.FindingFilter{Sites: []string{"blog", "nowhere"}}, []int64{d}},
		{skimguard.FindingFilter{IDs: []int64{c, a, 9999}}, []int64{a, c}},
		{skimguard.FindingFilter{Sites: []string{"shop"}, Status: skimguard.StatusOpen, IDs: []int64{b, c, d}}, []int64{c}},
	} {
		t.Run(fmt.Sprintf("%+v", tc.filter), func(t *testing.T) {
			var got []int64
			for _, f := range MustFindings(t, db, tc.filter) {
				got = append(got, f.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Findings(%+v) = %v, want %v (oldest first)", tc.filter, got, tc.want)
			}
		})
	}
}
