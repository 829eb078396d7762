-- 0008: what the web interface kept in memory, kept here instead, so that a
-- restart of serve signs nobody out and forgets no failed sign-in.
--
-- Each signed-in browser, by the SHA-256 of its cookie value (never the
-- value). A session ends idle_ns after seen_at or at ends_at; ended ones
-- are removed as they are met, and by ends_at when a session starts.
CREATE TABLE sessions (
    key             TEXT PRIMARY KEY,
    user_name       TEXT NOT NULL,
    password_digest TEXT NOT NULL,
    csrf            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    seen_at         TEXT NOT NULL,
    idle_ns         INTEGER NOT NULL,
    ends_at         TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_ends ON sessions (ends_at);

-- Failed sign-ins, counted by key (a digest of the client's address, or of
-- a user name at an address) for throttling; forgotten once old.
CREATE TABLE signin_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX signin_failures_key ON signin_failures (key, at);
CREATE INDEX signin_failures_at ON signin_failures (at);
