// Replay of failed pull jobs: puts jobs from BullMQ's failed set back to wait, chosen by when and why they failed.
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PullJobData } from './index.js';
import { pullJobSubject } from './queue-health.js';

/**
 * Which failed jobs to replay. Every field narrows the choice; none set means every failed job.
 * Safe to over-select: the worker claims each event id in the transaction that adds its counts
 * (processed_pull_events), so a replayed job whose event was already counted adds nothing.
 */
export interface ReplayFilter {
  /** Failed at or after this instant (BullMQ's `finishedOn`). */
  failedSince?: Date;
  /** Failed at or before this instant. */
  failedUntil?: Date;
  /**
   * Matches `failedReason`: `substring` ignores case ("date" matches "invalid input syntax for type date"),
   * `exact` compares the whole reason, case included.
   */
  reason?: { text: string; match: 'substring' | 'exact' };
  /** Replay at most this many (oldest failures first). */
  limit?: number;
}

export interface ReplayedJob {
  jobId: string;
  eventId: string | null;
  repository: string | null;
  tag: string | null;
  failedReason: string;
  /** When it had failed (ISO 8601). */
  failedAt: string;
}

export interface ReplayOptions {
  /** List what would be replayed, replay nothing. */
  dryRun?: boolean;
  /** Failed jobs read from Redis per round trip; the failed set may hold 50,000. */
  pageSize?: number;
  /** The clock; jobs failing after the replay started are left alone (a replayed job that fails again stays failed). */
  now?: () => number;
}

export interface ReplayResult {
  replayed: ReplayedJob[];
  dryRun: boolean;
}

const DEFAULT_PAGE_SIZE = 500;
/** Codes BullMQ's reprocessJob answers when a job is gone or no longer failed (another replay took it first). */
const GONE_CODES = new Set([-1, -3]);

function describe(job: Job<PullJobData>, failedAt: number): ReplayedJob {
  const { jobId, eventId, repository, tag } = pullJobSubject(job);
  return {
    jobId,
    eventId,
    repository,
    tag,
    failedReason: job.failedReason ?? '',
    failedAt: new Date(failedAt).toISOString(),
  };
}

export function reasonMatches(reason: string, wanted: ReplayFilter['reason']): boolean {
  if (!wanted) return true;
  return wanted.match === 'exact' ? reason === wanted.text : reason.toLowerCase().includes(wanted.text.toLowerCase());
}

/**
 * Moves a failed job back to wait with all its attempts again (a plain retry keeps `attemptsMade`, so a job that
 * had spent its eight would fail for good at its first error). False when it is no longer in the failed set.
 */
async function retryFailedJob(job: Job<PullJobData>): Promise<boolean> {
  try {
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  } catch (error) {
    if (GONE_CODES.has((error as { code?: number }).code ?? 0)) return false;
    throw error;
  }
}

/**
 * Replays the failed pull jobs that match `filter`, oldest failure first, and returns them.
 *
 * The failed set is a sorted set scored by `finishedOn` (read on `redis`, the queue's connection: BullMQ's client
 * has no range by score), so it is read by score in pages: only the time window
 * is visited, and 50,000 failed jobs never load at once. A retried job leaves the set; the jobs skipped are
 * stepped over by an offset kept at the page's last score, so concurrent removals of older jobs shift nothing.
 */
export async function replayFailedPullJobs(
  queue: Queue<PullJobData>,
  redis: Redis,
  filter: ReplayFilter = {},
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const dryRun = options.dryRun ?? false;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  await queue.waitUntilReady();
  const startedAt = (options.now ?? Date.now)();
  const until = Math.min(filter.failedUntil?.getTime() ?? Infinity, startedAt);
  const limit = filter.limit ?? Infinity;
  const replayed: ReplayedJob[] = [];

  let minScore = filter.failedSince?.getTime() ?? 0;
  let skippedAtMin = 0;
  while (replayed.length < limit) {
    const page = await redis.zrangebyscore(queue.toKey('failed'), minScore, until, 'WITHSCORES', 'LIMIT', skippedAtMin, pageSize);
    if (page.length === 0) break;
    for (let i = 0; i < page.length && replayed.length < limit; i += 2) {
      const jobId = page[i]!;
      const failedAt = Number(page[i + 1]);
      if (failedAt > minScore) {
        minScore = failedAt;
        skippedAtMin = 0;
      }
      const job = (await queue.getJob(jobId)) as Job<PullJobData> | undefined;
      // Described before the retry, which clears the reason.
      const description = job && reasonMatches(job.failedReason ?? '', filter.reason) ? describe(job, failedAt) : undefined;
      if (description && !dryRun) {
        // Retried, or taken by another replay first: either way it has left the set.
        if (await retryFailedJob(job!)) replayed.push(description);
        continue;
      }
      if (description) replayed.push(description);
      // Still in the set (not wanted, a dry run, or an id whose job is gone): stepped over next time.
      skippedAtMin += 1;
    }
    if (page.length < pageSize * 2) break;
  }
  return { replayed, dryRun };
}

/**
 * Replays the failed pull jobs named by id (the dashboard's button: what the operator saw is what is replayed).
 * Ids no longer in the failed set are left out of the answer.
 */
export async function replayFailedPullJobsById(queue: Queue<PullJobData>, jobIds: readonly string[]): Promise<ReplayResult> {
  const replayed: ReplayedJob[] = [];
  for (const jobId of new Set(jobIds)) {
    const job = (await queue.getJob(jobId)) as Job<PullJobData> | undefined;
    if (!job || !job.finishedOn || !job.failedReason) continue;
    const description = describe(job, job.finishedOn);
    if (await retryFailedJob(job)) replayed.push(description);
  }
  return { replayed, dryRun: false };
}
