package crawler

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStaleProfiles: a crawler makes its profile directory under its
// prefix in the temporary directory and removes it on Close; at start it
// removes the profile directories whose owner is gone, and only those.
func TestStaleProfiles(t *testing.T) {
	needBrowser(t)
	if runtime.GOOS != "linux" {
		t.Skip("owners are checked through /proc")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	// A process that has ended: its PID is free.
	cmd := exec.Command("sh", "-c", "exit 0")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.ProcessState.Pid()
	start, ok := processStart(os.Getpid())
	if !ok {
		t.Fatal("no start time for this process")
	}
	self := strconv.Itoa(os.Getpid())
	mk := func(name, owner string, age time.Duration) string {
		t.Helper()
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, "Default"), 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if age > 0 {
			old := time.Now().Add(-age)
			if err := os.Chtimes(dir, old, old); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	gone := []string{
		mk(profilePrefix+"dead", "pid="+strconv.Itoa(dead)+"\n", 0),
		mk(profilePrefix+"reused", "pid="+self+" start=1\n", 0), // this PID, another process's start
		mk(profilePrefix+"unowned-old", "", 2*unownedAge),
	}
	kept := []string{
		mk(profilePrefix+"live", "pid="+self+" start="+start+"\n", 0),
		mk(profilePrefix+"live-no-start", "pid="+self+"\n", 0),
		mk(profilePrefix+"being-made", "", 0),
		mk("chromedp-runner123", "pid="+strconv.Itoa(dead)+"\n", 0), // not ours
	}

	c, err := New(context.Background(), Options{LoadTimeout: testLoadTimeout, DefaultWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, dir := range gone {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v): its owner is gone", filepath.Base(dir), err)
		}
	}
	for _, dir := range kept {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(dir), err)
		}
	}

	t.Run("the crawler's own profile", func(t *testing.T) {
		dir := c.current().profileDir
		if !strings.HasPrefix(dir, filepath.Join(tmp, profilePrefix)) {
			t.Fatalf("profile directory %s is not under %s", dir, filepath.Join(tmp, profilePrefix))
		}
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if pid, s, ok := parseOwner(string(data)); err != nil || !ok || pid != os.Getpid() || s != start {
			t.Errorf("owner file %q (%v), want this process and its start time", data, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "Local State")); err != nil {
			t.Errorf("Chromium does not use the profile directory: %v", err)
		}
		if staleProfile(dir) {
			t.Error("a running crawler's profile counts as stale")
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there after Close (%v)", dir, err)
		}
	})
}
