-- 0003: the people who may sign in to the web interface.
--
-- Only a bcrypt hash of each password is kept, never the password. Times are
-- UTC text as in 0001.
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
