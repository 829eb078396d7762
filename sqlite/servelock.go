package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrServeRunning: another serve process uses the database (see LockServe).
var ErrServeRunning = errors.New("another skimguard serve uses this database")

// ServeLock is a serve process's claim on its database: two daemons on one
// file would store and alert every scan twice. It is an OS file lock
// (flock) on a file beside the database, which the kernel lets go of when
// the process ends, however it ends (SIGKILL too); the file says who holds
// it, for whoever is refused.
type ServeLock struct {
	f *os.File
}

// serveHolder is what the lock file says about the process holding it.
type serveHolder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// LockServe takes the serve lock of the database at path, path.serve-lock,
// or fails with ErrServeRunning naming the process that holds it. Only
// serve takes it: the other commands may run beside the daemon.
func LockServe(path string) (*ServeLock, error) {
	lockPath, err := serveLockPath(path)
	if err != nil {
		return nil, err
	}
	// os.OpenFile sets O_CLOEXEC: Chromium, started later, must not
	// inherit the lock and keep it after serve is gone.
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot take the serve lock %s (%w): check that the database's directory exists and is writable by this user", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, refused(path, lockPath, f)
		}
		return nil, fmt.Errorf("cannot take the serve lock %s: %w", lockPath, err)
	}
	host, _ := os.Hostname()
	note, _ := json.Marshal(serveHolder{PID: os.Getpid(), Host: host, Since: time.Now().UTC().Truncate(time.Second)})
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(note, '\n'), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write the serve lock %s: %w", lockPath, err)
	}
	return &ServeLock{f: f}, nil
}

// serveLockPath is the lock file of the database at path, the same however
// the path is spelled (relative, through a symbolic link).
func serveLockPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("take the serve lock of %s: %w", path, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	} else if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	return abs + ".serve-lock", nil
}

// refused is the error for a serve lock another process holds; f is the
// lock file, which names it.
func refused(path, lockPath string, f *os.File) error {
	var h serveHolder
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil || json.Unmarshal(data, &h) != nil || h.PID == 0 {
		// It has the lock but has not written its name yet.
		return fmt.Errorf("%w (%s): two would store and alert every scan twice: stop the other one (`fuser %s` names it), or give this one another --db",
			ErrServeRunning, path, lockPath)
	}
	host := h.Host
	if host == "" {
		host = "an unnamed host"
	}
	return fmt.Errorf("%w (%s): PID %d on %s, running since %s; two would store and alert every scan twice: stop it first (kill %d), or give this one another --db",
		ErrServeRunning, path, h.PID, host, h.Since.Format(time.RFC3339), h.PID)
}

// Release lets go of the lock for the next serve. The file stays, emptied:
// deleting it would let one serve lock the old file while another locks a
// new one.
func (l *ServeLock) Release() error {
	l.f.Truncate(0)
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("release the serve lock: %w", err)
	}
	return nil
}
