// Counts one batch of pull events in one transaction: claim the event ids, add only the new ones.
import type { Kysely } from 'kysely';
import { aggregatePulls, uniqueById, type PullCount, type PullEvent } from '@staticreg/events';
import { claimEventIds, upsertPullCounts, type Database } from '@staticreg/db';

export interface StoreResult {
  /** Events counted for the first time. */
  counted: number;
  /** Events whose id had already been counted (re-deliveries and replays). */
  duplicates: number;
  /** The rows the batch added to, with the pulls added. */
  rows: PullCount[];
}

export async function storePullBatch(db: Kysely<Database>, events: readonly PullEvent[]): Promise<StoreResult> {
  const unique = uniqueById(events);
  return db.transaction().execute(async (trx) => {
    const fresh = await claimEventIds(
      trx,
      unique.map((event) => event.id),
    );
    const rows = aggregatePulls(unique.filter((event) => fresh.has(event.id)));
    await upsertPullCounts(trx, rows);
    return { counted: fresh.size, duplicates: events.length - fresh.size, rows };
  });
}
