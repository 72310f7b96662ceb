-- The session count policy (STATICREG_COUNT_POLICY=sessions, the default).
--
-- Checks: a client asked for a manifest (HEAD) but downloaded nothing, e.g. an up-to-date `docker pull` or a
-- kubelet `imagePullPolicy: Always`. Same key as container_pull_metrics, kept apart so every row there is a pull.
CREATE TABLE IF NOT EXISTS container_pull_checks (
    id           BIGSERIAL PRIMARY KEY,
    pull_date    DATE        NOT NULL,
    repo_name    TEXT        NOT NULL,
    tag          TEXT        NOT NULL,
    digest       TEXT        NOT NULL,
    architecture TEXT        NOT NULL DEFAULT 'not-specified',
    check_count  INTEGER     NOT NULL DEFAULT 1,
    created_at   TIMESTAMP   NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at   TIMESTAMP   NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT container_pull_checks_unique_key UNIQUE (pull_date, repo_name, tag, digest, architecture)
);
CREATE INDEX IF NOT EXISTS idx_container_pull_checks_pull_date ON container_pull_checks (pull_date);
CREATE INDEX IF NOT EXISTS idx_container_pull_checks_repo_date ON container_pull_checks (repo_name, pull_date);

-- Every manifest request of the recent past, so a session can be recomputed whichever worker sees which of
-- its events, in whatever order. Pruned after STATICREG_SESSION_RETENTION_HOURS.
CREATE TABLE IF NOT EXISTS pull_session_events (
    event_id      TEXT        PRIMARY KEY,
    client_key    TEXT        NOT NULL,
    event_time    TIMESTAMPTZ NOT NULL,
    repo_name     TEXT        NOT NULL,
    method        TEXT        NOT NULL,
    media_type    TEXT        NOT NULL,
    digest        TEXT        NOT NULL,
    tag           TEXT        NOT NULL,
    ua_architecture TEXT      NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_pull_session_events_client_time ON pull_session_events (client_key, event_time);
CREATE INDEX IF NOT EXISTS idx_pull_session_events_received_at ON pull_session_events (received_at);

-- The sessions as last computed, with what each added to the two count tables: when a late event joins or
-- merges sessions, their old counts are taken back and the new ones added, in the same transaction.
CREATE TABLE IF NOT EXISTS pull_sessions (
    client_key  TEXT        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ NOT NULL,
    counts      JSONB       NOT NULL,
    PRIMARY KEY (client_key, started_at)
);
CREATE INDEX IF NOT EXISTS idx_pull_sessions_ended_at ON pull_sessions (ended_at);

-- What the registry says about a manifest digest (digests never change, so this is read once).
CREATE TABLE IF NOT EXISTS manifest_descriptions (
    digest       TEXT        PRIMARY KEY,
    kind         TEXT        NOT NULL CHECK (kind IN ('index', 'image')),
    platform     TEXT,
    children     JSONB,
    described_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
