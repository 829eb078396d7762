// Package pgtest starts throwaway PostgreSQL servers for tests: initdb and
// pg_ctl from Debian's postgresql package (/usr/lib/postgresql/*/bin), in
// a temporary directory, listening only on a unix socket there, torn down
// at the end. Never a running service. initdb refuses to run as root, so as
// root (CI) the server runs as the postgres system user, which owns its
// directory.
//
// Tests reach it as the superuser Role through URLs of the form the store
// takes: postgres://sg@/DATABASE?host=/SOCKET/DIR. Under -short they are
// skipped; without PostgreSQL they fail, saying to run scripts/ensure-deps.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Role is the superuser the tests connect as; the server trusts it on its
// socket, so it needs no password.
const Role = "sg"

// Server is one PostgreSQL server of a test binary.
type Server struct {
	bin string // the directory of initdb, pg_ctl and psql
	dir string // its data directory, socket and log, removed by Stop
	// as runs a command as the server's user: runuser -u postgres -- as
	// root, nothing otherwise.
	as []string
	// opts are the server's settings, for pg_ctl start.
	opts string
	// made numbers the databases the server made for tests.
	made atomic.Int64
}

// Start starts a new server in a temporary directory, stopped when the
// test ends: for a test that restarts or stops it. Other tests share one
// server through Shared.
func Start(t testing.TB) *Server {
	t.Helper()
	skipShort(t)
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped with -short")
	}
}

// binDir finds the newest Debian PostgreSQL's programs, or initdb in PATH.
func binDir() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int { return version(a) - version(b) })
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or in PATH): run scripts/ensure-deps, which installs Debian's postgresql package")
}

// version is the major version in a path /usr/lib/postgresql/N/bin/initdb.
func version(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

func start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "skimguard-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, the test server must run as the postgres user, and there is none (%v): run scripts/ensure-deps, which installs Debian's postgresql package", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := s.run("initdb", "-D", s.data(), "-U", Role, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.opts = fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories='%s' -c fsync=off -c synchronous_commit=off "+
		"-c full_page_writes=off -c max_connections=400 -c shared_buffers=32MB", dir)
	if err := s.Up(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Up starts the server, which Down stopped.
func (s *Server) Up() error {
	return s.run("pg_ctl", "-D", s.data(), "-l", s.log(), "-w", "-t", "60", "-o", s.opts, "start")
}

// Down stops the server as an administrator would (its clients'
// connections are ended), keeping its data for Up.
func (s *Server) Down() error {
	return s.run("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "stop")
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }
func (s *Server) log() string  { return filepath.Join(s.dir, "server.log") }

// run runs one of the server's programs as the server's user.
func (s *Server) run(prog string, args ...string) error {
	argv := append(append(slices.Clone(s.as), filepath.Join(s.bin, prog)), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(s.log())
		return fmt.Errorf("%s: %v\n%s\nserver log:\n%s", strings.Join(argv, " "), err, out.Bytes(), log)
	}
	return nil
}

// Stop stops the server at once and removes its directory.
func (s *Server) Stop() error {
	err := s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	return err
}

// Restart stops the server as an administrator would (its clients'
// connections are ended) and starts it again.
func (s *Server) Restart() error {
	return s.run("pg_ctl", "-D", s.data(), "-l", s.log(), "-m", "fast", "-w", "-t", "60", "restart")
}

// RequirePassword makes a login role that must give password, the one
// role the server does not trust on its socket.
func (s *Server) RequirePassword(role, password string) error {
	if err := s.Exec("postgres", fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", role, password)); err != nil {
		return err
	}
	hba := filepath.Join(s.data(), "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		return err
	}
	// The first line that matches decides.
	if err := os.WriteFile(hba, append([]byte("local all "+role+" scram-sha-256\n"), old...), 0o600); err != nil {
		return err
	}
	if err := s.run("pg_ctl", "-D", s.data(), "reload"); err != nil {
		return err
	}
	// The server reloads when it gets to it: wait until it asks.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		cmd := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-w", "-h", s.dir, "-U", role, "-d", "postgres", "-c", "SELECT 1")
		cmd.Env = append(os.Environ(), "PGPASSWORD=")
		if cmd.Run() != nil {
			return nil
		}
	}
	return errors.New("the server still lets " + role + " in without a password after reloading pg_hba.conf")
}

// SocketDir is the directory of the server's unix socket.
func (s *Server) SocketDir() string { return s.dir }

// URL is the URL of a database of the server, as the store takes it.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s", Role, database, url.QueryEscape(s.dir))
}

// Exec runs SQL in a database of the server as Role, with psql.
func (s *Server) Exec(database, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", s.dir, "-U", Role, "-d", database, "-c", sql)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("psql %s -c %q: %v: %s", database, sql, err, out)
	}
	return nil
}

// Database makes a new database, a copy of template ("" for an empty one),
// dropped when the test ends, and returns its URL.
func (s *Server) Database(t testing.TB, template string) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", s.made.Add(1))
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if err := s.Exec("postgres", create); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Exec("postgres", "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	return s.URL(name)
}

// Shared is the one server of a test binary, started by the first test
// that asks for a database and stopped by Main, with a template database
// prepared once that each test's database copies: CREATE DATABASE from a
// template is much quicker than migrating each.
type Shared struct {
	// Prepare readies the template database at url (migrates it) and
	// closes every connection to it.
	Prepare func(ctx context.Context, url string) error

	once sync.Once
	srv  *Server
	err  error
}

const template = "skimguard_template"

// Main runs the tests and stops the server if one was started; a test
// binary's TestMain returns it to os.Exit.
func (sh *Shared) Main(m *testing.M) int {
	code := m.Run()
	if sh.srv != nil {
		if err := sh.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			code = 1
		}
	}
	return code
}

func (sh *Shared) server(t testing.TB) *Server {
	t.Helper()
	skipShort(t)
	sh.once.Do(func() {
		if sh.srv, sh.err = start(); sh.err != nil {
			return
		}
		if sh.err = sh.srv.Exec("postgres", "CREATE DATABASE "+template); sh.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if sh.Prepare != nil {
			if sh.err = sh.Prepare(ctx, sh.srv.URL(template)); sh.err != nil {
				sh.err = fmt.Errorf("prepare the template database: %w", sh.err)
				return
			}
		}
		// Nobody connects to it again: a template being used cannot be
		// copied.
		sh.err = sh.srv.Exec("postgres", "ALTER DATABASE "+template+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
	})
	if sh.err != nil {
		t.Fatal(sh.err)
	}
	return sh.srv
}

// Database makes a new database for the test from the prepared template,
// dropped when the test ends, and returns its URL.
func (sh *Shared) Database(t testing.TB) string {
	t.Helper()
	return sh.server(t).Database(t, template)
}

// EmptyDatabase makes a new database with nothing in it, dropped when the
// test ends, and returns its URL.
func (sh *Shared) EmptyDatabase(t testing.TB) string {
	t.Helper()
	return sh.server(t).Database(t, "")
}

// Server is the shared server, for tests that look at it directly.
func (sh *Shared) Server(t testing.TB) *Server {
	t.Helper()
	return sh.server(t)
}
