// Browse process: read config, connect what is configured, serve pages and APIs, shut down cleanly.
import { randomBytes } from 'node:crypto';
import express from 'express';
import { sql } from 'kysely';
import { loadBrowseConfig, STATICREG_USER_AGENT } from '@staticreg/config';
import { createLogger } from '@staticreg/log';
import { createDb, METRICS_SESSION_OPTIONS } from '@staticreg/db';
import { createPullQueue, createRedisConnection } from '@staticreg/queue';
import { createHttpMetrics, createMetricsRegistry, METRICS_PATH, metricsHandler } from '@staticreg/observability';
import { closeServer, listen, onShutdownSignal, runMain } from '@staticreg/http';
import { createRegistryUserAccess } from '@staticreg/registry';
import { createBrowseApp } from './app.js';
import { createCsrfProtection } from './csrf.js';
import { createAuthRouter, dashboardAccess, type AuthDeps } from './auth/index.js';
import { RegistryAuthenticator } from './auth/authenticator.js';
import { SessionStore } from './auth/sessions.js';
import { SignInLimiter } from './auth/sign-in-limiter.js';
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
  const userAccess = config.auth.mode === 'registry' && config.registry ? createRegistryUserAccess(config.registry, STATICREG_USER_AGENT) : undefined;
  let auth: AuthDeps;
  if (config.auth.mode === 'none' || !userAccess) {
    log.warn('STATICREG_BROWSE_AUTH=none: anyone who can reach browse sees every repository, manifest and the dashboard');
    auth = { mode: 'none' };
  } else {
    const store = registryFeature.store;
    auth = {
      mode: 'registry',
      log,
      sessions: new SessionStore(redis, { idleMs: config.auth.sessionIdleMs, maxMs: config.auth.sessionMaxMs }),
      limiter: new SignInLimiter(redis, {
        maxFailuresPerUser: config.auth.signInMaxFailuresPerUser,
        maxFailuresPerAddress: config.auth.signInMaxFailuresPerAddress,
        windowMs: config.auth.signInWindowMs,
      }),
      authenticator: new RegistryAuthenticator({
        registry: userAccess,
        catalogNames: async () => {
          const stats = await store.stats();
          return stats.catalogListedAt === undefined && stats.repositories === 0 ? undefined : store.repositoriesForRefresh();
        },
        accessTtlMs: config.auth.accessTtlMs,
        admins: config.auth.admins,
      }),
      secureCookies: config.auth.secureCookies,
      sessionMaxMs: config.auth.sessionMaxMs,
    };
  }

  const app = createBrowseApp({
    log,
    probes: () => ({ redis: () => redis.ping(), ...(db ? { postgres: () => sql`select 1`.execute(db) } : {}) }),
    isShuttingDown: () => shuttingDown,
    // Health, /metrics and /assets are answered before the sign-in router; everything after it needs a viewer.
    routers: [
      observability,
      createAuthRouter(auth),
      registryFeature.router,
      dashboardAccess(),
      createDashboardRouter({ db, queue, redis, csrf: createCsrfProtection(config.csrfSecret ?? randomBytes(32)) }),
    ],
  });
  const server = await listen(app, config.port, config.bind);
  log.info({ port: config.port, bind: config.bind, registry: config.registryHostname, database: Boolean(db), auth: auth.mode }, 'Browse listening');
  registryFeature.start();
  // A registry that asks for no credentials has nothing to check a password against: say so now, not at the first sign-in.
  userAccess?.authScheme().then(
    (scheme) => {
      if (scheme.kind === 'open') log.error('The registry asks for no credentials, so nobody can sign in: set STATICREG_BROWSE_AUTH=none (the registry is open anyway)');
    },
    () => undefined,
  );

  onShutdownSignal(log, async () => {
    shuttingDown = true;
    await closeServer(server);
    await registryFeature.stop();
    await userAccess?.close();
    await queue.close();
    await db?.destroy();
    redis.disconnect();
  });
}

runMain('browse', main);
