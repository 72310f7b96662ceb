// The real pull queue from a test's side: the jobs still to do or failed, and waiting until the worker has done them all.
import { expect } from 'chai';
import type { Queue } from 'bullmq';
import { createPullQueue, createRedisConnection, type PullJobData } from '@staticreg/queue';
import type { AppProcess } from './processes.js';
import { eventually, TEST_REDIS_URL } from './services.js';

/** Jobs still to do (waiting, active, delayed, prioritized) and failed ones, read on a connection of its own. */
export async function queueCounts(redisUrl = TEST_REDIS_URL): Promise<{ pending: number; failed: number }> {
  const redis = createRedisConnection(redisUrl, 'reader');
  const queue = createPullQueue(redis);
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
    const pending = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
    return { pending, failed: counts.failed ?? 0 };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/**
 * Resolves once every job on `queue` is done: a job completes only after the batch holding it is committed, so
 * the rows are final then. Fails on a failed job, with the worker's last output. Call it only after the receiver
 * acknowledged everything.
 */
export async function queueDrained(queue: Queue<PullJobData>, worker: AppProcess): Promise<void> {
  let counts: Record<string, number> = {};
  try {
    await eventually(async () => {
      counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed');
      return Object.values(counts).every((count) => count === 0) || counts.failed! > 0;
    });
  } catch {
    throw new Error(`pull jobs still queued: ${JSON.stringify(counts)}\n${worker.output().slice(-3000)}`);
  }
  expect(counts.failed, `failed pull jobs:\n${worker.output().slice(-3000)}`).to.equal(0);
}
