package monitor

import (
	"context"
	"fmt"

	skimguard "github.com/skimguard/skimguard"
)

// RecentObservations returns what the page's newest stored scans observed,
// newest first, at most n of them (failed scans observed nothing). The
// baseline's samples and later checks are what tell a script whose text
// varies per load from a stable one (baseline.LearntByStructure), and how
// the page uses each destination.
func RecentObservations(ctx context.Context, store skimguard.Store, site, page string, n int) ([]*skimguard.Observation, error) {
	// Failed scans are few, and read without their observations: twice
	// as many rows is enough, and cheap.
	scans, err := store.Scans(ctx, skimguard.ScanFilter{Site: site, Page: page, Limit: 2 * n})
	if err != nil {
		return nil, fmt.Errorf("%s/%s: list scans: %w", site, page, err)
	}
	var out []*skimguard.Observation
	for _, s := range scans {
		if len(out) == n {
			break
		}
		if s.Status == skimguard.ScanFailed {
			continue
		}
		full, err := store.Scan(ctx, s.ID)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: read scan %d: %w", site, page, s.ID, err)
		}
		if full.Observation != nil {
			out = append(out, full.Observation)
		}
	}
	return out, nil
}
