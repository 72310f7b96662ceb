// The rollup triggers on the worker's write path: 0005's (temp tables), 0007's and none, same batches, one run.
//
//   node --import tsx --conditions=staticreg-source bench/rollups/run.ts [--events=40000] [--concurrent-events=20000]
//
// Each variant gets a fresh database (test/support/services.ts, migrated to the latest schema, then set up as the
// variant says), and every variant stores the same batches of 500 generated events through the worker's own
// functions (countPerEvent for the events policy, countPerSession for sessions), batch by batch in turns, so that
// they meet the machine in the same stretches of time. A second part runs two writers at once, as two workers do.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { addDays, isoWeekday, utcDayOf, type PullEvent, type KindedCountChange } from '@staticreg/events';
import { MIGRATIONS_DIR, isConflict, type Database } from '@staticreg/db';
import { countPerEvent, countPerSession } from '@staticreg/ingest';
import { createTestDatabase, type TestDatabase } from '../../test/support/services.js';
import { generatePullEvents } from '../events.js';
import { fixed, formatTable, machineCpu, percentile, thousands } from '../support.js';

const BATCH_SIZE = 500;
const WINDOW_MS = 10_000;
/** Batches each variant stores before its times count: first plans, first pages. */
const WARM_UP_BATCHES = 3;
/** The two-writer part runs the variants in turns of this many batches each. */
const CONCURRENT_TURN_BATCHES = 10;

const MIGRATION_0005 = readFileSync(join(MIGRATIONS_DIR, '0005_metrics_rollups.sql'), 'utf8');
const MIGRATION_0007 = readFileSync(join(MIGRATIONS_DIR, '0007_metrics_rollups_fast.sql'), 'utf8');
const ROLLUP_LOCK = "    PERFORM pg_advisory_xact_lock(hashtextextended('staticreg.metrics_rollups', 0));\n";

interface Variant {
  label: string;
  /** Turns the freshly migrated database (0007) into this variant, and says what its trigger function is now. */
  prepare(db: Kysely<Database>): Promise<void>;
}

const OLD_TRIGGERS: Variant = {
  label: '(a) 0005 triggers (temp table + lock)',
  // 0005 again, as a database at 0005 has it: its functions over 0007's, triggers recreated, rollups rebuilt (empty).
  prepare: async (db) => void (await sql.raw(MIGRATION_0005).execute(db)),
};
const NEW_TRIGGERS: Variant = { label: '(b) 0007 triggers (transition tables + lock)', prepare: async () => undefined };
const NO_TRIGGERS: Variant = {
  label: '(c) no rollup triggers',
  prepare: async (db) => {
    for (const [table, kind] of [['container_pull_metrics', 'pulls'], ['container_pull_checks', 'checks']] as const) {
      for (const op of ['insert', 'update', 'delete']) await sql.raw(`DROP TRIGGER metrics_rollup_${kind}_${op} ON ${table}`).execute(db);
    }
  },
};
const NEW_TRIGGERS_NO_LOCK: Variant = {
  label: "(b') 0007 triggers without the lock",
  prepare: async (db) => {
    if (!MIGRATION_0007.includes(ROLLUP_LOCK)) throw new Error('the lock line of 0007 changed: update ROLLUP_LOCK');
    await sql.raw(MIGRATION_0007.replace(ROLLUP_LOCK, '')).execute(db);
  },
};

/** What the triggers are, read back from the database, so a variant that did not take shows in the output. */
async function triggerState(db: Kysely<Database>): Promise<string> {
  const triggers = await sql<{ n: number }>`
    select count(*)::int as n from pg_trigger where tgname like 'metrics_rollup_%' and not tgisinternal`.execute(db);
  const source = await sql<{ src: string }>`select prosrc as src from pg_proc where proname = 'metrics_rollup_pulls_trigger'`.execute(db);
  const apply = await sql<{ src: string }>`select prosrc as src from pg_proc where proname = 'metrics_rollup_apply'`.execute(db);
  if (triggers.rows[0]!.n === 0) return 'no triggers';
  const body = source.rows[0]?.src ?? '';
  const kind = body.includes('TEMP TABLE') ? 'temp table' : body.includes('metrics_rollup_apply') ? 'transition tables' : '?';
  const lock = kind === 'temp table' || (apply.rows[0]?.src ?? '').includes('pg_advisory_xact_lock') ? 'lock' : 'no lock';
  return `${triggers.rows[0]!.n} triggers, ${kind}, ${lock}`;
}

/** Rollup rows that differ from the count tables (0 when exact); only for variants with triggers. */
async function rollupDifferences(db: Kysely<Database>): Promise<number> {
  const result = await sql<{ n: number }>`
    with c as (
      select pull_date, repo_name, tag, architecture, pull_count::bigint as pulls, 0::bigint as checks from container_pull_metrics
      union all select pull_date, repo_name, tag, architecture, 0, check_count from container_pull_checks
    ), daily_repo as (select pull_date, repo_name, architecture, sum(pulls) as pulls, sum(checks) as checks from c group by 1, 2, 3),
    weekly_repo as (select date_trunc('week', pull_date)::date as week, repo_name, architecture, sum(pulls) as pulls, sum(checks) as checks from c group by 1, 2, 3),
    weekly_tag as (select date_trunc('week', pull_date)::date as week, repo_name, tag, sum(pulls) as pulls from c group by 1, 2, 3 having sum(pulls) <> 0),
    daily_arch as (select pull_date, architecture, sum(pulls) as pulls, sum(checks) as checks from c group by 1, 2)
    select (select count(*) from ((table daily_repo except select * from metrics_daily_repo) union all (select * from metrics_daily_repo except table daily_repo)) d)
         + (select count(*) from ((table weekly_repo except select * from metrics_weekly_repo) union all (select * from metrics_weekly_repo except table weekly_repo)) d)
         + (select count(*) from ((table weekly_tag except select * from metrics_weekly_tag) union all (select * from metrics_weekly_tag except table weekly_tag)) d)
         + (select count(*) from ((table daily_arch except select * from metrics_daily_arch) union all (select * from metrics_daily_arch except table daily_arch)) d)
      as n`.execute(db);
  return Number(result.rows[0]!.n);
}

/** What the count tables hold, to check that every variant stored the same thing. */
async function countTotals(db: Kysely<Database>): Promise<string> {
  const result = await sql<{ pulls: number; checks: number; pull_rows: number; check_rows: number }>`
    select (select coalesce(sum(pull_count), 0)::int from container_pull_metrics) as pulls,
           (select coalesce(sum(check_count), 0)::int from container_pull_checks) as checks,
           (select count(*)::int from container_pull_metrics) as pull_rows,
           (select count(*)::int from container_pull_checks) as check_rows`.execute(db);
  const row = result.rows[0]!;
  return `${row.pulls} pulls in ${row.pull_rows} rows, ${row.checks} checks in ${row.check_rows} rows`;
}

/**
 * The generated pulls (bench/events.ts), with HEAD requests mixed in as clients send them: every 5th pull is
 * preceded 2 s earlier by a HEAD of its tag from the same client, delivered about one batch earlier (so the session
 * policy first counts a check, then takes it back when the GET arrives: negative deltas and deletes), and every
 * 20th event is a HEAD alone (a check that stays).
 */
function deliveredEvents(count: number): PullEvent[] {
  const { events } = generatePullEvents({ count });
  const slotted: Array<{ slot: number; event: PullEvent }> = [];
  const head = (event: PullEvent, earlierMs: number): PullEvent => {
    const time = Date.parse(event.timestamp) - earlierMs;
    return { ...event, id: randomUUID(), method: 'HEAD', timestamp: new Date(time).toISOString(), pullDate: utcDayOf(time) };
  };
  events.forEach((event, index) => {
    if (index % 20 === 1) {
      slotted.push({ slot: index, event: head(event, 0) });
      return;
    }
    if (index % 5 === 0) slotted.push({ slot: Math.max(0, index - BATCH_SIZE), event: head(event, 2000) });
    slotted.push({ slot: index, event });
  });
  slotted.sort((a, b) => a.slot - b.slot);
  return slotted.map((entry) => entry.event);
}

function batchesOf(events: readonly PullEvent[]): PullEvent[][] {
  const batches: PullEvent[][] = [];
  for (let start = 0; start < events.length; start += BATCH_SIZE) batches.push(events.slice(start, start + BATCH_SIZE));
  return batches;
}

/** Monday of the ISO week of a YYYY-MM-DD day, as date_trunc('week', ...) gives it. */
function weekOf(day: string): string {
  return addDays(day, 1 - isoWeekday(day));
}

/** Rollup rows a batch's count changes fall into, over the four rollup tables: what the triggers upsert. */
function rollupKeys(changes: readonly KindedCountChange[]): number {
  const keys = new Set<string>();
  for (const c of changes) {
    keys.add(`daily_repo ${c.pullDate} ${c.repository} ${c.architecture}`);
    keys.add(`weekly_repo ${weekOf(c.pullDate)} ${c.repository} ${c.architecture}`);
    keys.add(`daily_arch ${c.pullDate} ${c.architecture}`);
    if (c.kind === 'pull') keys.add(`weekly_tag ${weekOf(c.pullDate)} ${c.repository} ${c.tag}`);
  }
  return keys.size;
}

type Policy = 'events' | 'sessions';
const store = (policy: Policy, db: Kysely<Database>, batch: readonly PullEvent[]) =>
  policy === 'events' ? countPerEvent(db, batch) : countPerSession(db, batch, WINDOW_MS);

interface Prepared {
  variant: Variant;
  database: TestDatabase;
  state: string;
}

async function prepare(variants: Variant[], opened: TestDatabase[]): Promise<Prepared[]> {
  const prepared: Prepared[] = [];
  for (const variant of variants) {
    const database = await createTestDatabase();
    opened.push(database);
    await variant.prepare(database.db);
    prepared.push({ variant, database, state: await triggerState(database.db) });
  }
  return prepared;
}

/** Machine load now: the load averages as `uptime` prints them, and the share of both cores busy over the span. */
function loadLine(): string {
  return `load average ${loadavg().map((value) => value.toFixed(2)).join(', ')}`;
}

function busyPct(before: { busy: number; total: number }): number {
  const after = machineCpu();
  return (100 * (after.busy - before.busy)) / (after.total - before.total);
}

async function finish(prepared: Prepared[], withRollups: (p: Prepared) => boolean): Promise<Map<Prepared, { totals: string; differences: number | undefined }>> {
  const checked = new Map<Prepared, { totals: string; differences: number | undefined }>();
  for (const p of prepared) {
    checked.set(p, { totals: await countTotals(p.database.db), differences: withRollups(p) ? await rollupDifferences(p.database.db) : undefined });
  }
  const totals = new Set([...checked.values()].map((c) => c.totals));
  if (totals.size !== 1) throw new Error(`the variants stored different counts: ${[...totals].join(' / ')}`);
  return checked;
}

/** One writer, batch by batch, the variants in turns (rotating who goes first). */
async function oneWriter(policy: Policy, batches: PullEvent[][], opened: TestDatabase[]): Promise<string> {
  const prepared = await prepare([OLD_TRIGGERS, NEW_TRIGGERS, NEW_TRIGGERS_NO_LOCK, NO_TRIGGERS], opened);
  const times = new Map<Prepared, number[]>(prepared.map((p) => [p, []]));
  let keys = 0;
  const cpu = machineCpu();
  const started = performance.now();
  for (const [index, batch] of batches.entries()) {
    for (let turn = 0; turn < prepared.length; turn += 1) {
      const p = prepared[(index + turn) % prepared.length]!;
      const t0 = performance.now();
      const result = await store(policy, p.database.db, batch);
      if (index >= WARM_UP_BATCHES) times.get(p)!.push(performance.now() - t0);
      if (turn === 0 && index >= WARM_UP_BATCHES) keys += rollupKeys(result.changes);
    }
  }
  const wallS = (performance.now() - started) / 1000;
  const busy = busyPct(cpu);
  const checked = await finish(prepared, (p) => p.variant !== NO_TRIGGERS);
  const none = times.get(prepared.find((p) => p.variant === NO_TRIGGERS)!)!;
  const noneMean = none.reduce((sum, ms) => sum + ms, 0) / none.length;
  const rows = prepared.map((p) => {
    const ms = [...times.get(p)!].sort((a, b) => a - b);
    const total = ms.reduce((sum, value) => sum + value, 0);
    const events = ms.length * BATCH_SIZE;
    const differences = checked.get(p)!.differences;
    return [p.variant.label, p.state, ms.length, fixed(percentile(ms, 50), 1), fixed(percentile(ms, 95), 1), fixed(total / ms.length, 1),
      thousands((events / total) * 1000), `${total / ms.length >= noneMean ? '+' : ''}${fixed(total / ms.length - noneMean, 1)}`, differences === undefined ? 'n/a' : differences === 0 ? 'yes' : `NO (${differences})`];
  });
  return [
    `${policy} policy, one writer: ${batches.length} batches of ${BATCH_SIZE} per variant (first ${WARM_UP_BATCHES} not timed), ` +
      `${fixed(wallS, 0)} s, machine ${fixed(busy, 0)} % busy, ${loadLine()}; each variant stored ${checked.get(prepared[0]!)!.totals}; ` +
      `a timed batch falls into ${thousands(keys / (batches.length - WARM_UP_BATCHES))} rollup rows on average`,
    formatTable(['variant', 'in the database', 'batches', 'p50 ms', 'p95 ms', 'mean ms', 'events/s', 'ms over (c)', 'rollups exact'], rows),
  ].join('\n');
}

/**
 * Two writers at once on each database, as two workers: they take the next batch in turn; a batch that fails with
 * a deadlock or serialization failure is run again (the worker pauses first, STATICREG_DB_RETRY_MS) and counted.
 */
async function twoWriters(policy: Policy, batches: PullEvent[][], opened: TestDatabase[]): Promise<string> {
  const prepared = await prepare([OLD_TRIGGERS, NEW_TRIGGERS, NEW_TRIGGERS_NO_LOCK, NO_TRIGGERS], opened);
  const wallMs = new Map<Prepared, number>(prepared.map((p) => [p, 0]));
  const conflicts = new Map<Prepared, number>(prepared.map((p) => [p, 0]));
  const cpu = machineCpu();
  for (let start = 0, round = 0; start < batches.length; start += CONCURRENT_TURN_BATCHES, round += 1) {
    const turn = batches.slice(start, start + CONCURRENT_TURN_BATCHES);
    for (let k = 0; k < prepared.length; k += 1) {
      const p = prepared[(round + k) % prepared.length]!;
      let next = 0;
      const writer = async () => {
        for (let i = next++; i < turn.length; i = next++) {
          for (;;) {
            try {
              await store(policy, p.database.db, turn[i]!);
              break;
            } catch (error) {
              if (!isConflict(error)) throw error;
              conflicts.set(p, conflicts.get(p)! + 1);
            }
          }
        }
      };
      const t0 = performance.now();
      await Promise.all([writer(), writer()]);
      wallMs.set(p, wallMs.get(p)! + performance.now() - t0);
    }
  }
  const busy = busyPct(cpu);
  const checked = await finish(prepared, (p) => p.variant !== NO_TRIGGERS);
  const rows = prepared.map((p) => {
    const differences = checked.get(p)!.differences;
    return [p.variant.label, fixed(wallMs.get(p)! / 1000, 1), thousands((batches.length * BATCH_SIZE) / (wallMs.get(p)! / 1000)),
      conflicts.get(p)!, differences === undefined ? 'n/a' : differences === 0 ? 'yes' : `NO (${differences})`];
  });
  return [
    `${policy} policy, two writers at once: ${batches.length} batches of ${BATCH_SIZE} per variant, in turns of ${CONCURRENT_TURN_BATCHES}; ` +
      `machine ${fixed(busy, 0)} % busy, ${loadLine()}`,
    formatTable(['variant', 'wall s', 'events/s', 'deadlocks (batch rerun)', 'rollups exact'], rows),
  ].join('\n');
}

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isInteger(value) || value < BATCH_SIZE * (WARM_UP_BATCHES + 1)) throw new Error(`--${name}: a whole number of at least ${BATCH_SIZE * (WARM_UP_BATCHES + 1)}`);
  return value;
}

async function main(): Promise<void> {
  const events = deliveredEvents(option('events', 40_000));
  const concurrentEvents = deliveredEvents(option('concurrent-events', 20_000));
  console.log(`rollup triggers bench, ${new Date().toISOString()}; ${loadLine()} at start`);
  console.log(`events: ${events.length} (one writer), ${concurrentEvents.length} (two writers): bench/events.ts pulls, 1 in 5 after a HEAD, 1 in 20 a HEAD alone`);
  const opened: TestDatabase[] = [];
  const dropAll = async () => {
    for (const database of opened.splice(0)) await database.drop();
  };
  process.once('SIGINT', () => void dropAll().finally(() => process.exit(130)));
  try {
    for (const policy of ['events', 'sessions'] as const) {
      console.log(`\n${await oneWriter(policy, batchesOf(events), opened)}`);
      await dropAll();
    }
    for (const policy of ['events', 'sessions'] as const) {
      console.log(`\n${await twoWriters(policy, batchesOf(concurrentEvents), opened)}`);
      await dropAll();
    }
    console.log(`\n${loadLine()} at the end`);
  } finally {
    await dropAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
