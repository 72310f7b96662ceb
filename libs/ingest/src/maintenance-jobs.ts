// The maintenance jobs' handlers, run by the worker on the queue libs/queue defines: prune de-duplication ids and
// sessions, apply retention.
import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { deleteCountsBefore, pruneProcessedEventIds, pruneSessions, type Database } from '@staticreg/db';
import { DAY_MS, firstDayOfLast, utcDayOf } from '@staticreg/events';
import {
  createMaintenanceQueue,
  MAINTENANCE_JOBS,
  MAINTENANCE_QUEUE,
  scheduleMaintenance,
  type MaintenanceJobName,
} from '@staticreg/queue';

export interface MaintenanceOptions {
  connection: Redis;
  db: Kysely<Database>;
  log: Logger;
  dedupRetentionDays: number;
  sessionRetentionHours: number;
  /** Undefined keeps every day of counts. */
  retentionDays: number | undefined;
  now?: () => Date;
}

export interface Maintenance {
  queue: Queue;
  worker: Worker;
  close(): Promise<void>;
}

type Handler = () => Promise<Record<string, unknown>>;

const HOUR_MS = 3600 * 1000;

export function startMaintenance(options: MaintenanceOptions): Maintenance {
  const { db, log } = options;
  const now = options.now ?? (() => new Date());
  let stopping = false;

  // A Record over every job name: a job without a handler does not compile.
  const handlers: Record<MaintenanceJobName, Handler> = {
    'prune-processed-events': async () => {
      const cutoff = new Date(now().getTime() - options.dedupRetentionDays * DAY_MS);
      return { deleted: await pruneProcessedEventIds(db, cutoff), cutoff: cutoff.toISOString() };
    },
    'prune-sessions': async () => {
      const cutoff = new Date(now().getTime() - options.sessionRetentionHours * HOUR_MS);
      return { deleted: await pruneSessions(db, cutoff), cutoff: cutoff.toISOString() };
    },
    'apply-retention': async () => {
      if (options.retentionDays === undefined) return { skipped: 'STATICREG_RETENTION_DAYS is not set' };
      // The first day kept: the last `retentionDays` days, today (UTC) included.
      const before = firstDayOfLast(options.retentionDays, utcDayOf(now()));
      return { ...(await deleteCountsBefore(db, before, { shouldStop: () => stopping })), before };
    },
  };
  for (const name of MAINTENANCE_JOBS) if (typeof handlers[name] !== 'function') throw new Error(`no handler for maintenance job ${name}`);

  const queue = createMaintenanceQueue(options.connection, log);
  const worker = new Worker(
    MAINTENANCE_QUEUE,
    async (job: Job) => {
      const handler = (handlers as Record<string, Handler | undefined>)[job.name];
      if (!handler) throw new UnrecoverableError(`no handler for maintenance job ${job.name}`);
      const started = Date.now();
      const result = await handler();
      log.info({ job: job.name, jobId: job.id, ms: Date.now() - started, ...result }, 'Maintenance job done');
      return result;
    },
    { connection: options.connection, concurrency: 1, autorun: true },
  );
  worker.on('failed', (job, error) => log.warn({ err: error, job: job?.name, jobId: job?.id }, 'Maintenance job failed'));
  worker.on('error', (error) => log.error({ err: error }, 'Maintenance worker error'));

  const enabled = new Set<MaintenanceJobName>(['prune-processed-events', 'prune-sessions']);
  if (options.retentionDays !== undefined) enabled.add('apply-retention');
  // Not awaited: with Redis down at start the worker still starts (and stops on SIGTERM); the schedulers follow.
  const scheduled = scheduleMaintenance(queue, enabled).then(
    () =>
      log.info(
        { jobs: [...enabled], retentionDays: options.retentionDays ?? 'unlimited', dedupRetentionDays: options.dedupRetentionDays },
        'Maintenance scheduled',
      ),
    (error: unknown) => log.error({ err: error }, 'Could not schedule maintenance jobs'),
  );

  return {
    queue,
    worker,
    async close() {
      stopping = true;
      await scheduled;
      await worker.close();
      await queue.close();
    },
  };
}
