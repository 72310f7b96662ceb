-- Rollups of the count tables for the dashboard, kept exact by triggers, and the indexes its queries use.
--
-- metrics_daily_repo  (day, repository, architecture):   tags and digests summed away (about 1 row in 15)
-- metrics_weekly_repo (ISO week, repository, architecture): the same per week, for ranges of whole weeks
-- metrics_daily_arch  (day, architecture):               every repository summed (a few rows a day)
-- metrics_weekly_tag  (ISO week, repository, tag):        pulls per tag and week, for the top-N bound
-- A rollup per day and tag would be nearly as large as the count table itself (a tag has one or two digests a
-- day), so exact per-tag sums come from the count tables through the (repo_name, tag, pull_date) indexes below;
-- metrics_weekly_tag only tells which tags can be in a top N (see libs/db/src/metrics-queries.repository.ts).
-- Each holds pulls (from container_pull_metrics) and checks (from container_pull_checks). Statement-level
-- triggers with transition tables add every change of the two count tables, positive or negative (the
-- session policy takes counts back and adds them again; rows that reach 0 are deleted), so a rollup always
-- equals the sum of its rows, whoever writes: the worker, retention, or a hand-made UPDATE. Rollup rows at 0
-- pulls and 0 checks are deleted. A transaction-scoped advisory lock orders the writers of the rollups, so two
-- workers whose batches touch the same days cannot deadlock on them.

CREATE TABLE IF NOT EXISTS metrics_daily_repo (
    pull_date    DATE   NOT NULL,
    repo_name    TEXT   NOT NULL,
    architecture TEXT   NOT NULL,
    pulls        BIGINT NOT NULL DEFAULT 0,
    checks       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (pull_date, repo_name, architecture)
);
CREATE INDEX IF NOT EXISTS idx_metrics_daily_repo_repo_date ON metrics_daily_repo (repo_name, pull_date) INCLUDE (architecture, pulls, checks);
-- Repository names in byte order, for the autocomplete's prefix skip scan whatever the database collation.
CREATE INDEX IF NOT EXISTS idx_metrics_daily_repo_name_c ON metrics_daily_repo (repo_name COLLATE "C");

CREATE TABLE IF NOT EXISTS metrics_weekly_repo (
    week         DATE   NOT NULL,
    repo_name    TEXT   NOT NULL,
    architecture TEXT   NOT NULL,
    pulls        BIGINT NOT NULL DEFAULT 0,
    checks       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (week, repo_name, architecture)
);
CREATE INDEX IF NOT EXISTS idx_metrics_weekly_repo_repo_week ON metrics_weekly_repo (repo_name, week) INCLUDE (architecture, pulls, checks);
CREATE INDEX IF NOT EXISTS idx_metrics_weekly_repo_week_pulls ON metrics_weekly_repo (week, pulls) INCLUDE (repo_name, architecture);

CREATE TABLE IF NOT EXISTS metrics_weekly_tag (
    week      DATE   NOT NULL,
    repo_name TEXT   NOT NULL,
    tag       TEXT   NOT NULL,
    pulls     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (week, repo_name, tag)
);
CREATE INDEX IF NOT EXISTS idx_metrics_weekly_tag_week_pulls ON metrics_weekly_tag (week, pulls) INCLUDE (repo_name, tag);
CREATE INDEX IF NOT EXISTS idx_metrics_weekly_tag_repo_week_pulls ON metrics_weekly_tag (repo_name, week, pulls) INCLUDE (tag);

CREATE TABLE IF NOT EXISTS metrics_daily_arch (
    pull_date    DATE   NOT NULL,
    architecture TEXT   NOT NULL,
    pulls        BIGINT NOT NULL DEFAULT 0,
    checks       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (pull_date, architecture)
);

-- One repository's tags, and a tag's digests, straight from the count tables by index only.
CREATE INDEX IF NOT EXISTS idx_container_pull_metrics_repo_tag_date
    ON container_pull_metrics (repo_name, tag, pull_date) INCLUDE (digest, architecture, pull_count, updated_at);
CREATE INDEX IF NOT EXISTS idx_container_pull_checks_repo_tag_date
    ON container_pull_checks (repo_name, tag, pull_date) INCLUDE (digest, architecture, check_count, updated_at);

-- Adds the changes in the temp table metrics_rollup_changes (rows of a count table with a signed count) to the
-- rollups, then drops it. kind: 'pulls' or 'checks'.
CREATE OR REPLACE FUNCTION metrics_rollup_add(kind TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- One writer of the rollups at a time (released at commit); always taken before any rollup row.
    PERFORM pg_advisory_xact_lock(hashtextextended('staticreg.metrics_rollups', 0));

    INSERT INTO metrics_daily_repo AS r (pull_date, repo_name, architecture, pulls, checks)
    SELECT pull_date, repo_name, architecture,
           CASE WHEN kind = 'pulls' THEN sum(n) ELSE 0 END, CASE WHEN kind = 'checks' THEN sum(n) ELSE 0 END
    FROM metrics_rollup_changes GROUP BY pull_date, repo_name, architecture HAVING sum(n) <> 0
    ORDER BY pull_date, repo_name, architecture
    ON CONFLICT (pull_date, repo_name, architecture) DO UPDATE
        SET pulls = r.pulls + excluded.pulls, checks = r.checks + excluded.checks;

    INSERT INTO metrics_weekly_repo AS r (week, repo_name, architecture, pulls, checks)
    SELECT date_trunc('week', pull_date)::date, repo_name, architecture,
           CASE WHEN kind = 'pulls' THEN sum(n) ELSE 0 END, CASE WHEN kind = 'checks' THEN sum(n) ELSE 0 END
    FROM metrics_rollup_changes GROUP BY 1, repo_name, architecture HAVING sum(n) <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (week, repo_name, architecture) DO UPDATE
        SET pulls = r.pulls + excluded.pulls, checks = r.checks + excluded.checks;

    IF kind = 'pulls' THEN
        INSERT INTO metrics_weekly_tag AS r (week, repo_name, tag, pulls)
        SELECT date_trunc('week', pull_date)::date, repo_name, tag, sum(n)
        FROM metrics_rollup_changes GROUP BY 1, repo_name, tag HAVING sum(n) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (week, repo_name, tag) DO UPDATE SET pulls = r.pulls + excluded.pulls;
        DELETE FROM metrics_weekly_tag r
        USING (SELECT DISTINCT date_trunc('week', pull_date)::date AS week, repo_name, tag FROM metrics_rollup_changes) c
        WHERE r.week = c.week AND r.repo_name = c.repo_name AND r.tag = c.tag AND r.pulls = 0;
    END IF;

    INSERT INTO metrics_daily_arch AS r (pull_date, architecture, pulls, checks)
    SELECT pull_date, architecture,
           CASE WHEN kind = 'pulls' THEN sum(n) ELSE 0 END, CASE WHEN kind = 'checks' THEN sum(n) ELSE 0 END
    FROM metrics_rollup_changes GROUP BY pull_date, architecture HAVING sum(n) <> 0
    ORDER BY pull_date, architecture
    ON CONFLICT (pull_date, architecture) DO UPDATE
        SET pulls = r.pulls + excluded.pulls, checks = r.checks + excluded.checks;

    -- Rows with nothing left go, as in the count tables.
    DELETE FROM metrics_daily_repo r USING (SELECT DISTINCT pull_date, repo_name, architecture FROM metrics_rollup_changes) c
    WHERE r.pull_date = c.pull_date AND r.repo_name = c.repo_name AND r.architecture = c.architecture
      AND r.pulls = 0 AND r.checks = 0;
    DELETE FROM metrics_weekly_repo r
    USING (SELECT DISTINCT date_trunc('week', pull_date)::date AS week, repo_name, architecture FROM metrics_rollup_changes) c
    WHERE r.week = c.week AND r.repo_name = c.repo_name AND r.architecture = c.architecture AND r.pulls = 0 AND r.checks = 0;
    DELETE FROM metrics_daily_arch r USING (SELECT DISTINCT pull_date, architecture FROM metrics_rollup_changes) c
    WHERE r.pull_date = c.pull_date AND r.architecture = c.architecture AND r.pulls = 0 AND r.checks = 0;

    DROP TABLE metrics_rollup_changes;
END $$;

-- The trigger functions turn a statement's transition tables into signed changes, then add them.
CREATE OR REPLACE FUNCTION metrics_rollup_pulls_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        CREATE TEMP TABLE metrics_rollup_changes ON COMMIT DROP AS
            SELECT pull_date, repo_name, tag, architecture, pull_count::bigint AS n FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        CREATE TEMP TABLE metrics_rollup_changes ON COMMIT DROP AS
            SELECT pull_date, repo_name, tag, architecture, pull_count::bigint AS n FROM new_rows
            UNION ALL SELECT pull_date, repo_name, tag, architecture, -pull_count::bigint FROM old_rows;
    ELSE
        CREATE TEMP TABLE metrics_rollup_changes ON COMMIT DROP AS
            SELECT pull_date, repo_name, tag, architecture, -pull_count::bigint AS n FROM old_rows;
    END IF;
    PERFORM metrics_rollup_add('pulls');
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION metrics_rollup_checks_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        CREATE TEMP TABLE metrics_rollup_changes ON COMMIT DROP AS
            SELECT pull_date, repo_name, tag, architecture, check_count::bigint AS n FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        CREATE TEMP TABLE metrics_rollup_changes ON COMMIT DROP AS
            SELECT pull_date, repo_name, tag, architecture, check_count::bigint AS n FROM new_rows
            UNION ALL SELECT pull_date, repo_name, tag, architecture, -check_count::bigint FROM old_rows;
    ELSE
        CREATE TEMP TABLE metrics_rollup_changes ON COMMIT DROP AS
            SELECT pull_date, repo_name, tag, architecture, -check_count::bigint AS n FROM old_rows;
    END IF;
    PERFORM metrics_rollup_add('checks');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS metrics_rollup_pulls_insert ON container_pull_metrics;
DROP TRIGGER IF EXISTS metrics_rollup_pulls_update ON container_pull_metrics;
DROP TRIGGER IF EXISTS metrics_rollup_pulls_delete ON container_pull_metrics;
CREATE TRIGGER metrics_rollup_pulls_insert AFTER INSERT ON container_pull_metrics
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics_rollup_pulls_trigger();
CREATE TRIGGER metrics_rollup_pulls_update AFTER UPDATE ON container_pull_metrics
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics_rollup_pulls_trigger();
CREATE TRIGGER metrics_rollup_pulls_delete AFTER DELETE ON container_pull_metrics
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics_rollup_pulls_trigger();

DROP TRIGGER IF EXISTS metrics_rollup_checks_insert ON container_pull_checks;
DROP TRIGGER IF EXISTS metrics_rollup_checks_update ON container_pull_checks;
DROP TRIGGER IF EXISTS metrics_rollup_checks_delete ON container_pull_checks;
CREATE TRIGGER metrics_rollup_checks_insert AFTER INSERT ON container_pull_checks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics_rollup_checks_trigger();
CREATE TRIGGER metrics_rollup_checks_update AFTER UPDATE ON container_pull_checks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics_rollup_checks_trigger();
CREATE TRIGGER metrics_rollup_checks_delete AFTER DELETE ON container_pull_checks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION metrics_rollup_checks_trigger();

-- Builds the rollups from the count tables (used here once, and by hand after a bulk load with triggers off).
CREATE OR REPLACE FUNCTION metrics_rollups_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('staticreg.metrics_rollups', 0));
    TRUNCATE metrics_daily_repo, metrics_weekly_repo, metrics_daily_arch, metrics_weekly_tag;
    INSERT INTO metrics_daily_repo (pull_date, repo_name, architecture, pulls, checks)
    SELECT pull_date, repo_name, architecture, sum(pulls), sum(checks) FROM (
        SELECT pull_date, repo_name, architecture, pull_count::bigint AS pulls, 0::bigint AS checks FROM container_pull_metrics
        UNION ALL
        SELECT pull_date, repo_name, architecture, 0, check_count FROM container_pull_checks
    ) c GROUP BY pull_date, repo_name, architecture HAVING sum(pulls) <> 0 OR sum(checks) <> 0;
    INSERT INTO metrics_weekly_repo (week, repo_name, architecture, pulls, checks)
    SELECT date_trunc('week', pull_date)::date, repo_name, architecture, sum(pulls), sum(checks) FROM metrics_daily_repo GROUP BY 1, 2, 3;
    INSERT INTO metrics_daily_arch (pull_date, architecture, pulls, checks)
    SELECT pull_date, architecture, sum(pulls), sum(checks) FROM metrics_daily_repo GROUP BY pull_date, architecture;
    INSERT INTO metrics_weekly_tag (week, repo_name, tag, pulls)
    SELECT date_trunc('week', pull_date)::date, repo_name, tag, sum(pull_count) FROM container_pull_metrics GROUP BY 1, 2, 3 HAVING sum(pull_count) <> 0;
END $$;

SELECT metrics_rollups_rebuild();
ANALYZE metrics_daily_repo;
ANALYZE metrics_weekly_repo;
ANALYZE metrics_daily_arch;
ANALYZE metrics_weekly_tag;
