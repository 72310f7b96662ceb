// Writes of container_pull_metrics / container_pull_checks and of the processed-event ids that make them idempotent.
import { sql } from 'kysely';
import type { CountChange, CountKind } from '@staticreg/events';
import type { Executor } from './executor.js';

const ID_CHUNK = 5000;

/**
 * Records event ids as processed and returns the ids that were new. Run it in the same transaction as
 * the counting: a replayed batch then finds its ids taken and counts nothing twice. Ids are inserted in
 * sorted order so that two workers claiming overlapping ids cannot deadlock.
 */
export async function claimEventIds(trx: Executor, ids: readonly string[]): Promise<Set<string>> {
  const sorted = [...new Set(ids)].sort();
  const fresh = new Set<string>();
  for (let start = 0; start < sorted.length; start += ID_CHUNK) {
    const chunk = sorted.slice(start, start + ID_CHUNK);
    const rows = await sql<{ event_id: string }>`
      insert into processed_pull_events (event_id)
      select unnest(${chunk}::text[])
      on conflict (event_id) do nothing
      returning event_id`.execute(trx);
    for (const row of rows.rows) fresh.add(row.event_id);
  }
  return fresh;
}

const COUNT_TABLES = {
  pull: { table: 'container_pull_metrics', column: 'pull_count' },
  check: { table: 'container_pull_checks', column: 'check_count' },
} as const;

/**
 * Takes the rollups' transaction-scoped advisory lock (migrations 0005/0007), the one the rollup triggers take after
 * their statement. A writer takes it before its first count row: the trigger alone would take it only after the
 * statement has locked its rows, so a batch of checks alone could hold a row that a batch already holding the lock
 * needs, and wait for that lock: a deadlock (test/integration/metrics-rollups.test.ts). Held until commit.
 */
export async function lockRollups(trx: Executor): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended('staticreg.metrics_rollups', 0))`.execute(trx);
}

/**
 * Adds counts to their rows, creating the rows that do not exist yet. A negative count takes pulls back (a
 * recomputed session); rows that reach zero are deleted, so every stored row has a count of at least 1.
 * `counts` must have unique keys and should be sorted by key (lock order).
 */
export async function addCounts(trx: Executor, kind: CountKind, counts: readonly CountChange[]): Promise<void> {
  if (counts.length === 0) return;
  await lockRollups(trx);
  const { table, column } = COUNT_TABLES[kind];
  const t = sql.table(table);
  const c = sql.ref(column);
  await sql`
    insert into ${t} as m (pull_date, repo_name, tag, digest, architecture, ${c})
    select * from unnest(
      ${counts.map((row) => row.pullDate)}::date[],
      ${counts.map((row) => row.repository)}::text[],
      ${counts.map((row) => row.tag)}::text[],
      ${counts.map((row) => row.digest)}::text[],
      ${counts.map((row) => row.architecture)}::text[],
      ${counts.map((row) => row.count)}::int[])
    on conflict (pull_date, repo_name, tag, digest, architecture) do update set
      ${c} = m.${c} + excluded.${c},
      updated_at = case when excluded.${c} > 0 then (now() at time zone 'utc') else m.updated_at end`.execute(trx);
  const retracted = counts.filter((row) => row.count < 0);
  if (retracted.length === 0) return;
  await sql`
    delete from ${t} m
    using unnest(
      ${retracted.map((row) => row.pullDate)}::date[],
      ${retracted.map((row) => row.repository)}::text[],
      ${retracted.map((row) => row.tag)}::text[],
      ${retracted.map((row) => row.digest)}::text[],
      ${retracted.map((row) => row.architecture)}::text[]) as k(pull_date, repo_name, tag, digest, architecture)
    where m.pull_date = k.pull_date and m.repo_name = k.repo_name and m.tag = k.tag and m.digest = k.digest
      and m.architecture = k.architecture and m.${c} <= 0`.execute(trx);
}

/** Deletes processed-event ids older than the cutoff, a few thousand at a time so no lock is held long. */
export async function pruneProcessedEventIds(db: Executor, olderThan: Date, batchSize = 5000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const result = await db
      .deleteFrom('processed_pull_events')
      .where('event_id', 'in', (eb) => eb.selectFrom('processed_pull_events').select('event_id').where('processed_at', '<', olderThan).limit(batchSize))
      .executeTakeFirstOrThrow();
    const count = Number(result.numDeletedRows);
    deleted += count;
    if (count < batchSize) return deleted;
  }
}
