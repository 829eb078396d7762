-- 0004: claims on alerts, so that two serve processes that both decide to
-- tell a channel about a finding send it once (see DB.ClaimAlert). A claim
-- names what is to be sent and the delivery history it was decided from;
-- it is held until until, after which a process may claim it again (the
-- claimer died before it recorded its delivery). Not part of the history:
-- migrate does not copy it, and rows older than a day are removed.
CREATE TABLE alert_claims (
    key   text COLLATE "C" PRIMARY KEY,
    until timestamptz NOT NULL
);
CREATE INDEX alert_claims_until ON alert_claims (until);
