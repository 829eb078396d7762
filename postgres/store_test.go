package postgres

import (
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/storetest"
)

// TestStore runs the Store conformance suite on PostgreSQL, each test on a
// database of its own.
func TestStore(t *testing.T) {
	var mu sync.Mutex
	conns := map[skimguard.Store]*pgx.Conn{}
	urls := map[skimguard.Store]string{}
	raw := func(s skimguard.Store) *pgx.Conn {
		mu.Lock()
		defer mu.Unlock()
		return conns[s]
	}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) skimguard.Store {
			db, url := openTest(t)
			c := rawConn(t, url)
			mu.Lock()
			defer mu.Unlock()
			conns[db], urls[db] = c, url
			return db
		},
		Again: func(t *testing.T, s skimguard.Store) skimguard.Store {
			mu.Lock()
			url := urls[s]
			mu.Unlock()
			db, err := Open(t.Context(), url, Options{})
			if err != nil {
				t.Fatalf("Open again: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		Exec: func(t *testing.T, s skimguard.Store, q string) error {
			_, err := raw(s).Exec(t.Context(), q)
			return err
		},
		Count: func(t *testing.T, s skimguard.Store, q string) int { return count(t, raw(s), q) },
	})
}
