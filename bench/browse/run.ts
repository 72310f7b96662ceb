// Browse bench: a real docker-registry 2.8.2 on a generated store of 100,000 repositories and 1,000,000 tags.
// Measures the catalog listing, the cold crawl rate, memory per tag of the in-memory catalog, and p50/p95 of home,
// search and a 10,000-tag repository page served from that cache (baseline: /healthz on the same server).
// Run: node --import tsx --conditions=staticreg-source bench/browse/run.ts [--storage=DIR] [--crawl-seconds=30]
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { STATICREG_USER_AGENT } from '@staticreg/config';
import { Crawler, forEachConcurrently, MemoryCatalogStore, type CatalogStore, type ManifestDetails } from '@staticreg/catalog';
import { listen, closeServer } from '@staticreg/http';
import { RegistryClient } from '@staticreg/registry';
import { createBrowseApp } from '../../apps/browse/src/app.js';
import { createRegistryRouter, RegistryBrowser } from '../../apps/browse/src/registry/index.js';
import { startTestRegistry } from '../../test/support/registry-servers.js';
import { createTestDatabase } from '../../test/support/services.js';
import { fillPostgresCatalog } from './postgres.js';
import { benchTargets, BIG_REPOSITORY, BIG_TAGS, generateStorage, REPOSITORIES, repositoryName, repositoryTags, TAGS } from './generate.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const STORAGE_ROOT = option('storage', '/tmp/staticreg-bench-registry');
const CRAWL_SECONDS = Number(option('crawl-seconds', '30'));
const CONCURRENCY = Number(option('concurrency', '8'));
const REQUESTS = Number(option('requests', '300'));
const WARMUP = 30;
const TARGET_P95_MS = 100;
const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

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

interface PageResult {
  page: string;
  path: string;
  p50: number;
  p95: number;
  max: number;
  bytes: number;
}

/** Serves the registry pages over `store` and times each path: sequential requests on one keep-alive connection. */
async function measurePages(store: CatalogStore, crawlerStatus: () => Crawler['status'] | undefined, client: RegistryClient, pages: Array<[string, string]>): Promise<PageResult[]> {
  const browser = new RegistryBrowser({ store, live: client, crawlerStatus, pullHost: 'registry.example.com' });
  const app = createBrowseApp({ log: pino({ level: 'silent' }), probes: () => ({}), isShuttingDown: () => false, routers: [createRegistryRouter(browser)] });
  const server = await listen(app, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ connections: 1 });
  const results: PageResult[] = [];
  try {
    for (const [label, path] of pages) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < WARMUP + REQUESTS; i += 1) {
        const start = performance.now();
        const response = await request(`${base}${path}`, { dispatcher: agent });
        const body = await response.body.arrayBuffer();
        const elapsed = performance.now() - start;
        if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${Buffer.from(body).toString('utf8').slice(0, 200)}`);
        if (i >= WARMUP) times.push(elapsed);
        bytes = body.byteLength;
      }
      times.sort((a, b) => a - b);
      results.push({ page: label, path, p50: percentile(times, 50), p95: percentile(times, 95), max: times.at(-1)!, bytes });
    }
  } finally {
    await agent.close();
    await closeServer(server);
  }
  return results;
}

function pageTable(results: PageResult[]): string {
  return table(
    ['page', 'p50 ms', 'p95 ms', 'max ms', 'KiB', `p95 < ${TARGET_P95_MS} ms`],
    results.map((row) => [row.page, fixed(row.p50, 2), fixed(row.p95, 2), fixed(row.max, 1), fixed(row.bytes / 1024), row.page.startsWith('baseline') ? '' : row.p95 < TARGET_P95_MS ? 'met' : 'NOT met']),
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log('staticreg browse bench');
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${fixed(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`);
  if (!global.gc) console.log('note: run with --expose-gc for exact heap figures');

  const storage = join(STORAGE_ROOT, 'storage');
  mkdirSync(storage, { recursive: true });
  const generateStart = Date.now();
  const wrote = generateStorage(storage, console.log);
  console.log(
    wrote
      ? `generated ${thousands(REPOSITORIES)} repositories, ${thousands(TAGS)} tags in ${storage} (${fixed((Date.now() - generateStart) / 1000, 0)} s; kept for later runs)`
      : `reusing the generated store in ${storage}`,
  );
  const registry = await startTestRegistry({ dir: STORAGE_ROOT });
  let requests = 0;
  const client = new RegistryClient({
    baseUrl: registry.baseUrl,
    userAgent: STATICREG_USER_AGENT,
    connections: CONCURRENCY,
    throttle: async () => {
      requests += 1;
    },
  });
  const heapBefore = heapMiB();
  const store = new MemoryCatalogStore({ maxTags: 2_000_000 });
  const crawler = new Crawler({ registry: client, store, log: pino({ level: 'silent' }), concurrency: CONCURRENCY, intervalMs: 3_600_000 });

  try {
    // [1] The whole catalog, 1,000 names a page, following Link.
    let t = performance.now();
    const names: string[] = [];
    for await (const page of client.repositories(1000)) names.push(...page);
    const listSeconds = (performance.now() - t) / 1000;
    await store.syncRepositoryNames(names, Date.now());
    console.log(`\n[1] catalog listing: ${thousands(names.length)} repositories in ${fixed(listSeconds)} s (${thousands(requests)} requests)`);

    // [2] Cold crawl: empty cache, every repository read as the crawler does (tags list, GET each tag, describe new digests).
    requests = 0;
    let tagsRead = 0;
    let reposRead = 0;
    const deadline = performance.now() + CRAWL_SECONDS * 1000;
    t = performance.now();
    const sample = names.filter((name) => name !== BIG_REPOSITORY);
    await forEachConcurrently(sample, CONCURRENCY, async (name) => {
      if (performance.now() > deadline) return;
      await crawler.refresh(name);
      reposRead += 1;
      tagsRead += (await store.getRepository(name))?.tagCount ?? 0;
    });
    const crawlSeconds = (performance.now() - t) / 1000;
    const crawl = { repositories: reposRead, tags: tagsRead, requests, seconds: crawlSeconds };
    console.log(
      `[2] cold crawl, unthrottled, ${CONCURRENCY} in flight: ${thousands(reposRead)} repositories, ${thousands(tagsRead)} tags, ${thousands(requests)} requests in ${fixed(crawlSeconds)} s` +
        ` = ${thousands(requests / crawlSeconds)} requests/s, ${thousands(tagsRead / crawlSeconds)} tags/s; a full cold crawl of ${thousands(TAGS)} tags would take ~${fixed(TAGS / (tagsRead / crawlSeconds) / 60, 0)} min`,
    );

    // [3] The 10,000-tag repository, read from the registry.
    requests = 0;
    t = performance.now();
    await crawler.refresh(BIG_REPOSITORY);
    const bigSeconds = (performance.now() - t) / 1000;
    console.log(`[3] ${BIG_REPOSITORY}: ${thousands((await store.getRepository(BIG_REPOSITORY))!.tagCount)} tags read in ${fixed(bigSeconds)} s (${thousands(requests)} requests)`);

    // [4] The rest of the cache, with exactly what the crawler would store (every tag points at one of 20 manifests,
    // all described by the crawl above), so the pages are measured over 1,000,000 tags without an hour of crawling.
    const { targets } = benchTargets();
    const known = await store.knownDigests(targets.map((target) => `sha256:${target.hex}`));
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
    console.log(
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
      ['autocomplete "svc-42" (111 matches)', '/api/search?q=svc-42'],
      ['search "team" (all 99,999 match)', '/search?q=team'],
      [`${BIG_REPOSITORY}, 10,000 tags, by name`, `/r/${BIG_REPOSITORY}`],
      [`${BIG_REPOSITORY}, by created`, `/r/${BIG_REPOSITORY}?sort=created`],
      [`${BIG_REPOSITORY}, page 150`, `/r/${BIG_REPOSITORY}?page=150`],
      [`${BIG_REPOSITORY} JSON`, `/api/r/${BIG_REPOSITORY}`],
      ['tag page (index)', `/r/${BIG_REPOSITORY}/-/tags/build-16`],
    ];
    const memoryPages = await measurePages(store, () => crawler.status, client, pages);
    console.log(`\n[5] pages from the in-memory cache (${thousands(stats.tags)} tags): ${REQUESTS} sequential requests each after ${WARMUP} warm-up, keep-alive`);
    console.log(pageTable(memoryPages));

    // [6] The same pages from the Postgres catalog, plus the sorts and the filter that need pull counts.
    let postgresPages: PageResult[] | undefined;
    let postgresFillSeconds: number | undefined;
    if (!args.includes('--no-postgres')) {
      const database = await createTestDatabase();
      try {
        const manifests: ManifestDetails[] = [];
        for (const target of targets) manifests.push((await store.getDetails(`sha256:${target.hex}`))!);
        t = performance.now();
        const postgres = await fillPostgresCatalog(database.db, names, manifests, targets.map((target) => `sha256:${target.hex}`));
        postgresFillSeconds = (performance.now() - t) / 1000;
        const pgStats = await postgres.stats();
        if (pgStats.tags !== stats.tags || pgStats.repositories !== stats.repositories) throw new Error(`Postgres holds ${pgStats.repositories} repositories, ${pgStats.tags} tags`);
        postgresPages = await measurePages(postgres, () => crawler.status, client, [
          ...pages,
          [`${BIG_REPOSITORY}, by pulls (60,000 usage rows)`, `/r/${BIG_REPOSITORY}?sort=pulls`],
          [`${BIG_REPOSITORY}, unseen in 30 days`, `/r/${BIG_REPOSITORY}?unseen=30`],
          [`${BIG_REPOSITORY}, by last seen`, `/r/${BIG_REPOSITORY}?sort=last-seen`],
        ]);
        console.log(`\n[6] the same from the Postgres catalog (${database.name}, filled in bulk in ${fixed(postgresFillSeconds, 0)} s; 30 days of pulls and checks for 4,000 tags of ${BIG_REPOSITORY})`);
        console.log(pageTable(postgresPages));
      } finally {
        await database.drop();
      }
    }
    console.log(`\ntotal ${fixed((Date.now() - started) / 1000, 0)} s`);
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(
      join(RESULTS, 'browse.json'),
      `${JSON.stringify({ at: new Date().toISOString(), listSeconds, crawl, bigSeconds, stats, heapBefore, heapAfter, bytesPerTag, memoryPages, postgresFillSeconds, postgresPages }, null, 2)}\n`,
    );
    console.log('figures as JSON: bench/results/browse.json');
  } finally {
    await crawler.stop();
    await client.close();
    await registry.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
