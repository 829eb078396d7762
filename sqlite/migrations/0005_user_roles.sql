-- 0004: each user's role: viewer (reads), reviewer (also approves and
-- rejects findings) or admin (also manages users and settings).
--
-- Users from before roles become admins, so that nobody loses what they
-- could do. The table is rebuilt rather than altered so that the column has
-- no default: every new user is given a role on purpose.
CREATE TABLE users_with_roles (
    name          TEXT PRIMARY KEY,
    password_hash BLOB NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
INSERT INTO users_with_roles (name, password_hash, role, created_at, updated_at)
    SELECT name, password_hash, 'admin', created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_with_roles RENAME TO users;
