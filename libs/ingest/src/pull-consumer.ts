// The BullMQ consumer of pull jobs: many jobs in flight, stored in batches, acked only after commit.
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { KindedCountChange, PullEvent } from '@staticreg/events';
import { isConflict, isDataError, sqlState, type Database } from '@staticreg/db';
import { clearCountingPause, publishCountingPause, PULL_QUEUE, type PullJobData } from '@staticreg/queue';
import { CountingPause, type CountingPauseState } from './counting-pause.js';
import { PoisonEvidence } from './poison-evidence.js';
import { Batcher } from './pull-batcher.js';

export interface StoreResult {
  /** Events seen for the first time (re-deliveries and replays excluded). */
  counted: number;
  /** Events whose id had already been processed. */
  duplicates: number;
  /** What the batch changed in the count tables. */
  changes: KindedCountChange[];
}

/** Stores one batch of events: the count policy (events or sessions) behind one signature. */
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
  /** How long the whole queue pauses after a systemic error (Postgres unreachable or refusing the batch as a whole). */
  dbRetryMs: number;
  store: BatchStore;
  onBatchStored?: (result: StoreResult, events: number) => void;
}

export interface PullConsumer {
  worker: Worker<PullJobData>;
  /** Why counting is paused now, or undefined while it runs. */
  pause(): CountingPauseState | undefined;
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

/** Postgres refused this one event's data, while its neighbours were stored: no retry of it can succeed. */
export class PoisonEventError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'PoisonEventError';
  }
}

/** The batch failed for a reason that is not one event's data: counting pauses and the events are retried. */
export class SystemicStoreError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'SystemicStoreError';
  }
}

/**
 * Stores a batch, bisecting it when Postgres refuses data (SQLSTATE class 22 or 23) so that one bad event fails
 * alone and its neighbours are counted. The outcome per event index (absent: stored):
 * - PoisonEventError: the event, alone, was refused for its data, and other events were stored in between (see
 *   PoisonEvidence): in this batch, or since it was first refused;
 * - SystemicStoreError: any other error (unreachable, read-only, privileges, schema, timeouts, defects), for the
 *   events not stored when it struck; and a refusal that nothing proves to be the event's own (every half of a
 *   split failing alike is the system's fault, not each event's).
 */
async function storeIsolatingPoison(
  store: BatchStore,
  db: Kysely<Database>,
  events: PullEvent[],
  evidence: PoisonEvidence,
  onStored: (result: StoreResult, events: number) => void,
): Promise<Map<number, Error>> {
  const outcome = new Map<number, Error>();
  const suspects = new Map<number, unknown>();
  const stored = new Set<number>();
  let systemic: { error: unknown } | undefined;

  const attempt = async (offset: number, slice: PullEvent[]): Promise<void> => {
    if (systemic) return;
    const ticket = evidence.begin();
    try {
      onStored(await storeRetryingConflicts(store, db, slice), slice.length);
      evidence.succeeded(ticket);
      for (let i = 0; i < slice.length; i += 1) stored.add(offset + i);
      suspects.delete(offset);
    } catch (error) {
      if (!isDataError(error)) systemic = { error };
      else if (slice.length > 1) {
        const half = Math.ceil(slice.length / 2);
        await attempt(offset, slice.slice(0, half));
        await attempt(offset + half, slice.slice(half));
      } else if (evidence.refused(slice[0]!.id, ticket)) {
        suspects.delete(offset);
        outcome.set(offset, new PoisonEventError(error));
      } else suspects.set(offset, error);
    }
  };
  await attempt(0, events);
  // A suspect refused before neighbours of this batch were stored gets one more try alone, which settles it.
  for (const offset of [...suspects.keys()]) if (evidence.hasProof(events[offset]!.id)) await attempt(offset, [events[offset]!]);

  for (let i = 0; i < events.length; i += 1) {
    if (stored.has(i) || outcome.has(i)) continue;
    outcome.set(i, new SystemicStoreError(systemic ? systemic.error : suspects.get(i)));
  }
  return outcome;
}

export function startPullConsumer(options: PullConsumerOptions): PullConsumer {
  const { db, log, connection } = options;
  const pause = new CountingPause();
  const evidence = new PoisonEvidence();
  const workerName = `${hostname()}:${process.pid}`;
  let publishedAt = 0;

  // The dashboard's view of the pause: refreshed at most once per retry interval while paused.
  const publishPause = (state: CountingPauseState): void => {
    if (Date.now() - publishedAt < options.dbRetryMs) return;
    publishedAt = Date.now();
    const ttlSeconds = Math.max(30, (3 * options.dbRetryMs) / 1000);
    publishCountingPause(connection, { ...state, since: state.since.toISOString(), worker: workerName }, ttlSeconds).catch(() => undefined);
  };

  const onStored = (result: StoreResult, events: number): void => {
    const ended = pause.leave();
    if (ended) {
      publishedAt = 0;
      log.info({ sqlstate: ended.sqlstate, pausedMs: Date.now() - ended.since.getTime() }, 'Pull counting resumed');
      clearCountingPause(connection).catch(() => undefined);
    }
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
        flush: (events) => storeIsolatingPoison(options.store, db, events, evidence, onStored),
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
        if (error instanceof PoisonEventError) {
          log.error({ err: error.cause, eventId: event.id, jobId: job.id, repository: event.repository, sqlstate: sqlState(error.cause) }, 'Pull event could not be stored');
          throw new UnrecoverableError(error.message);
        }
        // Anything else is the system's fault, not this event's: pause, spend no attempt, retry the batch later.
        const cause = error instanceof SystemicStoreError ? error.cause : error;
        const started = pause.enter(cause);
        if (started) {
          log.error(
            { err: cause, sqlstate: started.sqlstate, cause: started.cause, retryMs: options.dbRetryMs },
            'Pull counting paused, jobs wait and retry',
          );
        }
        if (pause.current) publishPause(pause.current);
        // Back to wait without spending an attempt; the whole queue pauses for dbRetryMs.
        await worker.rateLimit(options.dbRetryMs);
        throw Worker.RateLimitError();
      }
    },
    {
      connection,
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
    pause: () => pause.current,
    async close() {
      // close() waits for active jobs; they settle when their batch flushes, so flush at once.
      const closing = worker.close();
      await batcher?.drain();
      await closing;
    },
  };
}
