// Cleanup bench: planCleanup over the browse bench's catalog (100,000 repositories, 1,000,000 tags in Postgres, plus
// 2,000 images of their own) with generated pulls and checks, its time and peak heap, next to the same plan as one SQL query, and the two compared.
// Run: node --expose-gc --import tsx --conditions=staticreg-source bench/cleanup/run.ts [--keep | --database=URL]
// (also `bench/run.ts --only=cleanup`). --keep leaves the filled database for later runs; --database=URL plans over it.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { describeImage, describeIndex, parseImageConfig, type ImageDetails, type ManifestDetails, type PostgresCatalogStore } from '@staticreg/catalog';
import { parsePolicy, planCleanup, type CleanupPlan } from '@staticreg/cleanup';
import { createDb, type Database } from '@staticreg/db';
import { utcDayOf } from '@staticreg/events';
import { createTestDatabase } from '../../test/support/services.js';
import { benchTargets, repositoryName, REPOSITORIES, TAGS } from '../browse/generate.js';
import { fillPostgresCatalog } from '../browse/postgres.js';
import { baselinePlan, type BaselineDeletion } from './baseline.js';

/** Rules that exercise every keep: use, newest, tag patterns, grace, exclusion; org-9x/team-1..9 match no rule. */
export const BENCH_POLICY = `
exclude: ["org-00/**"]
rules:
  - name: team-0-by-use
    repositories: ["*/team-0/**"]
    keepUsedWithinDays: 30
  - name: org-1x-by-tag
    repositories: ["org-1?/**"]
    keepNewest: 3
    keepTags: ["1.0.0", "1.9.*"]
  - name: big
    repositories: ["bench/big"]
    keepUsedWithinDays: 7
    keepNewest: 100
  - name: mixed
    repositories: ["org-2?/**", "org-3?/**", "org-4?/**", "org-5?/**", "org-6?/**", "org-7?/**", "org-8?/**"]
    keepUsedWithinDays: 14
    keepNewest: 2
    keepTags: ["1.0.*"]
`;

export interface CleanupBenchResult {
  repositories: number;
  tags: number;
  manifests: number;
  pullRows: number;
  checkRows: number;
  fillSeconds: number;
  plan: { seconds: number; peakHeapMiB: number; heldHeapMiB: number; deletions: number; kept: number; freesBytes: number };
  baseline: { seconds: number; deletions: number };
  equal: boolean;
  differences: string[];
}

const fixed = (value: number, digits = 1): string => value.toFixed(digits);
const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function heapMiB(): number {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** The browse bench's 20 manifests, described as the crawler would store them, without a registry. */
function benchManifests(): { manifests: ManifestDetails[]; digests: string[] } {
  const { targets, blobs } = benchTargets();
  const bytes = new Map(blobs.map((blob) => [blob.hex, blob.bytes]));
  const images = new Map<string, ImageDetails>();
  const manifests: ManifestDetails[] = [];
  for (const target of targets) {
    const raw = bytes.get(target.hex)!.toString('utf8');
    const json = JSON.parse(raw) as Record<string, unknown>;
    if (target.children.length === 0) {
      const descriptor = json.config as { digest: string; size: number; mediaType: string };
      const config = parseImageConfig(JSON.parse(bytes.get(descriptor.digest.slice(7))!.toString('utf8')), descriptor);
      const image = describeImage(`sha256:${target.hex}`, target.mediaType, raw, json, config);
      images.set(target.hex, image);
      manifests.push(image);
    } else {
      manifests.push(describeIndex(`sha256:${target.hex}`, target.mediaType, raw, json, target.children.map((hex) => images.get(hex)!)));
    }
  }
  return { manifests, digests: targets.map((target) => `sha256:${target.hex}`) };
}

const EXTRA_IMAGES = 2_000;
const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/**
 * Images of their own, so that deleting frees space: image k is tagged `extra-k` in one repository, has a layer of
 * its own and one it shares with image k ^ 1 (freed once when both go, kept when either stays).
 */
async function addExtraImages(db: Kysely<Database>, store: PostgresCatalogStore): Promise<void> {
  const rows: Array<{ repository: string; tag: string; digest: string; created: Date }> = [];
  for (let k = 0; k < EXTRA_IMAGES; k += 1) {
    const created = new Date(Date.UTC(2025, 5, 1, k % 24, k));
    const config = { digest: sha256(`extra config ${k}`), size: 500 + k, mediaType: 'application/vnd.oci.image.config.v1+json' };
    const layers = [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(`extra layer ${k}`), size: 1_000_000 + k },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(`extra shared layer ${k >> 1}`), size: 10_000 + (k >> 1) },
    ];
    const json = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers };
    const raw = JSON.stringify(json);
    const image = describeImage(sha256(raw), json.mediaType, raw, json, parseImageConfig({ created: created.toISOString(), os: 'linux', architecture: 'amd64' }, config));
    await store.putDetails(image);
    rows.push({ repository: repositoryName((k * 48_271) % REPOSITORIES), tag: `extra-${k}`, digest: image.digest, created });
  }
  await db.insertInto('registry_tags').values(rows).execute();
}

/**
 * Pulls and checks on chosen days, from a hash of repository and tag: 30% of the tags pulled within the last 90
 * days, 20% checked within the last 45, and one pull by digest in every 20th repository (often of a digest no tag
 * there points to: an untagged digest, or a platform of a tagged index).
 */
async function generateUse(db: Kysely<Database>, digests: string[]): Promise<void> {
  const today = sql`(now() at time zone 'utc')::date`;
  await sql`
    insert into container_pull_metrics (pull_date, repo_name, tag, digest, architecture, pull_count)
    select ${today} - (h % 90), repository, tag, digest, 'amd64', 1 + h % 5
    from (select repository, tag, digest, abs(hashtext(repository || ':' || tag)) as h from registry_tags) t
    where h % 10 < 3`.execute(db);
  await sql`
    insert into container_pull_checks (pull_date, repo_name, tag, digest, architecture, check_count)
    select ${today} - (h % 45), repository, tag, digest, 'amd64', 1
    from (select repository, tag, digest, abs(hashtext(repository || ':' || tag)) as h from registry_tags) t
    where h % 10 in (3, 4)`.execute(db);
  await sql`
    insert into container_pull_metrics (pull_date, repo_name, tag, digest, architecture, pull_count)
    select ${today} - (h % 60), name, '', (${digests}::text[])[1 + h % ${digests.length}], 'arm64', 1
    from (select name, abs(hashtext(name)) as h from registry_repositories) r
    where h % 20 = 0
    on conflict do nothing`.execute(db);
  await sql`vacuum analyze container_pull_metrics, container_pull_checks`.execute(db);
}

/** Where the plan and the baseline disagree, as up to 10 lines. */
function compare(plan: CleanupPlan, baseline: BaselineDeletion[]): string[] {
  const line = (d: { repository: string; digest: string; rule: string; tags: string[]; lastPulled: string | null; lastChecked: string | null; freesBytes: number }) =>
    [d.repository, d.digest, d.rule, d.tags.join(','), d.lastPulled ?? '-', d.lastChecked ?? '-', Number(d.freesBytes)].join(' ');
  const ours = new Set(plan.deletions.map(line));
  const theirs = new Set(baseline.map(line));
  const differences: string[] = [];
  for (const entry of ours) if (!theirs.has(entry) && differences.length < 10) differences.push(`plan only:     ${entry}`);
  for (const entry of theirs) if (!ours.has(entry) && differences.length < 10) differences.push(`baseline only: ${entry}`);
  return differences;
}

export interface CleanupBenchOptions {
  /** Leave the database (its URL is logged) instead of dropping it. */
  keep?: boolean;
  /** A database an earlier --keep run filled: plan over it without filling. */
  databaseUrl?: string;
}

async function countRows(db: Kysely<Database>): Promise<{ pullRows: number; checkRows: number }> {
  const count = async (table: 'container_pull_metrics' | 'container_pull_checks') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { pullRows: await count('container_pull_metrics'), checkRows: await count('container_pull_checks') };
}

export async function runCleanupBench(options: CleanupBenchOptions = {}, log: (line: string) => void = console.log): Promise<CleanupBenchResult> {
  const database = options.databaseUrl
    ? { url: options.databaseUrl, db: createDb({ url: options.databaseUrl, applicationName: 'staticreg-bench-cleanup' }), drop: async () => {} }
    : await createTestDatabase();
  try {
    let t = performance.now();
    const { manifests, digests } = benchManifests();
    if (!options.databaseUrl) {
      const names = Array.from({ length: REPOSITORIES }, (_, i) => repositoryName(i));
      const store = await fillPostgresCatalog(database.db, names, manifests, digests);
      await addExtraImages(database.db, store);
      const children = manifests.flatMap((details) => (details.kind === 'index' ? details.children.map((child) => child.digest) : []));
      await generateUse(database.db, [...digests, ...children]);
    }
    const use = await countRows(database.db);
    const fillSeconds = (performance.now() - t) / 1000;
    log(
      `catalog: ${thousands(REPOSITORIES)} repositories, ${thousands(TAGS + EXTRA_IMAGES)} tags, ${manifests.length + EXTRA_IMAGES} manifests; use: ${thousands(use.pullRows)} pull rows, ` +
        `${thousands(use.checkRows)} check rows (${options.databaseUrl ? 'reused' : `${fixed(fillSeconds)} s to fill, as the browse bench's store plus generated counts`})`,
    );

    const policy = parsePolicy(BENCH_POLICY, 'bench/cleanup/run.ts');
    // The test database's pool stops statements at 30 s; the baseline query may need longer.
    const db = createDb({ url: database.url, applicationName: 'staticreg-bench-cleanup', maxConnections: 2, statementTimeoutMs: 1_800_000 });
    const now = new Date();
    const before = heapMiB();
    let peak = process.memoryUsage().heapUsed;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 10);
    t = performance.now();
    const plan = await planCleanup(db, policy, { now });
    const planSeconds = (performance.now() - t) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    const held = heapMiB() - before;
    log(
      `planCleanup: ${fixed(planSeconds)} s; heap +${fixed(peak / 2 ** 20 - before, 0)} MiB at its peak over the ${fixed(before, 0)} MiB before ` +
        `(sampled every 10 ms, garbage not yet collected included), +${fixed(held, 0)} MiB live after (the plan); ` +
        `process peak RSS ${fixed(process.resourceUsage().maxRSS / 1024, 0)} MiB; ${thousands(plan.deletions.length)} deletions, ${thousands(plan.kept)} kept, ` +
        `frees ${thousands(plan.freesBytes)} bytes`,
    );

    t = performance.now();
    const baseline = await baselinePlan(db, policy, utcDayOf(now));
    await db.destroy();
    const baselineSeconds = (performance.now() - t) / 1000;
    log(`baseline, one SQL query: ${fixed(baselineSeconds)} s, ${thousands(baseline.length)} deletions`);
    const differences = compare(plan, baseline);
    log(differences.length === 0 ? 'the two plans are equal (repository, digest, rule, tags, last pulled, last checked, bytes freed)' : `the plans DIFFER:\n${differences.join('\n')}`);
    return {
      repositories: REPOSITORIES,
      tags: TAGS + EXTRA_IMAGES,
      manifests: manifests.length + EXTRA_IMAGES,
      ...use,
      fillSeconds,
      plan: { seconds: planSeconds, peakHeapMiB: peak / 2 ** 20 - before, heldHeapMiB: held, deletions: plan.deletions.length, kept: plan.kept, freesBytes: plan.freesBytes },
      baseline: { seconds: baselineSeconds, deletions: baseline.length },
      equal: differences.length === 0,
      differences,
    };
  } finally {
    if (options.keep || options.databaseUrl) {
      log(`database kept: --database=${database.url}`);
      await database.db.destroy();
    } else await database.drop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const databaseUrl = args.find((arg) => arg.startsWith('--database='))?.slice('--database='.length);
  runCleanupBench({ keep: args.includes('--keep'), ...(databaseUrl ? { databaseUrl } : {}) }).then(
    (result) => process.exit(result.equal ? 0 : 1),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
