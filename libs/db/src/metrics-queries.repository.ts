// Read side of the counts: one query per dashboard panel (docs/dashboard.md lists the panels and their questions).
import { sql } from 'kysely';
import type { Executor } from './executor.js';
import { countsFor, coveringWeeks, matches, nameConditions, repositoryCountsFor, table, type MetricsFilter } from './metrics-sources.js';

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
  /** Repositories pulled on this architecture (count of distinct repositories with a pull). */
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

/**
 * Session settings for connections that run these queries: after the rollups every query reads a few thousand
 * rows, where compiling it (JIT) and starting parallel workers cost more than they save (docs/performance.md,
 * "Session settings").
 */
export const METRICS_SESSION_OPTIONS = '-c jit=off -c max_parallel_workers_per_gather=0';

/** Pulls and checks of every day in the range, days without any included as zeros. */
export async function dailyPulls(db: Executor, filter: MetricsFilter): Promise<DailyRow[]> {
  const result = await sql<DailyRow>`
    with days as (
      select d::date as day from generate_series(${filter.from}::date, ${filter.to}::date, interval '1 day') as d
    ), counts as (
      select pull_date, sum(pulls) as pulls, sum(checks) as checks from ${countsFor(filter)} c group by pull_date
    )
    select to_char(days.day, 'YYYY-MM-DD') as date, coalesce(counts.pulls, 0)::bigint as pulls, coalesce(counts.checks, 0)::bigint as checks
    from days left join counts on counts.pull_date = days.day
    order by days.day`.execute(db);
  return result.rows;
}

const byRepositoryPulls = (a: RepositoryRow, b: RepositoryRow) => b.pulls - a.pulls || (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0);

/** Exact pulls and checks of each repository under the filter (no tag), from the daily rollup by index. */
async function exactRepositoryCounts(db: Executor, filter: MetricsFilter, repositories: readonly string[]): Promise<RepositoryRow[]> {
  if (repositories.length === 0) return [];
  return db
    .selectFrom('metrics_daily_repo')
    .select((eb) => [
      'repo_name as repository',
      eb.cast<number>(eb.fn.sum('pulls'), 'bigint').as('pulls'),
      eb.cast<number>(eb.fn.sum('checks'), 'bigint').as('checks'),
    ])
    .where((eb) =>
      eb.and([eb('repo_name', '=', eb.fn.any(eb.val([...repositories]))), eb.between('pull_date', filter.from, filter.to), ...nameConditions(filter, ['architecture'])]),
    )
    .groupBy('repo_name')
    .execute();
}

/** How many architectures have counts: a week of metrics_weekly_repo holds one row per repository and each. */
async function countArchitectures(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('metrics_daily_arch')
    .select((eb) => eb.fn.count<number>('architecture').distinct().as('n'))
    .executeTakeFirstOrThrow();
  return row.n;
}

/**
 * The most pulled repositories, with their checks beside. Without a repository or tag filter, found exactly with
 * the weekly bound described at topTags (a week here is one row per architecture, so the bound is divided by the
 * number of architectures too); with one, summed directly (few rows).
 */
export async function topRepositories(db: Executor, filter: MetricsFilter, limit: number): Promise<RepositoryRow[]> {
  // A viewer's own repositories are few next to the whole registry: summed directly too.
  if (filter.repository !== undefined || filter.tag !== undefined || filter.repositories !== undefined) {
    const result = await sql<RepositoryRow>`
      select repo_name as repository, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks
      from ${repositoryCountsFor(filter)} c
      group by repo_name having sum(pulls) > 0
      order by pulls desc, repo_name limit ${limit}`.execute(db);
    return result.rows;
  }
  const weeks = coveringWeeks(filter.from, filter.to);
  const names = nameConditions(filter, ['architecture']);
  const and = names.length > 0 ? sql` and ${sql.join(names, sql` and `)}` : sql``;
  const guesses = await sql<{ repository: string }>`
    select distinct g.repository from unnest(${weeks.slice(-2)}::date[]) as w(week)
    cross join lateral (
      select repo_name as repository from ${table('metrics_weekly_repo')}
      where week = w.week${and} order by pulls desc limit ${limit * 2}) g`.execute(db);
  const exact = new Map<string, RepositoryRow>();
  for (const row of await exactRepositoryCounts(db, filter, guesses.rows.map((row) => row.repository))) exact.set(row.repository, row);
  const best = [...exact.values()].filter((row) => row.pulls > 0).sort(byRepositoryPulls);
  const theta = best.length >= limit ? best[limit - 1]!.pulls : 1;
  const architectures =
    filter.architecture !== undefined
      ? 1
      : Math.max(1, await countArchitectures(db));
  const minimum = Math.ceil(theta / (weeks.length * architectures));
  const candidates = await sql<{ repository: string }>`
    select distinct c.repository from unnest(${weeks}::date[]) as w(week)
    cross join lateral (
      select repo_name as repository from ${table('metrics_weekly_repo')}
      where week = w.week and pulls >= ${minimum}${and}) c`.execute(db);
  const missing = candidates.rows.map((row) => row.repository).filter((repository) => !exact.has(repository));
  for (const row of await exactRepositoryCounts(db, filter, missing)) exact.set(row.repository, row);
  return [...exact.values()].filter((row) => row.pulls > 0).sort(byRepositoryPulls).slice(0, limit);
}

interface TagKey {
  repository: string;
  tag: string;
}

const tagKey = (key: TagKey) => `${key.repository}\u0000${key.tag}`;

/** Exact pulls and checks of each (repository, tag) under the filter, from the count tables by index. */
async function exactTagCounts(db: Executor, filter: MetricsFilter, keys: readonly TagKey[]): Promise<TagRow[]> {
  if (keys.length === 0) return [];
  const names = nameConditions(filter, ['architecture']);
  const and = names.length > 0 ? sql` and ${sql.join(names, sql` and `)}` : sql``;
  const result = await sql<TagRow>`
    select k.repo_name as repository, k.tag, coalesce(p.n, 0)::bigint as pulls, coalesce(c.n, 0)::bigint as checks
    from unnest(${keys.map((k) => k.repository)}::text[], ${keys.map((k) => k.tag)}::text[]) as k(repo_name, tag)
    left join lateral (
      select sum(pull_count) as n from ${table('container_pull_metrics')}
      where repo_name = k.repo_name and tag = k.tag and pull_date between ${filter.from}::date and ${filter.to}::date${and}) p on true
    left join lateral (
      select sum(check_count) as n from ${table('container_pull_checks')}
      where repo_name = k.repo_name and tag = k.tag and pull_date between ${filter.from}::date and ${filter.to}::date${and}) c on true`.execute(db);
  return result.rows;
}

const byPulls = (a: TagRow, b: TagRow) => b.pulls - a.pulls || (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);

/**
 * The most pulled images (an image being a repository and tag), with their checks beside.
 *
 * Summing every tag over 90 days reads millions of rows, so the top N is found exactly with a bound instead:
 * 1. guess: the tags most pulled in the last two weeks of the range (metrics_weekly_tag), summed exactly;
 *    the N-th best of those, theta, is at most the N-th best of all tags;
 * 2. a tag that reaches theta over the range has, in one of the m weeks overlapping it, at least theta/m pulls
 *    (more with no architecture filter), so only tags with such a week can be in the top N;
 * 3. those candidates are summed exactly and the best N kept.
 */
export async function topTags(db: Executor, filter: MetricsFilter, limit: number): Promise<TagRow[]> {
  if (filter.repository !== undefined && filter.tag !== undefined) {
    return (await exactTagCounts(db, filter, [{ repository: filter.repository, tag: filter.tag }])).filter((row) => row.pulls > 0);
  }
  const weeks = coveringWeeks(filter.from, filter.to);
  const names = nameConditions(filter, ['repository', 'tag']);
  const and = names.length > 0 ? sql` and ${sql.join(names, sql` and `)}` : sql``;
  const guesses = await sql<{ repository: string; tag: string }>`
    select distinct g.repository, g.tag from unnest(${weeks.slice(-2)}::date[]) as w(week)
    cross join lateral (
      select repo_name as repository, tag from ${table('metrics_weekly_tag')}
      where week = w.week${and} order by pulls desc limit ${limit * 2}) g`.execute(db);
  const exact = new Map<string, TagRow>();
  for (const row of await exactTagCounts(db, filter, guesses.rows)) exact.set(tagKey(row), row);
  const best = [...exact.values()].filter((row) => row.pulls > 0).sort(byPulls);
  const theta = best.length >= limit ? best[limit - 1]!.pulls : 1;
  const minimum = Math.ceil(theta / weeks.length);
  const candidates = await sql<{ repository: string; tag: string }>`
    select distinct c.repository, c.tag from unnest(${weeks}::date[]) as w(week)
    cross join lateral (
      select repo_name as repository, tag from ${table('metrics_weekly_tag')}
      where week = w.week and pulls >= ${minimum}${and}) c`.execute(db);
  const missing = candidates.rows.filter((key) => !exact.has(tagKey(key)));
  for (const row of await exactTagCounts(db, filter, missing)) exact.set(tagKey(row), row);
  return [...exact.values()].filter((row) => row.pulls > 0).sort(byPulls).slice(0, limit);
}

/** Pulls per architecture and how many repositories were pulled on each, checks beside. */
export async function pullsByArchitecture(db: Executor, filter: MetricsFilter): Promise<ArchitectureRow[]> {
  const result = await sql<ArchitectureRow>`
    select architecture, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks,
      count(*) filter (where pulls > 0)::bigint as repositories
    from (
      -- One row per architecture and repository first: counting them is then a plain count (no sort for DISTINCT).
      select architecture, repo_name, sum(pulls) as pulls, sum(checks) as checks
      from ${repositoryCountsFor(filter)} c group by architecture, repo_name
    ) per_repository
    group by architecture
    order by pulls desc, checks desc, architecture`.execute(db);
  return result.rows;
}

/** One repository's pulls per tag and architecture, for its `tagLimit` most pulled tags (found as in topTags). */
export async function imageArchitectures(
  db: Executor,
  filter: MetricsFilter & { repository: string },
  tagLimit: number,
): Promise<TagArchitectureRow[]> {
  const tags = (await topTags(db, filter, tagLimit)).map((row) => row.tag);
  if (tags.length === 0) return [];
  return db
    .selectFrom('container_pull_metrics')
    .select((eb) => ['tag', 'architecture', eb.cast<number>(eb.fn.sum('pull_count'), 'bigint').as('pulls')])
    .where((eb) =>
      eb.and([
        eb('repo_name', '=', filter.repository),
        eb('tag', '=', eb.fn.any(eb.val(tags))),
        eb.between('pull_date', filter.from, filter.to),
        ...nameConditions(filter, ['architecture']),
      ]),
    )
    .groupBy(['tag', 'architecture'])
    .having((eb) => eb.fn.sum('pull_count'), '>', 0)
    .orderBy('tag')
    .orderBy('pulls', 'desc')
    .orderBy('architecture')
    .execute();
}

/** Pulls per day and architecture (days and architectures without pulls are left out). */
export async function dailyByArchitecture(db: Executor, filter: MetricsFilter): Promise<DailyArchitectureRow[]> {
  const result = await sql<DailyArchitectureRow>`
    select to_char(pull_date, 'YYYY-MM-DD') as date, architecture, sum(pulls)::bigint as pulls
    from ${countsFor(filter)} c
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
  return db
    .selectFrom('container_pull_metrics')
    .select((eb) => [sql<string>`to_char(pull_date, 'YYYY-MM-DD')`.as('date'), 'digest', eb.cast<number>(eb.fn.sum('pull_count'), 'bigint').as('pulls')])
    .where(matches(filter))
    .groupBy(['pull_date', 'digest'])
    .orderBy('pull_date')
    .orderBy('digest')
    .execute();
}
