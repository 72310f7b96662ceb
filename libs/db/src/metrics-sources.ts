// Which table answers a dashboard filter: whole ISO weeks from the weekly rollups, days from the daily ones,
// the count tables when the tag matters; the filter's conditions as SQL for each.
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { addDays, isoWeekday, type UtcDay } from '@staticreg/events';

/** Already validated: dates are YYYY-MM-DD (UTC days, both ends included), names follow the reference grammar. */
export interface MetricsFilter {
  from: UtcDay;
  to: UtcDay;
  repository?: string;
  tag?: string;
  architecture?: string;
  /** Only these repositories count (a viewer who may see some of them); undefined: every repository. */
  repositories?: readonly string[];
}

type CountTable = 'container_pull_metrics' | 'container_pull_checks';
type Rollup = 'metrics_daily_arch' | 'metrics_daily_repo' | 'metrics_weekly_repo' | 'metrics_weekly_tag';

/**
 * The filter's names (not its dates) as conditions; `only` picks the columns the table has. The visible repositories
 * apply wherever the table has repo_name (every source but metrics_daily_arch, which countsFor then avoids).
 */
export function nameConditions(filter: MetricsFilter, only: ReadonlyArray<'repository' | 'tag' | 'architecture'> = ['repository', 'tag', 'architecture']): RawBuilder<SqlBool>[] {
  const parts: RawBuilder<SqlBool>[] = [];
  if (filter.repositories !== undefined) parts.push(sql<SqlBool>`repo_name = any(${[...filter.repositories]}::text[])`);
  if (filter.repository !== undefined && only.includes('repository')) parts.push(sql<SqlBool>`repo_name = ${filter.repository}`);
  if (filter.tag !== undefined && only.includes('tag')) parts.push(sql<SqlBool>`tag = ${filter.tag}`);
  if (filter.architecture !== undefined && only.includes('architecture')) parts.push(sql<SqlBool>`architecture = ${filter.architecture}`);
  return parts;
}

/** The filter as a WHERE condition on a count table or a daily rollup (same column names). */
export function matches(filter: MetricsFilter): RawBuilder<SqlBool> {
  return sql<SqlBool>`${sql.join([sql`pull_date between ${filter.from}::date and ${filter.to}::date`, ...nameConditions(filter)], sql` and `)}`;
}

export interface RangeSplit {
  /** Mondays of the first and last whole ISO weeks inside the range, if it holds any. */
  weeks?: { first: UtcDay; last: UtcDay };
  /** The days outside those weeks (at most 6 at each end), or the whole range. */
  days: Array<{ from: UtcDay; to: UtcDay }>;
}

/** Splits [from, to] into whole ISO weeks (read from the weekly rollups) and the days at either end. */
export function splitRange(from: UtcDay, to: UtcDay): RangeSplit {
  const firstMonday = addDays(from, (8 - isoWeekday(from)) % 7);
  const lastSunday = addDays(to, -(isoWeekday(to) % 7));
  if (firstMonday > addDays(lastSunday, -6)) return { days: [{ from, to }] };
  const days: RangeSplit['days'] = [];
  if (from < firstMonday) days.push({ from, to: addDays(firstMonday, -1) });
  if (lastSunday < to) days.push({ from: addDays(lastSunday, 1), to });
  return { weeks: { first: firstMonday, last: addDays(lastSunday, -6) }, days };
}

/** Mondays of every ISO week that overlaps [from, to]. */
export function coveringWeeks(from: UtcDay, to: UtcDay): UtcDay[] {
  const weeks: UtcDay[] = [];
  for (let monday = addDays(from, 1 - isoWeekday(from)); monday <= to; monday = addDays(monday, 7)) weeks.push(monday);
  return weeks;
}

export const table = (name: CountTable | Rollup) => sql.table(name);

/**
 * Rows of (pull_date, repo_name, tag, architecture, pulls, checks) for the filter, from the smallest source that
 * still has the columns the filter and the grouping need: the day-and-architecture rollup, the per-repository
 * rollup (migrations/0005), or, when the tag matters, both count tables side by side.
 */
export function countsFor(filter: MetricsFilter, needs: { repository?: boolean; tag?: boolean } = {}): RawBuilder<unknown> {
  if (filter.tag !== undefined || needs.tag) {
    return sql`(
      select pull_date, repo_name, tag, architecture, pull_count::bigint as pulls, 0::bigint as checks
      from ${table('container_pull_metrics')} where ${matches(filter)}
      union all
      select pull_date, repo_name, tag, architecture, 0::bigint, check_count::bigint
      from ${table('container_pull_checks')} where ${matches(filter)})`;
  }
  const rollup = filter.repository !== undefined || filter.repositories !== undefined || needs.repository ? table('metrics_daily_repo') : table('metrics_daily_arch');
  return sql`(select * from ${rollup} where ${matches(filter)})`;
}

/**
 * (repo_name, architecture, pulls, checks) over the range, for the panels that do not group by day: whole weeks
 * from metrics_weekly_repo, the days at either end from metrics_daily_repo (at most 12 days of rows instead of 90).
 */
export function repositoryCountsFor(filter: MetricsFilter): RawBuilder<unknown> {
  if (filter.tag !== undefined) return countsFor(filter, { tag: true });
  const names = nameConditions(filter, ['repository', 'architecture']);
  const and = names.length > 0 ? sql` and ${sql.join(names, sql` and `)}` : sql``;
  const split = splitRange(filter.from, filter.to);
  const parts: RawBuilder<unknown>[] = [];
  if (split.weeks) {
    parts.push(sql<SqlBool>`select repo_name, architecture, pulls, checks from ${table('metrics_weekly_repo')}
      where week between ${split.weeks.first}::date and ${split.weeks.last}::date${and}`);
  }
  for (const days of split.days) {
    parts.push(sql<SqlBool>`select repo_name, architecture, pulls, checks from ${table('metrics_daily_repo')}
      where pull_date between ${days.from}::date and ${days.to}::date${and}`);
  }
  return sql`(${sql.join(parts, sql` union all `)})`;
}
