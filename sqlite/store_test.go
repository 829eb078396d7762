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
		Exec: func(t *testing.T, s skimguard.Store, q string) error {
			_, err := s.(*DB).sql.ExecContext(t.Context(), q)
			return err
		},
		Count: func(t *testing.T, s skimguard.Store, q string) int { return count(t, s.(*DB), q) },
	})
}
