package sqlite

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

func TestServeLock(t *testing.T) {
	t.Run("a second serve is refused, naming the first; once the first lets go, another starts", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skimguard.db")
		first, err := LockServe(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = LockServe(path)
		host, _ := os.Hostname()
		pid := strconv.Itoa(os.Getpid())
		wantSays(t, err, ErrServeRunning, path, "PID "+pid+" on "+host+", running since ", "kill "+pid, "another --db")
		if !regexp.MustCompile(`running since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).MatchString(err.Error()) {
			t.Errorf("error does not say since when")
		}
		if err := first.Release(); err != nil {
			t.Fatal(err)
		}
		next, err := LockServe(path)
		if err != nil {
			t.Fatalf("LockServe after the first let go: %v", err)
		}
		next.Release()
	})

	t.Run("one database reached through a symbolic link is one lock", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(t.TempDir(), "data")
		if err := os.Symlink(dir, link); err != nil {
			t.Fatal(err)
		}
		first, err := LockServe(filepath.Join(dir, "skimguard.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer first.Release()
		if _, err := LockServe(filepath.Join(link, "skimguard.db")); !errors.Is(err, ErrServeRunning) {
			t.Fatalf("LockServe through the link = %v, want ErrServeRunning", err)
		}
	})

	t.Run("the lock dies with its process, even killed with SIGKILL", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skimguard.db")
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=hold-serve-lock", "SKIMGUARD_TEST_DB="+path)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if want := "locked=" + strconv.Itoa(cmd.Process.Pid) + "\n"; err != nil || line != want {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper said %q (%v), want %q", line, err, want)
		}

		_, err = LockServe(path)
		wantSays(t, err, ErrServeRunning, path, "PID "+strconv.Itoa(cmd.Process.Pid)+" on ")

		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		l, err := LockServe(path)
		if err != nil {
			t.Fatalf("LockServe after the holder was killed: %v", err)
		}
		l.Release()
	})
}
