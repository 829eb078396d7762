// Package sqlite is skimguard's Store on a SQLite file, using the pure-Go
// modernc.org/sqlite driver.
//
// The file is opened in WAL mode so that readers never wait for the writer.
// Write transactions begin IMMEDIATE and, within one process, are serialised
// by the DB itself; the busy timeout only covers waits for other processes.
// Open checks a file it did not create before writing anything to it, so that
// a damaged or foreign database is reported and left alone.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/skimguard/skimguard"
)

// Errors Open and the Store methods return besides skimguard's own; callers
// test them with errors.Is. The errors' messages name the file and say what
// to do; the driver's error stays in the chain for errors.As.
var (
	// ErrCorrupt: the file is not a SQLite database, is damaged, or belongs
	// to another program. skimguard leaves such a file untouched.
	ErrCorrupt = errors.New("not a usable skimguard database")
	// ErrLocked: another process held the database's write lock for longer
	// than the busy timeout. It is skimguard.ErrStoreLocked, so that
	// callers that know only the Store can tell it too.
	ErrLocked = skimguard.ErrStoreLocked
	// ErrFull: the disk holding the database is full. It is
	// skimguard.ErrStoreFull.
	ErrFull = skimguard.ErrStoreFull
	// ErrReadOnly: the database or its directory cannot be written (file
	// permissions, a read-only mount, or the file was moved while open).
	ErrReadOnly = errors.New("database cannot be written")
	// ErrIO: the operating system failed to read or write the database or
	// the files SQLite keeps beside it (-wal, -shm).
	ErrIO = errors.New("disk I/O error")
	// ErrNewerSchema: the database was migrated by a newer skimguard than
	// this one.
	ErrNewerSchema = errors.New("database was written by a newer skimguard")
)

// applicationID marks skimguard's files ('SKGD'); migration 0001 sets it.
const applicationID = 0x534B4744

// DB is a skimguard.Store on a SQLite file. It is safe for concurrent use.
type DB struct {
	sql  *sql.DB
	path string
	// writer admits one write transaction of this process at a time: SQLite
	// allows one writer anyway, and waiting here is fair and context-aware
	// where SQLite's busy handler polls.
	writer chan struct{}
	// health is how the latest write went, for Health.
	health writeHealth
}

var _ skimguard.Store = (*DB)(nil)

// options are the knobs tests turn; Open uses defaultOptions.
type options struct {
	busyTimeout time.Duration
	maxConns    int
	// maxPages, when not 0, caps the file's pages in each connection
	// (SQLite never lowers the cap below the file's size): tests make the
	// disk "full" with it, and SQLite answers SQLITE_FULL as for a full
	// disk.
	maxPages int
}

var defaultOptions = options{busyTimeout: 5 * time.Second, maxConns: 4}

// Open opens (creating if missing) the database at path, applies pending
// migrations, and returns a Store. A file that is not a healthy skimguard
// database gives ErrCorrupt and is not written to; one migrated by a newer
// skimguard gives ErrNewerSchema.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, defaultOptions)
}

func open(ctx context.Context, path string, o options) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	}
	migs, err := loadMigrations()
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	}
	applied, err := checkExisting(ctx, abs, o, migs)
	if err != nil {
		return nil, err
	}

	sdb, err := sql.Open("sqlite", dsn(abs, o, false))
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	}
	sdb.SetMaxOpenConns(o.maxConns)
	sdb.SetMaxIdleConns(o.maxConns)
	// Connect now, so that a file that cannot be written to is reported by
	// Open rather than by the first write.
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, openFailed(abs, "open for writing", err)
	}
	db := &DB{sql: sdb, path: abs, writer: make(chan struct{}, 1)}
	if err := db.migrate(ctx, migs, applied); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database. The last connection to close checkpoints the
// write-ahead log into the main file.
func (db *DB) Close() error {
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("close the database %s: %w", db.path, err)
	}
	return nil
}

// dsn is the modernc DSN for path. Pragmas go in the DSN so that every pooled
// connection gets them.
func dsn(path string, o options, readOnly bool) string {
	// The path is part of a file: URI: escape what SQLite's URI parser or
	// the driver would take for syntax.
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	q := "_pragma=busy_timeout(" + strconv.FormatInt(o.busyTimeout.Milliseconds(), 10) + ")"
	if readOnly {
		return "file:" + p + "?mode=ro&" + q
	}
	if o.maxPages > 0 {
		q += "&_pragma=max_page_count(" + strconv.Itoa(o.maxPages) + ")"
	}
	return "file:" + p + "?" + q +
		"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// corrupt is the error for a file Open will not use.
func corrupt(path, why string, err error) error {
	msg := fmt.Sprintf("%s: %%w (%s): restore it from a backup, or move it aside to start a new database; skimguard will not modify it", path, why)
	if err != nil {
		return fmt.Errorf(msg+": %w", ErrCorrupt, err)
	}
	return fmt.Errorf(msg, ErrCorrupt)
}

// checkExisting makes sure that the file at path, if there is one, is a
// healthy skimguard database no newer than this binary, without writing to
// it: the header is read by hand and the rest through a read-only
// connection. It returns the migration versions already applied.
func checkExisting(ctx context.Context, path string, o options, migs []migration) (map[int]bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("open the database %s: it is a directory; give the path of a database file", path)
	}
	if st.Size() == 0 {
		// SQLite takes an empty file for an empty database.
		f.Close()
		return nil, nil
	}
	var hdr [100]byte
	_, err = io.ReadFull(f, hdr[:])
	f.Close()
	if err != nil {
		return nil, corrupt(path, fmt.Sprintf("only %d bytes, too short for a SQLite header", st.Size()), nil)
	}
	if why := checkHeader(hdr, st.Size(), walInUse(path)); why != "" {
		return nil, corrupt(path, why, nil)
	}

	ro, err := sql.Open("sqlite", dsn(path, o, true))
	if err != nil {
		return nil, fmt.Errorf("open the database %s: %w", path, err)
	}
	defer ro.Close()
	ro.SetMaxOpenConns(1)

	var check string
	if err := ro.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&check); err != nil {
		return nil, openFailed(path, "integrity check", err)
	}
	if check != "ok" {
		return nil, corrupt(path, "integrity check: "+check, nil)
	}
	var appID, objects, hasMigrations int
	err = ro.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id),
		(SELECT count(*) FROM sqlite_schema),
		(SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`).
		Scan(&appID, &objects, &hasMigrations)
	if err != nil {
		return nil, openFailed(path, "read schema", err)
	}
	if objects == 0 {
		return nil, nil
	}
	if appID != applicationID || hasMigrations == 0 {
		return nil, corrupt(path, "it holds another program's tables", nil)
	}
	applied, err := appliedMigrations(ctx, ro)
	if err != nil {
		return nil, openFailed(path, "read schema version", err)
	}
	if err := checkNotNewer(path, applied, migs); err != nil {
		return nil, err
	}
	return applied, nil
}

// checkHeader checks the 100-byte database header against the file's size,
// returning what is wrong, or "".
func checkHeader(hdr [100]byte, size int64, wal bool) string {
	if string(hdr[:16]) != "SQLite format 3\x00" {
		return "it does not start with the SQLite header"
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return fmt.Sprintf("invalid page size %d in its header", pageSize)
	}
	// The page count in the header is valid when the change counter matches
	// its version-valid-for number. With a write-ahead log in use the main
	// file may legitimately lag behind, so only check without one.
	pages := int64(binary.BigEndian.Uint32(hdr[28:32]))
	valid := binary.BigEndian.Uint32(hdr[24:28]) == binary.BigEndian.Uint32(hdr[92:96])
	if !wal && valid && pages > 0 && size < pages*pageSize {
		return fmt.Sprintf("truncated: %d bytes where its header promises %d pages of %d bytes", size, pages, pageSize)
	}
	return ""
}

// walInUse reports whether path has a non-empty write-ahead log beside it.
func walInUse(path string) bool {
	st, err := os.Stat(path + "-wal")
	return err == nil && st.Size() > 0
}

// openFailed maps an error met while opening path to one that says what
// to do; what names the step, for errors no mapping knows.
func openFailed(path, what string, err error) error {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return corrupt(path, what+" failed", err)
	}
	if ferr := fileFailure(path, err); ferr != nil {
		return fmt.Errorf("cannot open the database: %w", ferr)
	}
	if sqliteCode(err)&0xff == sqlite3.SQLITE_CANTOPEN {
		return fmt.Errorf("cannot open the database %s (%w): check that its directory exists and is writable by this user", path, err)
	}
	return fmt.Errorf("open the database %s: %s: %w", path, what, err)
}

// sqliteCode is the extended SQLite result code of err, or 0. The primary
// code is its low byte.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// fileError is a failure of the database file, said for people: which file,
// what happened and what to do. errors.Is matches its kind (ErrFull,
// ErrLocked, ErrReadOnly, ErrIO) and errors.As the driver's *sqlite.Error.
type fileError struct {
	kind error
	msg  string
	err  error
}

func (e *fileError) Error() string   { return e.msg }
func (e *fileError) Unwrap() []error { return []error{e.kind, e.err} }

// fileFailure maps a SQLite error about the database at path (a full
// disk, a lock held elsewhere, a file that cannot be written, an I/O error,
// damage) to an error that says what to do, or returns nil for any other
// error. It is the one place these codes are read.
func fileFailure(path string, err error) error {
	code := sqliteCode(err)
	dir := filepath.Dir(path)
	fe := func(kind error, format string, a ...any) error {
		return &fileError{kind: kind, msg: fmt.Sprintf(format, a...), err: err}
	}
	switch code & 0xff {
	case sqlite3.SQLITE_FULL:
		return fe(ErrFull, "the disk holding %s is full: free space (skimguard keeps every scan as evidence)", path)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return lockedError(path, err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		switch code {
		case sqlite3.SQLITE_READONLY_DBMOVED:
			return fe(ErrReadOnly, "the database %s was moved or deleted while skimguard had it open: put it back, then restart skimguard", path)
		case sqlite3.SQLITE_READONLY_DIRECTORY:
			return fe(ErrReadOnly, "cannot write in %s, the directory of the database %s: make it writable by the user skimguard runs as (SQLite keeps its journal beside the database)", dir, path)
		}
		return readOnlyError(path, err)
	case sqlite3.SQLITE_IOERR:
		switch code {
		case sqlite3.SQLITE_IOERR_SHMOPEN, sqlite3.SQLITE_IOERR_SHMSIZE, sqlite3.SQLITE_IOERR_SHMMAP, sqlite3.SQLITE_IOERR_SHMLOCK:
			// What a full disk says when the database is opened: the
			// shared-memory file is the first thing SQLite grows.
			return fe(ErrIO, "cannot create or grow %s-shm, the shared-memory file SQLite keeps beside the database (%v): check that its disk has free space (df -h %s) and that %s is writable and on a local disk", path, err, dir, dir)
		case sqlite3.SQLITE_IOERR_READ, sqlite3.SQLITE_IOERR_SHORT_READ:
			return fe(ErrIO, "cannot read the database %s (%v): check its disk for errors (dmesg); if the file is damaged, restore it from a backup", path, err)
		case sqlite3.SQLITE_IOERR_WRITE, sqlite3.SQLITE_IOERR_FSYNC, sqlite3.SQLITE_IOERR_DIR_FSYNC, sqlite3.SQLITE_IOERR_TRUNCATE:
			return fe(ErrIO, "cannot write the database %s (%v): check that its disk has free space (df -h %s) and no errors (dmesg)", path, err, dir)
		}
		return fe(ErrIO, "disk I/O error on the database %s (%v): check free space (df -h %s), permissions and the disk (dmesg)", path, err, dir)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return corrupt(path, "damaged", err)
	}
	return nil
}

// lockedError says that another process holds the lock of the database at
// path; err is what the wait for it ended with.
func lockedError(path string, err error) error {
	return &fileError{kind: ErrLocked, err: err,
		msg: fmt.Sprintf("the database %s is locked by another process: find it with `fuser %s` and stop it, or wait", path, path)}
}

// readOnlyError says that the database at path cannot be written; err says
// how that showed.
func readOnlyError(path string, err error) error {
	return &fileError{kind: ErrReadOnly, err: err,
		msg: fmt.Sprintf("the database %s cannot be written (%v): make it and its directory writable by the user skimguard runs as, and check that its disk is not mounted read-only", path, err)}
}

// fail wraps an error of a Store method as "<what>: <err>", saying for a
// failure of the file what to do.
func (db *DB) fail(what string, err error) error {
	if ferr := fileFailure(db.path, err); ferr != nil {
		return fmt.Errorf("%s: %w", what, ferr)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// write runs fn in an IMMEDIATE transaction, one per process at a time,
// committing when fn returns nil.
func (db *DB) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return db.fail(what, ctx.Err())
	}
	defer func() { <-db.writer }()
	err := db.writeTx(ctx, fn)
	if err != nil {
		err = db.fail(what, err)
	}
	db.health.note(err)
	return err
}

// writeTx runs fn in a transaction, committing when it returns nil.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// read runs fn in a read-only transaction, so that its queries see one
// snapshot. Readers do not wait for the writer in WAL mode.
func (db *DB) read(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return db.fail(what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return db.fail(what, err)
	}
	return nil
}

// Migrations.

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations, NNNN_name.sql, in order.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var migs []migration
	seen := map[int]string{}
	for _, name := range names {
		base := filepath.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", base)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, base, v)
		}
		seen[v] = base
		text, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		migs = append(migs, migration{version: v, name: base, sql: string(text)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	return migs, nil
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// appliedMigrations lists the versions recorded in schema_migrations.
func appliedMigrations(ctx context.Context, q queryer) (map[int]bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// checkNotNewer refuses a database with migrations this binary lacks.
func checkNotNewer(path string, applied map[int]bool, migs []migration) error {
	known := map[int]bool{}
	for _, m := range migs {
		known[m.version] = true
	}
	var unknown []int
	for v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Ints(unknown)
	return fmt.Errorf("open the database %s: %w (schema migration %d; this binary knows up to %d): upgrade skimguard to use it",
		path, ErrNewerSchema, unknown[len(unknown)-1], migs[len(migs)-1].version)
}

// migrate applies the migrations not yet applied, each in its own
// transaction. It writes nothing when the schema is up to date, so that
// opening a current database never waits for another process's writes.
func (db *DB) migrate(ctx context.Context, migs []migration, applied map[int]bool) error {
	pending := false
	for _, m := range migs {
		if !applied[m.version] {
			pending = true
		}
	}
	if !pending {
		return nil
	}
	for _, m := range migs {
		if applied[m.version] {
			continue
		}
		err := db.write(ctx, "migrate "+db.path+" to "+m.name, func(tx *sql.Tx) error {
			const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    INTEGER PRIMARY KEY,
				name       TEXT NOT NULL,
				applied_at TEXT NOT NULL)`
			if _, err := tx.ExecContext(ctx, create); err != nil {
				return err
			}
			// Another process may have migrated since the check.
			now, err := appliedMigrations(ctx, tx)
			if err != nil {
				return err
			}
			if err := checkNotNewer(db.path, now, migs); err != nil {
				return err
			}
			if now[m.version] {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, timeText(time.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Times are stored as UTC text of fixed width, so that they sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func timeText(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return timeText(t)
}

func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s.String, err)
	}
	return t, nil
}
