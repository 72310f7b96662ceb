// The cleanup plan: what a policy would delete from the registry, and why; the contract apply builds on.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '@staticreg/db';
import type { UtcDay } from '@staticreg/events';
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
  /** When the plan was computed (ISO instant): apply cancels a deletion used after this. */
  plannedAt: string;
  policyFile: string;
  deletions: PlannedDeletion[];
  /** How many tags/digests the rules kept, for the summary line. */
  kept: number;
  /** Distinct blobs of all deletions that no kept image shares (a blob shared by two deletions counts once). */
  freesBytes: number;
}

export interface PlanOptions {
  /** The instant the plan is computed for: "today" and "used within N days" count from its UTC day. */
  now: Date;
}

/** Reads the catalog and the use from Postgres and decides, under `policy`, what would go. */
export async function planCleanup(
  db: Kysely<Database> | Transaction<Database>,
  policy: CleanupPolicy,
  options: PlanOptions,
): Promise<CleanupPlan> {
  void db;
  throw new Error(`planCleanup is not implemented yet (${policy.file}, ${options.now.toISOString()})`);
}
