// The dashboard at 10,000,000 rows: the plain SQL queries on the plain table, then every panel's query after the
// rollups and indexes of migrations/0005, on the same data in the same run. Prints p50/p95 and the plans.
import { mkdtempSync, readdirSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { firstDayOfLast } from '@staticreg/events';
import { MIGRATIONS_DIR, METRICS_SESSION_OPTIONS, migrateToLatest, suggestRepositories, suggestTags, type Database, type MetricsFilter } from '@staticreg/db';
import { PANELS, SUGGEST_LIMIT } from '../../apps/browse/src/dashboard/api.js';
import { DEFAULT_LIMIT, type ParsedMetricsQuery } from '../../apps/browse/src/dashboard/params.js';
import { generateMetrics, type Generated } from './generate.js';

export const METRICS_ROWS = 10_000_000;
export const CHECK_ROWS = 2_000_000;
const DAYS = 90;
const REPOSITORIES = 5000;
/** Timed runs of each variant, after one untimed run. */
const RUNS = 7;
export const TARGET_P95_MS = 200;

/** Repositories by popularity rank in the generated data (see generate.ts). */
const HOT = 'team-1/image-1';
const MID = 'team-50/image-50';
const TAIL = 'team-46/image-3000';

export interface Timing {
  name: string;
  variants: number;
  runs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** The variant whose runs were slowest. */
  slowest: string;
}

export interface MetricsBenchResult {
  generated: Generated;
  lastDay: string;
  migrateSeconds: number;
  rollupRows: Record<string, number>;
  plainQueries: Timing[];
  panels: Timing[];
  plans: Array<{ name: string; plan: string }>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function time(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

async function measure(name: string, variants: Array<[string, () => Promise<unknown>]>): Promise<Timing> {
  const all: number[] = [];
  let slowest = '';
  let slowestMs = -1;
  for (const [label, run] of variants) {
    await run();
    for (let i = 0; i < RUNS; i += 1) {
      const ms = await time(run);
      all.push(ms);
      if (ms > slowestMs) {
        slowestMs = ms;
        slowest = label;
      }
    }
  }
  all.sort((a, b) => a - b);
  return { name, variants: variants.length, runs: all.length, p50Ms: percentile(all, 50), p95Ms: percentile(all, 95), maxMs: all.at(-1)!, slowest };
}

/**
 * The six plain SQL queries a reader of container_pull_metrics would write for the dashboard's questions, as the
 * original integration guide gives them, word for word (CURRENT_DATE is today, the last generated day).
 */
const PLAIN_QUERIES: Array<[string, string]> = [
  ['plain SQL: pulls per day, 30 days', `SELECT pull_date, SUM(pull_count) as daily_pulls FROM container_pull_metrics WHERE pull_date >= CURRENT_DATE - INTERVAL '30 days' GROUP BY pull_date ORDER BY pull_date DESC`],
  ['plain SQL: top 10 images, 7 days', `SELECT repo_name, tag, SUM(pull_count) as total_pulls FROM container_pull_metrics WHERE pull_date >= CURRENT_DATE - INTERVAL '7 days' GROUP BY repo_name, tag ORDER BY total_pulls DESC LIMIT 10`],
  ['plain SQL: pulls by architecture, 30 days', `SELECT architecture, SUM(pull_count) as total_pulls, COUNT(DISTINCT repo_name) as unique_images FROM container_pull_metrics WHERE pull_date >= CURRENT_DATE - INTERVAL '30 days' GROUP BY architecture ORDER BY total_pulls DESC`],
  ['plain SQL: one image by tag and architecture, 7 days', `SELECT tag, architecture, SUM(pull_count) as pulls FROM container_pull_metrics WHERE repo_name = '${HOT}' AND pull_date >= CURRENT_DATE - INTERVAL '7 days' GROUP BY tag, architecture ORDER BY tag, pulls DESC`],
  ['plain SQL: daily trend by architecture, 14 days', `SELECT pull_date, architecture, SUM(pull_count) as pulls FROM container_pull_metrics WHERE pull_date >= CURRENT_DATE - INTERVAL '14 days' GROUP BY pull_date, architecture ORDER BY pull_date DESC, architecture`],
  ['plain SQL: digests of a tag, 30 days', `SELECT repo_name, tag, digest, SUM(pull_count) as total_pulls, MAX(updated_at) as last_pulled FROM container_pull_metrics WHERE repo_name = '${HOT}' AND tag = 'latest' AND pull_date >= CURRENT_DATE - INTERVAL '30 days' GROUP BY repo_name, tag, digest ORDER BY last_pulled DESC`],
];

/** Migrations up to (not including) 0005: container_pull_metrics as first specified, without rollups. */
function plainMigrationsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'staticreg-plain-migrations-'));
  for (const file of readdirSync(MIGRATIONS_DIR)) if (file.endsWith('.sql') && file < '0005') copyFileSync(join(MIGRATIONS_DIR, file), join(dir, file));
  return dir;
}

async function explain(db: Kysely<Database>, text: string): Promise<string> {
  const result = await sql.raw<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) ${text}`).execute(db);
  return result.rows.map((row) => row['QUERY PLAN']).join('\n');
}

/**
 * The plan of every query a panel function sends, through auto_explain on a connection of its own: the real
 * function runs, and Postgres hands back each plan as a NOTICE (ANALYZE and BUFFERS included).
 */
async function explainPanel(url: string, run: (db: Kysely<Database>) => Promise<unknown>): Promise<string> {
  const pool = new pg.Pool({ connectionString: url, max: 1, options: METRICS_SESSION_OPTIONS });
  const notices: string[] = [];
  pool.on('connect', (client) => client.on('notice', (notice) => notices.push(notice.message ?? '')));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`LOAD 'auto_explain'`.execute(db);
    for (const setting of ['auto_explain.log_min_duration = 0', 'auto_explain.log_analyze = on', 'auto_explain.log_buffers = on', 'auto_explain.log_timing = off', 'auto_explain.log_level = notice', 'client_min_messages = notice']) {
      await sql.raw(`SET ${setting}`).execute(db);
    }
    await run(db);
  } finally {
    await db.destroy();
  }
  return notices.filter((notice) => notice.startsWith('duration:')).join('\n---\n');
}

export async function runMetricsBench(
  database: { db: Kysely<Database>; panelDb: Kysely<Database>; url: string },
  log: (line: string) => void,
): Promise<MetricsBenchResult> {
  const { db, url } = database;
  const lastDay = (await sql<{ d: string }>`select to_char(current_date, 'YYYY-MM-DD') as d`.execute(db)).rows[0]!.d;
  const plainDir = plainMigrationsDir();
  try {
    await migrateToLatest(db, plainDir);
  } finally {
    rmSync(plainDir, { recursive: true, force: true });
  }
  log(`generating ${METRICS_ROWS.toLocaleString('en-US')} rows of container_pull_metrics and ${CHECK_ROWS.toLocaleString('en-US')} of container_pull_checks, ${DAYS} days to ${lastDay} (SQL, a few minutes)`);
  const generated = await generateMetrics(db, { pullRows: METRICS_ROWS, checkRows: CHECK_ROWS, days: DAYS, repositories: REPOSITORIES, lastDay }, (line) => log(`  .. ${line}`));

  log('the plain SQL queries on the plain table (indexes of migration 0001 only)');
  const plainQueries: Timing[] = [];
  const plans: Array<{ name: string; plan: string }> = [];
  for (const [name, text] of PLAIN_QUERIES) {
    plainQueries.push(await measure(name, [[name, () => sql.raw(text).execute(db)]]));
    log(`  .. ${name}: p95 ${plainQueries.at(-1)!.p95Ms.toFixed(0)} ms`);
  }
  plans.push({ name: PLAIN_QUERIES[1]![0], plan: await explain(db, PLAIN_QUERIES[1]![1]) });

  log('applying migrations/0005 (rollups built from the 10M rows, indexes)');
  const migrateStarted = Date.now();
  await migrateToLatest(db);
  const migrateSeconds = (Date.now() - migrateStarted) / 1000;
  await sql`vacuum analyze`.execute(db);
  const rollupRows: Record<string, number> = {};
  for (const table of ['metrics_daily_repo', 'metrics_weekly_repo', 'metrics_daily_arch', 'metrics_weekly_tag'] as const) {
    rollupRows[table] = Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0]!.n);
  }

  const range = (days: number): MetricsFilter => ({ from: firstDayOfLast(days, lastDay), to: lastDay });
  const filters: Array<[string, (days: number) => MetricsFilter]> = [
    ['no filter', (d) => range(d)],
    ['architecture=arm64', (d) => ({ ...range(d), architecture: 'arm64' })],
    [`repository=${HOT}`, (d) => ({ ...range(d), repository: HOT })],
    [`repository=${MID}`, (d) => ({ ...range(d), repository: MID })],
    [`repository=${TAIL}`, (d) => ({ ...range(d), repository: TAIL })],
    [`${HOT}:latest`, (d) => ({ ...range(d), repository: HOT, tag: 'latest' })],
  ];
  const every = (run: (filter: MetricsFilter) => Promise<unknown>, only?: (label: string) => boolean): Array<[string, () => Promise<unknown>]> =>
    [7, 30, 90].flatMap((days) =>
      filters.filter(([label]) => !only || only(label)).map(([label, make]): [string, () => Promise<unknown>] => [`${days} days, ${label}`, () => run(make(days))]),
    );
  const withRepository = (label: string) => label.startsWith('repository=') || label.includes(':');
  const withTag = (label: string) => label.includes(':');
  const { panelDb } = database;
  type PanelRun = [string, Array<[string, () => Promise<unknown>]>, (db: Kysely<Database>) => Promise<unknown>];
  // The API's own panel list: each panel's query, with the parameters it requires and its default limit.
  const panelRuns: PanelRun[] = [
    ...PANELS.map((panel): PanelRun => {
      const needs = panel.require ?? [];
      const query = (filter: MetricsFilter): ParsedMetricsQuery => ({ filter, days: undefined, limit: panel.defaultLimit ?? DEFAULT_LIMIT, format: 'json' });
      const only = needs.includes('tag') ? withTag : needs.includes('repository') ? withRepository : undefined;
      const planned: MetricsFilter = { ...range(90), ...(needs.includes('repository') ? { repository: HOT } : {}), ...(needs.includes('tag') ? { tag: 'latest' } : {}) };
      return [panel.name, every((f) => panel.run(panelDb, query(f)), only), (d) => panel.run(d, query(planned))];
    }),
    [
      'suggest/repositories',
      ['', 't', 'team-1', 'team-13/image-1', 'zzz'].map((q): [string, () => Promise<unknown>] => [`q=${q}`, () => suggestRepositories(panelDb, q, SUGGEST_LIMIT)]),
      (d) => suggestRepositories(d, 'team-1', SUGGEST_LIMIT),
    ],
    ['suggest/tags', ['', '1.1', 'latest'].map((q): [string, () => Promise<unknown>] => [`${HOT} q=${q}`, () => suggestTags(panelDb, HOT, q, SUGGEST_LIMIT)]), (d) => suggestTags(d, HOT, '1.1', SUGGEST_LIMIT)],
  ];
  log(`every panel's query: ${RUNS} timed runs of each variant (7, 30 and 90 days; no filter, an architecture, a hot, a middling and a tail repository, a hot tag)`);
  const panels: Timing[] = [];
  for (const [name, variants, planned] of panelRuns) {
    panels.push(await measure(name, variants));
    const timing = panels.at(-1)!;
    log(`  .. ${name}: p50 ${timing.p50Ms.toFixed(1)} ms, p95 ${timing.p95Ms.toFixed(1)} ms (slowest: ${timing.slowest})`);
    plans.push({ name: `${name} (90 days)`, plan: await explainPanel(url, planned) });
  }
  return { generated, lastDay, migrateSeconds, rollupRows, plainQueries, panels, plans };
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const ms = (value: number) => value.toFixed(value < 10 ? 1 : 0);

/** The figures as text: what was generated, the plain SQL queries, every panel against the target. */
export function formatMetricsReport(result: MetricsBenchResult): string {
  const g = result.generated;
  const out = [
    `data: ${g.pullRows.toLocaleString('en-US')} rows in container_pull_metrics (${g.pulls.toLocaleString('en-US')} pulls, ${g.repositories.toLocaleString('en-US')} repositories, ` +
      `${g.tags.toLocaleString('en-US')} tags), ${g.checkRows.toLocaleString('en-US')} rows in container_pull_checks, 90 days to ${result.lastDay}; generated in ${g.seconds.toFixed(0)} s`,
    `migration 0005 on that data (indexes, rollups built): ${result.migrateSeconds.toFixed(0)} s; rollup rows: ` +
      Object.entries(result.rollupRows).map(([name, rows]) => `${name} ${rows.toLocaleString('en-US')}`).join(', '),
    '',
    'the plain SQL queries, word for word, on the plain table (one variant each)',
    table(['query', 'runs', 'p50 ms', 'p95 ms'], result.plainQueries.map((t) => [t.name, String(t.runs), ms(t.p50Ms), ms(t.p95Ms)])),
    '',
    `every panel's query after migration 0005 (all its variants together; target p95 < ${TARGET_P95_MS} ms)`,
    table(
      ['panel', 'variants', 'runs', 'p50 ms', 'p95 ms', 'max ms', 'target', 'slowest variant'],
      result.panels.map((t) => [t.name, String(t.variants), String(t.runs), ms(t.p50Ms), ms(t.p95Ms), ms(t.maxMs), t.p95Ms < TARGET_P95_MS ? 'met' : 'NOT met', t.slowest]),
    ),
  ];
  return out.join('\n');
}
