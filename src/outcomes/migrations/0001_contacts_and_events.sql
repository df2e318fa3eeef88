-- Contacts: one row per customer per campaign, as scored when the action was taken.
-- The first contact wins: scoring the same customer again in the same campaign keeps
-- the features and arm of the first time.
CREATE TABLE contacts (
    campaign          TEXT NOT NULL,
    customer_id       TEXT NOT NULL,
    contacted_at      TEXT NOT NULL,
    model_version     TEXT NOT NULL,
    arm               TEXT NOT NULL,
    churn_probability DOUBLE PRECISION,
    risk_band         TEXT,
    segment           INTEGER NOT NULL,
    segment_name      TEXT NOT NULL,
    offers            TEXT NOT NULL,
    inputs            TEXT NOT NULL,
    PRIMARY KEY (campaign, customer_id)
);

-- Outcome events; the key makes sending an event twice count once.
CREATE TABLE outcome_events (
    event_key   TEXT PRIMARY KEY,
    campaign    TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    value       DOUBLE PRECISION
);

CREATE INDEX outcome_events_by_campaign ON outcome_events (campaign, customer_id);
