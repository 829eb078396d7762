package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

// together runs fn(i) for i in [0,n) in n goroutines that start at once,
// and returns their errors.
func together(n int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testConcurrentWriters(t *testing.T, h Harness) {
	t.Run("scans saved at once with the same fingerprints make one finding each", func(t *testing.T) {
		db := h.Open(t)
		const workers, each = 8, 10
		ids := make([][]int64, workers)
		errs := together(workers, func(w int) error {
			for i := range each {
				at := T0.Add(time.Duration(w*each+i) * time.Second)
				// Half the writers list the shared findings the other way
				// round: no order of findings may deadlock two saves.
				shared := []skimguard.Finding{Finding("", "", "shared-a"), Finding("", "", "shared-b")}
				if w%2 == 1 {
					slices.Reverse(shared)
				}
				s := ScanOf("shop", "checkout", at, append(shared, Finding("", "", fmt.Sprintf("own-%d-%d", w, i)))...)
				s.Observation = Observation("shop", "checkout", at, 20, 1, fmt.Sprint(w, i))
				if err := db.SaveScan(t.Context(), s); err != nil {
					return err
				}
				for _, f := range s.Findings {
					if f.Fingerprint != "" && f.Fingerprint[:6] == "shared" {
						ids[w] = append(ids[w], f.ID)
					}
				}
			}
			return nil
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("SaveScan: %v", err)
			}
		}
		distinct := map[int64]bool{}
		for _, ws := range ids {
			for _, id := range ws {
				distinct[id] = true
			}
		}
		if len(distinct) != 2 {
			t.Errorf("the two shared fingerprints got %d findings (%v), want 2", len(distinct), distinct)
		}
		if n := h.Count(t, db, "SELECT count(*) FROM scans"); n != workers*each {
			t.Errorf("%d scans stored, want %d", n, workers*each)
		}
		if n := h.Count(t, db, "SELECT count(*) FROM findings"); n != workers*each+2 {
			t.Errorf("%d findings stored, want %d", n, workers*each+2)
		}
		open := MustFindings(t, db, skimguard.FindingFilter{Status: skimguard.StatusOpen})
		for _, f := range open {
			if !distinct[f.ID] {
				continue
			}
			if !f.FirstSeen.Equal(T0) || !f.LastSeen.Equal(T0.Add((workers*each-1)*time.Second)) {
				t.Errorf("shared finding %d seen %v..%v, want from the earliest scan to the latest", f.ID, f.FirstSeen, f.LastSeen)
			}
			last, err := db.Scans(t.Context(), skimguard.ScanFilter{Limit: 1})
			if err != nil || len(last) != 1 || f.ScanID != last[0].ID {
				t.Errorf("shared finding %d is under scan %d, want the latest scan %+v (%v)", f.ID, f.ScanID, last, err)
			}
		}
	})

	t.Run("of reviewers approving one finding at once, the first approves it and the others are told it is closed", func(t *testing.T) {
		db := h.Open(t)
		s := ScanOf("shop", "checkout", T0, Finding("", "", "x"))
		MustSaveScan(t, db, s)
		id := s.Findings[0].ID
		// A slow apply keeps the first approval's transaction open while
		// the others read the finding.
		slow := func(cur *skimguard.Baseline, fs []skimguard.Finding, res skimguard.Resolution) (*skimguard.Baseline, error) {
			time.Sleep(300 * time.Millisecond)
			return &skimguard.Baseline{Site: "shop", Page: "checkout", Items: []skimguard.Item{fs[0].Item}}, nil
		}
		errs := together(6, func(i int) error {
			res := skimguard.Resolution{Status: skimguard.StatusApproved, By: fmt.Sprint("reviewer-", i), Reason: "new vendor", At: T0.Add(time.Hour)}
			return db.ResolveFindings(t.Context(), []int64{id}, res, slow)
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, skimguard.ErrNotOpen):
				t.Errorf("ResolveFindings = %v, want nil or ErrNotOpen", err)
			}
		}
		approvals := 0
		for _, e := range MustAudit(t, db) {
			if e.Action == "finding.approve" {
				approvals++
			}
		}
		vs, err := db.BaselineVersions(t.Context(), "shop", "checkout")
		if ok != 1 || approvals != 1 || err != nil || len(vs) != 1 {
			t.Errorf("%d approvals succeeded, %d were audited and %d baseline versions made (%v), want 1, 1 and 1", ok, approvals, len(vs), err)
		}
	})

	t.Run("baselines saved at once for one page become consecutive versions", func(t *testing.T) {
		db := h.Open(t)
		const n = 6
		errs := together(n, func(i int) error {
			b := BaselineOf("shop", "checkout", fmt.Sprint("item-", i))
			b.URL = "" // a baseline imported without its page's URL changes nothing of the page
			return db.SaveBaseline(t.Context(), b)
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("SaveBaseline: %v", err)
			}
		}
		vs, err := db.BaselineVersions(t.Context(), "shop", "checkout")
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, b := range vs {
			got = append(got, b.Version)
		}
		if !slices.Equal(got, []int{6, 5, 4, 3, 2, 1}) {
			t.Errorf("versions %v, want 6 down to 1", got)
		}
	})

	t.Run("one user added by several at once is added once", func(t *testing.T) {
		db := h.Open(t)
		errs := together(5, func(i int) error {
			return db.SaveUser(t.Context(), &skimguard.User{Name: "alice", PasswordHash: fmt.Appendf(nil, "hash %d", i), Role: skimguard.RoleViewer}, "admin")
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("SaveUser: %v", err)
			}
		}
		var actions []string
		for _, e := range MustAudit(t, db) {
			actions = append(actions, e.Action)
		}
		slices.Sort(actions)
		want := []string{"user.added", "user.password_changed", "user.password_changed", "user.password_changed", "user.password_changed"}
		if !slices.Equal(actions, want) {
			t.Errorf("audit log %v, want %v", actions, want)
		}
	})
}
