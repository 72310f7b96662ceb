// The BullMQ consumer of pull jobs: many jobs in flight, stored in batches, acked only after commit.
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { PullEvent } from '@staticreg/events';
import { isConflict, isDataError, isTransientDbError, type Database } from '@staticreg/db';
import { PULL_QUEUE, type PullJobData } from '@staticreg/queue';
import { Batcher } from './pull-batcher.js';
import type { StoreResult } from './store-pulls.js';

/** Stores one batch of events: the count policy (guide or sessions) behind one signature. */
export type BatchStore = (db: Kysely<Database>, events: PullEvent[]) => Promise<StoreResult>;

export interface PullConsumerOptions {
  connection: Redis;
  /** Without a database the consumer drains jobs without storing them, so Redis never fills up. */
  db: Kysely<Database> | undefined;
  log: Logger;
  batchSize: number;
  batchMaxWaitMs: number;
  /** Batches stored at once, each in its own transaction; the worker holds batchSize x this many jobs. */
  batchesInFlight: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  /** How long the whole queue pauses after Postgres proved unreachable. */
  dbRetryMs: number;
  store: BatchStore;
  onBatchStored?: (result: StoreResult, events: number) => void;
}

export interface PullConsumer {
  worker: Worker<PullJobData>;
  close(): Promise<void>;
}

/** Two workers' transactions can still collide (deadlock, serialisation failure): those succeed when simply run again. */
async function storeRetryingConflicts(store: BatchStore, db: Kysely<Database>, events: PullEvent[]): Promise<StoreResult> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await store(db, events);
    } catch (error) {
      if (attempt >= 5 || !isConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

/**
 * Stores a batch; if the batch fails for a reason other than an unreachable database, bisects it so one
 * poisonous event fails alone and its neighbours are still counted.
 */
async function storeIsolatingFailures(
  store: BatchStore,
  db: Kysely<Database>,
  events: PullEvent[],
  log: Logger,
  onStored: (result: StoreResult, events: number) => void,
  offset = 0,
  failures = new Map<number, unknown>(),
): Promise<Map<number, unknown>> {
  try {
    onStored(await storeRetryingConflicts(store, db, events), events.length);
  } catch (error) {
    if (isTransientDbError(error)) throw error;
    if (events.length === 1) {
      log.error({ err: error, eventId: events[0]!.id, repository: events[0]!.repository }, 'Pull event could not be stored');
      failures.set(offset, error);
    } else {
      const half = Math.ceil(events.length / 2);
      await storeIsolatingFailures(store, db, events.slice(0, half), log, onStored, offset, failures);
      await storeIsolatingFailures(store, db, events.slice(half), log, onStored, offset + half, failures);
    }
  }
  return failures;
}

export function startPullConsumer(options: PullConsumerOptions): PullConsumer {
  const { db, log } = options;
  let outage = false;

  const onStored = (result: StoreResult, events: number): void => {
    if (outage) log.info('Database reachable again, resuming pull counting');
    outage = false;
    for (const row of result.changes) {
      log.info(
        {
          kind: row.kind,
          repository: row.repository,
          tag: row.tag,
          digest: row.digest,
          architecture: row.architecture,
          pullDate: row.pullDate,
          change: row.count,
        },
        'Pull metrics updated',
      );
    }
    log.debug({ events, counted: result.counted, duplicates: result.duplicates, rows: result.changes.length }, 'Pull batch stored');
    options.onBatchStored?.(result, events);
  };

  const batcher = db
    ? new Batcher<PullEvent>({
        maxSize: options.batchSize,
        maxWaitMs: options.batchMaxWaitMs,
        maxFlushes: options.batchesInFlight,
        flush: (events) => storeIsolatingFailures(options.store, db, events, log, onStored),
      })
    : undefined;

  const worker: Worker<PullJobData> = new Worker<PullJobData>(
    PULL_QUEUE,
    async (job: Job<PullJobData>) => {
      const event = job.data.event;
      if (!batcher) {
        log.debug({ eventId: event.id, jobId: job.id }, 'Skipping pull event save: Database pool is not active.');
        return;
      }
      try {
        await batcher.add(event);
      } catch (error) {
        // Postgres refused this event's data: no retry can succeed, so it fails at once (kept, with its reason).
        if (isDataError(error)) throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
        if (!isTransientDbError(error)) throw error;
        if (!outage) log.warn({ err: error, retryMs: options.dbRetryMs }, 'Database unreachable, pull jobs wait and retry');
        outage = true;
        // Back to wait without spending an attempt; the whole queue pauses for dbRetryMs.
        await worker.rateLimit(options.dbRetryMs);
        throw Worker.RateLimitError();
      }
    },
    {
      connection: options.connection,
      // Enough jobs for every batch in flight: while one batch commits, the next one fills and starts.
      concurrency: options.batchSize * options.batchesInFlight,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
      autorun: true,
    },
  );
  worker.on('failed', (job, error) => {
    log.warn({ err: error, jobId: job?.id, eventId: job?.data.event.id, attemptsMade: job?.attemptsMade }, 'Pull job failed');
  });
  worker.on('error', (error) => log.error({ err: error }, 'Pull worker error'));

  return {
    worker,
    async close() {
      // close() waits for active jobs; they settle when their batch flushes, so flush at once.
      const closing = worker.close();
      await batcher?.drain();
      await closing;
    },
  };
}
