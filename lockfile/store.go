package lockfile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// Store is a skimguard.Store that serves a lock file's baselines and keeps
// scans and findings in memory: `check --baseline-file` runs with no
// database, and nothing it sees outlives the process.
type Store struct {
	mu         sync.Mutex
	baselines  map[[2]string]skimguard.Baseline
	scans      []skimguard.Scan
	findings   []skimguard.Finding
	deliveries []skimguard.Delivery
	// failures are the failed sign-ins by key, oldest first.
	failures map[string][]time.Time
	nextID   int64
}

var _ skimguard.Store = (*Store)(nil)

// NewStore serves f's baselines.
func NewStore(f *File) *Store {
	s := &Store{baselines: map[[2]string]skimguard.Baseline{}, failures: map[string][]time.Time{}}
	for _, b := range f.Baselines() {
		s.baselines[[2]string{b.Site, b.Page}] = b
	}
	return s
}

// SaveScan keeps the scan and numbers its findings.
func (s *Store) SaveScan(ctx context.Context, scan *skimguard.Scan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	scan.ID = s.nextID
	for i := range scan.Findings {
		f := &scan.Findings[i]
		s.nextID++
		f.ID, f.ScanID, f.Status = s.nextID, scan.ID, skimguard.StatusOpen
		f.FirstSeen, f.LastSeen = scan.StartedAt, scan.StartedAt
		s.findings = append(s.findings, *f)
	}
	kept := *scan
	kept.Observation, kept.Findings = nil, nil
	s.scans = append(s.scans, kept)
	return nil
}

// Scans lists the scans of this process, newest first.
func (s *Store) Scans(ctx context.Context, f skimguard.ScanFilter) ([]skimguard.Scan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []skimguard.Scan
	for _, sc := range slices.Backward(s.scans) {
		if (f.Site == "" || sc.Site == f.Site) && (f.Page == "" || sc.Page == f.Page) && (len(f.Sites) == 0 || slices.Contains(f.Sites, sc.Site)) &&
			(f.From.IsZero() || !sc.StartedAt.Before(f.From)) && (f.To.IsZero() || sc.StartedAt.Before(f.To)) {
			out = append(out, sc)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Scan returns a scan of this process with its findings (those whose ScanID
// is id), or an error wrapping skimguard.ErrNotFound. Its Observation is nil:
// observations are not kept without a database.
func (s *Store) Scan(ctx context.Context, id int64) (*skimguard.Scan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.scans, func(sc skimguard.Scan) bool { return sc.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("scan %d: only this process's scans are kept without a database: %w", id, skimguard.ErrNotFound)
	}
	sc := s.scans[i]
	for _, f := range s.findings {
		if f.ScanID == id {
			sc.Findings = append(sc.Findings, f)
		}
	}
	return &sc, nil
}

// Baseline returns the page's baseline from the lock file.
func (s *Store) Baseline(ctx context.Context, site, page string) (*skimguard.Baseline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.baselines[[2]string{site, page}]
	if !ok {
		return nil, fmt.Errorf("%s/%s is not in the lock file: add it with `skimguard baseline export > FILE` after approving its baseline: %w", site, page, skimguard.ErrNoBaseline)
	}
	return &b, nil
}

// BaselineVersions returns the page's one baseline in the lock file: its
// earlier versions are in its repository's history.
func (s *Store) BaselineVersions(ctx context.Context, site, page string) ([]skimguard.Baseline, error) {
	b, err := s.Baseline(ctx, site, page)
	if err != nil {
		return nil, err
	}
	return []skimguard.Baseline{*b}, nil
}

// Baselines returns the lock file's baselines of the sites (all when empty).
func (s *Store) Baselines(ctx context.Context, sites []string) ([]skimguard.Baseline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []skimguard.Baseline
	for _, b := range s.baselines {
		if len(sites) == 0 || slices.Contains(sites, b.Site) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b skimguard.Baseline) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Page, b.Page))
	})
	return out, nil
}

// errReadOnly: a lock file changes by review in a pull request, not by a
// check.
var errReadOnly = errors.New("the lock file is read-only here: approve changes in the database and export it, or edit it in a pull request")

// SaveBaseline refuses: see errReadOnly.
func (s *Store) SaveBaseline(ctx context.Context, b *skimguard.Baseline) error { return errReadOnly }

// Findings lists the findings of this process.
func (s *Store) Findings(ctx context.Context, f skimguard.FindingFilter) ([]skimguard.Finding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []skimguard.Finding
	for _, fd := range s.findings {
		if (f.Status == "" || fd.Status == f.Status) && (len(f.Sites) == 0 || slices.Contains(f.Sites, fd.Site)) && (len(f.IDs) == 0 || slices.Contains(f.IDs, fd.ID)) {
			out = append(out, fd)
		}
	}
	return out, nil
}

// ResolveFindings refuses: see errReadOnly.
func (s *Store) ResolveFindings(ctx context.Context, ids []int64, res skimguard.Resolution, apply skimguard.ApplyFunc) error {
	return errReadOnly
}

// Audit is empty: a lock file's history is its repository's.
func (s *Store) Audit(ctx context.Context) ([]skimguard.AuditEntry, error) { return nil, nil }

// Screenshot: a lock file store keeps no screenshots.
func (s *Store) Screenshot(ctx context.Context, scanID int64) ([]byte, error) {
	return nil, fmt.Errorf("scan %d: screenshots are not kept without a database: %w", scanID, skimguard.ErrNotFound)
}

// SaveDelivery keeps the delivery in memory.
func (s *Store) SaveDelivery(ctx context.Context, d *skimguard.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	d.ID = s.nextID
	s.deliveries = append(s.deliveries, *d)
	return nil
}

// Deliveries lists the deliveries of this process.
func (s *Store) Deliveries(ctx context.Context, f skimguard.DeliveryFilter) ([]skimguard.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []skimguard.Delivery
	for _, d := range s.deliveries {
		if (len(f.Sites) == 0 || slices.Contains(f.Sites, d.Site)) && (f.From.IsZero() || !d.At.Before(f.From)) && (f.To.IsZero() || d.At.Before(f.To)) &&
			(len(f.Sinks) == 0 || slices.Contains(f.Sinks, d.Sink)) &&
			(len(f.Findings) == 0 || slices.ContainsFunc(d.Findings, func(id int64) bool { return slices.Contains(f.Findings, id) })) {
			out = append(out, d)
		}
	}
	return out, nil
}

// AppendAudit refuses: see errReadOnly.
func (s *Store) AppendAudit(ctx context.Context, e skimguard.AuditEntry) error { return errReadOnly }

// SaveUser refuses: see errReadOnly.
func (s *Store) SaveUser(ctx context.Context, u *skimguard.User, by string) error { return errReadOnly }

// SetUserRole refuses: see errReadOnly.
func (s *Store) SetUserRole(ctx context.Context, name string, role skimguard.Role, by string) error {
	return errReadOnly
}

// User finds no one: a lock file store has no users.
func (s *Store) User(ctx context.Context, name string) (*skimguard.User, error) {
	return nil, fmt.Errorf("user %q: users are not kept without a database: %w", name, skimguard.ErrNotFound)
}

// Users is empty: a lock file store has no users.
func (s *Store) Users(ctx context.Context) ([]skimguard.User, error) { return nil, nil }

// DeleteUser refuses: see errReadOnly.
func (s *Store) DeleteUser(ctx context.Context, name, by string) error { return errReadOnly }

// SaveSession refuses: nobody can sign in without users, which a lock file
// store does not keep.
func (s *Store) SaveSession(ctx context.Context, ss *skimguard.Session) error {
	return errors.New("sessions are not kept without a database: sign in to a serve with a database")
}

// TouchSession finds none: see SaveSession.
func (s *Store) TouchSession(ctx context.Context, key string, now time.Time) (*skimguard.Session, error) {
	return nil, fmt.Errorf("session: sessions are not kept without a database: %w", skimguard.ErrNotFound)
}

// DeleteSession has nothing to end: see SaveSession.
func (s *Store) DeleteSession(ctx context.Context, key string) error { return nil }

// RecordSignInFailure counts the failure in memory, for this process.
func (s *Store) RecordSignInFailure(ctx context.Context, at, forget time.Time, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ts := range s.failures {
		if ts = slices.DeleteFunc(ts, func(t time.Time) bool { return t.Before(forget) }); len(ts) == 0 {
			delete(s.failures, k)
		} else {
			s.failures[k] = ts
		}
	}
	for _, k := range keys {
		s.failures[k] = append(s.failures[k], at)
	}
	return nil
}

// SignInFailures returns this process's failures of the keys since since.
func (s *Store) SignInFailures(ctx context.Context, since time.Time, keys ...string) (map[string][]time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]time.Time{}
	for _, k := range keys {
		for _, t := range s.failures[k] {
			if !t.Before(since) {
				out[k] = append(out[k], t)
			}
		}
	}
	return out, nil
}

// ClearSignInFailures forgets the failures of key.
func (s *Store) ClearSignInFailures(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failures, key)
	return nil
}

// Health is nil: the store writes nothing, so nothing can stop it.
func (s *Store) Health(ctx context.Context) error { return nil }

// Close does nothing.
func (s *Store) Close() error { return nil }
