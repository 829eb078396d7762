package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
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
