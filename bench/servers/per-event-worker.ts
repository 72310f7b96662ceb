// The per-event baselines of bench 2: a BullMQ worker that commits one transaction per job, no batching, under the
// events policy (one upsert per event, the design the worker's throughput targets compare against) or the sessions
// policy (the same work as the real worker's default, for a batch of one).
import { Worker } from 'bullmq';
import { createDb } from '@staticreg/db';
import { countPerEvent, countPerSession } from '@staticreg/ingest';
import { loadWorkerConfig } from '@staticreg/config';
import { createLogger } from '@staticreg/log';
import { createRedisConnection, PULL_QUEUE, type PullJobData } from '@staticreg/queue';

const [redisUrl, dbUrl, concurrencyArg, policy = 'events'] = process.argv.slice(2);
if (!redisUrl || !dbUrl || (policy !== 'events' && policy !== 'sessions')) {
  throw new Error('usage: per-event-worker.ts <redis url> <postgres url> [concurrency] [events|sessions]');
}
const concurrency = Number(concurrencyArg ?? '16');
// The real worker's session window: its default, or STATICREG_SESSION_WINDOW_SECONDS as the bench passes it.
const { sessionWindowMs } = loadWorkerConfig();

const log = createLogger('per-event-worker', 'info');
// One connection per concurrent job, so commits of concurrent jobs can overlap (and share WAL flushes).
const db = createDb({ url: dbUrl, applicationName: 'staticreg-bench-per-event', maxConnections: concurrency });
const connection = createRedisConnection(redisUrl, 'worker');

const worker = new Worker<PullJobData>(
  PULL_QUEUE,
  async (job) => {
    const event = job.data.event;
    const result = policy === 'events' ? await countPerEvent(db, [event]) : await countPerSession(db, [event], sessionWindowMs);
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
