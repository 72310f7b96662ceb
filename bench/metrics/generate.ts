// Fills container_pull_metrics (10,000,000 rows by default) and container_pull_checks with 90 days of skewed,
// realistic-looking counts, in SQL (generate_series), in a couple of minutes.
import { sql, type Kysely } from 'kysely';
import type { Database } from '@staticreg/db';

export interface GenerateOptions {
  pullRows: number;
  checkRows: number;
  days: number;
  repositories: number;
  /** The last day generated (UTC), so "last N days" queries see the data. */
  lastDay: string;
}

export interface Generated {
  pullRows: number;
  checkRows: number;
  pulls: number;
  repositories: number;
  tags: number;
  seconds: number;
}

export const ARCHITECTURES = ['amd64', 'arm64', 'arm/v7', 'ppc64le', 's390x', 'not-specified'];

/**
 * The shape: repository r (1..R) has popularity 1/r^0.9 (Zipf-like) and 1 + 1500/r^0.6 tags (the top one 1,500,
 * the tail a dozen); the top 50 are pulled on 6 architectures, the next 350 on 4, the next 1,600 on 2, the rest on
 * 1. A (repository, tag, architecture) has weight popularity / tag^0.7 / arch^1.2 and is pulled on a day with
 * probability min(1, k * weight), k solved so the expected row count is the target; its count is exponential
 * with a mean that grows with the weight. Tag 1 is `latest`, which moves to a new digest every 21 days (staggered
 * per repository), and whose old digest is still pulled for 2 days after a move.
 */
async function prepareCombos(db: Kysely<Database>, repositories: number): Promise<void> {
  await sql`drop table if exists bench_combos`.execute(db);
  await sql`
    create unlogged table bench_combos as
    select r, t, a, (1.0 / power(r, 0.9)) / power(t, 0.7) / power(a, 1.2) as weight
    from (select r, 1 + floor(1500 / power(r, 0.6))::int as tags,
                 case when r <= 50 then 6 when r <= 400 then 4 when r <= 2000 then 2 else 1 end as archs
          from generate_series(1, ${repositories}::int) r) repos,
         generate_series(1, tags) t, generate_series(1, archs) a`.execute(db);
}

/** k such that days * sum(min(1, k * weight)) is the target row count (bisection on the expectation). */
async function solveK(db: Kysely<Database>, rowsPerDay: number): Promise<number> {
  let low = 0;
  let high = 1;
  const expected = async (k: number) =>
    (await sql<{ n: number }>`select sum(least(1.0, ${k}::float8 * weight))::float8 as n from bench_combos`.execute(db)).rows[0]!.n;
  while ((await expected(high)) < rowsPerDay) high *= 2;
  for (let i = 0; i < 30; i += 1) {
    const mid = (low + high) / 2;
    if ((await expected(mid)) < rowsPerDay) low = mid;
    else high = mid;
  }
  return high;
}

async function fill(db: Kysely<Database>, table: 'container_pull_metrics' | 'container_pull_checks', rows: number, options: GenerateOptions, seed: number): Promise<void> {
  const column = table === 'container_pull_metrics' ? 'pull_count' : 'check_count';
  const k = await solveK(db, rows / options.days);
  await sql`select setseed(${seed}::float8)`.execute(db);
  await sql`
    insert into ${sql.table(table)} (pull_date, repo_name, tag, digest, architecture, ${sql.ref(column)}, updated_at)
    select day, 'team-' || (r % 211) || '/image-' || r,
      case when t = 1 then 'latest' else '1.' || t end,
      'sha256:' || md5(r || '/' || t || '/' || version) || md5(version || '/' || t || '/' || r),
      (${ARCHITECTURES}::text[])[a],
      count, day + (random() * interval '24 hours')
    from (
      select (${options.lastDay}::date - d) as day, c.r, c.t, c.a,
        case when c.t = 1 then (${options.days}::int - d + c.r) / 21 else 0 end as version,
        1 + floor(-ln(1 - random()) * greatest(1.0, ${k}::float8 * c.weight * 4))::int as count
      from generate_series(0, ${options.days - 1}::int) d, bench_combos c
      where random() < least(1.0, ${k}::float8 * c.weight)
      union all
      -- the digest latest pointed at before its last move, still pulled by a few clients for two days
      select (${options.lastDay}::date - d), c.r, c.t, c.a, (${options.days}::int - d + c.r) / 21 - 1, 1 + floor(random() * 3)::int
      from generate_series(0, ${options.days - 1}::int) d, bench_combos c
      where c.t = 1 and (${options.days}::int - d + c.r) % 21 in (0, 1) and (${options.days}::int - d + c.r) >= 21
        and random() < least(1.0, ${k}::float8 * c.weight)
    ) g`.execute(db);
}

/** The secondary indexes of migrations 0001 and 0003: dropped for the load, built again after (as they were). */
const INDEXES: Array<[string, string]> = [
  ['idx_container_pull_metrics_pull_date', 'container_pull_metrics (pull_date)'],
  ['idx_container_pull_metrics_repo_date', 'container_pull_metrics (repo_name, pull_date)'],
  ['idx_container_pull_metrics_repo_arch_date', 'container_pull_metrics (repo_name, architecture, pull_date)'],
  ['idx_container_pull_checks_pull_date', 'container_pull_checks (pull_date)'],
  ['idx_container_pull_checks_repo_date', 'container_pull_checks (repo_name, pull_date)'],
];
const UNIQUE_KEYS: Array<[string, string]> = [
  ['container_pull_metrics', 'container_pull_metrics_unique_key'],
  ['container_pull_checks', 'container_pull_checks_unique_key'],
];

/** Generates into empty count tables; indexes and constraints are dropped during the load and built again after. */
export async function generateMetrics(db: Kysely<Database>, options: GenerateOptions, log: (line: string) => void): Promise<Generated> {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  for (const [name] of INDEXES) await sql`drop index if exists ${sql.ref(name)}`.execute(db);
  for (const [table, constraint] of UNIQUE_KEYS) await sql`alter table ${sql.table(table)} drop constraint if exists ${sql.ref(constraint)}`.execute(db);
  await prepareCombos(db, options.repositories);
  log(`combos ready (${elapsed()})`);
  await fill(db, 'container_pull_metrics', options.pullRows, options, 0.42);
  log(`container_pull_metrics filled (${elapsed()})`);
  await fill(db, 'container_pull_checks', options.checkRows, options, 0.24);
  log(`container_pull_checks filled (${elapsed()})`);
  for (const [table, constraint] of UNIQUE_KEYS) {
    await sql`alter table ${sql.table(table)} add constraint ${sql.ref(constraint)} unique (pull_date, repo_name, tag, digest, architecture)`.execute(db);
  }
  for (const [name, on] of INDEXES) await sql.raw(`create index ${name} on ${on}`).execute(db);
  log(`indexes and unique keys built again (${elapsed()})`);
  await sql`drop table bench_combos`.execute(db);
  await sql`vacuum analyze container_pull_metrics`.execute(db);
  await sql`vacuum analyze container_pull_checks`.execute(db);
  const stats = (
    await sql<{ rows: number; pulls: number; repositories: number; tags: number }>`
      select count(*)::bigint as rows, sum(pull_count)::bigint as pulls, count(distinct repo_name)::bigint as repositories,
        count(distinct (repo_name, tag))::bigint as tags from container_pull_metrics`.execute(db)
  ).rows[0]!;
  const checkRows = (await sql<{ n: number }>`select count(*)::bigint as n from container_pull_checks`.execute(db)).rows[0]!.n;
  return { pullRows: stats.rows, checkRows, pulls: stats.pulls, repositories: stats.repositories, tags: stats.tags, seconds: (Date.now() - started) / 1000 };
}
