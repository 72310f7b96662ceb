// The cleanup plan: what a policy would delete from the registry, and why; the contract apply builds on.
import type { Kysely, Transaction } from 'kysely';
import {
  firstCountedDay,
  HIDDEN_SESSION_MARGIN_MS,
  lastUseByDigest,
  manifestsForCleanup,
  planInstant,
  repositoryNamesAfter,
  tagsOfRepositories,
  type Database,
  type PlanInstant,
} from '@staticreg/db';
import type { UtcDay } from '@staticreg/events';
import { CleanupPlanner, shortHistoryWarnings, type CatalogManifest, type CatalogTag, type DigestUse } from './decide.js';
import type { CleanupPolicy } from './policy.js';

export interface PlannedDeletion {
  repository: string;
  /** The manifest to delete: an image or an index (deleting an index leaves its platform manifests to the GC). */
  digest: string;
  /** Tags that pointed to it when planned ([] = untagged). */
  tags: string[];
  /** The rule that let it go: its name from the policy file, or `rules[<i>]`. */
  rule: string;
  /** Why, for people: e.g. "not pulled or checked since 2026-10-01 (keep: used within 30 days)". */
  reason: string;
  /** Over the digest and its index/platforms. */
  lastPulled: UtcDay | null;
  lastChecked: UtcDay | null;
  /** ISO instant from the image config, when known. */
  created: string | null;
  /** Bytes of distinct blobs no kept image shares. */
  freesBytes: number;
}

export interface CleanupPlan {
  /**
   * When the plan read the counts (ISO instant, the database's clock, moved back to the oldest transaction open
   * then): apply cancels a deletion whose use was counted at or after it.
   */
  plannedAt: string;
  policyFile: string;
  deletions: PlannedDeletion[];
  /** How many tags/digests the rules kept, for the summary line. */
  kept: number;
  /** Distinct blobs of all deletions that no kept image shares (a blob shared by two deletions counts once). */
  freesBytes: number;
  /** What people should know before trusting the plan: digests kept for want of data, a short count history. */
  warnings: string[];
}

export interface PlanOptions {
  /** The day the plan is computed for: "today" and "used within N days" count from its UTC day (plannedAt is the database's). */
  now: Date;
  /** STATICREG_RETENTION_DAYS when set: the count history is no longer than this, whatever the tables hold now. */
  retentionDays?: number;
  /** Repositories read per round trip (memory holds one page of tags and use at a time, plus the plan). */
  pageSize?: number;
}

/** planCleanup in one read-only repeatable-read snapshot: a crawl or a count committing meanwhile cannot make pages disagree. */
export function planCleanupInSnapshot(db: Kysely<Database>, policy: CleanupPolicy, options: PlanOptions): Promise<CleanupPlan> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute((snapshot) => planCleanup(snapshot, policy, options));
}

/**
 * Reads the catalog and the use from Postgres, a page of repositories at a time, and decides under `policy`
 * what would go. Every repository is read, excluded or not: its kept images keep their blobs. Pass a
 * repeatable-read transaction for one snapshot across the pages. plannedAt is read from the database before
 * anything else, so every count the plan could not see was written at or after it.
 */
export async function planCleanup(
  db: Kysely<Database> | Transaction<Database>,
  policy: CleanupPolicy,
  options: PlanOptions,
): Promise<CleanupPlan> {
  // First statement: in a repeatable-read transaction it also takes the snapshot, after this instant.
  const { instant: plannedAt, hiddenSessions, oldestTransaction } = await planInstant(db);
  const manifests = new Map<string, CatalogManifest | null>();
  const planner = new CleanupPlanner(policy, options.now, (digest) => manifests.get(digest) ?? undefined);
  const describe = async (digests: Iterable<string>) => {
    const missing = [...new Set(digests)].filter((digest) => !manifests.has(digest));
    if (missing.length === 0) return [];
    for (const digest of missing) manifests.set(digest, null);
    const rows = await manifestsForCleanup(db, missing);
    for (const row of rows) {
      manifests.set(row.digest, {
        digest: row.digest,
        kind: row.kind,
        created: row.created?.toISOString() ?? null,
        firstSeen: row.firstSeen.toISOString(),
        children: row.children,
        blobs: row.blobs.map((blob) => ({ digest: blob.digest, size: Number(blob.size) || 0 })),
      });
    }
    return rows;
  };
  for (let after: string | null = null; ; ) {
    const names = await repositoryNamesAfter(db, after, options.pageSize ?? 1000);
    if (names.length === 0) break;
    after = names[names.length - 1]!;
    const [tags, use] = await Promise.all([tagsOfRepositories(db, names), lastUseByDigest(db, { repositories: names })]);
    const described = await describe([...tags.map((tag) => tag.digest), ...use.map((row) => row.digest)]);
    await describe(described.flatMap((row) => row.children));
    const snapshots = new Map(names.map((name) => [name, { repository: name, tags: [] as CatalogTag[], use: [] as DigestUse[] }]));
    for (const tag of tags) snapshots.get(tag.repository)?.tags.push({ tag: tag.tag, digest: tag.digest, created: tag.created?.toISOString() ?? null });
    for (const row of use) snapshots.get(row.repository)?.use.push({ digest: row.digest, lastPulled: row.lastPulled, lastChecked: row.lastChecked });
    for (const snapshot of snapshots.values()) planner.addRepository(snapshot);
  }
  const plan = planner.finish(plannedAt);
  plan.warnings.push(...shortHistoryWarnings(policy, options.now, await firstCountedDay(db), options.retentionDays));
  plan.warnings.push(...planInstantWarnings(hiddenSessions, oldestTransaction, options.now));
  return plan;
}

/** What the plan's time says about the sessions around it: a hidden one, or an old open transaction that moved it. */
export function planInstantWarnings(hiddenSessions: number, oldestTransaction: PlanInstant['oldestTransaction'], now: Date): string[] {
  const warnings: string[] = [];
  if (hiddenSessions > 0) {
    warnings.push(
      `${hiddenSessions} database session${hiddenSessions === 1 ? ' is' : 's are'} hidden from this role (pg_stat_activity): ` +
        `a count such a session commits late would be missed, so the plan time moves back ${HIDDEN_SESSION_MARGIN_MS / 60_000} minutes; ` +
        'plan as the worker\'s role, or grant pg_read_all_stats',
    );
  }
  if (oldestTransaction && now.getTime() - oldestTransaction.startedAt.getTime() > 5 * 60_000) {
    const name = oldestTransaction.applicationName ? ` (${oldestTransaction.applicationName})` : '';
    warnings.push(
      `a transaction open since ${oldestTransaction.startedAt.toISOString()} (pid ${oldestTransaction.pid}${name}) moved the plan time back: ` +
        'apply skips anything used since then',
    );
  }
  return warnings;
}
