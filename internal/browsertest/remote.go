package browsertest

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Remote is a Chromium started apart from any crawler, with a DevTools
// port on loopback, as a headless-shell container would be.
type Remote struct {
	// Cmd is its main process, for tests that kill it.
	Cmd *exec.Cmd
	// WS is the browser's WebSocket address; HTTP its DevTools port as
	// http://127.0.0.1:PORT.
	WS, HTTP string
	// Exited is closed when the main process has exited.
	Exited chan struct{}
}

// StartRemote starts the Chromium at path with flags (the crawler's
// BrowserFlags), a fresh profile and DevTools on 127.0.0.1:port (0: one
// it chooses, read from its "DevTools listening on" line). It ends with
// the test, all its processes, before the profile directory is removed.
func StartRemote(t testing.TB, path string, flags []string, port int) *Remote {
	t.Helper()
	args := append(slices.Clone(flags), "--headless", "--user-data-dir="+t.TempDir(),
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port="+strconv.Itoa(port), "about:blank")
	if os.Getuid() == 0 {
		// As chromedp does for a local browser: Chromium's sandbox does not
		// start as root.
		args = append(args, "--no-sandbox")
	}
	cmd := exec.Command(path, args...)
	// Its own process group: killing only the main process leaves its
	// renderers and utility processes writing to the profile while
	// t.TempDir removes it, which fails the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	r := &Remote{Cmd: cmd, Exited: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var said []string
		for sc.Scan() {
			if ws, ok := strings.CutPrefix(sc.Text(), "DevTools listening on "); ok {
				found <- strings.TrimSpace(ws)
			} else if len(said) < 20 {
				said = append(said, sc.Text())
			}
		}
		found <- strings.Join(said, "\n")
	}()
	go func() {
		cmd.Wait()
		close(r.Exited)
	}()
	// Registered after t.TempDir, so it runs before the removal.
	t.Cleanup(func() {
		KillGroup(cmd.Process.Pid)
		<-r.Exited
	})
	select {
	case ws := <-found:
		if !strings.HasPrefix(ws, "ws://") {
			t.Fatalf("Chromium exited without telling its DevTools address:\n%s", ws)
		}
		r.WS = ws
	case <-time.After(2 * time.Minute):
		t.Fatal("Chromium did not tell its DevTools address within 2 minutes")
	}
	host := strings.TrimPrefix(r.WS, "ws://")
	r.HTTP = "http://" + host[:strings.IndexByte(host, '/')]
	return r
}

// KillGroup kills the process group led by pid (SIGKILL) and waits up to
// 10 seconds for its last process to be gone, so that the files they held
// can be removed. The leader must be reaped (cmd.Wait) meanwhile.
func KillGroup(pid int) {
	syscall.Kill(-pid, syscall.SIGKILL)
	// The group's last processes are gone once signalling it fails.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(-pid, 0) != nil {
			return
		}
	}
}
