package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// Observations collects what checks saw of each page, for ProposeBaselines.
// Its Add is meant as Monitor.Observed; it is safe for concurrent use. The
// zero value is ready to use.
type Observations struct {
	mu    sync.Mutex
	pages []skimguard.Page
	obs   []*skimguard.Observation
}

// Add records that a check saw o on page p.
func (s *Observations) Add(p skimguard.Page, o *skimguard.Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages = append(s.pages, p)
	s.obs = append(s.obs, o)
}

// ProposeBaselines returns each observed page's proposed next baseline: its
// current baseline with the check's changes applied, as approving them would
// make it (so the variation learnt before is kept), or, for a page without a
// baseline, what the check saw. Nothing is stored: the proposal is for a
// reviewer (check --write-lock writes it as a lock file for a pull request).
// Each changed item records by and reason as its approval.
func (m *Monitor) ProposeBaselines(ctx context.Context, seen *Observations, by, reason string) ([]skimguard.Baseline, error) {
	seen.mu.Lock()
	defer seen.mu.Unlock()
	res := skimguard.Resolution{Status: skimguard.StatusApproved, By: by, Reason: reason, At: m.now()}
	bs := make([]skimguard.Baseline, 0, len(seen.obs))
	for i, o := range seen.obs {
		p := seen.pages[i]
		current, err := m.Store.Baseline(ctx, p.Site, p.Name)
		var next *skimguard.Baseline
		switch {
		case err == nil:
			next, err = baseline.Apply(current, baseline.Compare(current, o), res)
		case errors.Is(err, skimguard.ErrNoBaseline):
			next, err = baseline.Learn([]*skimguard.Observation{o}, res.By, res.Reason, res.At)
		}
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", p.Site, p.Name, err)
		}
		next.Site, next.Page, next.URL = p.Site, p.Name, p.URL
		bs = append(bs, *next)
	}
	return bs, nil
}
