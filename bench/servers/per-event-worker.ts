// The per-event baseline of bench 2: a BullMQ worker that commits one transaction per job, no batching.
import { Worker } from 'bullmq';
import { createDb } from '@staticreg/db';
import { storePullBatch } from '@staticreg/ingest';
import { createLogger } from '@staticreg/log';
import { createRedisConnection, PULL_QUEUE, type PullJobData } from '@staticreg/queue';

const [redisUrl, dbUrl, concurrencyArg] = process.argv.slice(2);
if (!redisUrl || !dbUrl) throw new Error('usage: per-event-worker.ts <redis url> <postgres url> [concurrency]');
const concurrency = Number(concurrencyArg ?? '16');

const log = createLogger('per-event-worker', 'info');
// One connection per concurrent job, so commits of concurrent jobs can overlap (and share WAL flushes).
const db = createDb({ url: dbUrl, applicationName: 'staticreg-bench-per-event', maxConnections: concurrency });
const connection = createRedisConnection(redisUrl, 'worker');

const worker = new Worker<PullJobData>(
  PULL_QUEUE,
  async (job) => {
    const event = job.data.event;
    const result = await storePullBatch(db, [event]);
    // One line per stored event, as the real worker logs one per changed row.
    log.info(
      { repository: event.repository, tag: event.tag, digest: event.digest, architecture: event.architecture, pullDate: event.pullDate, counted: result.counted },
      'Pull metrics updated',
    );
  },
  { connection, concurrency },
);
worker.on('failed', (job, error) => log.warn({ err: error, jobId: job?.id }, 'Pull job failed'));

await worker.waitUntilReady();
process.send?.('ready');

process.on('SIGTERM', () => {
  void worker
    .close()
    .then(() => db.destroy())
    .then(() => {
      connection.disconnect();
      process.exit(0);
    });
});
