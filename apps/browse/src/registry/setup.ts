// Wires the registry feature from configuration: the catalog store, the crawler, the pages' router.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Router } from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { STATICREG_USER_AGENT, type BrowseConfig } from '@staticreg/config';
import { Crawler, MemoryCatalogStore, PostgresCatalogStore, RateLimiter, type CatalogStore } from '@staticreg/catalog';
import { migrateToLatest, type Database } from '@staticreg/db';
import { createRegistryClient, registryBaseUrl, type RegistryClient } from '@staticreg/registry';
import { ChangeFeed } from './change-feed.js';
import { createRegistryRouter } from './index.js';
import { RegistryBrowser } from './service.js';

export interface RegistryFeature {
  router: Router;
  store: CatalogStore;
  crawler: Crawler | undefined;
  start(): void;
  stop(): Promise<void>;
}

export interface RegistryFeatureDeps {
  config: BrowseConfig;
  log: Logger;
  db: Kysely<Database> | undefined;
}

/** The host clients pull from: STATICREG_BROWSE_PULL_HOSTNAME, else the registry's host[:port]. */
export function pullHostOf(config: BrowseConfig): string {
  if (config.pullHostname) return config.pullHostname;
  if (!config.registry) return 'registry.example';
  return new URL(registryBaseUrl(config.registry.hostname)).host;
}

/** How long one replica holds the crawl-pass lease without renewing it (it renews every 30 s while crawling). */
const PASS_LEASE_MS = 120_000;
const MIGRATE_RETRY_MS = 5000;

export function createRegistryFeature(deps: RegistryFeatureDeps): RegistryFeature {
  const { config, log, db } = deps;
  const postgres = db ? new PostgresCatalogStore(db, { owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}` }) : undefined;
  // With a database the catalog is shared by every replica; without one, each keeps its own in memory.
  const store: CatalogStore = postgres ?? new MemoryCatalogStore({ maxTags: config.crawler.memoryMaxTags });
  let crawlerClient: RegistryClient | undefined;
  let pageClient: RegistryClient | undefined;
  let crawler: Crawler | undefined;
  if (config.registry) {
    const limiter = new RateLimiter(config.crawler.requestsPerSecond);
    crawlerClient = createRegistryClient(config.registry, {
      userAgent: STATICREG_USER_AGENT,
      throttle: () => limiter.take(),
      connections: config.crawler.concurrency,
    });
    // Pages read the odd manifest the store has no details of; they do not queue behind the crawler's rate.
    pageClient = createRegistryClient(config.registry, { userAgent: STATICREG_USER_AGENT, connections: 4 });
    crawler = new Crawler({
      registry: crawlerClient,
      store,
      log,
      concurrency: config.crawler.concurrency,
      intervalMs: config.crawler.intervalMs,
      ...(postgres ? { mayRunPass: () => postgres.holdPassLease(PASS_LEASE_MS) } : {}),
    });
  }
  const feed = crawler
    ? new ChangeFeed({
        redisUrl: config.redisUrl,
        stream: config.crawler.changesStream,
        log,
        onChange: (repository, changedAt) => crawler!.refreshSoon(repository, changedAt),
      })
    : undefined;
  let stopping = false;
  let retry: NodeJS.Timeout | undefined;
  /** The catalog tables come with the migrations; browse applies them too (locked), so it needs no worker first. */
  const startWhenReady = (): void => {
    if (!db) {
      crawler?.start();
      feed?.start();
      return;
    }
    migrateToLatest(db).then(
      () => {
        if (stopping) return;
        crawler?.start();
        feed?.start();
      },
      (error: unknown) => {
        log.warn({ err: error, retryMs: MIGRATE_RETRY_MS }, 'Could not prepare the catalog tables, retrying');
        if (!stopping) retry = setTimeout(startWhenReady, MIGRATE_RETRY_MS);
      },
    );
  };
  const browser = new RegistryBrowser({ store, live: pageClient, crawlerStatus: () => crawler?.status, pullHost: pullHostOf(config) });
  return {
    router: createRegistryRouter(browser),
    store,
    crawler,
    start: startWhenReady,
    async stop() {
      stopping = true;
      clearTimeout(retry);
      await feed?.stop();
      await crawler?.stop();
      await postgres?.releasePassLease().catch(() => undefined);
      await crawlerClient?.close();
      await pageClient?.close();
    },
  };
}
