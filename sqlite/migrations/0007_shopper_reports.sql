-- 0007: what shoppers' browsers report under a payment page's policy
-- (`skimguard csp`), and the tokens that let them.
--
-- Reports are aggregated as they come, never stored one by one, and no
-- shopper's address is stored: the collector keeps addresses in memory
-- only, for its rate limit. Times are UTC text as in 0001.

-- One token per site, in the collector's URL. Only its SHA-256 is kept:
-- the token itself is shown once, when made.
CREATE TABLE report_tokens (
    site       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One row per page and reported thing: a script's hash, a blocked
-- destination or keyword under a directive, a script without integrity.
CREATE TABLE shopper_reports (
    id          INTEGER PRIMARY KEY,
    site        TEXT NOT NULL,
    page        TEXT NOT NULL,
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    hash        TEXT NOT NULL DEFAULT '',
    directive   TEXT NOT NULL DEFAULT '',
    count       INTEGER NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    user_agents TEXT NOT NULL DEFAULT '[]', -- JSON array, a few at most
    -- What the page's baseline made of it when first reported ('' until
    -- judged), and the finding it opened or joined.
    verdict     TEXT NOT NULL DEFAULT '',
    finding_id  INTEGER REFERENCES findings (id),
    UNIQUE (site, page, type, subject, hash, directive)
);
CREATE INDEX shopper_reports_last_seen ON shopper_reports (last_seen);
