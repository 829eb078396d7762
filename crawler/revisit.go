package crawler

// A service worker outlives the visit that registered it: a compromised one
// can rewrite the checkout HTML that a returning shopper receives, while a
// first visit looks clean. So when the page started a service worker, the
// scan loads the page a second time in the same browser context once the
// worker is active, and observes that load (its scripts, requests, typed
// card and leaks) into the same observation. A page without a service
// worker costs nothing more.

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"
)

// swActivateWait bounds the wait for the page's service worker to become
// active.
const swActivateWait = 5 * time.Second

// revisitBudget is the time a second load may take, within the scan's
// hard deadline.
func (s *scan) revisitBudget() time.Duration {
	if s.page.Journey != nil {
		return 0
	}
	return swActivateWait + s.c.opts.LoadTimeout + s.wait + maxTailAfterType
}

// revisit observes a second load of the page when it started a service
// worker. ctx is the tab's. It returns a PageError when the second load
// failed, as navigate does.
func (s *scan) revisit(ctx context.Context) (*PageError, error) {
	if !s.sawServiceWorker() || s.unresponsive.Load() {
		return nil, nil
	}
	ready, err := s.serviceWorkerReady(ctx)
	if err != nil || !ready {
		s.log.Warn("the page started a service worker that did not become active: a returning shopper's load is not observed", "err", err)
		return nil, nil
	}
	s.st.mu.Lock()
	typed := s.st.typing
	// The second load's document is the one observed from now on: its
	// response headers and URLs; what it sends before typing is not
	// "after typing".
	s.st.typing, s.st.mainLoader, s.st.mainURLs = false, "", nil
	s.st.again = true
	s.st.mu.Unlock()
	s.revisited = true
	if typed {
		// Typing turned the navigation guard on; this navigation is the
		// scan's own.
		if _, err := call(ctx, s, fetch.Disable, cdp.Empty{}); err != nil {
			return nil, fmt.Errorf("lifting the navigation guard for the second load: %w", err)
		}
	}
	s.log.Debug("loading the page again, its service worker active")
	perr, err := s.navigate(ctx)
	if err != nil || perr != nil {
		return perr, err
	}
	return nil, s.observeWindow(ctx)
}

// serviceWorkerReady waits until a service worker of the scan's browser
// context is active, or swActivateWait passes. The ServiceWorker domain
// tells it: navigator.serviceWorker.ready is for pages only, and the
// page's own world is the page's to tamper with.
func (s *scan) serviceWorkerReady(ctx context.Context) (bool, error) {
	lctx, cancel := context.WithTimeout(ctx, swActivateWait)
	defer cancel()
	active := make(chan struct{}, 1)
	err := chromedp.Listen(lctx, func(ev any) {
		if ev, ok := ev.(*serviceworker.EventWorkerVersionUpdated); ok {
			for _, v := range ev.Versions {
				if v != nil && v.Status == serviceworker.VersionStatusActivated {
					signal(active)
				}
			}
		}
	})
	if err != nil {
		return false, fmt.Errorf("watching the service worker: %w", err)
	}
	if _, err := call(ctx, s, serviceworker.Enable, cdp.Empty{}); err != nil {
		return false, fmt.Errorf("watching the service worker: %w", err)
	}
	defer func() { _, _ = call(ctx, s, serviceworker.Disable, cdp.Empty{}) }()
	select {
	case <-active:
		return true, nil
	case <-lctx.Done():
		return false, nil
	}
}
