-- Every attempt to deliver an alert, with its result: the evidence that
-- people were told (PCI DSS 11.6.1). Append-only, like the audit log.
CREATE TABLE deliveries (
    id       INTEGER PRIMARY KEY,
    at       TEXT    NOT NULL,
    sink     TEXT    NOT NULL,
    site     TEXT    NOT NULL,
    page     TEXT    NOT NULL,
    scan_id  INTEGER NOT NULL DEFAULT 0,
    findings TEXT    NOT NULL DEFAULT '[]',
    ok       INTEGER NOT NULL,
    error    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_at ON deliveries (at);

CREATE TRIGGER deliveries_no_update BEFORE UPDATE ON deliveries
BEGIN SELECT RAISE(ABORT, 'delivery log is append-only'); END;
CREATE TRIGGER deliveries_no_delete BEFORE DELETE ON deliveries
BEGIN SELECT RAISE(ABORT, 'delivery log is append-only'); END;
