// Storage of the session policy: recent manifest requests, computed sessions, and manifest descriptions.
import { sql, type Kysely, type Selectable } from 'kysely';
import { SESSION_BUCKET_MS, type ManifestInfo, type KindedCountChange, type SessionEvent } from '@staticreg/events';
import type { Executor } from './executor.js';
import type { Database, PullSessionEventsTable } from './schema.js';

/** A client's time range whose sessions a batch may have changed. */
export interface ClientRange {
  clientKey: string;
  from: number;
  to: number;
}

export interface StoredSession {
  clientKey: string;
  startedAt: number;
  endedAt: number;
  counts: KindedCountChange[];
}

/**
 * Serialises the workers that touch the same clients: each takes a transaction-scoped advisory lock per client,
 * in one fixed order (so two batches sharing clients wait for each other rather than deadlock).
 */
export async function lockClients(trx: Executor, clientKeys: readonly string[]): Promise<void> {
  if (clientKeys.length === 0) return;
  await sql`
    select pg_advisory_xact_lock(h) from (
      select distinct hashtextextended(k, 0) as h from unnest(${[...clientKeys]}::text[]) as k order by h
    ) locks`.execute(trx);
}

export async function insertSessionEvents(trx: Executor, events: readonly SessionEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sql`
    insert into pull_session_events (event_id, client_key, event_time, repo_name, method, media_type, digest, tag, ua_architecture)
    select * from unnest(
      ${events.map((e) => e.id)}::text[],
      ${events.map((e) => e.clientKey)}::text[],
      ${events.map((e) => new Date(e.time).toISOString())}::timestamptz[],
      ${events.map((e) => e.repository)}::text[],
      ${events.map((e) => e.method)}::text[],
      ${events.map((e) => e.mediaType)}::text[],
      ${events.map((e) => e.digest)}::text[],
      ${events.map((e) => e.tag)}::text[],
      ${events.map((e) => e.userAgentArchitecture)}::text[])
    on conflict (event_id) do nothing`.execute(trx);
}

function rangeArrays(ranges: readonly ClientRange[]) {
  return {
    keys: ranges.map((r) => r.clientKey),
    froms: ranges.map((r) => new Date(r.from).toISOString()),
    tos: ranges.map((r) => new Date(r.to).toISOString()),
  };
}

/** Sessions of each client that overlap its range. */
export async function loadSessions(trx: Executor, ranges: readonly ClientRange[]): Promise<StoredSession[]> {
  if (ranges.length === 0) return [];
  const { keys, froms, tos } = rangeArrays(ranges);
  const result = await sql<{ client_key: string; started_at: Date; ended_at: Date; counts: KindedCountChange[] }>`
    select s.client_key, s.started_at, s.ended_at, s.counts
    from pull_sessions s
    join unnest(${keys}::text[], ${froms}::timestamptz[], ${tos}::timestamptz[]) as r(client_key, from_time, to_time)
      on s.client_key = r.client_key and s.ended_at >= r.from_time and s.started_at <= r.to_time`.execute(trx);
  return result.rows.map((row) => ({
    clientKey: row.client_key,
    startedAt: row.started_at.getTime(),
    endedAt: row.ended_at.getTime(),
    counts: row.counts,
  }));
}

/** Every stored event of each client within its range. */
export async function loadSessionEvents(trx: Executor, ranges: readonly ClientRange[]): Promise<SessionEvent[]> {
  if (ranges.length === 0) return [];
  const { keys, froms, tos } = rangeArrays(ranges);
  const result = await sql<Omit<Selectable<PullSessionEventsTable>, 'received_at'>>`
    select e.event_id, e.client_key, e.event_time, e.repo_name, e.method, e.media_type, e.digest, e.tag, e.ua_architecture
    from pull_session_events e
    join unnest(${keys}::text[], ${froms}::timestamptz[], ${tos}::timestamptz[]) as r(client_key, from_time, to_time)
      on e.client_key = r.client_key and e.event_time between r.from_time and r.to_time`.execute(trx);
  return result.rows.map((row) => ({
    id: row.event_id,
    clientKey: row.client_key,
    time: row.event_time.getTime(),
    repository: row.repo_name,
    method: row.method,
    mediaType: row.media_type,
    digest: row.digest,
    tag: row.tag,
    userAgentArchitecture: row.ua_architecture,
  }));
}

export async function deleteSessions(trx: Executor, sessions: readonly StoredSession[]): Promise<void> {
  if (sessions.length === 0) return;
  await sql`
    delete from pull_sessions s
    using unnest(${sessions.map((s) => s.clientKey)}::text[], ${sessions.map((s) => new Date(s.startedAt).toISOString())}::timestamptz[])
      as d(client_key, started_at)
    where s.client_key = d.client_key and s.started_at = d.started_at`.execute(trx);
}

export async function insertSessions(trx: Executor, sessions: readonly StoredSession[]): Promise<void> {
  if (sessions.length === 0) return;
  await sql`
    insert into pull_sessions (client_key, started_at, ended_at, counts)
    select * from unnest(
      ${sessions.map((s) => s.clientKey)}::text[],
      ${sessions.map((s) => new Date(s.startedAt).toISOString())}::timestamptz[],
      ${sessions.map((s) => new Date(s.endedAt).toISOString())}::timestamptz[],
      ${sessions.map((s) => JSON.stringify(s.counts))}::jsonb[])`.execute(trx);
}

export async function loadManifestDescriptions(db: Executor, digests: readonly string[]): Promise<Map<string, ManifestInfo>> {
  const found = new Map<string, ManifestInfo>();
  if (digests.length === 0) return found;
  const rows = await db
    .selectFrom('manifest_descriptions')
    .select(['digest', 'kind', 'platform', 'children'])
    .where('digest', '=', (eb) => eb.fn.any(eb.val([...new Set(digests)])))
    .execute();
  for (const row of rows) {
    // children is written by saveManifestDescriptions below: [[digest, platform], ...] or null.
    const children = row.children as Array<[string, string]> | null;
    found.set(row.digest, {
      kind: row.kind,
      ...(row.platform ? { platform: row.platform } : {}),
      ...(children ? { children: new Map(children) } : {}),
    });
  }
  return found;
}

export async function saveManifestDescriptions(db: Executor, descriptions: ReadonlyMap<string, ManifestInfo>): Promise<void> {
  if (descriptions.size === 0) return;
  const entries = [...descriptions.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  await sql`
    insert into manifest_descriptions (digest, kind, platform, children)
    select * from unnest(
      ${entries.map(([digest]) => digest)}::text[],
      ${entries.map(([, info]) => info.kind)}::text[],
      ${entries.map(([, info]) => info.platform ?? null)}::text[],
      ${entries.map(([, info]) => (info.children ? JSON.stringify([...info.children]) : null))}::jsonb[])
    on conflict (digest) do update set
      platform = coalesce(excluded.platform, manifest_descriptions.platform),
      children = coalesce(excluded.children, manifest_descriptions.children)`.execute(db);
}

/**
 * Forgets session events and sessions from before the cutoff, a chunk of clients at a time. The cutoff is rounded
 * down to a UTC hour: sessions never span two hours, so everything before it belongs to sessions that are over.
 * Each chunk is one transaction under the clients' locks (lockClients, which countPerSession takes): a batch
 * with a late event of the same client runs wholly before or wholly after, so it never sees a session without
 * its events (and takes its counts back) or events without their session (and counts them again).
 */
export async function pruneSessions(db: Kysely<Database>, olderThan: Date, clientsPerChunk = 500): Promise<number> {
  const cutoff = new Date(Math.floor(olderThan.getTime() / SESSION_BUCKET_MS) * SESSION_BUCKET_MS);
  let deleted = 0;
  for (;;) {
    // A session ends in the hour it starts in, so ended_at < cutoff finds the same sessions as started_at < cutoff.
    const clients = await db
      .selectFrom((eb) => eb.selectFrom('pull_session_events').select('client_key').where('event_time', '<', cutoff).limit(clientsPerChunk).as('e'))
      .select('client_key')
      .union((eb) =>
        eb.selectFrom((inner) => inner.selectFrom('pull_sessions').select('client_key').where('ended_at', '<', cutoff).limit(clientsPerChunk).as('s')).select('client_key'),
      )
      .execute();
    if (clients.length === 0) return deleted;
    const keys = clients.map((row) => row.client_key);
    deleted += await db.transaction().execute(async (trx) => {
      await lockClients(trx, keys);
      const sessions = await trx
        .deleteFrom('pull_sessions')
        .where('client_key', '=', (eb) => eb.fn.any(eb.val(keys)))
        .where('started_at', '<', cutoff)
        .executeTakeFirstOrThrow();
      const events = await trx
        .deleteFrom('pull_session_events')
        .where('client_key', '=', (eb) => eb.fn.any(eb.val(keys)))
        .where('event_time', '<', cutoff)
        .executeTakeFirstOrThrow();
      return Number(sessions.numDeletedRows) + Number(events.numDeletedRows);
    });
  }
}
