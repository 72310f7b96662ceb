-- Aggregated pull counts, one row per (UTC day, repository, tag, digest, architecture).
-- Written with IF NOT EXISTS so that a database prepared by hand with sql/event_schema.sql migrates cleanly.
CREATE TABLE IF NOT EXISTS container_pull_metrics (
    id           BIGSERIAL PRIMARY KEY,
    pull_date    DATE        NOT NULL,
    repo_name    TEXT        NOT NULL,
    tag          TEXT        NOT NULL,
    digest       TEXT        NOT NULL,
    architecture TEXT        NOT NULL DEFAULT 'not-specified',
    pull_count   INTEGER     NOT NULL DEFAULT 1,
    created_at   TIMESTAMP   NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at   TIMESTAMP   NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT container_pull_metrics_unique_key UNIQUE (pull_date, repo_name, tag, digest, architecture)
);

CREATE INDEX IF NOT EXISTS idx_container_pull_metrics_pull_date
    ON container_pull_metrics (pull_date);
CREATE INDEX IF NOT EXISTS idx_container_pull_metrics_repo_date
    ON container_pull_metrics (repo_name, pull_date);
CREATE INDEX IF NOT EXISTS idx_container_pull_metrics_repo_arch_date
    ON container_pull_metrics (repo_name, architecture, pull_date);
