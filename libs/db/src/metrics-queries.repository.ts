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

/** The filter as a WHERE condition on either count table (same columns). */
function matches(filter: MetricsFilter, alias?: string): RawBuilder<unknown> {
  const col = (name: string) => sql.ref(alias ? `${alias}.${name}` : name);
  const parts = [sql`${col('pull_date')} between ${filter.from}::date and ${filter.to}::date`];
  if (filter.repository !== undefined) parts.push(sql`${col('repo_name')} = ${filter.repository}`);
  if (filter.tag !== undefined) parts.push(sql`${col('tag')} = ${filter.tag}`);
  if (filter.architecture !== undefined) parts.push(sql`${col('architecture')} = ${filter.architecture}`);
  return sql.join(parts, sql` and `);
}

const table = (name: CountTable) => sql.table(name);

/** Pulls and checks of every day in the range, days without any included as zeros. */
export async function dailyPulls(db: Executor, filter: MetricsFilter): Promise<DailyRow[]> {
  const result = await sql<DailyRow>`
    with days as (
      select d::date as day from generate_series(${filter.from}::date, ${filter.to}::date, interval '1 day') as d
    ), pulls as (
      select pull_date, sum(pull_count) as n from ${table('container_pull_metrics')} where ${matches(filter)} group by pull_date
    ), checks as (
      select pull_date, sum(check_count) as n from ${table('container_pull_checks')} where ${matches(filter)} group by pull_date
    )
    select to_char(days.day, 'YYYY-MM-DD') as date, coalesce(pulls.n, 0)::bigint as pulls, coalesce(checks.n, 0)::bigint as checks
    from days
    left join pulls on pulls.pull_date = days.day
    left join checks on checks.pull_date = days.day
    order by days.day`.execute(db);
  return result.rows;
}

/** The most pulled repositories, with their checks beside. */
export async function topRepositories(db: Executor, filter: MetricsFilter, limit: number): Promise<RepositoryRow[]> {
  const result = await sql<RepositoryRow>`
    with top as (
      select repo_name, sum(pull_count)::bigint as pulls
      from ${table('container_pull_metrics')} where ${matches(filter)}
      group by repo_name order by pulls desc, repo_name limit ${limit}
    )
    select top.repo_name as repository, top.pulls,
      coalesce((select sum(c.check_count) from ${table('container_pull_checks')} c
                where c.repo_name = top.repo_name and ${matches(filter, 'c')}), 0)::bigint as checks
    from top order by top.pulls desc, top.repo_name`.execute(db);
  return result.rows;
}

/** The most pulled tags (the guide's "most pulled images": repository and tag), with their checks beside. */
export async function topTags(db: Executor, filter: MetricsFilter, limit: number): Promise<TagRow[]> {
  const result = await sql<TagRow>`
    with top as (
      select repo_name, tag, sum(pull_count)::bigint as pulls
      from ${table('container_pull_metrics')} where ${matches(filter)}
      group by repo_name, tag order by pulls desc, repo_name, tag limit ${limit}
    )
    select top.repo_name as repository, top.tag, top.pulls,
      coalesce((select sum(c.check_count) from ${table('container_pull_checks')} c
                where c.repo_name = top.repo_name and c.tag = top.tag and ${matches(filter, 'c')}), 0)::bigint as checks
    from top order by top.pulls desc, top.repo_name, top.tag`.execute(db);
  return result.rows;
}

/** Pulls per architecture and how many repositories were pulled on each, checks beside. */
export async function pullsByArchitecture(db: Executor, filter: MetricsFilter): Promise<ArchitectureRow[]> {
  const result = await sql<ArchitectureRow>`
    with pulls as (
      select architecture, sum(pull_count)::bigint as pulls, count(distinct repo_name)::bigint as repositories
      from ${table('container_pull_metrics')} where ${matches(filter)} group by architecture
    ), checks as (
      select architecture, sum(check_count)::bigint as checks
      from ${table('container_pull_checks')} where ${matches(filter)} group by architecture
    )
    select coalesce(pulls.architecture, checks.architecture) as architecture,
      coalesce(pulls.pulls, 0)::bigint as pulls, coalesce(checks.checks, 0)::bigint as checks,
      coalesce(pulls.repositories, 0)::bigint as repositories
    from pulls full join checks on checks.architecture = pulls.architecture
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
      select tag, architecture, sum(pull_count)::bigint as pulls
      from ${table('container_pull_metrics')} where ${matches(filter)} group by tag, architecture
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
    select to_char(pull_date, 'YYYY-MM-DD') as date, architecture, sum(pull_count)::bigint as pulls
    from ${table('container_pull_metrics')} where ${matches(filter)}
    group by pull_date, architecture order by pull_date, architecture`.execute(db);
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

/** Repository names with counts, starting with `prefix` (for the filter's autocomplete). */
export async function suggestRepositories(db: Executor, prefix: string, limit: number): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select distinct repo_name as name from ${table('container_pull_metrics')}
    where repo_name like ${escapeLike(prefix) + '%'} order by name limit ${limit}`.execute(db);
  return result.rows.map((row) => row.name);
}

/** One repository's tags with counts, starting with `prefix`. */
export async function suggestTags(db: Executor, repository: string, prefix: string, limit: number): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select distinct tag as name from ${table('container_pull_metrics')}
    where repo_name = ${repository} and tag like ${escapeLike(prefix) + '%'} order by name limit ${limit}`.execute(db);
  return result.rows.map((row) => row.name);
}

/** Every architecture with counts. */
export async function listArchitectures(db: Executor): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select distinct architecture as name from ${table('container_pull_metrics')} order by name`.execute(db);
  return result.rows.map((row) => row.name);
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`);
}
