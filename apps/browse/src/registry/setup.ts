// Wires the registry feature from configuration: the catalog store, the crawler, the pages' router.
import type { Router } from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { STATICREG_USER_AGENT, type BrowseConfig } from '@staticreg/config';
import { Crawler, MemoryCatalogStore, RateLimiter, type CatalogStore } from '@staticreg/catalog';
import type { Database } from '@staticreg/db';
import { createRegistryClient, registryBaseUrl, type RegistryClient } from '@staticreg/registry';
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

export function createRegistryFeature(deps: RegistryFeatureDeps): RegistryFeature {
  const { config, log } = deps;
  const store: CatalogStore = new MemoryCatalogStore({ maxTags: config.crawler.memoryMaxTags });
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
    });
  }
  const browser = new RegistryBrowser({ store, live: pageClient, crawlerStatus: () => crawler?.status, pullHost: pullHostOf(config) });
  return {
    router: createRegistryRouter(browser),
    store,
    crawler,
    start: () => crawler?.start(),
    async stop() {
      await crawler?.stop();
      await crawlerClient?.close();
      await pageClient?.close();
    },
  };
}
