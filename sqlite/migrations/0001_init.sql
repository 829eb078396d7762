-- 0001: the first schema of skimguard's SQLite store.
--
-- Times are UTC text with nine fraction digits (2006-01-02T15:04:05.000000000Z),
-- so that they sort as text. JSON columns hold encoding/json output of the
-- domain types.

-- 'SKGD': marks the file as skimguard's, so that Open never migrates a
-- database that belongs to something else.
PRAGMA application_id = 1397442372;

-- Every page anything was stored for.
CREATE TABLE pages (
    site TEXT NOT NULL,
    page TEXT NOT NULL,
    url  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site, page)
);

-- Script texts, stored once per content: the same few hundred scripts come
-- back in every scan and baseline version.
CREATE TABLE sources (
    sha256 TEXT PRIMARY KEY,
    source TEXT NOT NULL
);

CREATE TABLE scans (
    id               INTEGER PRIMARY KEY,
    site             TEXT NOT NULL,
    page             TEXT NOT NULL,
    url              TEXT NOT NULL DEFAULT '',
    started_at       TEXT NOT NULL,
    duration_ns      INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL,
    error            TEXT NOT NULL DEFAULT '',
    baseline_version INTEGER NOT NULL DEFAULT 0,
    -- JSON array of sources.sha256, one per observation script in order
    -- ("" when the script had no text); the observation itself is stored
    -- without script texts.
    script_sources   TEXT,
    -- gzip-compressed JSON of the Observation, NULL when there was none.
    observation_gz   BLOB,
    -- PNG, NULL when none was taken. Large columns come last so that
    -- listing scans does not read them.
    screenshot       BLOB,
    FOREIGN KEY (site, page) REFERENCES pages (site, page)
);
CREATE INDEX scans_page_started ON scans (site, page, started_at);
CREATE INDEX scans_started ON scans (started_at);

-- Every approved version of every page's baseline; old versions are kept.
CREATE TABLE baselines (
    id          INTEGER PRIMARY KEY,
    site        TEXT NOT NULL,
    page        TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version > 0),
    url         TEXT NOT NULL DEFAULT '',
    samples     INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    approved_by TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    UNIQUE (site, page, version),
    FOREIGN KEY (site, page) REFERENCES pages (site, page)
);

CREATE TABLE baseline_items (
    baseline_id   INTEGER NOT NULL REFERENCES baselines (id),
    position      INTEGER NOT NULL,
    type          TEXT NOT NULL,
    key           TEXT NOT NULL,
    subject       TEXT NOT NULL DEFAULT '',
    origin        TEXT NOT NULL DEFAULT '',
    item_values   TEXT NOT NULL DEFAULT 'null', -- JSON array
    optional      INTEGER NOT NULL DEFAULT 0,
    attrs         TEXT NOT NULL DEFAULT 'null', -- JSON object
    source_sha256 TEXT REFERENCES sources (sha256),
    sha256        TEXT NOT NULL DEFAULT '',
    sri           TEXT NOT NULL DEFAULT '',
    first_seen    TEXT,
    approved_by   TEXT NOT NULL DEFAULT '',
    reason        TEXT NOT NULL DEFAULT '',
    approved_at   TEXT,
    PRIMARY KEY (baseline_id, position),
    UNIQUE (baseline_id, type, key)
);

CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    site        TEXT NOT NULL,
    page        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    evidence    TEXT NOT NULL DEFAULT '{}', -- JSON of Evidence
    item        TEXT NOT NULL DEFAULT '{}', -- JSON of Item
    fingerprint TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('open', 'approved', 'rejected')),
    scan_id     INTEGER REFERENCES scans (id),
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    resolved_by TEXT NOT NULL DEFAULT '',
    resolution  TEXT NOT NULL DEFAULT '',
    resolved_at TEXT,
    FOREIGN KEY (site, page) REFERENCES pages (site, page)
);
CREATE INDEX findings_fingerprint ON findings (site, page, fingerprint, status);
CREATE INDEX findings_status ON findings (status);
-- A change stays one finding while it is open.
CREATE UNIQUE INDEX findings_one_open ON findings (site, page, fingerprint)
    WHERE status = 'open' AND fingerprint <> '';

-- Who changed what. Append-only: the triggers refuse to change or remove a
-- row. (They guard against mistakes, not against someone who can edit the
-- file.)
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    site   TEXT NOT NULL DEFAULT '',
    page   TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
