package crawler

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	skimguard "github.com/skimguard/skimguard"
)

// TestScansOpenNoPagesOfChromesOwn: the window each scan's browser context
// opens preloads no page of Chrome's own UI (the omnibox popup's WebUI,
// which cost as much CPU as the scanned page); only the scan's page is
// there while it runs.
func TestScansOpenNoPagesOfChromesOwn(t *testing.T) {
	c := needBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<!doctype html><title>Checkout</title><input autocomplete="cc-number">`)
	})
	url := serveOn(t, "127.0.0.1", mux).URL + "/checkout"

	done := make(chan error, 1)
	go func() {
		_, err := c.Scan(context.Background(), skimguard.Page{URL: url, Wait: 2 * time.Second})
		done <- err
	}()
	sawPage := false
	var ui []string
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		case <-time.After(100 * time.Millisecond):
		}
		// Every type of target, Chrome's own UI included.
		res, err := chromedp.Call(c.current().ctx, target.GetTargets, target.GetTargetsParams{Filter: target.Filter{{}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range res.TargetInfos {
			switch {
			case ti.Type == "page" && ti.URL == url:
				sawPage = true
			case ti.Type == "browser_ui":
				ui = append(ui, ti.URL)
			}
		}
	}
	if !sawPage {
		t.Fatal("the scan's page was never among the browser's targets: nothing was looked at")
	}
	if len(ui) > 0 {
		slices.Sort(ui)
		t.Errorf("Chrome opened pages of its own UI beside the scan: %q (a feature to add to disable-features in launchFlags)", slices.Compact(ui))
	}
}
