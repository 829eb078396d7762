package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard/internal/pgtest"
)

// pg is the test binary's PostgreSQL server, whose template database is
// migrated once.
var pg = &pgtest.Shared{Prepare: func(ctx context.Context, url string) error {
	db, err := Open(ctx, url, Options{})
	if err != nil {
		return err
	}
	return db.Close()
}}

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// openTest opens a new, migrated database, closed at the end of the test,
// and returns it with its URL.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	url := pg.Database(t)
	db, err := Open(t.Context(), url, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, url
}

// rawConn connects to url as another program would, bypassing the store,
// with skimguard's schema first in its search_path.
func rawConn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = Schema
	c, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// count runs a query that returns one number.
func count(t testing.TB, c *pgx.Conn, query string, args ...any) int {
	t.Helper()
	var n int
	if err := c.QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
