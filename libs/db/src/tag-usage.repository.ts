// Pulls and checks per tag of one repository, as the catalog's tag pages show, sort and filter them.
import { sql, type SqlBool } from 'kysely';
import { firstDayOfLast, type UtcDay } from '@staticreg/events';
import type { Executor } from './executor.js';

/** One tag's counts in the 7 and 30 UTC days that end today, and the last day it was pulled or checked ever. */
export interface TagUsageRow {
  tag: string;
  pulls7: number;
  pulls30: number;
  checks7: number;
  checks30: number;
  lastPulled: UtcDay | null;
  lastChecked: UtcDay | null;
}

/** The repository's pull and check rows as (tag, day, pulls, checks), of these tags only when given. */
function usageDays(db: Executor, repository: string, tags?: readonly string[]) {
  const pulls = db
    .selectFrom('container_pull_metrics')
    .select(['tag', 'pull_date as day', 'pull_count as pulls', sql<number>`0`.as('checks')])
    .where('repo_name', '=', repository)
    .$if(tags !== undefined, (qb) => qb.where((eb) => eb('tag', '=', eb.fn.any(eb.val([...tags!])))));
  const checks = db
    .selectFrom('container_pull_checks')
    .select(['tag', 'pull_date as day', sql<number>`0`.as('pulls'), 'check_count as checks'])
    .where('repo_name', '=', repository)
    .$if(tags !== undefined, (qb) => qb.where((eb) => eb('tag', '=', eb.fn.any(eb.val([...tags!])))));
  return pulls.unionAll(checks);
}

/**
 * Pulls and checks per tag of one repository: 7 and 30 UTC days ending `today`, and the last day of each ever.
 * `tags` narrows it to a page's tags (the common case: sorting by name or created needs no usage to order).
 * Tags with no row at all are absent.
 */
export async function readTagUsage(db: Executor, repository: string, today: UtcDay, tags?: readonly string[]): Promise<TagUsageRow[]> {
  const from7 = firstDayOfLast(7, today);
  const from30 = firstDayOfLast(30, today);
  return db
    .selectFrom(usageDays(db, repository, tags).as('usage'))
    .select((eb) => [
      'tag',
      sql<number>`coalesce(sum(pulls) filter (where day >= ${from7}::date), 0)::int`.as('pulls7'),
      sql<number>`coalesce(sum(pulls) filter (where day >= ${from30}::date), 0)::int`.as('pulls30'),
      sql<number>`coalesce(sum(checks) filter (where day >= ${from7}::date), 0)::int`.as('checks7'),
      sql<number>`coalesce(sum(checks) filter (where day >= ${from30}::date), 0)::int`.as('checks30'),
      eb.fn.max('day').filterWhere('pulls', '>', sql.lit(0)).as('lastPulled'),
      eb.fn.max('day').filterWhere('checks', '>', sql.lit(0)).as('lastChecked'),
    ])
    .groupBy('tag')
    .execute();
}

/**
 * The tags of one repository pulled or checked (a count above 0) on or after `since`, each once. The GROUP BY is
 * on purpose: over a UNION ALL it is estimated at 200 rows, so the planner hashes this set for a NOT IN (an
 * estimate of every count row of a busy year would have it rescan them for each tag instead).
 */
export function tagsSeenSince(db: Executor, repository: string, since: UtcDay) {
  const pulled = db
    .selectFrom('container_pull_metrics')
    .select('tag')
    .where('repo_name', '=', repository)
    .where('pull_date', '>=', sql<UtcDay>`${since}::date`)
    .where('pull_count', '>', sql.lit(0));
  const checked = db
    .selectFrom('container_pull_checks')
    .select('tag')
    .where('repo_name', '=', repository)
    .where('pull_date', '>=', sql<UtcDay>`${since}::date`)
    .where('check_count', '>', sql.lit(0));
  return db.selectFrom(pulled.unionAll(checked).as('days')).select('tag').groupBy('tag');
}

/** Each tag's last day pulled or checked (a count above 0), from `from` on when given: the (tag, day) of last seen. */
export function lastSeenDays(db: Executor, repository: string, from?: UtcDay) {
  const pulled = db
    .selectFrom('container_pull_metrics')
    .select((eb) => ['tag', eb.fn.max('pull_date').as('day')])
    .where('repo_name', '=', repository)
    .$if(from !== undefined, (qb) => qb.where('pull_date', '>=', sql<UtcDay>`${from}::date`))
    .where('pull_count', '>', sql.lit(0))
    .groupBy('tag');
  const checked = db
    .selectFrom('container_pull_checks')
    .select((eb) => ['tag', eb.fn.max('pull_date').as('day')])
    .where('repo_name', '=', repository)
    .$if(from !== undefined, (qb) => qb.where('pull_date', '>=', sql<UtcDay>`${from}::date`))
    .where('check_count', '>', sql.lit(0))
    .groupBy('tag');
  return db
    .selectFrom(pulled.unionAll(checked).as('days'))
    .select((eb) => ['tag', eb.fn.max('day').as('day')])
    .groupBy('tag');
}

/**
 * Pulls per tag of one repository in the 30 and the 7 days ending `today`, for the tags whose pair is not (0, 0):
 * the tags the pulls order sorts by value (all others share (0, 0) and go in name order).
 */
export function tagPullWindows(db: Executor, repository: string, today: UtcDay) {
  const pulls7 = sql<number>`coalesce(sum(pull_count) filter (where pull_date >= ${firstDayOfLast(7, today)}::date), 0)`;
  const pulls30 = sql<number>`coalesce(sum(pull_count), 0)`;
  return db
    .selectFrom('container_pull_metrics')
    .select(['tag', pulls7.as('pulls7'), pulls30.as('pulls30')])
    .where('repo_name', '=', repository)
    .where('pull_date', '>=', sql<UtcDay>`${firstDayOfLast(30, today)}::date`)
    .groupBy('tag')
    .having(sql<SqlBool>`(${pulls30}, ${pulls7}) <> (0, 0)`);
}
