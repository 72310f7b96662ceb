// Browse process: read config, connect what is configured, serve pages and APIs, shut down cleanly.
import { randomBytes } from 'node:crypto';
import express from 'express';
import { loadBrowseConfig, loadCleanupConfig } from '@staticreg/config';
import { createLogger } from '@staticreg/log';
import { createDb, METRICS_SESSION_OPTIONS, pingDatabase } from '@staticreg/db';
import { createPullQueue, createRedisConnection } from '@staticreg/queue';
import { createHttpMetrics, createMetricsRegistry, METRICS_PATH, metricsHandler } from '@staticreg/observability';
import { closeServer, listen, onShutdownSignal, runMain } from '@staticreg/http';
import { createBrowseApp } from './app.js';
import { createCsrfProtection } from './csrf.js';
import { createAuthRouter, dashboardAccess, visibleRepositories } from './auth/index.js';
import { setUpAuth } from './auth/setup.js';
import { createCleanupFeature } from './cleanup/index.js';
import { createDashboardRouter } from './dashboard/index.js';
import { createRegistryFeature } from './registry/setup.js';

async function main(): Promise<void> {
  const config = loadBrowseConfig();
  const log = createLogger('browse', config.logLevel);
  const redis = createRedisConnection(config.redisUrl, 'reader');
  const db = config.dbUrl
    ? createDb({
        url: config.dbUrl,
        applicationName: 'staticreg-browse',
        sessionOptions: METRICS_SESSION_OPTIONS,
        onPoolError: (error) => log.warn({ err: error }, 'Idle Postgres connection lost'),
      })
    : undefined;
  let shuttingDown = false;
  const queue = createPullQueue(redis, log);
  const registry = createMetricsRegistry();
  const observability = express.Router();
  observability.use(createHttpMetrics(registry, 'staticreg_browse', { mounts: ['/assets'] }).middleware);
  observability.get(METRICS_PATH, ...metricsHandler(registry, config.metricsToken));

  const registryFeature = createRegistryFeature({ config, log, db });
  const auth = setUpAuth(config, log, redis, registryFeature.store);
  const cleanup = createCleanupFeature({ cleanup: loadCleanupConfig(), db, registry: config.registry, queue, log });

  const app = createBrowseApp({
    log,
    probes: () => ({ redis: () => redis.ping(), ...(db ? { postgres: () => pingDatabase(db) } : {}) }),
    isShuttingDown: () => shuttingDown,
    // Health, /metrics and /assets are answered before the sign-in router; everything after it needs a viewer.
    routers: [
      observability,
      createAuthRouter(auth.deps),
      registryFeature.router,
      cleanup.router,
      dashboardAccess(),
      createDashboardRouter({ db, queue, redis, visibleRepositories, csrf: createCsrfProtection(config.csrfSecret ?? randomBytes(32), { secureCookies: config.auth.secureCookies }) }),
    ],
  });
  const server = await listen(app, config.port, config.bind);
  log.info({ port: config.port, bind: config.bind, registry: config.registryHostname, database: Boolean(db), auth: auth.deps.mode }, 'Browse listening');
  registryFeature.start();
  auth.checkRegistry();

  onShutdownSignal(log, async () => {
    shuttingDown = true;
    await closeServer(server);
    await registryFeature.stop();
    await cleanup.stop();
    await auth.close();
    await queue.close();
    await db?.destroy();
    redis.disconnect();
  });
}

runMain('browse', main);
