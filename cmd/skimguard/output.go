package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// writeFile writes a file whole or not at all: a CI job never reads half a
// report.
func writeFile(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// progressPrinter shows each page's steps with the elapsed time when w is a
// terminal; piped or redirected output (CI logs, reports) gets none.
func progressPrinter(w io.Writer) func(skimguard.Page, string) {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	start := time.Now()
	var mu sync.Mutex
	return func(p skimguard.Page, step string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "  %6.1fs  %s/%s: %s\n", time.Since(start).Seconds(), p.Site, p.Name, step)
	}
}

// newTable starts a table on w in the layout every listing uses; the caller
// flushes it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// clip cuts s to n bytes for a table column, marking the cut with "…".
// (alerts cuts differently on purpose: a payload's source ends with a note
// saying where it was cut.)
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// short is the first 16 hex digits of a SHA-256, enough to tell scripts
// apart in a listing. The web interface's templates have their own "short".
func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}
