// Failed pull jobs for real: a BullMQ worker on the real queue that fails each job for good, as the worker does with an event Postgres rejects.
import { UnrecoverableError, Worker, type Queue } from 'bullmq';
import type { PullEvent } from '@staticreg/events';
import { createRedisConnection, PULL_QUEUE, type PullJobData } from '@staticreg/queue';
import { enqueue } from './pulls.js';
import { eventually, TEST_REDIS_URL } from './services.js';

/** Enqueues `events` and fails each job with the reason `rejected <repository>`; returns once all are in the failed set. */
export async function failJobs(queue: Queue<PullJobData>, events: PullEvent[]): Promise<void> {
  const before = (await queue.getJobCounts('failed')).failed ?? 0;
  const connection = createRedisConnection(TEST_REDIS_URL, 'worker');
  const failing = new Worker<PullJobData>(PULL_QUEUE, async (job) => {
    throw new UnrecoverableError(`rejected ${job.data.event.repository}`);
  }, { connection });
  await enqueue(TEST_REDIS_URL, events);
  await eventually(async () => (await queue.getJobCounts('failed')).failed === before + events.length, 30_000, `${events.length} failed jobs`);
  await failing.close();
  connection.disconnect();
}
