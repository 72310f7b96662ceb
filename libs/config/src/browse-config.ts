// browse's settings: port, database, registry, the crawler, the pull hostname shown, CSRF secret and sign-in.
import { z } from 'zod';
import { loadBrowseAuth, type BrowseAuthConfig } from './browse-auth-config.js';
import { loadCommon, loadDbUrl, REGISTRY_CHANGES_STREAM, type CommonConfig } from './common-config.js';
import { parse, parseOptional, port, type Env } from './env.js';
import { loadRegistryAccess, loadRegistryHostname, type RegistryAccessConfig } from './registry-config.js';

export interface BrowseConfig extends CommonConfig {
  port: number;
  dbUrl: string | undefined;
  registryHostname: string | undefined;
  registry: RegistryAccessConfig | undefined;
  crawler: CrawlerConfig;
  /** host[:port] shown in `docker pull` commands: the name clients use, which may differ from the one browse uses. */
  pullHostname: string | undefined;
  /** Signs the dashboard's CSRF tokens; replicas behind one address need the same. Unset: random per process. */
  csrfSecret: string | undefined;
  auth: BrowseAuthConfig;
}

export interface CrawlerConfig {
  /** Requests per second to the registry (and its token service); 0 means no limit. */
  requestsPerSecond: number;
  concurrency: number;
  /** Pause after a full pass over every repository before the next pass starts. */
  intervalMs: number;
  /** Memory bound of the in-memory catalog (no database): tags kept at most; further tags are not indexed. */
  memoryMaxTags: number;
  /** Redis stream the receiver appends registry pushes and deletes to. */
  changesStream: string;
}

function loadCrawler(env: Env): CrawlerConfig {
  return {
    requestsPerSecond: parse(env, 'STATICREG_BROWSE_CRAWL_RATE', z.coerce.number({ message: 'must be a number of requests per second' }).min(0).max(100_000), '20'),
    concurrency: parse(env, 'STATICREG_BROWSE_CRAWL_CONCURRENCY', z.coerce.number().int().min(1).max(64), '4'),
    intervalMs: 1000 * parse(env, 'STATICREG_BROWSE_CRAWL_INTERVAL_SECONDS', z.coerce.number().int().min(1).max(7 * 24 * 3600), '300'),
    memoryMaxTags: parse(env, 'STATICREG_BROWSE_MEMORY_MAX_TAGS', z.coerce.number().int().min(1000).max(20_000_000), '2000000'),
    changesStream: parse(env, 'STATICREG_REGISTRY_CHANGES_STREAM', z.string().min(1), REGISTRY_CHANGES_STREAM),
  };
}

export function loadBrowseConfig(env: Env = process.env): BrowseConfig {
  const registry = loadRegistryAccess(env);
  return {
    ...loadCommon(env),
    port: parse(env, 'STATICREG_BROWSE_PORT', port, '8080'),
    dbUrl: loadDbUrl(env),
    registryHostname: loadRegistryHostname(env),
    registry,
    crawler: loadCrawler(env),
    pullHostname: parseOptional(env, 'STATICREG_BROWSE_PULL_HOSTNAME', z.string().regex(/^[^\s/]+(\/[^\s]*)?$/, 'must be host[:port] as clients write it')),
    csrfSecret: parseOptional(env, 'STATICREG_BROWSE_CSRF_SECRET', z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32)')),
    auth: loadBrowseAuth(env, registry),
  };
}
