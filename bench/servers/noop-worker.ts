// The floor of bench 2: a BullMQ worker that completes each pull job without doing anything, to show BullMQ's own cost.
import { Worker } from 'bullmq';
import { createRedisConnection, PULL_QUEUE, type PullJobData } from '@staticreg/queue';

const [redisUrl, concurrencyArg] = process.argv.slice(2);
if (!redisUrl) throw new Error('usage: noop-worker.ts <redis url> [concurrency]');

const connection = createRedisConnection(redisUrl, 'worker');
const worker = new Worker<PullJobData>(PULL_QUEUE, async () => {}, { connection, concurrency: Number(concurrencyArg ?? '500') });

await worker.waitUntilReady();
process.send?.('ready');

process.on('SIGTERM', () => {
  void worker.close().then(() => {
    connection.disconnect();
    process.exit(0);
  });
});
