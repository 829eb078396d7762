package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard"
)

// SaveSession stores a new session, and removes the sessions whose EndsAt
// passed before s.CreatedAt.
func (db *DB) SaveSession(ctx context.Context, s *skimguard.Session) error {
	return db.write(ctx, fmt.Sprintf("start a session of %q", s.User), func(t tx) error {
		if _, err := t.exec(ctx, "DELETE FROM sessions WHERE ends_at < $1", s.CreatedAt); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO sessions (key, user_name, password_digest, csrf, created_at, seen_at, idle_ns, ends_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.Key, s.User, s.PasswordDigest, s.CSRF, s.CreatedAt, s.SeenAt,
			int64(s.Idle), s.EndsAt)
		return err
	})
}

// TouchSession returns the session of key marked seen at now, or an error
// wrapping skimguard.ErrNotFound when there is none or it has ended, and
// then removes it. Marking it seen is a write of its own, after the read:
// when the database takes no writes (a full disk, a standby), the session
// is returned all the same, not marked seen, so that nobody is signed out
// of the incident they are reading.
func (db *DB) TouchSession(ctx context.Context, key string, now time.Time) (*skimguard.Session, error) {
	var s skimguard.Session
	found := false
	err := db.read(ctx, "check a session", func(t tx) error {
		var idle int64
		err := t.queryRow(ctx, `SELECT key, user_name, password_digest, csrf, created_at, seen_at, idle_ns, ends_at
			FROM sessions WHERE key = $1`, key).
			Scan(&s.Key, &s.User, &s.PasswordDigest, &s.CSRF, &s.CreatedAt, &s.SeenAt, &idle, &s.EndsAt)
		found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		s.Idle = time.Duration(idle)
		return err
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
	seen := stored(now)
	err = db.write(ctx, "mark a session seen", func(t tx) error {
		// Of two requests at once, the later time stays.
		_, err := t.exec(ctx, "UPDATE sessions SET seen_at = greatest(seen_at, $1) WHERE key = $2", seen, key)
		return err
	})
	if err == nil {
		s.SeenAt = seen
	}
	return &s, nil
}

// DeleteSession ends the session of key.
func (db *DB) DeleteSession(ctx context.Context, key string) error {
	return db.write(ctx, "end a session", func(t tx) error {
		_, err := t.exec(ctx, "DELETE FROM sessions WHERE key = $1", key)
		return err
	})
}

// endSessions ends every session of the user within t.
func endSessions(ctx context.Context, t tx, user string) error {
	if _, err := t.exec(ctx, "DELETE FROM sessions WHERE user_name = $1", user); err != nil {
		return fmt.Errorf("end the sessions of %q: %w", user, err)
	}
	return nil
}

// RecordSignInFailure counts a failed sign-in at `at` under each key and
// forgets the failures counted before forget.
func (db *DB) RecordSignInFailure(ctx context.Context, at, forget time.Time, keys ...string) error {
	return db.write(ctx, "count a failed sign-in", func(t tx) error {
		if _, err := t.exec(ctx, "DELETE FROM signin_failures WHERE at < $1", forget); err != nil {
			return err
		}
		_, err := t.exec(ctx, "INSERT INTO signin_failures (key, at) SELECT k, $2 FROM unnest($1::text[]) AS k", keys, at)
		return err
	})
}

// SignInFailures returns the failures counted under each key at or after
// since, oldest first.
func (db *DB) SignInFailures(ctx context.Context, since time.Time, keys ...string) (map[string][]time.Time, error) {
	out := map[string][]time.Time{}
	err := db.read(ctx, "read failed sign-ins", func(t tx) error {
		clear(out)
		rows, err := t.query(ctx, "SELECT key, at FROM signin_failures WHERE key = ANY($1) AND at >= $2 ORDER BY at, id", keys, since)
		if err != nil {
			return err
		}
		var k string
		var at time.Time
		_, err = pgx.ForEachRow(rows, []any{&k, &at}, func() error {
			out[k] = append(out[k], at)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ClearSignInFailures forgets the failures counted under key.
func (db *DB) ClearSignInFailures(ctx context.Context, key string) error {
	return db.write(ctx, "clear failed sign-ins", func(t tx) error {
		_, err := t.exec(ctx, "DELETE FROM signin_failures WHERE key = $1", key)
		return err
	})
}
