// What the queue holds right now, for the dashboard's pipeline health and the worker's /metrics.
import type { Job, Queue } from 'bullmq';
import type { PullJobData } from './index.js';

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export async function queueCounts(queue: Queue<PullJobData>): Promise<Record<QueueState, number>> {
  const counts = await queue.getJobCounts(...QUEUE_STATES);
  return Object.fromEntries(QUEUE_STATES.map((state) => [state, counts[state] ?? 0])) as Record<QueueState, number>;
}

/** When the oldest waiting job was added (ms since the epoch), or undefined when none waits. */
export async function oldestWaitingJobTime(queue: Queue<PullJobData>): Promise<number | undefined> {
  // The wait list is pushed on the left: ascending order starts with the oldest job.
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
  return oldest?.timestamp;
}

/**
 * When the oldest pull job not yet counted was added: waiting, being stored, or waiting to retry (delayed, or
 * prioritized). Cleanup apply stops while this is old: such a pull is use the count tables do not show yet.
 */
export async function oldestUncountedJobTime(queue: Queue<PullJobData>): Promise<number | undefined> {
  // Active jobs are at most a few batches and retries are rare; both are read whole, up to a bound.
  const [waiting, others] = await Promise.all([oldestWaitingJobTime(queue), queue.getJobs(['active', 'delayed', 'prioritized'], 0, 9_999, true)]);
  const times = [...(waiting === undefined ? [] : [waiting]), ...others.map((job) => job.timestamp)];
  return times.length === 0 ? undefined : Math.min(...times);
}

export interface FailedJob {
  jobId: string;
  eventId: string | null;
  repository: string | null;
  tag: string | null;
  digest: string | null;
  error: string;
  attemptsMade: number;
  /** When it failed for good (ISO 8601), or null if BullMQ did not record it. */
  failedAt: string | null;
}

/** What a pull job is about, read defensively: a job from an older or foreign producer may lack its event. */
export function pullJobSubject(job: Job<PullJobData>): Pick<FailedJob, 'jobId' | 'eventId' | 'repository' | 'tag' | 'digest'> {
  const event = (job.data as Partial<PullJobData> | undefined)?.event;
  return {
    jobId: String(job.id),
    eventId: event?.id ?? null,
    repository: event?.repository ?? null,
    tag: event?.tag ?? null,
    digest: event?.digest ?? null,
  };
}

/** The most recently failed jobs with their error, newest first. */
export async function recentFailedJobs(queue: Queue<PullJobData>, limit: number): Promise<FailedJob[]> {
  const jobs = await queue.getFailed(0, limit - 1);
  return jobs.map((job) => ({
    ...pullJobSubject(job),
    error: job.failedReason ?? '',
    attemptsMade: job.attemptsMade,
    failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  }));
}
