// The filter's autocomplete: names that have counts, found by skip scans over the indexes.
import { sql } from 'kysely';
import type { Executor } from './executor.js';

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
      (select tag from container_pull_metrics where repo_name = ${repository} and tag >= ${prefix} order by tag limit 1)
      union all
      select (select tag from container_pull_metrics where repo_name = ${repository} and tag > tags.name order by tag limit 1)
      from tags where tags.name is not null and starts_with(tags.name, ${prefix})
    )
    select name from tags where name is not null and starts_with(name, ${prefix}) limit ${limit}`.execute(db);
  return result.rows.map((row) => row.name);
}

/** Every architecture with counts (of these repositories only, when given). */
export async function listArchitectures(db: Executor, repositories?: readonly string[]): Promise<string[]> {
  const rows =
    repositories === undefined
      ? await db.selectFrom('metrics_daily_arch').select('architecture as name').distinct().orderBy('name').execute()
      : await db
          .selectFrom('metrics_daily_repo')
          .select('architecture as name')
          .distinct()
          .where('repo_name', '=', (eb) => eb.fn.any(eb.val([...repositories])))
          .orderBy('name')
          .execute();
  return rows.map((row) => row.name);
}
