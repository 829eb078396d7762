package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skimguard/skimguard"
)

// SaveUser adds u with u.Role or, when a user of that name exists, replaces
// its password hash, keeping its role and CreatedAt, and ends its sessions;
// either way it records "user.added" (with the role) or
// "user.password_changed" in the audit log with by as the actor, naming the
// user but never the hash. A new user's
// CreatedAt is u.CreatedAt, or now when zero. On success u.Role and
// u.CreatedAt are the stored ones.
func (db *DB) SaveUser(ctx context.Context, u *skimguard.User, by string) error {
	if u == nil {
		return errors.New("save user: nil user")
	}
	what := fmt.Sprintf("save user %q", u.Name)
	if u.Name == "" {
		return errors.New("save user: the user has no name")
	}
	if len(u.PasswordHash) == 0 {
		return fmt.Errorf("%s: no password hash: hash the password with bcrypt first", what)
	}
	var created time.Time
	var role skimguard.Role
	err := db.write(ctx, what, func(t tx) error {
		now := stored(time.Now())
		created, role = u.CreatedAt, u.Role
		if created.IsZero() {
			created = now
		}
		created = stored(created)
		// Locked, or when there is none yet, inserted without waiting: of
		// two processes adding one user, the second runs again and
		// changes the password of the first's.
		var storedRole string
		err := t.queryRow(ctx, "SELECT created_at, role FROM users WHERE name = $1 FOR UPDATE", u.Name).Scan(&created, &storedRole)
		action, detail := "user.password_changed", userDetail(u.Name)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := skimguard.ParseRole(string(role)); err != nil {
				return fmt.Errorf("a new user needs a role: %w", err)
			}
			action, detail = "user.added", fmt.Sprintf("%s as %s", userDetail(u.Name), role)
			tag, err := t.exec(ctx, `INSERT INTO users (name, password_hash, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (name) DO NOTHING`, u.Name, u.PasswordHash, string(role), created, now)
			if err != nil {
				return fmt.Errorf("insert user: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return errAgain
			}
		case err != nil:
			return fmt.Errorf("look up user: %w", err)
		default:
			role = skimguard.Role(storedRole)
			_, err = t.exec(ctx, "UPDATE users SET password_hash = $1, updated_at = $2 WHERE name = $3", u.PasswordHash, now, u.Name)
			if err != nil {
				return fmt.Errorf("update password hash: %w", err)
			}
			if err := endSessions(ctx, t, u.Name); err != nil {
				return err
			}
		}
		return audit(ctx, t, skimguard.AuditEntry{At: now, Actor: by, Action: action, Detail: detail})
	})
	if err != nil {
		return err
	}
	u.Role, u.CreatedAt = role, created
	return nil
}

// SetUserRole gives the user of that name another role and records
// "user.role_changed" in the audit log with by as the actor, naming the
// roles before and after; an error wrapping skimguard.ErrNotFound when there
// is no such user, and then nothing is recorded.
func (db *DB) SetUserRole(ctx context.Context, name string, role skimguard.Role, by string) error {
	what := fmt.Sprintf("set the role of user %q", name)
	if _, err := skimguard.ParseRole(string(role)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	found := false
	err := db.write(ctx, what, func(t tx) error {
		var old string
		err := t.queryRow(ctx, "SELECT role FROM users WHERE name = $1 FOR UPDATE", name).Scan(&old)
		found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("look up user: %w", err)
		}
		if _, err := t.exec(ctx, "UPDATE users SET role = $1, updated_at = $2 WHERE name = $3", string(role), time.Now(), name); err != nil {
			return fmt.Errorf("update role: %w", err)
		}
		return audit(ctx, t, skimguard.AuditEntry{Actor: by, Action: "user.role_changed",
			Detail: fmt.Sprintf("%s: %s → %s", userDetail(name), old, role)})
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s: %w", what, skimguard.ErrNotFound)
	}
	return nil
}

// User returns the user of that name, or an error wrapping
// skimguard.ErrNotFound.
func (db *DB) User(ctx context.Context, name string) (*skimguard.User, error) {
	var us []skimguard.User
	err := db.read(ctx, fmt.Sprintf("load user %q", name), func(t tx) error {
		var err error
		us, err = queryUsers(ctx, t, userColumns+" WHERE name = $1", name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, fmt.Errorf("user %q: %w", name, skimguard.ErrNotFound)
	}
	return &us[0], nil
}

// Users lists the users by name.
func (db *DB) Users(ctx context.Context) ([]skimguard.User, error) {
	var us []skimguard.User
	err := db.read(ctx, "list users", func(t tx) error {
		var err error
		us, err = queryUsers(ctx, t, userColumns+" ORDER BY name")
		return err
	})
	if err != nil {
		return nil, err
	}
	return us, nil
}

// DeleteUser removes the user of that name, ends its sessions, and records
// "user.removed" in the audit log with by as the actor; an error wrapping
// skimguard.ErrNotFound when there is none, and then nothing is recorded.
func (db *DB) DeleteUser(ctx context.Context, name, by string) error {
	found := false
	err := db.write(ctx, fmt.Sprintf("remove user %q", name), func(t tx) error {
		tag, err := t.exec(ctx, "DELETE FROM users WHERE name = $1", name)
		if err != nil {
			return err
		}
		if found = tag.RowsAffected() > 0; !found {
			return nil
		}
		if err := endSessions(ctx, t, name); err != nil {
			return err
		}
		return audit(ctx, t, skimguard.AuditEntry{Actor: by, Action: "user.removed", Detail: userDetail(name)})
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("remove user %q: %w", name, skimguard.ErrNotFound)
	}
	return nil
}

const userColumns = "SELECT name, password_hash, role, created_at FROM users"

func queryUsers(ctx context.Context, t tx, q string, args ...any) ([]skimguard.User, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row pgx.CollectableRow) (skimguard.User, error) {
		var u skimguard.User
		var role string
		err := row.Scan(&u.Name, &u.PasswordHash, &role, &u.CreatedAt)
		u.Role = skimguard.Role(role)
		return u, err
	})
}

// userDetail names a user in the audit log, quoted so that an odd name
// cannot pass for other text.
func userDetail(name string) string { return fmt.Sprintf("user %q", name) }
