package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/storetest"
)

// helperEnv makes the test binary, run again by a test, act as a helper
// process instead of running tests: its value names what to do (see
// runHelper).
const helperEnv = "SKIMGUARD_SQLITE_TEST_HELPER"

func TestMain(m *testing.M) {
	if what := os.Getenv(helperEnv); what != "" {
		os.Exit(runHelper(what, os.Getenv("SKIMGUARD_TEST_DB")))
	}
	os.Exit(m.Run())
}

// runHelper does what a helper process was started for and returns its
// exit status. It reports on standard output, one "key=value" per line.
func runHelper(what, path string) int {
	switch what {
	case "open-on-a-full-disk":
		// A file size limit makes every write past 16 KiB fail in the
		// kernel, as a full disk does; the Go runtime ignores SIGXFSZ, so
		// the write returns an error instead of killing the process.
		lim := syscall.Rlimit{Cur: 16 << 10, Max: 16 << 10}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			fmt.Printf("setup=%v\n", err)
			return 1
		}
		db, err := Open(context.Background(), path)
		if err == nil {
			db.Close()
		}
		fmt.Printf("is-io=%t\nerr=%v\n", errors.Is(err, ErrIO), err)
		return 0
	case "hold-serve-lock":
		l, err := LockServe(path)
		if err != nil {
			fmt.Printf("err=%v\n", err)
			return 1
		}
		defer l.Release()
		fmt.Printf("locked=%d\n", os.Getpid())
		// Until the test closes standard input, or kills this process.
		io.Copy(io.Discard, os.Stdin)
		return 0
	}
	fmt.Printf("unknown helper %q\n", what)
	return 1
}

// helper runs this test binary as a helper process doing what, on the
// database at path, and returns its report.
func helper(t *testing.T, what, path string) map[string]string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+what, "SKIMGUARD_TEST_DB="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", what, err, out)
	}
	report := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		report[k] = v
	}
	return report
}

// onFullDisk opens a database whose disk is full: its connections may not
// grow the file (SQLite answers SQLITE_FULL, as for a full disk). free
// frees space in it, as deleting files on a real disk would.
func onFullDisk(t *testing.T) (db *DB, path string, free func()) {
	t.Helper()
	path = populated(t)
	raw := rawDB(t, path)
	// The filler is what free deletes: pages SQLite then reuses without
	// growing the file.
	if _, err := raw.Exec("CREATE TABLE filler (x BLOB); INSERT INTO filler VALUES (zeroblob(4 << 20))"); err != nil {
		t.Fatal(err)
	}
	o := defaultOptions
	o.maxPages = 1
	db, err := open(t.Context(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path, func() {
		t.Helper()
		if _, err := raw.Exec("DROP TABLE filler"); err != nil {
			t.Fatal(err)
		}
	}
}

// wantSays checks that err is target and that its message names path and
// says each of says, with no package prefix in front.
func wantSays(t *testing.T, err, target error, path string, says ...string) {
	t.Helper()
	t.Logf("err: %v", err)
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	for _, s := range append([]string{path}, says...) {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q", s)
		}
	}
	if strings.Contains(err.Error(), "sqlite:") {
		t.Errorf("error has an internal prefix")
	}
}

func TestStorageFailuresSayWhatToDo(t *testing.T) {
	t.Run("a full disk names the file, says to free space, and the save succeeds once there is room", func(t *testing.T) {
		db, path, free := onFullDisk(t)
		scan := storetest.ScanOf("shop", "checkout", storetest.T0.Add(time.Hour), storetest.Finding("shop", "checkout", "x"))
		scan.Observation = storetest.Observation("shop", "checkout", storetest.T0.Add(time.Hour), 20, 0, "")
		before := count(t, db, "SELECT count(*) FROM scans")

		err := db.SaveScan(t.Context(), scan)
		wantSays(t, err, ErrFull, path, "the disk holding "+path+" is full: free space", "save scan of shop/checkout")
		if !errors.Is(err, skimguard.ErrStoreFull) {
			t.Errorf("err = %v, want skimguard.ErrStoreFull, for callers that know only the Store", err)
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_FULL {
			t.Errorf("the driver's error is not in the chain: %v", err)
		}
		if scan.ID != 0 {
			t.Errorf("a scan that was not stored got id %d", scan.ID)
		}

		free()
		if err := db.SaveScan(t.Context(), scan); err != nil {
			t.Fatalf("SaveScan once there is room: %v", err)
		}
		if n := count(t, db, "SELECT count(*) FROM scans"); n != before+1 {
			t.Errorf("%d scans stored, want %d", n, before+1)
		}
	})

	t.Run("a database that cannot be written says to make it writable", func(t *testing.T) {
		path := populated(t)
		makeReadOnly(t, path)
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open of a read-only database (reading still works): %v", err)
		}
		defer db.Close()
		err = db.SaveBaseline(t.Context(), storetest.BaselineOf("shop", "checkout", "b"))
		wantSays(t, err, ErrReadOnly, path, "cannot be written", "writable by the user skimguard runs as")
	})

	t.Run("a database that cannot be written still knows its sessions", func(t *testing.T) {
		path := populated(t)
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		s := &skimguard.Session{Key: "k", User: "alice", CreatedAt: storetest.T0, SeenAt: storetest.T0, Idle: time.Hour, EndsAt: storetest.T0.Add(24 * time.Hour)}
		if err := db.SaveSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		db.Close()
		makeReadOnly(t, path)
		if db, err = Open(t.Context(), path); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		got, err := db.TouchSession(t.Context(), "k", storetest.T0.Add(time.Minute))
		if err != nil || got.User != "alice" || !got.SeenAt.Equal(storetest.T0) {
			t.Fatalf("TouchSession on a read-only database = %+v, %v; want alice's session, not marked seen", got, err)
		}
	})

	t.Run("a disk I/O error at open says which file and what to check", func(t *testing.T) {
		// The reported case: a full disk at start gave only
		// "disk I/O error (4874)", SQLITE_IOERR_SHMSIZE.
		path := populated(t)
		got := helper(t, "open-on-a-full-disk", path)
		msg := got["err"]
		t.Logf("Open in a process that cannot grow files: %s", msg)
		if got["is-io"] != "true" {
			t.Errorf("Open = %q, want ErrIO", msg)
		}
		for _, s := range []string{path + "-shm", "free space (df -h " + filepath.Dir(path) + ")", "(" + strconv.Itoa(sqlite3.SQLITE_IOERR_SHMSIZE) + ")"} {
			if !strings.Contains(msg, s) {
				t.Errorf("error does not say %q", s)
			}
		}
	})
}

// fsImmutable is FS_IMMUTABLE_FL of linux/fs.h, which x/sys/unix lacks.
const fsImmutable = 0x10

// makeReadOnly makes the file at path unwritable for real, root included:
// with the immutable attribute (chattr +i) when running as root, else by
// taking away write permission. It skips the test where neither can be done.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(path, 0o644) })
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	attrs, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(attrs|fsImmutable))
	}
	if err != nil {
		t.Skipf("cannot make %s immutable as root (%v): needs CAP_LINUX_IMMUTABLE on a file system with attributes", path, err)
	}
	t.Cleanup(func() {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(attrs)); err != nil {
			t.Errorf("%s stays immutable (chattr -i it): %v", path, err)
		}
	})
}
