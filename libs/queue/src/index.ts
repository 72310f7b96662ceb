// The queue contract between receiver and worker: names, job payload, Redis connections, enqueueing.
import { Queue, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { PullEvent } from '@staticreg/events';
import { logConnectionErrors, type ConnectionErrorLog } from './connection-errors.js';

export const PULL_QUEUE = 'staticreg-pull-events';
export const PULL_JOB = 'pull';

/** Payload of one pull job: one accepted event. `v` versions the shape for rolling deploys. */
export interface PullJobData {
  v: 1;
  event: PullEvent;
}

/**
 * Attempts count only deterministic failures: when Postgres is unreachable the worker puts jobs back
 * to wait (a rate limit) without spending an attempt, so an outage never exhausts them.
 */
export const PULL_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: true,
  removeOnFail: { age: 14 * 24 * 3600, count: 50_000 },
};

export type RedisRole = 'producer' | 'worker' | 'reader';

/**
 * Opens an ioredis connection for a role. A producer fails fast while Redis is down (the receiver
 * answers 503 and the registry retries); a worker's blocking connection retries forever, as BullMQ requires.
 */
export function createRedisConnection(url: string, role: RedisRole): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 };
  const redis = new Redis(url, { ...options, lazyConnect: false, retryStrategy: (times) => Math.min(times * 200, 2000) });
  // Connection errors surface on the commands that need Redis; the 'error' event itself is only noise.
  redis.on('error', () => {});
  return redis;
}

/** `log` receives the connection's errors; without it they surface only on the commands that fail. */
export function createPullQueue(connection: Redis, log?: ConnectionErrorLog): Queue<PullJobData> {
  const queue = new Queue<PullJobData>(PULL_QUEUE, { connection, defaultJobOptions: PULL_JOB_OPTIONS });
  logConnectionErrors(queue, connection, log);
  return queue;
}

/** Enqueues accepted events in one Redis round trip (a single add, or one atomic addBulk). */
export async function enqueuePullEvents(queue: Queue<PullJobData>, events: readonly PullEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (events.length === 1) {
    await queue.add(PULL_JOB, { v: 1, event: events[0]! });
    return;
  }
  await queue.addBulk(events.map((event) => ({ name: PULL_JOB, data: { v: 1 as const, event } })));
}

export * from './queue-health.js';
export * from './intake-stats.js';
export * from './maintenance-queue.js';
export * from './registry-changes.js';
export * from './counting-pause.js';
export * from './connection-errors.js';
export * from './replay.js';
