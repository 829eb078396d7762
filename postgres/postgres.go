// Package postgres is skimguard's Store on PostgreSQL, using pgx (pgxpool):
// the shared store, for several skimguard processes on several machines.
//
// It keeps the SQLite store's tables, in a schema of their own, "skimguard",
// created by embedded numbered migrations (migrations/NNNN_name.sql) under
// an advisory lock, so that processes starting together migrate once. A
// database migrated by a newer skimguard is refused.
//
// Writers run in READ COMMITTED transactions and take the row locks they
// need; a transaction that PostgreSQL aborts for a serialization failure or
// a deadlock, or that loses its connection before it commits (a server
// restart), is run again. The function given to ResolveFindings may so be
// called more than once: it must only compute.
//
// PostgreSQL's text holds no NUL character and only valid UTF-8: a text
// value that has either (a hostile page's frame name, a typed
// justification) is stored with U+FFFD in their place, so that no page can
// make its scan unstorable. Script texts are stored as bytes, exactly.
// Times are kept to the microsecond; the Store truncates the times it
// reports back (a scan's StartedAt, a user's CreatedAt) to what it stored.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/skimguard/skimguard"
)

// Schema is the PostgreSQL schema that holds skimguard's tables.
const Schema = "skimguard"

// Options configure Open.
type Options struct {
	// Password is the role's password, read from the environment by the
	// caller (PGPASSWORD, or the variable sites.yaml's
	// database_password_env names); empty for none, or for what pgx finds
	// itself (~/.pgpass). It never comes from the URL.
	Password string
	// LockTimeout bounds a write's wait for a row or table lock another
	// transaction holds; past it the write fails with ErrLocked. 0 means 5
	// seconds, as SQLite's busy timeout.
	LockTimeout time.Duration
	// ConnectTimeout bounds each connection attempt when the URL sets no
	// connect_timeout; 0 means 10 seconds.
	ConnectTimeout time.Duration
}

// DB is a skimguard.Store on a PostgreSQL database. It is safe for
// concurrent use, by several processes too.
type DB struct {
	pool *pgxpool.Pool
	// where names the database for messages: role, database and server,
	// never the password.
	where  string
	health writeHealth
}

var _ skimguard.Store = (*DB)(nil)

// IsURL reports whether dsn names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a SQLite file.
func IsURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to the PostgreSQL database the URL dsn names, applies
// pending migrations, and returns a Store. The URL may name a TCP server
// (postgres://sg@db.example:5432/skimguard?sslmode=require) or a unix
// socket directory (postgres://sg@/skimguard?host=/run/postgresql); a
// password in it is refused: it comes from o.Password. A server that cannot
// be reached gives ErrUnavailable, a database migrated by a newer
// skimguard ErrNewerSchema.
func Open(ctx context.Context, dsn string, o Options) (*DB, error) {
	cfg, where, err := parseURL(dsn, o)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the PostgreSQL database %s: %w", where, err)
	}
	db := &DB{pool: pool, where: where}
	// Connect now, so that a server that cannot be reached is reported by
	// Open rather than by the first scan.
	if err := db.connect(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// parseURL checks and parses a database URL into the pool's configuration
// and says where it points, for messages.
func parseURL(dsn string, o Options) (*pgxpool.Config, string, error) {
	if !IsURL(dsn) {
		// Not repeated: a key=value connection string may hold a password.
		return nil, "", errors.New("the database is not a PostgreSQL URL: write postgres://USER@HOST:5432/DATABASE?sslmode=require, or postgres://USER@/DATABASE?host=/SOCKET/DIR")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// url's error repeats the URL, password and all: say only where.
		return nil, "", errors.New("the PostgreSQL URL cannot be read: write postgres://USER@HOST:5432/DATABASE?sslmode=require")
	}
	if _, ok := u.User.Password(); ok || u.Query().Has("password") {
		return nil, "", fmt.Errorf("the PostgreSQL URL %s holds a password: remove it, and give it in the environment instead: PGPASSWORD, or database_password_env: NAME in sites.yaml naming the variable that holds it",
			redacted(u))
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, "", fmt.Errorf("the PostgreSQL URL %s cannot be used: %w", redacted(u), err)
	}
	cc := cfg.ConnConfig
	if o.Password != "" {
		cc.Password = o.Password
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = cmpOr(o.ConnectTimeout, 10*time.Second)
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	// Unqualified names are skimguard's tables; pg_catalog is searched
	// first anyway.
	cc.RuntimeParams["search_path"] = Schema
	cc.RuntimeParams["lock_timeout"] = strconv.FormatInt(cmpOr(o.LockTimeout, 5*time.Second).Milliseconds(), 10)
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "skimguard"
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// Times come back in UTC, as the SQLite store returns them.
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	host := fmt.Sprintf("%s:%d", cc.Host, cc.Port)
	if strings.HasPrefix(cc.Host, "/") {
		host = "socket " + path.Join(cc.Host, fmt.Sprintf(".s.PGSQL.%d", cc.Port))
	}
	where := fmt.Sprintf("%q (as %s at %s)", cc.Database, cc.User, host)
	return cfg, where, nil
}

// redacted is u for messages: without its password (there should be none)
// and its query.
func redacted(u *url.URL) string {
	r := *u
	r.User = nil
	if u.User != nil {
		r.User = url.User(u.User.Username())
	}
	r.RawQuery = ""
	return r.String()
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// connect makes the pool's first connection.
func (db *DB) connect(ctx context.Context) error {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return db.fail(ctx, "", err)
	}
	c.Release()
	return nil
}

// Close closes the pool's connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// tx is a transaction whose text arguments are made storable (see
// storable) on their way to the server. Store code goes through its
// methods, never through pgx.Tx directly.
type tx struct{ t pgx.Tx }

func (t tx) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.t.Exec(ctx, sql, storableArgs(args)...)
}

func (t tx) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.t.Query(ctx, sql, storableArgs(args)...)
}

func (t tx) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.t.QueryRow(ctx, sql, storableArgs(args)...)
}

// storableArgs returns args with every string made storable.
func storableArgs(args []any) []any {
	var out []any
	for i, a := range args {
		c, changed := storableArg(a)
		if !changed {
			continue
		}
		if out == nil {
			out = slices.Clone(args)
		}
		out[i] = c
	}
	if out == nil {
		return args
	}
	return out
}

func storableArg(a any) (any, bool) {
	switch v := a.(type) {
	case string:
		s := storable(v)
		return s, s != v
	case []string:
		if !slices.ContainsFunc(v, func(s string) bool { return storable(s) != s }) {
			return a, false
		}
		cp := make([]string, len(v))
		for i, s := range v {
			cp[i] = storable(s)
		}
		return cp, true
	}
	return a, false
}

// storable is s as PostgreSQL's text can hold it: NUL characters and
// invalid UTF-8 become U+FFFD.
func storable(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// stored is t as the store keeps it: UTC, to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// timeOf reads a nullable time: NULL is the zero time.
func timeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// collect reads every row with fn; nil when there are none, as the SQLite
// store gives, so that the JSON of an empty list is the same from both.
func collect[T any](rows pgx.Rows, fn pgx.RowToFunc[T]) ([]T, error) {
	out, err := pgx.CollectRows(rows, fn)
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// Transactions.

// Retries of a transaction PostgreSQL aborted (a serialization failure, a
// deadlock) or whose connection was lost before it committed: at most
// retryAttempts runs, waiting retryFirst, then twice as long each time,
// at most retryMax, and for a lost connection at most retryFor in all.
const (
	retryAttempts = 12
	retryFirst    = 20 * time.Millisecond
	retryMax      = 2 * time.Second
	retryFor      = 15 * time.Second
)

// run runs fn in a transaction, again while it fails in a way that a new
// run may not (see retryable), and maps the final error once.
func (db *DB) run(ctx context.Context, what string, opts pgx.TxOptions, fn func(tx) error) error {
	start := time.Now()
	wait := retryFirst
	for attempt := 1; ; attempt++ {
		committing, err := db.runOnce(ctx, opts, fn)
		if err == nil {
			return nil
		}
		if lostConnection(err) {
			// The others are likely lost too (a server restart ends them
			// all): the next run gets a new connection.
			db.pool.Reset()
		}
		if attempt < retryAttempts && retryable(err, committing) && ctx.Err() == nil &&
			(!lostConnection(err) || time.Since(start)+wait < retryFor) {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				wait = min(2*wait, retryMax)
				continue
			case <-ctx.Done():
				t.Stop()
			}
		}
		return db.fail(ctx, what, err)
	}
}

// runOnce runs fn in one transaction, committing when it returns nil;
// committing says whether the commit was under way when it failed.
func (db *DB) runOnce(ctx context.Context, opts pgx.TxOptions, fn func(tx) error) (committing bool, err error) {
	t, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return false, err
	}
	defer t.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx{t}); err != nil {
		return false, err
	}
	return true, t.Commit(ctx)
}

// write runs fn in a read-write transaction and records how it went for
// Health.
func (db *DB) write(ctx context.Context, what string, fn func(tx) error) error {
	err := db.run(ctx, what, pgx.TxOptions{}, fn)
	db.health.note(err)
	return err
}

// read runs fn in a read-only transaction that sees one snapshot.
func (db *DB) read(ctx context.Context, what string, fn func(tx) error) error {
	return db.run(ctx, what, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, fn)
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
		base := path.Base(name)
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

// migrationLock is the advisory lock migrations are applied under ('SKGD').
const migrationLock = 0x534B4744

// migrate applies the migrations not yet applied, all in one transaction
// under an advisory lock, so that a database is either migrated or not and
// processes starting at once migrate it once. It writes nothing when the
// schema is up to date.
func (db *DB) migrate(ctx context.Context) error {
	migs, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("open the PostgreSQL database %s: %w", db.where, err)
	}
	var applied map[int]bool
	err = db.read(ctx, "read the schema version", func(t tx) error {
		applied, err = appliedMigrations(ctx, t)
		return err
	})
	if err != nil {
		return err
	}
	if err := db.checkNotNewer(applied, migs); err != nil {
		return err
	}
	if len(applied) == len(migs) {
		return nil
	}
	return db.run(ctx, "migrate the schema", pgx.TxOptions{}, func(t tx) error {
		if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+Schema); err != nil {
			return err
		}
		// Another process may have migrated since the check.
		applied, err := appliedMigrations(ctx, t)
		if err != nil {
			return err
		}
		if err := db.checkNotNewer(applied, migs); err != nil {
			return err
		}
		if applied == nil {
			if err := checkEmpty(ctx, t); err != nil {
				return err
			}
			if _, err := t.exec(ctx, `CREATE TABLE schema_migrations (
				version    integer PRIMARY KEY,
				name       text NOT NULL,
				applied_at timestamptz NOT NULL)`); err != nil {
				return err
			}
		}
		for _, m := range migs {
			if applied[m.version] {
				continue
			}
			// Simple protocol: a migration is several statements.
			if _, err := t.t.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := t.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
}

// appliedMigrations lists the versions recorded in schema_migrations; nil
// when there is no such table yet.
func appliedMigrations(ctx context.Context, t tx) (map[int]bool, error) {
	var exists bool
	err := t.queryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", Schema+".schema_migrations").Scan(&exists)
	if err != nil || !exists {
		return nil, err
	}
	rows, err := t.query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	vs, err := collect(rows, pgx.RowTo[int])
	if err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	for _, v := range vs {
		applied[v] = true
	}
	return applied, nil
}

// checkEmpty refuses a skimguard schema that holds tables but no record of
// migrations: it is not skimguard's, and skimguard leaves it alone.
func checkEmpty(ctx context.Context, t tx) error {
	var tables []string
	rows, err := t.query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", Schema)
	if err != nil {
		return err
	}
	if tables, err = collect(rows, pgx.RowTo[string]); err != nil {
		return err
	}
	if len(tables) > 0 {
		return fmt.Errorf("%w: its schema %s holds tables skimguard did not make (%s): give skimguard a database or schema of its own; it will not modify them",
			ErrNotSkimguard, Schema, strings.Join(tables, ", "))
	}
	return nil
}

// checkNotNewer refuses a database with migrations this binary lacks.
func (db *DB) checkNotNewer(applied map[int]bool, migs []migration) error {
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
	return fmt.Errorf("open the PostgreSQL database %s: %w (schema migration %d; this binary knows up to %d): upgrade skimguard to use it",
		db.where, ErrNewerSchema, unknown[len(unknown)-1], migs[len(migs)-1].version)
}
