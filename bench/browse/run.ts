// Browse bench: a real docker-registry 2.8.2 on a generated store of 100,000 repositories and 1,000,000 tags.
// Measures the catalog listing, the cold crawl rate, memory per tag of the in-memory catalog, and p50/p95 of home,
// search and a 10,000-tag repository page served from that cache (baseline: /healthz on the same server).
// Run: node --import tsx --conditions=staticreg-source bench/browse/run.ts [--storage=DIR] [--crawl-seconds=30] [--no-postgres] [--pages-only]
// (also part [5] of `make bench`, bench/run.ts --only=browse).
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { STATICREG_USER_AGENT } from '@staticreg/config';
import { Crawler, forEachConcurrently, MemoryCatalogStore, PostgresCatalogStore, type CatalogStore, type CatalogStats, type ManifestDetails } from '@staticreg/catalog';
import { createDb, METRICS_SESSION_OPTIONS } from '@staticreg/db';
import { listen, closeServer } from '@staticreg/http';
import { RegistryClient } from '@staticreg/registry';
import { createBrowseApp } from '../../apps/browse/src/app.js';
import { createAuthRouter } from '../../apps/browse/src/auth/index.js';
import { createRegistryRouter, RegistryBrowser } from '../../apps/browse/src/registry/index.js';
import { startTestRegistry } from '../../test/support/registry-servers.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/services.js';
import { machineCpu, meterCpu, waitForQuietMachine } from '../support.js';
import { fillPostgresCatalog } from './postgres.js';
import { benchTargets, BIG_REPOSITORY, generateStorage, REPOSITORIES, repositoryName, repositoryTags, TAGS } from './generate.js';

export const BROWSE_TARGET_P95_MS = 100;
const WARMUP = 30;
const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));
/** Each store's pages start once the two cores are this idle (waiting up to 10 s); the load during each is reported. */
const QUIET_BUSY_PCT = 15;

export interface BrowseBenchOptions {
  /** Where the generated registry store is kept between runs. */
  storageRoot?: string;
  crawlSeconds?: number;
  concurrency?: number;
  /** Timed requests per page, after 30 of warm-up. */
  requests?: number;
  /** Also measure the pages over the Postgres catalog (default true). */
  postgres?: boolean;
  /**
   * Only the pages: the catalog's names from the generator instead of the registry's listing (4 minutes), a crawl
   * only until the 20 manifests are described, bench/big filled like the rest. A run then takes about 3 minutes.
   */
  pagesOnly?: boolean;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fixed = (value: number, digits = 1): string => value.toFixed(digits);
const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

function heapMiB(): number {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

export interface PageResult {
  page: string;
  path: string;
  p50: number;
  p95: number;
  max: number;
  bytes: number;
  /** Both cores' busy share during this page's requests, and the part of it neither this process nor its Postgres backends used. */
  machineBusyPct: number;
  otherLoadPct: number;
}

export interface BrowseBenchResult {
  /** Seconds spent writing the registry store, when this run wrote it. */
  generateSeconds?: number;
  /** Registry-side figures, left out with pagesOnly. */
  listSeconds?: number;
  crawl?: { repositories: number; tags: number; requests: number; seconds: number };
  bigSeconds?: number;
  stats: CatalogStats;
  heapBefore: number;
  heapAfter: number;
  bytesPerTag: number;
  loadAverage: { start: number[]; end: number[] };
  memoryPages: PageResult[];
  postgresFillSeconds?: number;
  postgresPages?: PageResult[];
}

/** CPU accounting for one page: this process (client and server) and, with a database, its Postgres backends. */
async function meterLoad(postgres: TestDatabase | undefined): Promise<() => Promise<{ machineBusyPct: number; otherPct: number }>> {
  if (postgres) return meterCpu({}, { db: postgres.db, database: postgres.name });
  const machineBefore = machineCpu();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  return async () => {
    const machine = machineCpu();
    const cpu = process.cpuUsage(cpuBefore);
    const machineBusyPct = (100 * (machine.busy - machineBefore.busy)) / (machine.total - machineBefore.total);
    const oursPct = (100 * (cpu.user + cpu.system)) / 1000 / ((performance.now() - started) * cpus().length);
    return { machineBusyPct, otherPct: Math.max(0, machineBusyPct - oursPct) };
  };
}

/** Serves the registry pages over `store` and times each path: sequential requests on one keep-alive connection. */
async function measurePages(
  store: CatalogStore,
  crawlerStatus: () => Crawler['status'] | undefined,
  client: RegistryClient,
  pages: Array<[string, string]>,
  requests: number,
  database: TestDatabase | undefined,
): Promise<PageResult[]> {
  const browser = new RegistryBrowser({ store, live: client, crawlerStatus, pullHost: 'registry.example.com' });
  const app = createBrowseApp({ log: pino({ level: 'silent' }), probes: () => ({}), isShuttingDown: () => false, routers: [createAuthRouter({ mode: 'none' }), createRegistryRouter(browser)] });
  const server = await listen(app, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ connections: 1 });
  const results: PageResult[] = [];
  try {
    for (const [label, path] of pages) {
      const times: number[] = [];
      let bytes = 0;
      let load: (() => Promise<{ machineBusyPct: number; otherPct: number }>) | undefined;
      for (let i = 0; i < WARMUP + requests; i += 1) {
        if (i === WARMUP) load = await meterLoad(database);
        const start = performance.now();
        const response = await request(`${base}${path}`, { dispatcher: agent });
        const body = await response.body.arrayBuffer();
        const elapsed = performance.now() - start;
        if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${Buffer.from(body).toString('utf8').slice(0, 200)}`);
        if (i >= WARMUP) times.push(elapsed);
        bytes = body.byteLength;
      }
      const { machineBusyPct, otherPct } = await load!();
      times.sort((a, b) => a - b);
      results.push({ page: label, path, p50: percentile(times, 50), p95: percentile(times, 95), max: times.at(-1)!, bytes, machineBusyPct, otherLoadPct: otherPct });
    }
  } finally {
    await agent.close();
    await closeServer(server);
  }
  return results;
}

export function pageTable(results: PageResult[]): string {
  return table(
    ['page', 'p50 ms', 'p95 ms', 'max ms', 'KiB', 'other load %', `p95 < ${BROWSE_TARGET_P95_MS} ms`],
    results.map((row) => [
      row.page,
      fixed(row.p50, 2),
      fixed(row.p95, 2),
      fixed(row.max, 1),
      fixed(row.bytes / 1024),
      fixed(row.otherLoadPct, 0),
      row.page.startsWith('baseline') ? '' : row.p95 < BROWSE_TARGET_P95_MS ? 'met' : 'NOT met',
    ]),
  );
}

/**
 * Lists, crawls and fills the catalog from the generated registry (written first if it is not there), then times the
 * pages from the in-memory catalog and from the Postgres one. Prints as it goes through `log`; writes
 * bench/results/browse.json.
 */
export async function runBrowseBench(options: BrowseBenchOptions = {}, log: (line: string) => void = console.log): Promise<BrowseBenchResult> {
  const storageRoot = options.storageRoot ?? '/tmp/staticreg-bench-registry';
  const crawlSeconds = options.crawlSeconds ?? 30;
  const concurrency = options.concurrency ?? 8;
  const requestsPerPage = options.requests ?? 300;
  const started = Date.now();
  const loadStart = loadavg();
  log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${fixed(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}; load average ${loadStart.map((value) => fixed(value, 2)).join(' ')}`);
  if (!global.gc) log('note: run with --expose-gc for exact heap figures');

  const storage = join(storageRoot, 'storage');
  mkdirSync(storage, { recursive: true });
  const generateStart = Date.now();
  log(`registry store: ${storage} (written on the first run, about 10 minutes; kept and reused)`);
  const wrote = generateStorage(storage, log);
  const generateSeconds = wrote ? (Date.now() - generateStart) / 1000 : undefined;
  log(
    generateSeconds !== undefined
      ? `generated ${thousands(REPOSITORIES)} repositories, ${thousands(TAGS)} tags in ${fixed(generateSeconds, 0)} s (kept for later runs)`
      : `reusing the generated store (${thousands(REPOSITORIES)} repositories, ${thousands(TAGS)} tags)`,
  );
  const database = options.postgres === false ? undefined : await createTestDatabase();
  const registry = await startTestRegistry({ dir: storageRoot });
  let requests = 0;
  const client = new RegistryClient({
    baseUrl: registry.baseUrl,
    userAgent: STATICREG_USER_AGENT,
    connections: concurrency,
    throttle: async () => {
      requests += 1;
    },
  });
  const heapBefore = heapMiB();
  const store = new MemoryCatalogStore({ maxTags: 2_000_000 });
  const crawler = new Crawler({ registry: client, store, log: pino({ level: 'silent' }), concurrency, intervalMs: 3_600_000 });

  try {
    const pagesOnly = options.pagesOnly === true;
    const { targets } = benchTargets();
    const targetDigests = targets.map((target) => `sha256:${target.hex}`);
    // [1] The whole catalog, 1,000 names a page, following Link.
    let t = performance.now();
    let names: string[] = [];
    let listSeconds: number | undefined;
    if (pagesOnly) {
      names = Array.from({ length: REPOSITORIES }, (_, i) => repositoryName(i));
      log('[1] catalog listing skipped (pages only): names from the generator');
    } else {
      for await (const page of client.repositories(1000)) names.push(...page);
      listSeconds = (performance.now() - t) / 1000;
      log(`[1] catalog listing: ${thousands(names.length)} repositories in ${fixed(listSeconds)} s (${thousands(requests)} requests)`);
    }
    await store.syncRepositoryNames(names, Date.now());

    // [2] Cold crawl: empty cache, every repository read as the crawler does (tags list, GET each tag, describe new digests).
    requests = 0;
    let tagsRead = 0;
    let reposRead = 0;
    const deadline = performance.now() + crawlSeconds * 1000;
    t = performance.now();
    const sample = names.filter((name) => name !== BIG_REPOSITORY);
    const enough = async (): Promise<boolean> => (pagesOnly ? (await store.knownDigests(targetDigests)).size === targets.length : performance.now() > deadline);
    await forEachConcurrently(sample, concurrency, async (name) => {
      if (await enough()) return;
      await crawler.refresh(name);
      reposRead += 1;
      tagsRead += (await store.getRepository(name))?.tagCount ?? 0;
    });
    const crawledSeconds = (performance.now() - t) / 1000;
    const crawl = pagesOnly ? undefined : { repositories: reposRead, tags: tagsRead, requests, seconds: crawledSeconds };
    if (pagesOnly) log(`[2] crawled ${reposRead} repositories to describe the ${targets.length} manifests (pages only: no crawl rate)`);
    else log(
      `[2] cold crawl, unthrottled, ${concurrency} in flight: ${thousands(reposRead)} repositories, ${thousands(tagsRead)} tags, ${thousands(requests)} requests in ${fixed(crawledSeconds)} s` +
        ` = ${thousands(requests / crawledSeconds)} requests/s, ${thousands(tagsRead / crawledSeconds)} tags/s; a full cold crawl of ${thousands(TAGS)} tags would take ~${fixed(TAGS / (tagsRead / crawledSeconds) / 60, 0)} min`,
    );

    // [3] The 10,000-tag repository, read from the registry.
    let bigSeconds: number | undefined;
    if (!pagesOnly) {
      requests = 0;
      t = performance.now();
      await crawler.refresh(BIG_REPOSITORY);
      bigSeconds = (performance.now() - t) / 1000;
      log(`[3] ${BIG_REPOSITORY}: ${thousands((await store.getRepository(BIG_REPOSITORY))!.tagCount)} tags read in ${fixed(bigSeconds)} s (${thousands(requests)} requests)`);
    }

    // [4] The rest of the cache, with exactly what the crawler would store (every tag points at one of 20 manifests,
    // all described by the crawl above), so the pages are measured over 1,000,000 tags without an hour of crawling.
    const known = await store.knownDigests(targetDigests);
    if (known.size !== targets.length) throw new Error(`the crawl described ${known.size} of ${targets.length} manifests`);
    t = performance.now();
    for (let i = 0; i < REPOSITORIES; i += 1) {
      const name = repositoryName(i);
      if ((await store.getRepository(name))?.refreshedAt !== undefined) continue;
      await store.saveRepository(name, repositoryTags(i).map(([tag, target]) => [tag, `sha256:${targets[target]!.hex}`] as const), [], Date.now());
    }
    const stats = await store.stats();
    const heapAfter = heapMiB();
    const bytesPerTag = ((heapAfter - heapBefore) * 2 ** 20) / stats.tags;
    log(
      `[4] cache filled: ${thousands(stats.repositories)} repositories, ${thousands(stats.tags)} tags, ${stats.manifests} manifests (${fixed((performance.now() - t) / 1000)} s); ` +
        `heap ${fixed(heapBefore, 0)} -> ${fixed(heapAfter, 0)} MiB = ${fixed(bytesPerTag, 0)} bytes per tag`,
    );

    // [5] Pages from the cache, one request at a time over keep-alive HTTP.
    const pages: Array<[string, string]> = [
      ['baseline: /healthz', '/healthz'],
      ['home (100 organisations)', '/'],
      ['home JSON', '/api/tree'],
      ['folder org-42/team-3 (100 repos)', '/?path=org-42/team-3'],
      ['search "svc-4242" (HTML)', '/search?q=svc-4242'],
      ['autocomplete "svc-42" (1,111 match)', '/api/search?q=svc-42'],
      ['search "team" (all 99,999 match)', '/search?q=team'],
      [`${BIG_REPOSITORY}, 10,000 tags, by name`, `/r/${BIG_REPOSITORY}`],
      [`${BIG_REPOSITORY}, by created`, `/r/${BIG_REPOSITORY}?sort=created`],
      [`${BIG_REPOSITORY}, page 150`, `/r/${BIG_REPOSITORY}?page=150`],
      [`${BIG_REPOSITORY} JSON`, `/api/r/${BIG_REPOSITORY}`],
      ['tag page (index)', `/r/${BIG_REPOSITORY}/-/tags/build-16`],
    ];
    const quietMemory = await waitForQuietMachine(QUIET_BUSY_PCT, 10_000);
    const memoryPages = await measurePages(store, () => crawler.status, client, pages, requestsPerPage, database);
    log('');
    log(`[5] pages from the in-memory cache (${thousands(stats.tags)} tags): ${requestsPerPage} sequential requests each after ${WARMUP} warm-up, keep-alive; machine ${fixed(quietMemory, 0)}% busy before`);
    for (const line of pageTable(memoryPages).split('\n')) log(line);

    // [6] The same pages from the Postgres catalog, plus the sorts and the filter that need pull counts, read over a pool
    // with browse's own session settings (no JIT, no parallel workers).
    let postgresPages: PageResult[] | undefined;
    let postgresFillSeconds: number | undefined;
    if (database) {
      const manifests: ManifestDetails[] = [];
      for (const target of targets) manifests.push((await store.getDetails(`sha256:${target.hex}`))!);
      t = performance.now();
      await fillPostgresCatalog(database.db, names, manifests, targets.map((target) => `sha256:${target.hex}`));
      postgresFillSeconds = (performance.now() - t) / 1000;
      const browseDb = createDb({ url: database.url, applicationName: 'staticreg-bench-browse', sessionOptions: METRICS_SESSION_OPTIONS });
      try {
        const postgres = new PostgresCatalogStore(browseDb, { owner: 'bench' });
        const pgStats = await postgres.stats();
        if (pgStats.tags !== stats.tags || pgStats.repositories !== stats.repositories) throw new Error(`Postgres holds ${pgStats.repositories} repositories, ${pgStats.tags} tags`);
        const quietPostgres = await waitForQuietMachine(QUIET_BUSY_PCT, 10_000);
        postgresPages = await measurePages(
          postgres,
          () => crawler.status,
          client,
          [
            ...pages,
            [`${BIG_REPOSITORY}, by created, oldest first, page 100`, `/r/${BIG_REPOSITORY}?sort=created&order=asc&page=100`],
            [`${BIG_REPOSITORY}, by pulls (60,000 usage rows)`, `/r/${BIG_REPOSITORY}?sort=pulls`],
            [`${BIG_REPOSITORY}, by pulls, fewest first, page 100`, `/r/${BIG_REPOSITORY}?sort=pulls&order=asc&page=100`],
            [`${BIG_REPOSITORY}, unseen in 30 days`, `/r/${BIG_REPOSITORY}?unseen=30`],
            [`${BIG_REPOSITORY}, unseen in 7 days, by pulls`, `/r/${BIG_REPOSITORY}?unseen=7&sort=pulls`],
            [`${BIG_REPOSITORY}, by last seen`, `/r/${BIG_REPOSITORY}?sort=last-seen`],
          ],
          requestsPerPage,
          database,
        );
        log('');
        log(
          `[6] the same from the Postgres catalog (${database.name}, filled in bulk in ${fixed(postgresFillSeconds, 0)} s; ` +
            `30 days of pulls and checks for 4,000 tags of ${BIG_REPOSITORY}); machine ${fixed(quietPostgres, 0)}% busy before`,
        );
        for (const line of pageTable(postgresPages).split('\n')) log(line);
      } finally {
        await browseDb.destroy();
      }
    }
    const loadEnd = loadavg();
    log(`load average at end: ${loadEnd.map((value) => fixed(value, 2)).join(' ')}; browse bench total ${fixed((Date.now() - started) / 1000, 0)} s`);
    const result: BrowseBenchResult = {
      ...(generateSeconds !== undefined ? { generateSeconds } : {}),
      ...(listSeconds !== undefined ? { listSeconds } : {}),
      ...(crawl ? { crawl } : {}),
      ...(bigSeconds !== undefined ? { bigSeconds } : {}),
      stats,
      heapBefore,
      heapAfter,
      bytesPerTag,
      loadAverage: { start: loadStart, end: loadEnd },
      memoryPages,
      ...(postgresFillSeconds !== undefined ? { postgresFillSeconds } : {}),
      ...(postgresPages ? { postgresPages } : {}),
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'browse.json'), `${JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2)}\n`);
    log('figures as JSON: bench/results/browse.json');
    return result;
  } finally {
    await crawler.stop();
    await client.close();
    await registry.stop();
    await database?.drop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const option = (name: string): string | undefined => args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const number = (name: string): number | undefined => (option(name) === undefined ? undefined : Number(option(name)));
  console.log('staticreg browse bench');
  runBrowseBench({
    ...(option('storage') ? { storageRoot: option('storage')! } : {}),
    ...(number('crawl-seconds') !== undefined ? { crawlSeconds: number('crawl-seconds')! } : {}),
    ...(number('concurrency') !== undefined ? { concurrency: number('concurrency')! } : {}),
    ...(number('requests') !== undefined ? { requests: number('requests')! } : {}),
    postgres: !args.includes('--no-postgres'),
    pagesOnly: args.includes('--pages-only'),
  }).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
