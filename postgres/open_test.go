package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skimguard/skimguard"
)

func TestOpen(t *testing.T) {
	t.Run("creates the schema in an empty database and records every migration", func(t *testing.T) {
		url := pg.EmptyDatabase(t)
		db, err := Open(t.Context(), url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		migs, err := loadMigrations()
		if err != nil {
			t.Fatal(err)
		}
		c := rawConn(t, url)
		if n := count(t, c, "SELECT count(*) FROM schema_migrations"); n != len(migs) || n == 0 {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(migs))
		}
		if n := count(t, c, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 0 {
			t.Errorf("%d tables in the public schema, want all in %s", n, Schema)
		}
		if err := db.SaveScan(t.Context(), &skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK}); err != nil {
			t.Fatalf("SaveScan on the new schema: %v", err)
		}
	})

	t.Run("reopening applies no migration twice and keeps data", func(t *testing.T) {
		db, url := openTest(t)
		if err := db.SaveScan(t.Context(), &skimguard.Scan{Site: "shop", Page: "checkout", Status: skimguard.ScanOK}); err != nil {
			t.Fatal(err)
		}
		c := rawConn(t, url)
		var applied string
		if err := c.QueryRow(t.Context(), "SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM schema_migrations").Scan(&applied); err != nil {
			t.Fatal(err)
		}
		db.Close()
		for i := range 2 {
			db, err := Open(t.Context(), url, Options{})
			if err != nil {
				t.Fatalf("reopen %d: %v", i, err)
			}
			var again string
			if err := c.QueryRow(t.Context(), "SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM schema_migrations").Scan(&again); err != nil {
				t.Fatal(err)
			}
			if again != applied {
				t.Errorf("migrations after reopen %d = %s, want %s", i, again, applied)
			}
			if scans, err := db.Scans(t.Context(), skimguard.ScanFilter{}); err != nil || len(scans) != 1 {
				t.Errorf("scans after reopen = %+v, %v; want the one saved", scans, err)
			}
			db.Close()
		}
	})

	t.Run("processes starting together migrate once", func(t *testing.T) {
		url := pg.EmptyDatabase(t)
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Go(func() {
				db, err := Open(t.Context(), url, Options{})
				if err == nil {
					db.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Open: %v", err)
			}
		}
		migs, _ := loadMigrations()
		if n := count(t, rawConn(t, url), "SELECT count(*) FROM schema_migrations"); n != len(migs) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(migs))
		}
	})

	t.Run("a database migrated by a newer skimguard is refused", func(t *testing.T) {
		db, url := openTest(t)
		db.Close()
		c := rawConn(t, url)
		if _, err := c.Exec(t.Context(), "INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', now())"); err != nil {
			t.Fatal(err)
		}
		_, err := Open(t.Context(), url, Options{})
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), "upgrade skimguard") {
			t.Fatalf("Open = %v, want ErrNewerSchema naming migration 9999 and saying to upgrade", err)
		}
	})

	t.Run("a skimguard schema holding another program's tables is refused and left alone", func(t *testing.T) {
		url := pg.EmptyDatabase(t)
		c := rawConn(t, url)
		if _, err := c.Exec(t.Context(), "CREATE SCHEMA skimguard; CREATE TABLE skimguard.scans (x int)"); err != nil {
			t.Fatal(err)
		}
		_, err := Open(t.Context(), url, Options{})
		if !errors.Is(err, ErrNotSkimguard) || !strings.Contains(err.Error(), "scans") {
			t.Fatalf("Open = %v, want ErrNotSkimguard naming the table", err)
		}
		if n := count(t, c, "SELECT count(*) FROM pg_tables WHERE schemaname = 'skimguard'"); n != 1 {
			t.Errorf("%d tables in the schema, want the other program's one only", n)
		}
	})

	t.Run("a database shared with other programs keeps their tables", func(t *testing.T) {
		url := pg.EmptyDatabase(t)
		c := rawConn(t, url)
		if _, err := c.Exec(t.Context(), "CREATE TABLE public.users (id int); CREATE TABLE public.schema_migrations (version text)"); err != nil {
			t.Fatal(err)
		}
		db, err := Open(t.Context(), url, Options{})
		if err != nil {
			t.Fatalf("Open beside another program's users and schema_migrations: %v", err)
		}
		defer db.Close()
		if err := db.SaveUser(t.Context(), &skimguard.User{Name: "alice", PasswordHash: []byte("$2a$x"), Role: skimguard.RoleAdmin}, "test"); err != nil {
			t.Fatal(err)
		}
		if n := count(t, c, "SELECT count(*) FROM public.users"); n != 0 {
			t.Errorf("skimguard wrote %d rows into the other program's users", n)
		}
	})
}

func TestOpenRefusesWhatItCannotUse(t *testing.T) {
	t.Run("a password in the URL, saying where it goes instead", func(t *testing.T) {
		for _, dsn := range []string{
			"postgres://sg:hunter2@db.example/skimguard?sslmode=require",
			"postgresql://sg@db.example/skimguard?password=hunter2",
		} {
			_, err := Open(t.Context(), dsn, Options{})
			if err == nil || !strings.Contains(err.Error(), "holds a password") || !strings.Contains(err.Error(), "PGPASSWORD") ||
				!strings.Contains(err.Error(), "database_password_env") {
				t.Errorf("Open(%s) = %v, want a refusal pointing to PGPASSWORD and database_password_env", dsn, err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the refusal repeats the password: %v", err)
			}
		}
	})
	t.Run("something that is not a PostgreSQL URL", func(t *testing.T) {
		_, err := Open(t.Context(), "host=db.example dbname=skimguard password=hunter2", Options{})
		if err == nil || !strings.Contains(err.Error(), "postgres://") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open = %v, want a refusal showing the URL's form, and not the password", err)
		}
	})
}

func TestUnavailable(t *testing.T) {
	t.Run("a server that is not running is named with what to check", func(t *testing.T) {
		dir := t.TempDir() // a socket directory where nothing listens
		dsn := fmt.Sprintf("postgres://sg@/skimguard?host=%s", url.QueryEscape(dir))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		_, err := Open(ctx, dsn, Options{})
		t.Logf("Open: %v", err)
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, skimguard.ErrStoreUnavailable) {
			t.Fatalf("Open = %v, want ErrUnavailable", err)
		}
		for _, s := range []string{filepath.Join(dir, ".s.PGSQL.5432"), "cannot reach", "check that the server is running"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error does not say %q", s)
			}
		}
	})
	t.Run("a database that does not exist says how to make it", func(t *testing.T) {
		srv := pg.Server(t)
		_, err := Open(t.Context(), srv.URL("nosuchdb"), Options{})
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "createdb") {
			t.Fatalf("Open = %v, want ErrRefused saying to create it", err)
		}
	})
	t.Run("a role the server does not know is refused, pointing to the password and pg_hba.conf", func(t *testing.T) {
		srv := pg.Server(t)
		dsn := strings.Replace(srv.URL("postgres"), "//sg@", "//nobody@", 1)
		_, err := Open(t.Context(), dsn, Options{})
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "pg_hba.conf") {
			t.Fatalf("Open = %v, want ErrRefused", err)
		}
	})
}
