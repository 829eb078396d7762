package crawler

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The crawler's Chromium profile directories are made in the temporary
// directory under profilePrefix, each with an ownerFile that names the
// process that made it. chromedp's own ("chromedp-runner*") say nothing of
// their owner, and a killed run leaves them behind forever; these are
// removed by the next crawler to start once their owner is gone.
const (
	profilePrefix = "skimguard-chromium-"
	ownerFile     = "skimguard-owner"
	// unownedAge is how old a directory without a readable owner must be
	// before it is taken for stale: a crawler writes the file right after
	// making the directory, so a young one is being made.
	unownedAge = time.Hour
	// removeFor is how long removal of a profile is retried: Chromium's
	// helper processes can still write in it after the browser exited.
	removeFor = 5 * time.Second
)

// newProfileDir makes a profile directory owned by this process.
func newProfileDir() (string, error) {
	dir, err := os.MkdirTemp("", profilePrefix+"*")
	if err != nil {
		return "", fmt.Errorf("making a Chromium profile directory in %s: %w: check that it exists and is writable, or set TMPDIR", os.TempDir(), err)
	}
	owner := "pid=" + strconv.Itoa(os.Getpid())
	if start, ok := processStart(os.Getpid()); ok {
		owner += " start=" + start
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("writing the owner of Chromium profile %s: %w", dir, err)
	}
	return dir, nil
}

// removeProfileDir removes a profile once its browser has exited, with
// the helper processes the browser left, trying again for a while when
// they still write in it.
func removeProfileDir(dir string, log *slog.Logger) {
	killLeftovers(dir)
	deadline := time.Now().Add(removeFor)
	for {
		err := os.RemoveAll(dir)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log.Warn("could not remove a Chromium profile directory; the next crawler to start removes it", "dir", dir, "err", err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeStaleProfiles removes the profile directories in the temporary
// directory whose owning process is gone. A directory whose owner lives,
// or that this user does not own, is left alone.
func removeStaleProfiles(log *slog.Logger) {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), profilePrefix+"*"))
	if err != nil {
		return
	}
	for _, dir := range dirs {
		if !staleProfile(dir) {
			continue
		}
		killLeftovers(dir)
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("could not remove a stale Chromium profile directory", "dir", dir, "err", err)
			continue
		}
		log.Info("removed the Chromium profile directory of a crawler that is gone", "dir", dir)
	}
}

// staleProfile reports whether dir is a profile directory of this user
// whose owning process is gone.
func staleProfile(dir string) bool {
	fi, err := os.Lstat(dir) // a symbolic link is never followed
	if err != nil || !fi.IsDir() || !ownedByMe(fi) {
		return false
	}
	data, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	pid, start, ok := parseOwner(string(data))
	if !ok {
		return time.Since(fi.ModTime()) > unownedAge
	}
	return !processAlive(pid, start)
}

// parseOwner reads an ownerFile: "pid=N" and, where known, "start=T", the
// process's start time, which tells a reused PID from the owner.
func parseOwner(s string) (pid int, start string, ok bool) {
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "pid":
			pid, _ = strconv.Atoi(v)
		case "start":
			start = v
		}
	}
	return pid, start, pid > 0
}
