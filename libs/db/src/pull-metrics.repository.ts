// Reads and writes of container_pull_metrics and of the processed-event ids that make writes idempotent.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { PullCount } from '@staticreg/events';
import type { Database } from './schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

/** 6 parameters a row; Postgres allows 65,535 per statement, and ~1,000-row statements are the sweet spot. */
const UPSERT_CHUNK = 1000;
const ID_CHUNK = 5000;

/**
 * Records event ids as processed and returns the ids that were new. Run it in the same transaction as
 * the upsert: a replayed batch then finds its ids taken and counts nothing twice.
 */
export async function claimEventIds(trx: Executor, ids: readonly string[]): Promise<Set<string>> {
  const fresh = new Set<string>();
  for (let start = 0; start < ids.length; start += ID_CHUNK) {
    const chunk = ids.slice(start, start + ID_CHUNK);
    const rows = await trx
      .insertInto('processed_pull_events')
      .values(chunk.map((event_id) => ({ event_id })))
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('event_id')
      .execute();
    for (const row of rows) fresh.add(row.event_id);
  }
  return fresh;
}

/** Adds counts to their rows, creating the rows that do not exist yet. `counts` must have unique keys. */
export async function upsertPullCounts(trx: Executor, counts: readonly PullCount[]): Promise<void> {
  for (let start = 0; start < counts.length; start += UPSERT_CHUNK) {
    const chunk = counts.slice(start, start + UPSERT_CHUNK);
    await trx
      .insertInto('container_pull_metrics')
      .values(
        chunk.map((row) => ({
          pull_date: row.pullDate,
          repo_name: row.repository,
          tag: row.tag,
          digest: row.digest,
          architecture: row.architecture,
          pull_count: row.count,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['pull_date', 'repo_name', 'tag', 'digest', 'architecture']).doUpdateSet((eb) => ({
          pull_count: eb('container_pull_metrics.pull_count', '+', eb.ref('excluded.pull_count')),
          updated_at: sql<string>`(now() at time zone 'utc')`,
        })),
      )
      .execute();
  }
}

/** Deletes processed-event ids older than the cutoff, a few thousand at a time so no lock is held long. */
export async function pruneProcessedEventIds(db: Kysely<Database>, olderThan: Date, batchSize = 5000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const result = await sql`
      delete from processed_pull_events
      where event_id in (
        select event_id from processed_pull_events where processed_at < ${olderThan} limit ${batchSize}
      )`.execute(db);
    const count = Number(result.numAffectedRows ?? 0);
    deleted += count;
    if (count < batchSize) return deleted;
  }
}
