// Worker process: prepare the schema, consume pull jobs in batches, run scheduled maintenance, stop cleanly.
import type { Server } from 'node:http';
import express from 'express';
import type { Kysely } from 'kysely';
import { loadWorkerConfig, type WorkerConfig } from '@staticreg/config';
import { createLogger, type Logger } from '@staticreg/log';
import { createDb, migrateToLatest, pingDatabase, type Database } from '@staticreg/db';
import { createPullQueue, createRedisConnection, oldestWaitingJobTime, queueCounts } from '@staticreg/queue';
import {
  createMetricsRegistry,
  createWorkerBatchMetrics,
  METRICS_PATH,
  metricsHandler,
  registerCountingPause,
  registerQueueDepth,
  type WorkerBatchMetrics,
} from '@staticreg/observability';
import {
  countPerEvent,
  countPerSession,
  ManifestResolver,
  startMaintenance,
  startPullConsumer,
  type BatchStore,
  type Maintenance,
  type PullConsumer,
} from '@staticreg/ingest';
import { createRegistryClient, type RegistryClient } from '@staticreg/registry';
import { STATICREG_USER_AGENT } from '@staticreg/config';
import { addHealthRoutes, closeServer, errorHandler, listen, onShutdownSignal, runMain } from '@staticreg/http';

/**
 * Migrates, retrying while Postgres is unreachable: consuming before the schema exists would lose nothing but waste
 * attempts. Returns undefined when the worker is told to stop meanwhile.
 */
async function prepareDatabase(
  config: WorkerConfig & { dbUrl: string },
  log: Logger,
  stopping: { stopped: () => boolean; wait: (ms: number) => Promise<void> },
): Promise<Kysely<Database> | undefined> {
  const db = createDb({
    url: config.dbUrl,
    applicationName: 'staticreg-worker',
    // One connection per batch in flight, one for maintenance, one for the readiness check.
    maxConnections: config.batchesInFlight + 2,
    onPoolError: (error) => log.warn({ err: error }, 'Idle Postgres connection lost'),
  });
  for (let attempt = 1; !stopping.stopped(); attempt += 1) {
    try {
      await pingDatabase(db);
      log.info('PostgreSQL connection pool successfully initialized.');
      const results = await migrateToLatest(db);
      log.info({ applied: results.map((result) => result.migrationName) }, 'Database schema initialized successfully.');
      return db;
    } catch (error) {
      if (stopping.stopped()) break;
      log.warn({ err: error, attempt, retryMs: config.dbRetryMs }, 'Unable to prepare the database, retrying');
      await stopping.wait(config.dbRetryMs);
    }
  }
  await db.destroy();
  return undefined;
}

/** Times and counts every batch the consumer stores (the wrapper adds no I/O of its own). */
function measuredStore(store: BatchStore, metrics: WorkerBatchMetrics): BatchStore {
  return async (database, events) => {
    const end = metrics.flushDuration.startTimer();
    try {
      const result = await store(database, events);
      end({ result: 'stored' });
      metrics.batchSize.observe(events.length);
      metrics.counted.inc(result.counted);
      metrics.deduplicated.inc(result.duplicates);
      return result;
    } catch (error) {
      end({ result: 'failed' });
      throw error;
    }
  };
}

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const log = createLogger('worker', config.logLevel);
  let shuttingDown = false;
  // SIGTERM must also end the start-up's database retries, so the handler is in place before them.
  const wakeOnShutdown = new Set<() => void>();
  const stopping = {
    stopped: () => shuttingDown,
    wait: (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wakeOnShutdown.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        wakeOnShutdown.add(done);
      }),
  };

  const redis = createRedisConnection(config.redisUrl, 'worker');
  let db: Kysely<Database> | undefined;
  let consumer: PullConsumer | undefined;
  let maintenance: Maintenance | undefined;
  let resolver: ManifestResolver | undefined;
  let registryClient: RegistryClient | undefined;
  let server: Server | undefined;
  let preparing: Promise<unknown> = Promise.resolve();

  const metricsRegistry = createMetricsRegistry();
  const batchMetrics = createWorkerBatchMetrics(metricsRegistry);
  const pullQueue = createPullQueue(redis, log);
  registerQueueDepth(metricsRegistry, {
    counts: () => queueCounts(pullQueue),
    oldestWaitingAgeSeconds: async () => {
      const added = await oldestWaitingJobTime(pullQueue);
      return added === undefined ? 0 : Math.max(0, (Date.now() - added) / 1000);
    },
  });
  registerCountingPause(metricsRegistry, () => consumer?.pause()?.since);

  onShutdownSignal(log, async () => {
    shuttingDown = true;
    for (const wake of [...wakeOnShutdown]) wake();
    await preparing;
    await maintenance?.close();
    await consumer?.close();
    await pullQueue.close();
    if (server) await closeServer(server);
    // No background manifest read may start or save once the pool is gone.
    resolver?.close();
    await registryClient?.close();
    await db?.destroy();
    redis.disconnect();
  });

  const health = express();
  health.get(METRICS_PATH, ...metricsHandler(metricsRegistry, config.metricsToken));
  addHealthRoutes(
    health,
    () => ({
      redis: () => redis.ping(),
      ...(config.dbUrl ? { postgres: db ? () => pingDatabase(db!) : undefined } : {}),
      // Not ready while a systemic error keeps it from counting: the probe's message says why and since when.
      counting: async () => {
        const pause = consumer?.pause();
        if (pause) {
          throw new Error(`paused since ${pause.since.toISOString()}: ${pause.sqlstate ? `SQLSTATE ${pause.sqlstate}: ` : ''}${pause.message}`);
        }
      },
    }),
    () => shuttingDown,
  );
  health.use(errorHandler(log));
  server = config.healthPort === 0 ? undefined : await listen(health, config.healthPort, config.bind);

  if (config.dbUrl) {
    const prepared = prepareDatabase({ ...config, dbUrl: config.dbUrl }, log, stopping);
    preparing = prepared;
    db = await prepared;
    if (!db) return;
  } else {
    log.warn('WARNING: STATICREG_DB_URL environment variable is not set. Database functions will be disabled.');
  }
  if (shuttingDown) return;

  registryClient = config.registry ? createRegistryClient(config.registry, { userAgent: STATICREG_USER_AGENT }) : undefined;
  const manifests = new ManifestResolver(registryClient, log);
  resolver = manifests;
  const store: BatchStore =
    config.countPolicy === 'events'
      ? countPerEvent
      : async (database, events) => countPerSession(database, events, config.sessionWindowMs, await manifests.describe(database, events));
  if (config.countPolicy === 'sessions' && !registryClient) {
    log.warn('STATICREG_REGISTRY_HOSTNAME is not set: image platforms come from User-Agents only');
  }

  consumer = startPullConsumer({
    store: measuredStore(store, batchMetrics),
    connection: redis,
    db,
    log,
    batchSize: config.batchSize,
    batchMaxWaitMs: config.batchMaxWaitMs,
    batchesInFlight: config.batchesInFlight,
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
    dbRetryMs: config.dbRetryMs,
  });
  log.info(
    {
      countPolicy: config.countPolicy,
      batchSize: config.batchSize,
      batchMaxWaitMs: config.batchMaxWaitMs,
      batchesInFlight: config.batchesInFlight,
      healthPort: config.healthPort,
    },
    'Worker consuming pull jobs',
  );

  // Pruning and retention are BullMQ job schedulers: one run per interval however many workers there are.
  maintenance = db
    ? startMaintenance({
        connection: redis,
        db,
        log,
        dedupRetentionDays: config.dedupRetentionDays,
        sessionRetentionHours: config.sessionRetentionHours,
        retentionDays: config.retentionDays,
      })
    : undefined;
}

runMain('worker', main);
