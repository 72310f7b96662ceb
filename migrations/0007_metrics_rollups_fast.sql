-- The rollup triggers of 0005 without temporary tables: each statement's transition rows are read straight from
-- the transition tables, and every rollup table gets one INSERT ... ON CONFLICT in one statement. Same triggers, same
-- rollups, same lock; only the functions change, so the upgrade takes no lock on the count tables and the rollups
-- stay exact across it (a statement runs wholly under the old functions or wholly under these).
--
-- The transaction-scoped advisory lock stays: a batch writes pulls and then checks (and deletes rows at 0) in
-- separate statements, each locking rollup rows in key order, so without it two workers lock the same few
-- metrics_daily_arch rows in crossing orders across statements and deadlock (docs/performance.md, Rollup triggers).
-- It is taken once per transaction in effect: a second pg_advisory_xact_lock of a lock already held only counts up.

-- Adds signed changes of one count table (parallel arrays, one element per changed count row) to the rollups, and
-- deletes the rollup rows that reach 0 pulls and 0 checks. is_pulls: the changes are pulls (else checks).
CREATE OR REPLACE FUNCTION metrics_rollup_apply(is_pulls BOOLEAN, days DATE[], repos TEXT[], tags TEXT[], archs TEXT[], counts INTEGER[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    emptied_daily_repo  BOOLEAN;
    emptied_weekly_repo BOOLEAN;
    emptied_weekly_tag  BOOLEAN;
    emptied_daily_arch  BOOLEAN;
BEGIN
    -- One writer of the rollups at a time (released at commit); always taken before any rollup row.
    PERFORM pg_advisory_xact_lock(hashtextextended('staticreg.metrics_rollups', 0));

    -- Each upsert says whether it left a row at 0; only then is a DELETE run (a retraction, retention, an edit).
    WITH change AS (
        SELECT * FROM unnest(days, repos, tags, archs, counts) AS c(pull_date, repo_name, tag, architecture, n)
    ), per_repo AS (
        SELECT pull_date, repo_name, architecture, sum(n) AS n FROM change
        GROUP BY pull_date, repo_name, architecture HAVING sum(n) <> 0
    ), daily_repo AS (
        INSERT INTO metrics_daily_repo AS r (pull_date, repo_name, architecture, pulls, checks)
        SELECT pull_date, repo_name, architecture, CASE WHEN is_pulls THEN n ELSE 0 END, CASE WHEN is_pulls THEN 0 ELSE n END
        FROM per_repo ORDER BY pull_date, repo_name, architecture
        ON CONFLICT (pull_date, repo_name, architecture) DO UPDATE
            SET pulls = r.pulls + excluded.pulls, checks = r.checks + excluded.checks
        RETURNING r.pulls = 0 AND r.checks = 0 AS emptied
    ), weekly_repo AS (
        INSERT INTO metrics_weekly_repo AS r (week, repo_name, architecture, pulls, checks)
        SELECT week, repo_name, architecture, CASE WHEN is_pulls THEN n ELSE 0 END, CASE WHEN is_pulls THEN 0 ELSE n END
        FROM (SELECT date_trunc('week', pull_date)::date AS week, repo_name, architecture, sum(n)::bigint AS n FROM per_repo
              GROUP BY 1, 2, 3 HAVING sum(n) <> 0) w
        ORDER BY week, repo_name, architecture
        ON CONFLICT (week, repo_name, architecture) DO UPDATE
            SET pulls = r.pulls + excluded.pulls, checks = r.checks + excluded.checks
        RETURNING r.pulls = 0 AND r.checks = 0 AS emptied
    ), weekly_tag AS (
        INSERT INTO metrics_weekly_tag AS r (week, repo_name, tag, pulls)
        SELECT date_trunc('week', pull_date)::date, repo_name, tag, sum(n) FROM change WHERE is_pulls
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (week, repo_name, tag) DO UPDATE SET pulls = r.pulls + excluded.pulls
        RETURNING r.pulls = 0 AS emptied
    ), daily_arch AS (
        INSERT INTO metrics_daily_arch AS r (pull_date, architecture, pulls, checks)
        SELECT pull_date, architecture, CASE WHEN is_pulls THEN n ELSE 0 END, CASE WHEN is_pulls THEN 0 ELSE n END
        FROM (SELECT pull_date, architecture, sum(n)::bigint AS n FROM per_repo GROUP BY 1, 2 HAVING sum(n) <> 0) a
        ORDER BY pull_date, architecture
        ON CONFLICT (pull_date, architecture) DO UPDATE
            SET pulls = r.pulls + excluded.pulls, checks = r.checks + excluded.checks
        RETURNING r.pulls = 0 AND r.checks = 0 AS emptied
    )
    SELECT (SELECT coalesce(bool_or(emptied), false) FROM daily_repo),
           (SELECT coalesce(bool_or(emptied), false) FROM weekly_repo),
           (SELECT coalesce(bool_or(emptied), false) FROM weekly_tag),
           (SELECT coalesce(bool_or(emptied), false) FROM daily_arch)
    INTO emptied_daily_repo, emptied_weekly_repo, emptied_weekly_tag, emptied_daily_arch;

    -- Rows with nothing left go, as in the count tables.
    IF emptied_daily_repo THEN
        DELETE FROM metrics_daily_repo r
        USING (SELECT DISTINCT * FROM unnest(days, repos, archs) AS c(pull_date, repo_name, architecture)) c
        WHERE r.pull_date = c.pull_date AND r.repo_name = c.repo_name AND r.architecture = c.architecture
          AND r.pulls = 0 AND r.checks = 0;
    END IF;
    IF emptied_weekly_repo THEN
        DELETE FROM metrics_weekly_repo r
        USING (SELECT DISTINCT date_trunc('week', pull_date)::date AS week, repo_name, architecture
               FROM unnest(days, repos, archs) AS c(pull_date, repo_name, architecture)) c
        WHERE r.week = c.week AND r.repo_name = c.repo_name AND r.architecture = c.architecture
          AND r.pulls = 0 AND r.checks = 0;
    END IF;
    IF emptied_weekly_tag THEN
        DELETE FROM metrics_weekly_tag r
        USING (SELECT DISTINCT date_trunc('week', pull_date)::date AS week, repo_name, tag
               FROM unnest(days, repos, tags) AS c(pull_date, repo_name, tag)) c
        WHERE r.week = c.week AND r.repo_name = c.repo_name AND r.tag = c.tag AND r.pulls = 0;
    END IF;
    IF emptied_daily_arch THEN
        DELETE FROM metrics_daily_arch r
        USING (SELECT DISTINCT * FROM unnest(days, archs) AS c(pull_date, architecture)) c
        WHERE r.pull_date = c.pull_date AND r.architecture = c.architecture AND r.pulls = 0 AND r.checks = 0;
    END IF;
END $$;

-- The trigger functions read the statement's transition tables (new_rows, old_rows) as signed changes. A statement
-- that changed no row (an upsert whose rows all existed fires the INSERT trigger too) costs nothing more.
CREATE OR REPLACE FUNCTION metrics_rollup_pulls_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    days DATE[]; repos TEXT[]; tags TEXT[]; archs TEXT[]; counts INTEGER[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(pull_date), array_agg(repo_name), array_agg(tag), array_agg(architecture), array_agg(pull_count)
        INTO days, repos, tags, archs, counts FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(pull_date), array_agg(repo_name), array_agg(tag), array_agg(architecture), array_agg(n)
        INTO days, repos, tags, archs, counts
        FROM (SELECT pull_date, repo_name, tag, architecture, pull_count AS n FROM new_rows
              UNION ALL SELECT pull_date, repo_name, tag, architecture, -pull_count FROM old_rows) c;
    ELSE
        SELECT array_agg(pull_date), array_agg(repo_name), array_agg(tag), array_agg(architecture), array_agg(-pull_count)
        INTO days, repos, tags, archs, counts FROM old_rows;
    END IF;
    IF days IS NOT NULL THEN
        PERFORM metrics_rollup_apply(true, days, repos, tags, archs, counts);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION metrics_rollup_checks_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    days DATE[]; repos TEXT[]; tags TEXT[]; archs TEXT[]; counts INTEGER[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(pull_date), array_agg(repo_name), array_agg(tag), array_agg(architecture), array_agg(check_count)
        INTO days, repos, tags, archs, counts FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(pull_date), array_agg(repo_name), array_agg(tag), array_agg(architecture), array_agg(n)
        INTO days, repos, tags, archs, counts
        FROM (SELECT pull_date, repo_name, tag, architecture, check_count AS n FROM new_rows
              UNION ALL SELECT pull_date, repo_name, tag, architecture, -check_count FROM old_rows) c;
    ELSE
        SELECT array_agg(pull_date), array_agg(repo_name), array_agg(tag), array_agg(architecture), array_agg(-check_count)
        INTO days, repos, tags, archs, counts FROM old_rows;
    END IF;
    IF days IS NOT NULL THEN
        PERFORM metrics_rollup_apply(false, days, repos, tags, archs, counts);
    END IF;
    RETURN NULL;
END $$;

-- 0005's helper, now a wrapper of the one above: a transaction whose trigger read 0005's functions before this
-- migration committed creates the temp table metrics_rollup_changes and then calls this, by name, after it; dropping
-- it would fail that batch once (seen in test/integration/metrics-rollups.test.ts). Unused otherwise.
CREATE OR REPLACE FUNCTION metrics_rollup_add(kind TEXT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    days DATE[]; repos TEXT[]; tags TEXT[]; archs TEXT[]; counts INTEGER[];
BEGIN
    SELECT array_agg(pull_date), array_agg(repo_name), array_agg(tag), array_agg(architecture), array_agg(n::integer)
    INTO days, repos, tags, archs, counts FROM metrics_rollup_changes;
    DROP TABLE metrics_rollup_changes;
    IF days IS NOT NULL THEN
        PERFORM metrics_rollup_apply(kind = 'pulls', days, repos, tags, archs, counts);
    END IF;
END $$;
