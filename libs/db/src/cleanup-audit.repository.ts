// Cleanup apply's audit (one row per action taken or declined, the newest for the page) and its one-at-a-time lock.
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { Executor } from './executor.js';
import type { CleanupAuditTable, Database } from './schema.js';

export type CleanupAuditResult = CleanupAuditTable['result'];

export interface CleanupAuditEntry {
  actor: string;
  plannedAt: Date;
  repository: string;
  digest: string;
  tags: readonly string[];
  rule: string;
  action: CleanupAuditTable['action'];
  result: CleanupAuditResult;
  detail?: string;
}

export interface CleanupAuditRow extends Omit<CleanupAuditEntry, 'tags' | 'detail'> {
  id: number;
  at: Date;
  tags: string[];
  detail: string;
}

function toRow(row: Selectable<CleanupAuditTable>): CleanupAuditRow {
  const tags = Array.isArray(row.tags) ? row.tags.filter((tag): tag is string => typeof tag === 'string') : [];
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    plannedAt: row.planned_at,
    repository: row.repository,
    digest: row.digest,
    tags,
    rule: row.rule,
    action: row.action,
    result: row.result,
    detail: row.detail,
  };
}

/** Adds one action to the audit, in the caller's transaction when one is passed. */
export async function recordCleanupAction(db: Executor, entry: CleanupAuditEntry): Promise<CleanupAuditRow> {
  const values: Insertable<CleanupAuditTable> = {
    actor: entry.actor,
    planned_at: entry.plannedAt,
    repository: entry.repository,
    digest: entry.digest,
    tags: JSON.stringify(entry.tags),
    rule: entry.rule,
    action: entry.action,
    result: entry.result,
    detail: entry.detail ?? '',
  };
  return toRow(await db.insertInto('cleanup_audit').values(values).returningAll().executeTakeFirstOrThrow());
}

/** The newest actions first (ids grow with each insert), `limit` of them, before the row `beforeId` when paging. */
export async function listCleanupAudit(db: Executor, options: { limit?: number; beforeId?: number } = {}): Promise<CleanupAuditRow[]> {
  let query = db.selectFrom('cleanup_audit').selectAll().orderBy('id', 'desc').limit(options.limit ?? 100);
  if (options.beforeId !== undefined) query = query.where('id', '<', options.beforeId);
  return (await query.execute()).map(toRow);
}

/** One key for every apply, whichever process runs it (browse replicas, the CLI). */
const CLEANUP_APPLY_LOCK = 0x5374_6372_6c6e; // "Stcrln"

/**
 * Runs `work` on one connection while it holds the cleanup apply lock (a session advisory lock), so two applies
 * never delete at once (their pacing would add up); `{ ran: false }` when another apply holds it.
 */
export async function withCleanupApplyLock<T>(db: Kysely<Database>, work: (connection: Kysely<Database>) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${CLEANUP_APPLY_LOCK}::bigint) as locked`.execute(connection);
    if (!rows[0]?.locked) return { ran: false };
    try {
      return { ran: true, value: await work(connection) };
    } finally {
      await sql`select pg_advisory_unlock(${CLEANUP_APPLY_LOCK}::bigint)`.execute(connection);
    }
  });
}
