-- 0009: claims on alerts, so that two processes on one file that both
-- decide to tell a channel about a finding send it once: serve and a
-- `skimguard check` run beside it (see DB.ClaimAlert). A claim names what
-- is to be sent and the delivery history it was decided from; it is held
-- until `until`, after which it may be claimed again (the claimer died
-- before it recorded its delivery). Not part of the history: export and
-- migrate leave it out, and rows older than a day are removed.
CREATE TABLE alert_claims (
    key   TEXT PRIMARY KEY,
    until TEXT NOT NULL
);
CREATE INDEX alert_claims_until ON alert_claims (until);
