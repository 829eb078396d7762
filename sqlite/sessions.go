package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/skimguard/skimguard"
)

// SaveSession stores a new session, and removes the sessions whose EndsAt
// passed before s.CreatedAt.
func (db *DB) SaveSession(ctx context.Context, s *skimguard.Session) error {
	return db.write(ctx, fmt.Sprintf("start a session of %q", s.User), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE ends_at < ?", timeText(s.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (key, user_name, password_digest, csrf, created_at, seen_at, idle_ns, ends_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.Key, s.User, s.PasswordDigest, s.CSRF, timeText(s.CreatedAt), timeText(s.SeenAt),
			int64(s.Idle), timeText(s.EndsAt))
		return err
	})
}

// TouchSession returns the session of key marked seen at now, or an error
// wrapping skimguard.ErrNotFound when there is none or it has ended, and
// then removes it. Marking it seen is a write of its own, after the read:
// when the database takes no writes (a full disk), the session is
// returned all the same, not marked seen, so that nobody is signed out of
// the incident they are reading.
func (db *DB) TouchSession(ctx context.Context, key string, now time.Time) (*skimguard.Session, error) {
	var s skimguard.Session
	found := false
	err := db.read(ctx, "check a session", func(tx *sql.Tx) error {
		var created, seen, ends sql.NullString
		var idle int64
		err := tx.QueryRowContext(ctx, `SELECT key, user_name, password_digest, csrf, created_at, seen_at, idle_ns, ends_at
			FROM sessions WHERE key = ?`, key).Scan(&s.Key, &s.User, &s.PasswordDigest, &s.CSRF, &created, &seen, &idle, &ends)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found, s.Idle = true, time.Duration(idle)
		for _, p := range []struct {
			to   *time.Time
			text sql.NullString
		}{{&s.CreatedAt, created}, {&s.SeenAt, seen}, {&s.EndsAt, ends}} {
			if *p.to, err = parseTime(p.text); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, fmt.Errorf("session: %w", skimguard.ErrNotFound)
	case s.Ended(now):
		// Ended either way: removing it only tidies up.
		db.DeleteSession(ctx, key)
		return nil, fmt.Errorf("session: %w", skimguard.ErrNotFound)
	}
	err = db.write(ctx, "mark a session seen", func(tx *sql.Tx) error {
		// Of two requests at once, the later time stays.
		_, err := tx.ExecContext(ctx, "UPDATE sessions SET seen_at = max(seen_at, ?) WHERE key = ?", timeText(now), key)
		return err
	})
	if err == nil {
		s.SeenAt = now
	}
	return &s, nil
}

// DeleteSession ends the session of key.
func (db *DB) DeleteSession(ctx context.Context, key string) error {
	return db.write(ctx, "end a session", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE key = ?", key)
		return err
	})
}

// endSessions ends every session of the user within tx.
func endSessions(ctx context.Context, tx *sql.Tx, user string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_name = ?", user); err != nil {
		return fmt.Errorf("end the sessions of %q: %w", user, err)
	}
	return nil
}

// RecordSignInFailure counts a failed sign-in at `at` under each key and
// forgets the failures counted before forget.
func (db *DB) RecordSignInFailure(ctx context.Context, at, forget time.Time, keys ...string) error {
	return db.write(ctx, "count a failed sign-in", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM signin_failures WHERE at < ?", timeText(forget)); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, "INSERT INTO signin_failures (key, at) VALUES (?, ?)", k, timeText(at)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SignInFailures returns the failures counted under each key at or after
// since, oldest first.
func (db *DB) SignInFailures(ctx context.Context, since time.Time, keys ...string) (map[string][]time.Time, error) {
	out := map[string][]time.Time{}
	err := db.read(ctx, "read failed sign-ins", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT key, at FROM signin_failures
			WHERE key IN (SELECT value FROM json_each(?)) AND at >= ? ORDER BY at, id`, jsonText(keys), timeText(since))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var at sql.NullString
			if err := rows.Scan(&k, &at); err != nil {
				return err
			}
			t, err := parseTime(at)
			if err != nil {
				return err
			}
			out[k] = append(out[k], t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ClearSignInFailures forgets the failures counted under key.
func (db *DB) ClearSignInFailures(ctx context.Context, key string) error {
	return db.write(ctx, "clear failed sign-ins", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM signin_failures WHERE key = ?", key)
		return err
	})
}
