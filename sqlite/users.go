package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	now := time.Now()
	created, role := u.CreatedAt, u.Role
	if created.IsZero() {
		created = now
	}
	err := db.write(ctx, what, func(tx *sql.Tx) error {
		var stored sql.NullString
		var storedRole string
		err := tx.QueryRowContext(ctx, "SELECT created_at, role FROM users WHERE name = ?", u.Name).Scan(&stored, &storedRole)
		action, detail := "user.password_changed", userDetail(u.Name)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := skimguard.ParseRole(string(role)); err != nil {
				return fmt.Errorf("a new user needs a role: %w", err)
			}
			action, detail = "user.added", fmt.Sprintf("%s as %s", userDetail(u.Name), role)
			_, err = tx.ExecContext(ctx, "INSERT INTO users (name, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
				u.Name, u.PasswordHash, string(role), timeText(created), timeText(now))
			if err != nil {
				return fmt.Errorf("insert user: %w", err)
			}
		case err != nil:
			return fmt.Errorf("look up user: %w", err)
		default:
			role = skimguard.Role(storedRole)
			if created, err = parseTime(stored); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?",
				u.PasswordHash, timeText(now), u.Name)
			if err != nil {
				return fmt.Errorf("update password hash: %w", err)
			}
			if err := endSessions(ctx, tx, u.Name); err != nil {
				return err
			}
		}
		return audit(ctx, tx, skimguard.AuditEntry{At: now, Actor: by, Action: action, Detail: detail})
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
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	found := false
	err := db.write(ctx, what, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, "SELECT role FROM users WHERE name = ?", name).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("look up user: %w", err)
		}
		found = true
		if _, err := tx.ExecContext(ctx, "UPDATE users SET role = ?, updated_at = ? WHERE name = ?", string(role), timeText(time.Now()), name); err != nil {
			return fmt.Errorf("update role: %w", err)
		}
		return audit(ctx, tx, skimguard.AuditEntry{Actor: by, Action: "user.role_changed",
			Detail: fmt.Sprintf("%s: %s → %s", userDetail(name), old, role)})
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("sqlite: %s: %w", what, skimguard.ErrNotFound)
	}
	return nil
}

// User returns the user of that name, or an error wrapping
// skimguard.ErrNotFound.
func (db *DB) User(ctx context.Context, name string) (*skimguard.User, error) {
	u, err := scanUser(db.sql.QueryRowContext(ctx, userColumns+" WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, skimguard.ErrNotFound)
	}
	if err != nil {
		return nil, db.fail(fmt.Sprintf("load user %q", name), err)
	}
	return &u, nil
}

// Users lists the users by name.
func (db *DB) Users(ctx context.Context) ([]skimguard.User, error) {
	rows, err := db.sql.QueryContext(ctx, userColumns+" ORDER BY name")
	if err != nil {
		return nil, db.fail("list users", err)
	}
	defer rows.Close()
	var us []skimguard.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, db.fail("list users", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail("list users", err)
	}
	return us, nil
}

// DeleteUser removes the user of that name, ends its sessions, and records
// "user.removed" in the audit log with by as the actor; an error wrapping
// skimguard.ErrNotFound when there is none, and then nothing is recorded.
func (db *DB) DeleteUser(ctx context.Context, name, by string) error {
	found := false
	err := db.write(ctx, fmt.Sprintf("remove user %q", name), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM users WHERE name = ?", name)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		found = true
		if err := endSessions(ctx, tx, name); err != nil {
			return err
		}
		return audit(ctx, tx, skimguard.AuditEntry{Actor: by, Action: "user.removed", Detail: userDetail(name)})
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

// scanUser reads one row of userColumns.
func scanUser(row interface{ Scan(...any) error }) (skimguard.User, error) {
	var u skimguard.User
	var created sql.NullString
	if err := row.Scan(&u.Name, &u.PasswordHash, &u.Role, &created); err != nil {
		return u, err
	}
	var err error
	u.CreatedAt, err = parseTime(created)
	return u, err
}

// userDetail names a user in the audit log, quoted so that an odd name
// cannot pass for other text.
func userDetail(name string) string { return fmt.Sprintf("user %q", name) }
