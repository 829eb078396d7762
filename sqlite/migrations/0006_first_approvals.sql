-- 0005: the first of two approvals of a finding under the two-person rule
-- (approvals: two-person in sites.yaml): who, why and when. It waits there
-- for a second reviewer while the finding is open, and stays as the record
-- of the first approval once the finding is closed.
ALTER TABLE findings ADD COLUMN first_approved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN first_approval    TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN first_approved_at TEXT;
