//go:build unix

package crawler

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// processAlive reports whether process pid runs and, when start is known,
// is the process that started then (not a later one that got its PID).
func processAlive(pid int, start string) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if start == "" {
		return true
	}
	now, ok := processStart(pid)
	return !ok || now == start
}

// processStart returns the start time of process pid, in clock ticks
// after boot, from Linux's /proc; false where there is none.
func processStart(pid int) (string, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", false
	}
	// The command name, in parentheses, may hold spaces; starttime is
	// the 22nd field, the 20th after the name.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return "", false
	}
	return fields[19], true
}

// killLeftovers kills the processes that still run with profile dir: a
// browser that was killed or crashed can leave helpers (zygote, renderers)
// behind, which keep writing in it. Chromium passes --user-data-dir to
// every helper. It reads Linux's /proc, and does nothing where there is
// none.
func killLeftovers(dir string) {
	want := []byte("--user-data-dir=" + dir + "\x00")
	for pass := 0; pass < 3; pass++ {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		found := false
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err == nil && bytes.Contains(cmdline, want) {
				syscall.Kill(pid, syscall.SIGKILL)
				found = true
			}
		}
		if !found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ownedByMe reports whether this user owns the file.
func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
