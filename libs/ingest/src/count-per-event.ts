// Counts one batch under the events policy in one transaction: claim the event ids, add only the new ones.
import type { Kysely } from 'kysely';
import { aggregatePulls, uniqueById, type PullEvent } from '@staticreg/events';
import { addCounts, claimEventIds, type Database } from '@staticreg/db';
import type { StoreResult } from './pull-consumer.js';

/**
 * The events policy: every manifest pull event that names a tag is one pull, with the User-Agent's architecture.
 * Events by digest are claimed (so they are never reconsidered) but not counted.
 */
export async function countPerEvent(db: Kysely<Database>, events: readonly PullEvent[]): Promise<StoreResult> {
  const unique = uniqueById(events);
  // READ COMMITTED whatever the server's default, as the session policy: ON CONFLICT then waits, never fails to serialise.
  return db.transaction().setIsolationLevel('read committed').execute(async (trx) => {
    const fresh = await claimEventIds(
      trx,
      unique.map((event) => event.id),
    );
    const rows = aggregatePulls(unique.filter((event) => fresh.has(event.id) && event.tag !== ''));
    await addCounts(trx, 'pull', rows);
    return {
      counted: fresh.size,
      duplicates: events.length - fresh.size,
      changes: rows.map((row) => ({ kind: 'pull' as const, ...row })),
    };
  });
}
