// Counts a batch under the session policy: stage the events, recompute the sessions they touch, apply the difference.
import type { Kysely, Transaction } from 'kysely';
import {
  countDelta,
  countSession,
  splitSessions,
  sumCounts,
  toSessionEvent,
  uniqueById,
  type ManifestInfo,
  type PullEvent,
  type KindedCountChange,
  type SessionEvent,
} from '@staticreg/events';
import {
  addCounts,
  claimEventIds,
  deleteSessions,
  insertSessionEvents,
  insertSessions,
  loadManifestDescriptions,
  loadSessionEvents,
  loadSessions,
  lockClients,
  type ClientRange,
  type Database,
  type StoredSession,
} from '@staticreg/db';
import type { StoreResult } from './pull-consumer.js';

/** Sorted by kind then key, so concurrent batches update rows in one order. */
function sortCounts(counts: KindedCountChange[]): KindedCountChange[] {
  const key = (c: KindedCountChange) => [c.pullDate, c.repository, c.tag, c.digest, c.architecture].join('\u0000');
  return counts.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * One transaction per batch, READ COMMITTED whatever the server's default: after waiting for a client's lock, the
 * batch must see the sessions that the lock's previous holder committed. Under REPEATABLE READ its snapshot
 * would predate them and the same session would be counted twice.
 */
export async function countPerSession(
  db: Kysely<Database>,
  events: readonly PullEvent[],
  windowMs: number,
  manifests: ReadonlyMap<string, ManifestInfo> = new Map(),
): Promise<StoreResult> {
  return db
    .transaction()
    .setIsolationLevel('read committed')
    .execute((trx) => countPerSessionIn(trx, events, windowMs, manifests));
}

/** The session policy's work inside a transaction the caller opened (READ COMMITTED, see countPerSession). */
export async function countPerSessionIn(
  trx: Transaction<Database>,
  events: readonly PullEvent[],
  windowMs: number,
  manifests: ReadonlyMap<string, ManifestInfo> = new Map(),
): Promise<StoreResult> {
  const unique = uniqueById(events);
  const fresh = await claimEventIds(
    trx,
    unique.map((event) => event.id),
  );
  const staged = unique.filter((event) => fresh.has(event.id)).map(toSessionEvent);
  if (staged.length === 0) return { counted: 0, duplicates: events.length, changes: [] };

  const ranges = new Map<string, ClientRange>();
  for (const event of staged) {
    const range = ranges.get(event.clientKey);
    if (range) {
      range.from = Math.min(range.from, event.time);
      range.to = Math.max(range.to, event.time);
    } else ranges.set(event.clientKey, { clientKey: event.clientKey, from: event.time, to: event.time });
  }
  await lockClients(trx, [...ranges.keys()]);
  await insertSessionEvents(trx, staged);

  // Sessions within one window of the new events may merge with them; recompute exactly those.
  const widened = [...ranges.values()].map((r) => ({ clientKey: r.clientKey, from: r.from - windowMs, to: r.to + windowMs }));
  const previous = await loadSessions(trx, widened);
  for (const session of previous) {
    const range = ranges.get(session.clientKey)!;
    range.from = Math.min(range.from, session.startedAt);
    range.to = Math.max(range.to, session.endedAt);
  }
  const affected = await loadSessionEvents(trx, [...ranges.values()]);

  const known = new Map(manifests);
  const missing = [...new Set(affected.map((event) => event.digest))].filter((digest) => !known.has(digest));
  for (const [digest, info] of await loadManifestDescriptions(trx, missing)) known.set(digest, info);
  const lookup = (digest: string) => known.get(digest);

  const byClient = new Map<string, SessionEvent[]>();
  for (const event of affected) {
    const list = byClient.get(event.clientKey);
    if (list) list.push(event);
    else byClient.set(event.clientKey, [event]);
  }
  const recomputed: StoredSession[] = [];
  for (const [clientKey, clientEvents] of byClient) {
    for (const session of splitSessions(clientEvents, windowMs)) {
      recomputed.push({
        clientKey,
        startedAt: session[0]!.time,
        endedAt: session.at(-1)!.time,
        counts: sumCounts(countSession(session, lookup)),
      });
    }
  }

  const delta = countDelta(
    previous.flatMap((session) => session.counts),
    recomputed.flatMap((session) => session.counts),
  );
  await deleteSessions(trx, previous);
  await insertSessions(trx, recomputed);
  await addCounts(trx, 'pull', sortCounts(delta.filter((count) => count.kind === 'pull')));
  await addCounts(trx, 'check', sortCounts(delta.filter((count) => count.kind === 'check')));
  return { counted: staged.length, duplicates: events.length - staged.length, changes: delta };
}
