package evidence

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/skimguard/skimguard/internal/browsertest"
)

// consoleErrors opens file in headless Chromium and returns the errors,
// exceptions and failed loads the console reported within a second.
func consoleErrors(t *testing.T, file string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(browsertest.New(t))
	defer cancel()
	messages := chromedp.Console(ctx)
	navCtx, cancelNav := context.WithTimeout(ctx, 30*time.Second)
	defer cancelNav()
	if err := chromedp.Do(navCtx, chromedp.Navigate("file://"+file)); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(time.Second, cancel)
	var errs []string
	for m, err := range messages {
		if err != nil {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			errs = append(errs, m.String())
		}
	}
	return errs
}

func TestHTMLReportOpensInChromiumWithoutConsoleErrors(t *testing.T) {
	dir := t.TempDir()
	// The check itself must be able to fail: a page with an error is seen.
	broken := filepath.Join(dir, "broken.html")
	os.WriteFile(broken, []byte(`<!doctype html><script>console.error("deliberate"); undefinedCall();</script>`), 0o600)
	if errs := consoleErrors(t, broken); len(errs) == 0 {
		t.Fatal("the console listener saw no error on a page that logs one")
	}

	store, pages := fixture(t)
	r, err := Build(context.Background(), store, pages, t0, t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.HTML(&buf); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "evidence.html")
	os.WriteFile(report, buf.Bytes(), 0o600)
	if errs := consoleErrors(t, report); len(errs) > 0 {
		t.Fatalf("the report logs errors in Chromium:\n%v", errs)
	}
}
