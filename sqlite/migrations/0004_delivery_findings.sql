-- 0004: which deliveries carried which finding, so that "what was each
-- channel told about these open findings?" reads a few rows by key instead
-- of parsing every delivery's findings. Derived from deliveries.findings by
-- a trigger, and append-only like the deliveries it indexes.
CREATE TABLE delivery_findings (
    finding_id  INTEGER NOT NULL,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    PRIMARY KEY (finding_id, delivery_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO delivery_findings (finding_id, delivery_id)
    SELECT j.value, d.id FROM deliveries AS d, json_each(d.findings) AS j;

CREATE TRIGGER deliveries_index_findings AFTER INSERT ON deliveries
BEGIN
    INSERT OR IGNORE INTO delivery_findings (finding_id, delivery_id)
        SELECT value, NEW.id FROM json_each(NEW.findings);
END;

CREATE TRIGGER delivery_findings_no_update BEFORE UPDATE ON delivery_findings
BEGIN SELECT RAISE(ABORT, 'delivery log is append-only'); END;
CREATE TRIGGER delivery_findings_no_delete BEFORE DELETE ON delivery_findings
BEGIN SELECT RAISE(ABORT, 'delivery log is append-only'); END;
