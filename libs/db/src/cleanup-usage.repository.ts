// Use of each digest as cleanup sees it: the last day it was pulled or checked, and use since an instant.
import { sql } from 'kysely';
import type { Executor } from './executor.js';

/** The last days one digest of one repository was pulled and checked (null: no row in the kept counts). */
export interface DigestUseRow {
  repository: string;
  digest: string;
  lastPulled: string | null;
  lastChecked: string | null;
}

/**
 * Per repository and digest, the last day pulled and the last day checked, for every digest the count tables
 * hold (the digests cleanup can see; an index's use is spread over its platforms by the caller, which knows
 * the catalog). `repositories` narrows the read to those names.
 */
export async function lastUseByDigest(db: Executor, options: { repositories?: readonly string[] } = {}): Promise<DigestUseRow[]> {
  const names = options.repositories;
  if (names && names.length === 0) return [];
  let pulls = db
    .selectFrom('container_pull_metrics')
    .select(['repo_name as repository', 'digest', sql<string>`to_char(max(pull_date), 'YYYY-MM-DD')`.as('lastDay')])
    .groupBy(['repo_name', 'digest']);
  let checks = db
    .selectFrom('container_pull_checks')
    .select(['repo_name as repository', 'digest', sql<string>`to_char(max(pull_date), 'YYYY-MM-DD')`.as('lastDay')])
    .groupBy(['repo_name', 'digest']);
  if (names) {
    pulls = pulls.where('repo_name', '=', sql<string>`any(${names}::text[])`);
    checks = checks.where('repo_name', '=', sql<string>`any(${names}::text[])`);
  }
  const [pulled, checked] = await Promise.all([pulls.execute(), checks.execute()]);
  const byKey = new Map<string, DigestUseRow>();
  const rowFor = (repository: string, digest: string) => {
    const key = `${repository}\u0000${digest}`;
    let row = byKey.get(key);
    if (!row) byKey.set(key, (row = { repository, digest, lastPulled: null, lastChecked: null }));
    return row;
  };
  for (const row of pulled) rowFor(row.repository, row.digest).lastPulled = row.lastDay;
  for (const row of checked) rowFor(row.repository, row.digest).lastChecked = row.lastDay;
  return [...byKey.values()];
}

/** The first day either count table holds (the start of the use history cleanup sees), null when both are empty. */
export async function firstCountedDay(db: Executor): Promise<string | null> {
  // min(pull_date) of each table is one step of its pull_date index.
  const [pulls, checks] = await Promise.all([
    db.selectFrom('container_pull_metrics').select(sql<string | null>`to_char(min(pull_date), 'YYYY-MM-DD')`.as('day')).executeTakeFirst(),
    db.selectFrom('container_pull_checks').select(sql<string | null>`to_char(min(pull_date), 'YYYY-MM-DD')`.as('day')).executeTakeFirst(),
  ]);
  const days = [pulls?.day, checks?.day].filter((day): day is string => typeof day === 'string').sort();
  return days[0] ?? null;
}

/** How long a hidden session's transaction is assumed to have been open: plannedAt moves back this much. */
export const HIDDEN_SESSION_MARGIN_MS = 10 * 60_000;

export interface PlanInstant {
  /** The instant apply re-checks use from (see planInstant). */
  instant: Date;
  /** Client sessions of this database whose transactions this role cannot see (pg_stat_activity hides them). */
  hiddenSessions: number;
  /** The oldest visible open transaction that moved the instant back, when it did. */
  oldestTransaction?: { pid: number; applicationName: string; startedAt: Date };
}

/**
 * The instant a plan read now: the database's now(), or the start of the oldest transaction still open in this
 * database if earlier, truncated to the millisecond. A count row's updated_at is its writer transaction's start
 * (now()), and a writer still open when the plan reads commits counts the plan cannot see: starting the re-check
 * from its start catches them. Client sessions only: an autovacuum running for an hour writes no counts.
 * Sessions of other roles (and background processes) are hidden without pg_read_all_stats; the instant then moves
 * back a safety margin, since a hidden writer's transaction start cannot be read.
 */
export async function planInstant(db: Executor): Promise<PlanInstant> {
  const { rows } = await sql<{ now: Date; hidden: number; pid: number | null; application_name: string | null; xact_start: Date | null }>`
    with others as (
      select pid, application_name, xact_start, query from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
    )
    select date_trunc('milliseconds', now()) as now,
      -- A hidden session shows neither its database nor its kind: any of them could be a writer here.
      (select count(*) from pg_stat_activity where query = '<insufficient privilege>')::int as hidden,
      oldest.pid, oldest.application_name, date_trunc('milliseconds', oldest.xact_start) as xact_start
    from (select 1) one
    left join lateral (select pid, application_name, xact_start from others
      where xact_start is not null order by xact_start limit 1) oldest on true`.execute(db);
  const row = rows[0]!;
  let instant = row.now;
  const result: PlanInstant = { instant, hiddenSessions: row.hidden };
  if (row.xact_start && row.xact_start < instant) {
    instant = row.xact_start;
    result.oldestTransaction = { pid: row.pid!, applicationName: row.application_name ?? '', startedAt: row.xact_start };
  }
  if (row.hidden > 0) instant = new Date(Math.min(instant.getTime(), row.now.getTime() - HIDDEN_SESSION_MARGIN_MS));
  result.instant = instant;
  return result;
}

/**
 * Whether any of `digests` (a digest with its index and platforms) was pulled or checked in `repository` at or
 * after `since` (planInstant): apply's last look before a delete. updated_at is a UTC TIMESTAMP set to now() of
 * the transaction that grew the count.
 */
export async function usedSince(db: Executor, repository: string, digests: readonly string[], since: Date): Promise<boolean> {
  if (digests.length === 0) return false;
  const after = sql<Date>`(${since.toISOString()}::timestamptz at time zone 'utc')`;
  const inDigests = sql<string>`any(${digests}::text[])`;
  const [pull, check] = await Promise.all([
    db.selectFrom('container_pull_metrics').select('id')
      .where('repo_name', '=', repository).where('digest', '=', inDigests).where('updated_at', '>=', after)
      .limit(1).executeTakeFirst(),
    db.selectFrom('container_pull_checks').select('id')
      .where('repo_name', '=', repository).where('digest', '=', inDigests).where('updated_at', '>=', after)
      .limit(1).executeTakeFirst(),
  ]);
  return pull !== undefined || check !== undefined;
}
