package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/skimguard/skimguard"
)

// Errors Open and the Store methods return besides skimguard's own; callers
// test them with errors.Is. Their messages name the database and say what
// to do; the driver's error stays in the chain for errors.As.
var (
	// ErrUnavailable: the server cannot be reached, or the connection to
	// it was lost (it is down or restarting, or the network is). It is
	// skimguard.ErrStoreUnavailable.
	ErrUnavailable = skimguard.ErrStoreUnavailable
	// ErrLocked: a write waited for a lock longer than the lock timeout, or
	// kept conflicting with other writers. It is skimguard.ErrStoreLocked.
	ErrLocked = skimguard.ErrStoreLocked
	// ErrFull: the server's disk is full. It is skimguard.ErrStoreFull.
	ErrFull = skimguard.ErrStoreFull
	// ErrReadOnly: the server takes no writes (a standby, or
	// default_transaction_read_only).
	ErrReadOnly = errors.New("database cannot be written")
	// ErrRefused: the server refused the role, its password, the database
	// or a privilege.
	ErrRefused = errors.New("PostgreSQL refused")
	// ErrNewerSchema: the database was migrated by a newer skimguard than
	// this one.
	ErrNewerSchema = errors.New("database was written by a newer skimguard")
	// ErrNotSkimguard: the database's skimguard schema holds tables that
	// skimguard did not make.
	ErrNotSkimguard = errors.New("not a usable skimguard database")
)

// serverError is a failure of the database server, said for people: which
// database, what happened and what to do. errors.Is matches its kind and
// errors.As the driver's error.
type serverError struct {
	kind error
	msg  string
	err  error
}

func (e *serverError) Error() string   { return e.msg }
func (e *serverError) Unwrap() []error { return []error{e.kind, e.err} }

// fail wraps an error of a Store method as "<what>: <err>", saying for a
// failure of the server what to do; an empty what leaves that to say it all. ctx is the call's: an error that only
// says the caller gave up is no failure of the server.
func (db *DB) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() == nil {
		if serr := db.failure(err); serr != nil {
			if what == "" {
				return serr
			}
			return fmt.Errorf("%s: %w", what, serr)
		}
	}
	if what == "" {
		what = "connect to the PostgreSQL database " + db.where
	}
	return fmt.Errorf("%s: %w", what, err)
}

// failure maps an error of the driver or the server to one that says what
// to do, or returns nil for any other error. It is the one place their
// codes are read.
func (db *DB) failure(err error) error {
	se := func(kind error, format string, a ...any) error {
		return &serverError{kind: kind, msg: fmt.Sprintf(format, a...), err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := pe.Message
		switch code := pe.Code; {
		case code == "53100": // disk_full
			return se(ErrFull, "the disk of the PostgreSQL server of the database %s is full (%s): free space there (skimguard keeps every scan as evidence)", db.where, msg)
		case code == "55P03": // lock_not_available: lock_timeout
			return se(ErrLocked, "another transaction held a lock in the PostgreSQL database %s for longer than the lock timeout (%s): find it in pg_stat_activity, or wait", db.where, msg)
		case code == "40001" || code == "40P01": // serialization_failure, deadlock_detected
			return se(ErrLocked, "the write kept conflicting with other writers to the PostgreSQL database %s (%s): try again", db.where, msg)
		case code == "25006": // read_only_sql_transaction
			return se(ErrReadOnly, "the PostgreSQL database %s takes no writes (%s): point the URL at the primary server, not a standby, and check default_transaction_read_only", db.where, msg)
		case code == "28P01" || code == "28000": // invalid_password, invalid_authorization_specification
			return se(ErrRefused, "PostgreSQL refused the connection to the database %s (%s): check the role and its password (PGPASSWORD, or the variable database_password_env names) and the server's pg_hba.conf", db.where, msg)
		case code == "3D000": // invalid_catalog_name
			return se(ErrRefused, "PostgreSQL has no database %s (%s): create it, e.g. createdb -O ROLE DATABASE, or fix the URL", db.where, msg)
		case code == "42501": // insufficient_privilege
			return se(ErrRefused, "the role may not do this in the PostgreSQL database %s (%s): run skimguard as the owner of the database, or of its schema %s", db.where, msg, Schema)
		case code == "53300": // too_many_connections
			return se(ErrUnavailable, "the PostgreSQL server of the database %s has no connection left (%s): raise its max_connections, or run fewer clients", db.where, msg)
		case strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03":
			return se(ErrUnavailable, "the connection to the PostgreSQL database %s was lost (%s): check that the server is running; skimguard reconnects by itself", db.where, msg)
		}
		return nil
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return se(ErrUnavailable, "cannot reach the PostgreSQL database %s: %v: check that the server is running and that the URL's host, port and sslmode are right", db.where, connectDetail(ce))
	}
	if lostConnection(err) {
		return se(ErrUnavailable, "the connection to the PostgreSQL database %s was lost (%v): check that the server is running; skimguard reconnects by itself", db.where, err)
	}
	return nil
}

// connectDetail is what went wrong in a connection attempt, without the
// addresses pgx's message repeats: the system's word for it when there is
// one ("connection refused", "no such file or directory").
func connectDetail(ce *pgconn.ConnectError) error {
	var errno syscall.Errno
	if errors.As(ce, &errno) {
		return errno
	}
	var op *net.OpError
	if errors.As(ce, &op) && op.Err != nil {
		return op.Err
	}
	if inner := errors.Unwrap(ce); inner != nil {
		return inner
	}
	return ce
}

// lostConnection reports whether err says that the connection failed or
// went away, rather than that the server refused a statement.
func lostConnection(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || pgconn.SafeToRetry(err) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED)
}

// errAgain makes a transaction run again: another one changed what it
// read before it could write.
var errAgain = errors.New("another transaction got there first")

// retryable reports whether a transaction that failed with err may be run
// again: the server aborted it for a conflict with another (it committed
// nothing), it met another's write (errAgain), or its connection was lost
// before its commit was sent.
func retryable(err error, committing bool) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") || errors.Is(err, errAgain) {
		return true
	}
	return !committing && lostConnection(err)
}
