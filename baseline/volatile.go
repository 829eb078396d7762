package baseline

import skimguard "github.com/skimguard/skimguard"

// LearntByStructure reports, for each of b's items (same order), whether
// one of the observations showed it by structure only (ByStructure): a
// script whose text varies from load to load (a token, a timestamp, a
// build stamp in its literals), recognised by its structural fingerprint
// rather than by its hash. No hash names such a script: neither a
// Content-Security-Policy hash source nor the hash a shopper's browser
// reports of what it ran. A script is only caught varying when two of the
// observations differ, so the baseline's own samples and later checks of
// the page are what to pass; observations of other pages must not be.
func LearntByStructure(b *skimguard.Baseline, obs []*skimguard.Observation) []bool {
	if b == nil {
		return nil
	}
	out := make([]bool, len(b.Items))
	for _, o := range obs {
		for i, m := range Verify(b, o) {
			if m == ByStructure {
				out[i] = true
			}
		}
	}
	return out
}
