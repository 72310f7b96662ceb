-- Registry event ids already counted. The worker inserts a batch's ids in the same transaction as its
-- counts, so a re-delivered event or a replayed batch adds nothing. Pruned after
-- STATICREG_DEDUP_RETENTION_DAYS (the registry re-delivers within minutes to hours).
CREATE TABLE IF NOT EXISTS processed_pull_events (
    event_id     TEXT        PRIMARY KEY,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_processed_pull_events_processed_at
    ON processed_pull_events (processed_at);
