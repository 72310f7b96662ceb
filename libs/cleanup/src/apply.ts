// Cleanup apply: deletes a confirmed plan's manifests one by one, paced, re-checking use and tags before each,
// and records every action in the audit table.
import { createHash } from 'node:crypto';
import { digestWithRelatives, recordCleanupAction, usedSince, type CleanupAuditResult, type Executor } from '@staticreg/db';
import { describeDeleteRefusal, RegistryDeleteRefused, RegistryError, type DeleteRefusal, type DeleteRights, type FetchedManifest, type ManifestDeletion } from '@staticreg/registry';
import type { CleanupPlan, PlannedDeletion } from './plan.js';

/** The registry calls apply makes (RegistryClient has them all). */
export interface CleanupRegistry {
  listTags(repository: string): Promise<string[]>;
  getManifest(repository: string, reference: string): Promise<FetchedManifest>;
  deleteManifest(repository: string, digest: string): Promise<ManifestDeletion>;
  probeDeleteRights(repository: string): Promise<DeleteRights>;
}

/**
 * The pull queue, as apply reads it: a pull waiting there is not counted yet, so the use re-check cannot see it.
 * A job older than `maxWaitMs` means the pipeline is behind (not merely holding a session window).
 */
export interface PullBacklog {
  /** When the oldest waiting pull job was added (ms since the epoch), undefined when none waits. */
  oldestWaitingJobTime(): Promise<number | undefined>;
  maxWaitMs: number;
}

export interface ApplyOptions {
  /** Who asked (a browse user, or the CLI's operating-system user): goes to the audit. */
  actor: string;
  /** Apply deletes only what a person confirmed: false refuses before any request. */
  confirmed: boolean;
  /** Pause between two deletes, so a large plan does not load the registry (0 in tests). */
  intervalMs: number;
  /** Told of each action as it is recorded (the CLI prints them). */
  onAction?: (action: AppliedDeletion) => void;
  /** When given, apply stops (audited) before a deletion while the pull queue is behind: see PullBacklog. */
  pullBacklog?: PullBacklog;
  /** Asked before each deletion: true ends the run there (a shutting-down server). */
  shouldStop?: () => boolean;
}

export interface AppliedDeletion {
  deletion: PlannedDeletion;
  result: CleanupAuditResult;
  detail: string;
}

export interface ApplyReport {
  actions: AppliedDeletion[];
  deleted: number;
  skipped: number;
  failed: number;
  /** Set when the registry refused deletes and apply stopped: why, and the registry's answer. */
  refused?: { refusal: DeleteRefusal; answer: string };
  /** Set when apply stopped early for another reason (the registry unreachable, the pull queue behind). */
  stopped?: string;
}

/** Thrown when apply is asked to run without confirmation: nothing was read, deleted or recorded. */
export class CleanupNotConfirmed extends Error {
  constructor() {
    super('cleanup apply deletes manifests: it runs only when confirmed (--yes, CONFIRM=yes, or the page\'s confirmation)');
    this.name = 'CleanupNotConfirmed';
  }
}

/**
 * A fingerprint of what a plan deletes (repository, digest and tags of each deletion, in order): a page shows a
 * plan, computes it again when the person confirms, and applies it only when the two fingerprints agree.
 */
export function planFingerprint(plan: CleanupPlan): string {
  const hash = createHash('sha256');
  for (const deletion of plan.deletions) hash.update(`${deletion.repository}\u0000${deletion.digest}\u0000${deletion.tags.join(',')}\n`);
  return hash.digest('hex');
}

const TAG_CHECKS_AT_ONCE = 8;

/** The digests an index's JSON lists (`manifests[].digest`); [] for anything else. */
function indexChildren(manifest: FetchedManifest): string[] {
  const listed = manifest.json.manifests;
  if (!Array.isArray(listed)) return [];
  return listed.map((entry) => (typeof entry === 'object' && entry !== null ? (entry as { digest?: unknown }).digest : undefined)).filter((digest): digest is string => typeof digest === 'string');
}

/**
 * `tag` as it needs `digest` now, read from the registry (GET): `tag` when it points to the digest, `tag (an index
 * listing it)` when it points to an index that lists it, undefined when it needs it not (or is gone).
 */
async function tagNeeding(registry: CleanupRegistry, repository: string, tag: string, digest: string): Promise<string | undefined> {
  let manifest: FetchedManifest;
  try {
    manifest = await registry.getManifest(repository, tag);
  } catch (error) {
    // Deleted between the listing and the read: it needs nothing.
    if (error instanceof RegistryError && error.kind === 'not-found') return undefined;
    throw error;
  }
  if (manifest.digest === digest) return tag;
  return indexChildren(manifest).includes(digest) ? `${tag} (an index listing it)` : undefined;
}

/**
 * The tags outside `planned` that need `deletion.digest` now (see tagNeeding). Tagged or not, the digest may be a
 * platform of an index the plan did not know (not described yet, or a tag moved to it since the plan).
 */
async function otherTagsOn(registry: CleanupRegistry, deletion: PlannedDeletion): Promise<string[]> {
  let tags: string[];
  try {
    tags = await registry.listTags(deletion.repository);
  } catch (error) {
    // The repository itself is gone: nothing points to the digest any more.
    if (error instanceof RegistryError && error.kind === 'not-found') return [];
    throw error;
  }
  const planned = new Set(deletion.tags);
  const others = tags.filter((tag) => !planned.has(tag));
  const needing = (tag: string) => tagNeeding(registry, deletion.repository, tag, deletion.digest);
  const sharing: string[] = [];
  for (let start = 0; start < others.length; start += TAG_CHECKS_AT_ONCE) {
    const batch = others.slice(start, start + TAG_CHECKS_AT_ONCE);
    for (const found of await Promise.all(batch.map(needing))) if (found !== undefined) sharing.push(found);
  }
  return sharing;
}

/** Why apply must not go on now, when the pull queue holds a job waiting longer than the backlog allows. */
async function backlogReason(backlog: PullBacklog | undefined): Promise<string | undefined> {
  if (!backlog) return undefined;
  let oldest: number | undefined;
  try {
    oldest = await backlog.oldestWaitingJobTime();
  } catch (error) {
    // Unknown is not "caught up": stop rather than miss a pull still waiting.
    return `cannot read the pull queue (${error instanceof Error ? error.message : String(error)}): a pull since the plan may not be counted yet`;
  }
  if (oldest === undefined || Date.now() - oldest <= backlog.maxWaitMs) return undefined;
  return (
    `the pull queue holds a job waiting since ${new Date(oldest).toISOString()} (more than ${Math.round(backlog.maxWaitMs / 1000)} s): ` +
    'a pull since the plan may not be counted yet; apply again once the worker has caught up'
  );
}

const pause = (ms: number): Promise<void> => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/**
 * Applies `plan`: for each deletion, a tag outside the planned ones that now points to the digest (or to an
 * index listing it) refuses it (deleting a digest removes every tag on it), then a use
 * since plannedAt cancels it (read last, just before the delete), otherwise the manifest is deleted
 * by digest. A registry that refuses deletes (disabled, or no right) stops the run before anything is deleted.
 */
export async function applyCleanup(db: Executor, registry: CleanupRegistry, plan: CleanupPlan, options: ApplyOptions): Promise<ApplyReport> {
  if (!options.confirmed) throw new CleanupNotConfirmed();
  const report: ApplyReport = { actions: [], deleted: 0, skipped: 0, failed: 0 };
  const plannedAt = new Date(plan.plannedAt);
  if (Number.isNaN(plannedAt.getTime())) throw new Error(`the plan's plannedAt is not an instant: ${plan.plannedAt}`);

  const record = async (deletion: PlannedDeletion, action: 'delete' | 'apply', result: CleanupAuditResult, detail: string) => {
    await recordCleanupAction(db, { actor: options.actor, plannedAt, repository: deletion.repository, digest: deletion.digest, tags: deletion.tags, rule: deletion.rule, action, result, detail });
    if (action === 'delete') {
      const applied = { deletion, result, detail };
      report.actions.push(applied);
      if (result === 'deleted' || result === 'already-gone') report.deleted += 1;
      else if (result === 'skipped') report.skipped += 1;
      else report.failed += 1;
      options.onAction?.(applied);
    }
  };
  const refuse = async (deletion: PlannedDeletion, refusal: DeleteRefusal, answer: string, message: string) => {
    report.refused = { refusal, answer };
    await record(deletion, 'apply', 'refused', message);
  };

  const first = plan.deletions[0];
  if (!first) return report;
  // Asked once up front, so a registry with deletes disabled refuses the run before any re-check or delete.
  const rights = await registry.probeDeleteRights(first.repository);
  if (!rights.canDelete) {
    await refuse(first, rights.refusal, rights.answer, describeDeleteRefusal(rights.refusal, rights.answer));
    return report;
  }

  let deletesSent = 0;
  for (const deletion of plan.deletions) {
    if (options.shouldStop?.()) {
      report.stopped = 'stopped before the end of the plan (shutting down)';
      return report;
    }
    // The pause comes before the re-checks, so that they are as fresh as possible when the delete goes out.
    if (deletesSent > 0) await pause(options.intervalMs);
    try {
      // The tag check first: it may read thousands of tags, and must not sit between the use check and the delete.
      const sharing = await otherTagsOn(registry, deletion);
      if (sharing.length > 0) {
        await record(deletion, 'delete', 'skipped', `a kept tag now points to it: ${sharing.join(', ')}`);
        continue;
      }
      // Next to the use check: a pull still waiting in a queue that is behind would not be in the counts yet.
      const behind = await backlogReason(options.pullBacklog);
      if (behind !== undefined) {
        report.stopped = behind;
        await record(deletion, 'apply', 'refused', behind);
        return report;
      }
      const relatives = await digestWithRelatives(db, deletion.repository, deletion.digest);
      if (await usedSince(db, deletion.repository, relatives, plannedAt)) {
        await record(deletion, 'delete', 'skipped', 'used since the plan');
        continue;
      }
      deletesSent += 1;
      const outcome = await registry.deleteManifest(deletion.repository, deletion.digest);
      await record(deletion, 'delete', outcome, outcome === 'deleted' ? '' : 'the registry no longer had it (404)');
    } catch (error) {
      if (error instanceof RegistryDeleteRefused) {
        await refuse(deletion, error.refusal, error.answer, error.message);
        return report;
      }
      if (!(error instanceof RegistryError)) throw error;
      await record(deletion, 'delete', 'failed', error.message);
      if (error.kind === 'unavailable') {
        report.stopped = `the registry is unavailable: ${error.message}`;
        return report;
      }
    }
  }
  return report;
}
