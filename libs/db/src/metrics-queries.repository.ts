// Read side of the counts: one query per dashboard panel, each answering a question of the integration guide.
import { sql, type RawBuilder } from 'kysely';
import type { Executor } from './pull-metrics.repository.js';

/** Already validated: dates are YYYY-MM-DD (UTC days, both ends included), names follow the reference grammar. */
export interface MetricsFilter {
  from: string;
  to: string;
  repository?: string;
  tag?: string;
  architecture?: string;
}

export interface DailyRow {
  date: string;
  pulls: number;
  checks: number;
}

export interface RepositoryRow {
  repository: string;
  pulls: number;
  checks: number;
}

export interface TagRow {
  repository: string;
  tag: string;
  pulls: number;
  checks: number;
}

export interface ArchitectureRow {
  architecture: string;
  pulls: number;
  checks: number;
  /** Repositories pulled on this architecture (the guide's unique_images). */
  repositories: number;
}

export interface TagArchitectureRow {
  tag: string;
  architecture: string;
  pulls: number;
}

export interface DailyArchitectureRow {
  date: string;
  architecture: string;
  pulls: number;
}

export interface DigestRow {
  digest: string;
  pulls: number;
  checks: number;
  /** First and last day in the range with a pull of this digest (null: only checked). */
  firstPulled: string | null;
  lastPulled: string | null;
  /** When a pull or check of this digest was last counted (UTC, ISO 8601). */
  lastSeenAt: string;
}

export interface DailyDigestRow {
  date: string;
  digest: string;
  pulls: number;
}

type CountTable = 'container_pull_metrics' | 'container_pull_checks';
type Rollup = 'metrics_daily_arch' | 'metrics_daily_repo' | 'metrics_daily_tag';

/** The filter as a WHERE condition on a count table or a rollup (same column names). */
function matches(filter: MetricsFilter, alias?: string): RawBuilder<unknown> {
  const col = (name: string) => sql.ref(alias ? `${alias}.${name}` : name);
  const parts = [sql`${col('pull_date')} between ${filter.from}::date and ${filter.to}::date`];
  if (filter.repository !== undefined) parts.push(sql`${col('repo_name')} = ${filter.repository}`);
  if (filter.tag !== undefined) parts.push(sql`${col('tag')} = ${filter.tag}`);
  if (filter.architecture !== undefined) parts.push(sql`${col('architecture')} = ${filter.architecture}`);
  return sql.join(parts, sql` and `);
}

const table = (name: CountTable | Rollup) => sql.table(name);

/**
 * The smallest rollup (migrations/0005) that still has the columns the filter and the grouping need:
 * per day and architecture; per repository too; per tag too. The rollups hold pulls and checks side by side.
 */
function rollupFor(filter: MetricsFilter, needs: { repository?: boolean; tag?: boolean } = {}): RawBuilder<unknown> {
  if (filter.tag !== undefined || needs.tag) return table('metrics_daily_tag');
  if (filter.repository !== undefined || needs.repository) return table('metrics_daily_repo');
  return table('metrics_daily_arch');
}

/** Pulls and checks of every day in the range, days without any included as zeros. */
export async function dailyPulls(db: Executor, filter: MetricsFilter): Promise<DailyRow[]> {
  const result = await sql<DailyRow>`
    with days as (
      select d::date as day from generate_series(${filter.from}::date, ${filter.to}::date, interval '1 day') as d
    ), counts as (
      select pull_date, sum(pulls) as pulls, sum(checks) as checks from ${rollupFor(filter)} where ${matches(filter)} group by pull_date
    )
    select to_char(days.day, 'YYYY-MM-DD') as date, coalesce(counts.pulls, 0)::bigint as pulls, coalesce(counts.checks, 0)::bigint as checks
    from days left join counts on counts.pull_date = days.day
    order by days.day`.execute(db);
  return result.rows;
}

/** The most pulled repositories, with their checks beside. */
export async function topRepositories(db: Executor, filter: MetricsFilter, limit: number): Promise<RepositoryRow[]> {
  const result = await sql<RepositoryRow>`
    select repo_name as repository, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks
    from ${rollupFor(filter, { repository: true })} where ${matches(filter)}
    group by repo_name having sum(pulls) > 0
    order by pulls desc, repo_name limit ${limit}`.execute(db);
  return result.rows;
}

/** The most pulled tags (the guide's "most pulled images": repository and tag), with their checks beside. */
export async function topTags(db: Executor, filter: MetricsFilter, limit: number): Promise<TagRow[]> {
  const result = await sql<TagRow>`
    select repo_name as repository, tag, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks
    from ${rollupFor(filter, { tag: true })} where ${matches(filter)}
    group by repo_name, tag having sum(pulls) > 0
    order by pulls desc, repo_name, tag limit ${limit}`.execute(db);
  return result.rows;
}

/** Pulls per architecture and how many repositories were pulled on each, checks beside. */
export async function pullsByArchitecture(db: Executor, filter: MetricsFilter): Promise<ArchitectureRow[]> {
  const result = await sql<ArchitectureRow>`
    select architecture, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks,
      count(distinct repo_name) filter (where pulls > 0)::bigint as repositories
    from ${rollupFor(filter, { repository: true })} where ${matches(filter)}
    group by architecture
    order by pulls desc, checks desc, architecture`.execute(db);
  return result.rows;
}

/** One repository's pulls per tag and architecture, for its `tagLimit` most pulled tags. */
export async function imageArchitectures(
  db: Executor,
  filter: MetricsFilter & { repository: string },
  tagLimit: number,
): Promise<TagArchitectureRow[]> {
  const result = await sql<TagArchitectureRow>`
    with rows as (
      select tag, architecture, sum(pulls)::bigint as pulls
      from ${table('metrics_daily_tag')} where ${matches(filter)} group by tag, architecture having sum(pulls) > 0
    ), tags as (
      select tag from rows group by tag order by sum(pulls) desc, tag limit ${tagLimit}
    )
    select rows.tag, rows.architecture, rows.pulls from rows join tags using (tag)
    order by rows.tag, rows.pulls desc, rows.architecture`.execute(db);
  return result.rows;
}

/** Pulls per day and architecture (days and architectures without pulls are left out). */
export async function dailyByArchitecture(db: Executor, filter: MetricsFilter): Promise<DailyArchitectureRow[]> {
  const result = await sql<DailyArchitectureRow>`
    select to_char(pull_date, 'YYYY-MM-DD') as date, architecture, sum(pulls)::bigint as pulls
    from ${rollupFor(filter)} where ${matches(filter)}
    group by pull_date, architecture having sum(pulls) > 0 order by pull_date, architecture`.execute(db);
  return result.rows;
}

/** The digests a tag pointed at in the range: how much each was pulled, first and last pulled, last seen. */
export async function tagDigests(db: Executor, filter: MetricsFilter & { repository: string; tag: string }): Promise<DigestRow[]> {
  const result = await sql<DigestRow>`
    with pulls as (
      select digest, sum(pull_count)::bigint as pulls, min(pull_date) as first_pulled, max(pull_date) as last_pulled,
        max(updated_at) as seen
      from ${table('container_pull_metrics')} where ${matches(filter)} group by digest
    ), checks as (
      select digest, sum(check_count)::bigint as checks, max(updated_at) as seen
      from ${table('container_pull_checks')} where ${matches(filter)} group by digest
    )
    select coalesce(pulls.digest, checks.digest) as digest,
      coalesce(pulls.pulls, 0)::bigint as pulls, coalesce(checks.checks, 0)::bigint as checks,
      to_char(pulls.first_pulled, 'YYYY-MM-DD') as "firstPulled", to_char(pulls.last_pulled, 'YYYY-MM-DD') as "lastPulled",
      to_char(greatest(pulls.seen, checks.seen), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "lastSeenAt"
    from pulls full join checks on checks.digest = pulls.digest
    order by greatest(pulls.seen, checks.seen) desc, digest`.execute(db);
  return result.rows;
}

/** A tag's pulls per day and digest: where the tag moved, and which digests are still pulled. */
export async function tagDigestsDaily(db: Executor, filter: MetricsFilter & { repository: string; tag: string }): Promise<DailyDigestRow[]> {
  const result = await sql<DailyDigestRow>`
    select to_char(pull_date, 'YYYY-MM-DD') as date, digest, sum(pull_count)::bigint as pulls
    from ${table('container_pull_metrics')} where ${matches(filter)}
    group by pull_date, digest order by pull_date, digest`.execute(db);
  return result.rows;
}

/**
 * Repository names with counts, starting with `prefix` (for the filter's autocomplete): a skip scan over the
 * rollup's repository index, one probe per name, so it stays fast however many rows each repository has.
 */
export async function suggestRepositories(db: Executor, prefix: string, limit: number): Promise<string[]> {
  const result = await sql<{ name: string }>`
    with recursive names(name) as (
      (select repo_name collate "C" from metrics_daily_repo where repo_name collate "C" >= ${prefix} order by repo_name collate "C" limit 1)
      union all
      select (select repo_name collate "C" from metrics_daily_repo where repo_name collate "C" > names.name order by repo_name collate "C" limit 1)
      from names where names.name is not null and starts_with(names.name, ${prefix})
    )
    select name from names where name is not null and starts_with(name, ${prefix}) limit ${limit}`.execute(db);
  return result.rows.map((row) => row.name);
}

/** One repository's tags with counts, starting with `prefix` (a skip scan, as above). */
export async function suggestTags(db: Executor, repository: string, prefix: string, limit: number): Promise<string[]> {
  const result = await sql<{ name: string }>`
    with recursive tags(name) as (
      (select tag from metrics_daily_tag where repo_name = ${repository} and tag >= ${prefix} order by tag limit 1)
      union all
      select (select tag from metrics_daily_tag where repo_name = ${repository} and tag > tags.name order by tag limit 1)
      from tags where tags.name is not null and starts_with(tags.name, ${prefix})
    )
    select name from tags where name is not null and starts_with(name, ${prefix}) limit ${limit}`.execute(db);
  return result.rows.map((row) => row.name);
}

/** Every architecture with counts. */
export async function listArchitectures(db: Executor): Promise<string[]> {
  const result = await sql<{ name: string }>`select distinct architecture as name from metrics_daily_arch order by name`.execute(db);
  return result.rows.map((row) => row.name);
}
