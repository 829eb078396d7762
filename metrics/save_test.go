package metrics

import (
	"errors"
	"fmt"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

func TestSaveFailed(t *testing.T) {
	t.Run("every reason exists at zero before the first failure", func(t *testing.T) {
		fams := scrape(t, New(&fakeStore{}, nil))
		for _, reason := range []string{"full", "locked", "other"} {
			if got := value(t, fams, "skimguard_store_save_failures_total", map[string]string{"reason": reason}); got != 0 {
				t.Errorf("skimguard_store_save_failures_total{reason=%q} = %v, want 0", reason, got)
			}
		}
	})

	t.Run("counts saves by why the store refused them", func(t *testing.T) {
		m := New(&fakeStore{}, nil)
		// As the monitor reports them: wrapped, with the store's own words.
		m.SaveFailed(fmt.Errorf("shop/checkout: not stored after 9 tries in 2m0s: save scan: the disk holding /x is full: %w", skimguard.ErrStoreFull))
		m.SaveFailed(fmt.Errorf("record alert delivery: the database /x is locked by another process: %w", skimguard.ErrStoreLocked))
		m.SaveFailed(fmt.Errorf("save scan: %w", skimguard.ErrStoreFull))
		m.SaveFailed(errors.New("save scan: the database /x cannot be written"))

		fams := scrape(t, m)
		for reason, want := range map[string]float64{"full": 2, "locked": 1, "other": 1} {
			if got := value(t, fams, "skimguard_store_save_failures_total", map[string]string{"reason": reason}); got != want {
				t.Errorf("skimguard_store_save_failures_total{reason=%q} = %v, want %v", reason, got, want)
			}
		}
	})
}
