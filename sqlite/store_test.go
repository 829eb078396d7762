package sqlite

import (
	"testing"

	"github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/internal/storetest"
)

// TestStore runs the Store conformance suite on SQLite files.
func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) skimguard.Store {
			db, _ := openTest(t)
			return db
		},
		Again: func(t *testing.T, s skimguard.Store) skimguard.Store {
			db, err := Open(t.Context(), s.(*DB).path)
			if err != nil {
				t.Fatalf("Open again: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		Exec: func(t *testing.T, s skimguard.Store, q string) error {
			_, err := s.(*DB).sql.ExecContext(t.Context(), q)
			return err
		},
		Count: func(t *testing.T, s skimguard.Store, q string) int { return count(t, s.(*DB), q) },
	})
}
