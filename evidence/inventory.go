package evidence

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// Lookback is how far back an inventory shown on its own (skimguard
// inventory, the web interface) looks for the checks that verified each
// script: the report's default period.
const Lookback = 30 * 24 * time.Hour

// Inventory lists the approved scripts of the baselines (PCI DSS 6.4.3),
// each with the check in [from, to) that last verified it. The baselines
// are their pages' current versions, as Store.Baselines returns them.
func Inventory(ctx context.Context, store skimguard.Store, baselines []skimguard.Baseline, from, to time.Time) ([]Script, error) {
	if len(baselines) == 0 {
		return []Script{}, nil
	}
	sf := skimguard.ScanFilter{From: from, To: to, Limit: -1}
	var sites []string
	for _, b := range baselines {
		if !slices.Contains(sites, b.Site) {
			sites = append(sites, b.Site)
		}
	}
	if len(baselines) == 1 {
		sf.Site, sf.Page = baselines[0].Site, baselines[0].Page
	} else {
		sf.Sites = sites
	}
	scans, err := store.Scans(ctx, sf)
	if err != nil {
		return nil, err
	}
	slices.Reverse(scans) // oldest first, as Build has them
	findings, err := store.Findings(ctx, skimguard.FindingFilter{Sites: sites})
	if err != nil {
		return nil, err
	}
	return inventory(ctx, store, baselines, scans, findings)
}

// inventory is Inventory over the period's scans (oldest first) and the
// sites' findings, which Build has at hand.
func inventory(ctx context.Context, store skimguard.Store, baselines []skimguard.Baseline, scans []skimguard.Scan, findings []skimguard.Finding) ([]Script, error) {
	out := []Script{}
	for i := range baselines {
		b := &baselines[i]
		var page []skimguard.Scan
		for _, s := range slices.Backward(scans) {
			if s.Site == b.Site && s.Page == b.Page {
				page = append(page, s)
			}
		}
		var concern []skimguard.Finding
		for _, f := range findings {
			if f.Site == b.Site && f.Page == b.Page && f.Item.Type == skimguard.ItemScript {
				concern = append(concern, f)
			}
		}
		seen, err := verify(ctx, store, b, page, concern)
		if err != nil {
			return nil, err
		}
		sees := map[string]string{}
		for _, it := range b.Items {
			if it.Type == skimguard.ItemCardAccess {
				vs := make([]skimguard.CardAccessValue, len(it.Values))
				for j, v := range it.Values {
					vs[j] = skimguard.ParseCardAccessValue(v)
				}
				sees[it.Key] = skimguard.CardAccessSummary(vs)
			}
		}
		for k, it := range b.Items {
			if it.Type != skimguard.ItemScript {
				continue
			}
			out = append(out, Script{Site: b.Site, Page: b.Page, Script: it.Subject, Identity: baseline.Identity(it), Kind: it.ScriptKind(),
				Origin: it.Origin, SHA256: it.SHA256, SRI: it.SRI, MatchedBy: matchedBy(seen[k].match), Optional: it.Optional,
				FirstSeen: it.FirstSeen, LastVerified: seen[k].at, Justification: it.Reason, ApprovedBy: it.ApprovedBy,
				ApprovedAt: it.ApprovedAt, BaselineVersion: b.Version, CardAccess: sees[it.Key]})
		}
	}
	slices.SortFunc(out, func(a, b Script) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Page, b.Page), cmp.Compare(a.Identity, b.Identity),
			cmp.Compare(a.Script, b.Script))
	})
	return out, nil
}

// matchedBy is Script.MatchedBy for how a check showed the script.
func matchedBy(m baseline.Match) string {
	switch m {
	case baseline.ByValue:
		return MatchedByHash
	case baseline.ByStructure:
		return MatchedByStructure
	}
	return ""
}

// verified is when a check last verified an item, and how.
type verified struct {
	at    *time.Time
	match baseline.Match
}

// observationsPerPage caps the stored observations verify reads for one
// page: a day of hourly checks. Usually the newest check's is the only one
// needed.
const observationsPerPage = 24

// verify finds, for each script item of b, the newest of the page's scans
// (newest first) that verified it, and how the scan matched it. A scan
// verifies an item when it was compared with a baseline version holding
// the same item (same key, values and integrity and crossorigin
// attributes: approvals and re-learning carry unchanged items over) and
//   - the item was required in that version, and the scan matched its
//     baseline or raised no finding about the item (a required script
//     Compare raises nothing about ran as approved); concern are the page's
//     findings about scripts, and a finding about the item whose
//     first-to-last-seen span covers the scan counts against it, whether
//     or not that scan saw it: a scan is never credited wrongly;
//   - or the scan's stored observation shows the item as Compare accepts
//     it (baseline.Verify), which an item that need not run on every load
//     requires.
//
// The observation of a scan is read when it is needed: for such items, or
// to tell for the items the scan verified whether they matched by
// structure or byte for byte; at most observationsPerPage per page.
func verify(ctx context.Context, store skimguard.Store, b *skimguard.Baseline, scans []skimguard.Scan, concern []skimguard.Finding) ([]verified, error) {
	out := make([]verified, len(b.Items))
	pending := 0
	for _, it := range b.Items {
		if it.Type == skimguard.ItemScript {
			pending++
		}
	}
	vs := versions{store: store, current: b, same: map[int][]int{}}
	concerns := func(key string, at time.Time) bool {
		for _, f := range concern {
			if f.Item.Key == key && !at.Before(f.FirstSeen) && !at.After(f.LastSeen) {
				return true
			}
		}
		return false
	}
	reads := 0
	for _, s := range scans {
		if pending == 0 {
			break
		}
		if (s.Status != skimguard.ScanOK && s.Status != skimguard.ScanFindings) || s.BaselineVersion == 0 {
			continue
		}
		bv, same, err := vs.get(ctx, s.BaselineVersion)
		if err != nil {
			return nil, err
		}
		if bv == nil {
			continue
		}
		read := false
		for k, j := range same {
			if j < 0 || out[k].at != nil {
				continue
			}
			if !bv.Items[j].Optional && (s.Status == skimguard.ScanOK || !concerns(b.Items[k].Key, s.StartedAt)) {
				at := s.StartedAt
				out[k].at = &at
				pending--
			}
			// Verified here without its match known, or not verified
			// without the observation.
			read = true
		}
		if !read || reads >= observationsPerPage {
			continue
		}
		reads++
		full, err := store.Scan(ctx, s.ID)
		if errors.Is(err, skimguard.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		shown := baseline.Verify(bv, full.Observation)
		for k, j := range same {
			if j < 0 || shown[j] == baseline.NotShown {
				continue
			}
			if out[k].at == nil {
				at := s.StartedAt
				out[k].at = &at
				pending--
			}
			if out[k].match == baseline.NotShown && out[k].at.Equal(s.StartedAt) {
				out[k].match = shown[j]
			}
		}
	}
	return out, nil
}

// versions loads a page's baseline versions when a scan was compared with
// one other than the current, and says which of the current script items
// each holds unchanged.
type versions struct {
	store   skimguard.Store
	current *skimguard.Baseline
	all     map[int]*skimguard.Baseline // nil until loaded
	same    map[int][]int
}

// get returns version v (nil when it is unknown) and, for each item of the
// current version, the index of the same script item in v when it is
// unchanged there, else -1.
func (vs *versions) get(ctx context.Context, v int) (*skimguard.Baseline, []int, error) {
	bv := vs.current
	if v != vs.current.Version {
		if vs.all == nil {
			vs.all = map[int]*skimguard.Baseline{}
			bs, err := vs.store.BaselineVersions(ctx, vs.current.Site, vs.current.Page)
			if err != nil && !errors.Is(err, skimguard.ErrNoBaseline) {
				return nil, nil, err
			}
			for k := range bs {
				vs.all[bs[k].Version] = &bs[k]
			}
		}
		if bv = vs.all[v]; bv == nil {
			return nil, nil, nil
		}
	}
	if same, ok := vs.same[v]; ok {
		return bv, same, nil
	}
	at := map[string]int{}
	for j, it := range bv.Items {
		if it.Type == skimguard.ItemScript {
			at[it.Key] = j
		}
	}
	same := make([]int, len(vs.current.Items))
	for k, it := range vs.current.Items {
		same[k] = -1
		if j, ok := at[it.Key]; ok && it.Type == skimguard.ItemScript && unchanged(it, bv.Items[j]) {
			same[k] = j
		}
	}
	vs.same[v] = same
	return bv, same, nil
}

// unchanged reports whether two versions of an item approve the same
// thing: the same accepted values and attributes.
func unchanged(a, b skimguard.Item) bool {
	return slices.Equal(a.Values, b.Values) &&
		a.Attrs[skimguard.AttrIntegrity] == b.Attrs[skimguard.AttrIntegrity] &&
		a.Attrs[skimguard.AttrCrossOrigin] == b.Attrs[skimguard.AttrCrossOrigin]
}
