package monitor

import (
	"context"

	skimguard "github.com/skimguard/skimguard"
)

// Abandon records a check of page p that could not be made, as a failed
// scan saying why, and alerts it under the failure policy as any failed
// check (see FailureAlertAfter). The distributed scheduler calls it when a
// page's check was started again and again and never finished, its
// process dying each time: a skimmer that crashes scanners is not silent.
func (m *Monitor) Abandon(ctx context.Context, p skimguard.Page, reason string) error {
	scan := &skimguard.Scan{Site: p.Site, Page: p.Name, URL: p.URL, StartedAt: m.now(),
		Status: skimguard.ScanFailed, Error: reason}
	if err := m.save(ctx, scan); err != nil {
		return err
	}
	m.alertFailure(ctx, m.Sinks(), p, scan, failure(p, reason))
	return nil
}
