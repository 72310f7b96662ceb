// The dashboard's rollups stay equal to the count tables under the worker's positive and negative deltas,
// retention, hand-made edits and concurrent writers (real Postgres).
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { sql } from 'kysely';
import {
  MIGRATIONS_DIR,
  addCounts,
  createDb,
  deleteCountsBefore,
  migrateToLatest,
  topRepositories,
  topTags,
  type Database,
  type MetricsFilter,
} from '@staticreg/db';
import { addDays, type CountChange } from '@staticreg/events';
import type { Kysely } from 'kysely';
import { createTestDatabase, eventually, type TestDatabase } from '../support/services.js';
import { digestOf } from '../support/pulls.js';
import { seededRandom as random } from '../support/random.js';

const KEYS = (() => {
  const keys: Array<Omit<CountChange, 'count'>> = [];
  for (const pullDate of ['2026-03-01', '2026-03-02', '2026-03-03'])
    for (const repository of ['a/one', 'b/two'])
      for (const tag of ['latest', '1.0'])
        for (const digest of [digestOf('x'), digestOf('y')])
          for (const architecture of ['amd64', 'arm64']) keys.push({ pullDate, repository, tag, digest, architecture });
  return keys;
})();

const keyOf = (c: Omit<CountChange, 'count'>) => [c.pullDate, c.repository, c.tag, c.digest, c.architecture].join('|');
const sortCounts = (counts: CountChange[]) => counts.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));

/** Rows where a rollup differs from the sum of the count tables, in either direction (empty when exact). */
async function differences(db: Kysely<Database>): Promise<string[]> {
  const result = await sql<{ line: string }>`
    with truth as (
      select pull_date, repo_name, tag, architecture, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks from (
        select pull_date, repo_name, tag, architecture, pull_count as pulls, 0 as checks from container_pull_metrics
        union all select pull_date, repo_name, tag, architecture, 0, check_count from container_pull_checks) c
      group by 1, 2, 3, 4
    ), repo_truth as (
      select pull_date, repo_name, architecture, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks from truth group by 1, 2, 3
    ), repo_diff as (
      (select 'repo+', * from repo_truth except select 'repo+', * from metrics_daily_repo)
      union all
      (select 'repo-', * from metrics_daily_repo except select 'repo-', * from repo_truth)
    ), weekly_repo_truth as (
      select date_trunc('week', pull_date)::date as week, repo_name, architecture, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks
      from truth group by 1, 2, 3
    ), weekly_repo_diff as (
      (select 'wrepo+', * from weekly_repo_truth except select 'wrepo+', * from metrics_weekly_repo)
      union all
      (select 'wrepo-', * from metrics_weekly_repo except select 'wrepo-', * from weekly_repo_truth)
    ), weekly_tag_truth as (
      select date_trunc('week', pull_date)::date as week, repo_name, tag, sum(pull_count)::bigint as pulls
      from container_pull_metrics group by 1, 2, 3
    ), weekly_tag_diff as (
      (select 'wtag+', * from weekly_tag_truth except select 'wtag+', * from metrics_weekly_tag)
      union all
      (select 'wtag-', * from metrics_weekly_tag except select 'wtag-', * from weekly_tag_truth)
    ), arch_truth as (
      select pull_date, architecture, sum(pulls)::bigint as pulls, sum(checks)::bigint as checks from truth group by 1, 2
    ), arch_diff as (
      (select 'arch+', * from arch_truth except select 'arch+', * from metrics_daily_arch)
      union all
      (select 'arch-', * from metrics_daily_arch except select 'arch-', * from arch_truth)
    )
    select concat_ws(' ', d.*) as line from repo_diff d
    union all select concat_ws(' ', d.*) from weekly_repo_diff d
    union all select concat_ws(' ', d.*) from weekly_tag_diff d
    union all select concat_ws(' ', d.*) from arch_diff d`.execute(db);
  return result.rows.map((row) => row.line);
}

async function rollupRows(db: Kysely<Database>): Promise<number> {
  const result = await sql<{ n: number }>`
    select (select count(*) from metrics_daily_repo) + (select count(*) from metrics_daily_arch)
      + (select count(*) from metrics_weekly_repo) + (select count(*) from metrics_weekly_tag) as n`.execute(db);
  return Number(result.rows[0]!.n);
}

/**
 * Runs `body` with a second writer on the same database (its own pool) and a probe that says whether that writer is
 * waiting for a lock, as two workers' batches would meet; the second pool is closed after.
 */
async function withSecondWriter(
  database: TestDatabase,
  body: (second: Kysely<Database>, secondWaits: () => Promise<boolean>) => Promise<void>,
): Promise<void> {
  const second = createDb({ url: database.url, applicationName: 'staticreg-test-second', maxConnections: 1 });
  const secondWaits = async () =>
    (await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity
      where application_name = 'staticreg-test-second' and wait_event_type = 'Lock'`.execute(database.db)).rows[0]!.n > 0;
  try {
    await body(second, secondWaits);
  } finally {
    await second.destroy();
  }
}

describe('metrics rollups (real Postgres)', function () {
  this.timeout(120_000);
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await database.drop();
  });

  it('follow random positive and negative deltas exactly, and drop rows that reach zero', async () => {
    const next = random(7);
    const model = new Map<string, number>();
    for (let step = 0; step < 60; step += 1) {
      const kind = next() < 0.7 ? 'pull' : 'check';
      const batch = new Map<string, CountChange>();
      for (let i = 0; i < 1 + Math.floor(next() * 12); i += 1) {
        const key = KEYS[Math.floor(next() * KEYS.length)]!;
        const id = `${kind}|${keyOf(key)}`;
        const current = model.get(id) ?? 0;
        // Take back part or all of what is there (a recomputed session), or add.
        const count = current > 0 && next() < 0.4 ? -(1 + Math.floor(next() * current)) : 1 + Math.floor(next() * 5);
        if (batch.has(id)) continue;
        batch.set(id, { ...key, count });
        model.set(id, current + count);
      }
      await database.db.transaction().execute((trx) => addCounts(trx, kind, sortCounts([...batch.values()])));
      expect(await differences(database.db), `after step ${step}`).to.deep.equal([]);
    }
    const stored = await sql<{ n: number }>`select count(*)::int as n from container_pull_metrics`.execute(database.db);
    expect(stored.rows[0]!.n).to.equal([...model].filter(([id, n]) => id.startsWith('pull|') && n > 0).length);

    // Take everything back: every rollup row goes.
    for (const kind of ['pull', 'check'] as const) {
      const back = [...model].filter(([id, n]) => id.startsWith(`${kind}|`) && n > 0).map(([id, n]) => {
        const [, pullDate, repository, tag, digest, architecture] = id.split('|');
        return { pullDate: pullDate!, repository: repository!, tag: tag!, digest: digest!, architecture: architecture!, count: -n };
      });
      await database.db.transaction().execute((trx) => addCounts(trx, kind, sortCounts(back)));
    }
    expect(await rollupRows(database.db)).to.equal(0);
  });

  it('ignore a retraction of a row that is not there (inserted negative, then deleted)', async () => {
    const key = KEYS[0]!;
    await addCounts(database.db, 'pull', [{ ...key, count: 3 }]);
    await addCounts(database.db, 'pull', [{ ...KEYS[1]!, count: -2 }]);
    expect(await differences(database.db)).to.deep.equal([]);
    const arch = await sql<{ pulls: number }>`select pulls from metrics_daily_arch`.execute(database.db);
    expect(arch.rows).to.deep.equal([{ pulls: 3 }]);
  });

  it('stay exact under retention and hand-made updates and deletes', async () => {
    for (const [i, key] of KEYS.entries()) await addCounts(database.db, i % 3 === 0 ? 'check' : 'pull', [{ ...key, count: i + 1 }]);
    await sql`update container_pull_metrics set pull_count = pull_count * 2 where architecture = 'arm64'`.execute(database.db);
    await sql`update container_pull_metrics set architecture = 'arm/v7' where repo_name = 'b/two' and architecture = 'arm64'`.execute(database.db);
    await sql`delete from container_pull_checks where tag = 'latest'`.execute(database.db);
    expect(await differences(database.db)).to.deep.equal([]);
    const before = await sql<{ n: number }>`
      select (select count(*) from container_pull_metrics where pull_date < '2026-03-02')
           + (select count(*) from container_pull_checks where pull_date < '2026-03-02') as n`.execute(database.db);
    const deleted = await deleteCountsBefore(database.db, '2026-03-02', { batchSize: 3 });
    expect(deleted.pulls + deleted.checks).to.equal(Number(before.rows[0]!.n)).and.to.be.greaterThan(3);
    expect(await differences(database.db)).to.deep.equal([]);
    const days = await sql<{ d: string }>`select distinct to_char(pull_date, 'YYYY-MM-DD') as d from metrics_daily_repo order by d`.execute(database.db);
    expect(days.rows.map((row) => row.d)).to.deep.equal(['2026-03-02', '2026-03-03']);
  });

  it('two writers on the same days neither deadlock nor lose a count', async () => {
    const next = random(11);
    const writer = async (seed: number) => {
      for (let i = 0; i < 40; i += 1) {
        const picked = new Map<string, CountChange>();
        for (let j = 0; j < 8; j += 1) {
          const key = KEYS[Math.floor(next() * KEYS.length)]!;
          picked.set(keyOf(key), { ...key, count: 1 + ((seed + i + j) % 3) });
        }
        // Pulls then checks in one transaction, as the session policy writes them.
        await database.db.transaction().execute(async (trx) => {
          await addCounts(trx, 'pull', sortCounts([...picked.values()]));
          await addCounts(trx, 'check', sortCounts([...picked.values()].reverse().slice(0, 4)));
        });
      }
    };
    await Promise.all([writer(1), writer(2), writer(3)]);
    expect(await differences(database.db)).to.deep.equal([]);
    expect(await rollupRows(database.db)).to.be.greaterThan(0);
  });

  it('two batches whose pulls and checks touch the same days in crossing orders wait for each other, not deadlock', async () => {
    // A writes pulls of day 2, then checks of day 1; B pulls of day 1, then checks of day 2. Without one lock over the
    // rollups, A and B each hold one metrics_daily_arch row after their first statement and wait for the other's.
    const [day1, day2] = [KEYS.find((k) => k.pullDate === '2026-03-01')!, KEYS.find((k) => k.pullDate === '2026-03-02')!];
    await withSecondWriter(database, async (second, secondWaits) => {
      let b: Promise<void> | undefined;
      await database.db.transaction().execute(async (a) => {
        await addCounts(a, 'pull', [{ ...day2, count: 2 }]);
        let bWrotePulls = false;
        b = second.transaction().execute(async (trx) => {
          await addCounts(trx, 'pull', [{ ...day1, count: 3 }]);
          bWrotePulls = true;
          await addCounts(trx, 'check', [{ ...day2, count: 5 }]);
        });
        b.catch(() => undefined);
        // B has either written its pulls (and holds day 1's rollup rows) or waits for a lock that A holds.
        await eventually(async () => bWrotePulls || (await secondWaits()), 30_000, 'the second batch to write its pulls or wait');
        await addCounts(a, 'check', [{ ...day1, count: 7 }]);
      });
      await b;
    });
    expect(await differences(database.db)).to.deep.equal([]);
    const arch = await sql<{ pulls: number; checks: number }>`select sum(pulls)::int as pulls, sum(checks)::int as checks from metrics_daily_arch`.execute(database.db);
    expect(arch.rows).to.deep.equal([{ pulls: 5, checks: 12 }]);
  });

  it('a batch of checks alone waits for a batch that holds the rollups, before it locks the row that batch needs next', async () => {
    // A writes pulls (its trigger takes the rollups' lock), then a check row K; B writes only K. If B locked K before
    // asking for the rollups' lock (the trigger asks after its statement), A would wait for K and B for the lock.
    const [pullKey, checkKey] = [KEYS[0]!, KEYS[5]!];
    await withSecondWriter(database, async (second, secondWaits) => {
      let b: Promise<void> | undefined;
      await database.db.transaction().execute(async (a) => {
        await addCounts(a, 'pull', [{ ...pullKey, count: 2 }]);
        b = second.transaction().execute(async (trx) => {
          await addCounts(trx, 'check', [{ ...checkKey, count: 5 }]);
        });
        b.catch(() => undefined);
        await eventually(secondWaits, 30_000, 'the checks-only batch to wait for a lock');
        await addCounts(a, 'check', [{ ...checkKey, count: 7 }]);
      });
      await b;
    });
    expect(await differences(database.db)).to.deep.equal([]);
    const checks = await sql<{ n: number }>`select sum(check_count)::int as n from container_pull_checks`.execute(database.db);
    expect(checks.rows[0]!.n).to.equal(12);
  });

  it('give the exact top tags and top repositories that a plain GROUP BY gives, for any range and filter', async () => {
    const next = random(23);
    const rows: CountChange[] = [];
    // 40 days over 6 weeks, 30 repositories of Zipf-like popularity, a few tags and architectures each.
    for (let day = 0; day < 40; day += 1) {
      const pullDate = addDays('2026-02-03', day);
      for (let r = 1; r <= 30; r += 1) {
        for (let t = 1; t <= 1 + (30 % r); t += 1) {
          for (const architecture of r < 10 ? ['amd64', 'arm64'] : ['amd64']) {
            if (next() > 1.5 / Math.sqrt(r * t)) continue;
            rows.push({ pullDate, repository: `org/repo-${r}`, tag: t === 1 ? 'latest' : `v${t}`, digest: digestOf(String(t)), architecture, count: 1 + Math.floor(next() * 40 / r) });
          }
        }
      }
    }
    await addCounts(database.db, 'pull', sortCounts(rows));
    const plainTop = async (filter: MetricsFilter, limit: number) =>
      (await sql<{ repository: string; tag: string; pulls: number }>`
        select repo_name as repository, tag, sum(pull_count)::int as pulls from container_pull_metrics
        where pull_date between ${filter.from}::date and ${filter.to}::date
          and (${filter.repository ?? null}::text is null or repo_name = ${filter.repository ?? null})
          and (${filter.tag ?? null}::text is null or tag = ${filter.tag ?? null})
          and (${filter.architecture ?? null}::text is null or architecture = ${filter.architecture ?? null})
        group by 1, 2 order by pulls desc, repository, tag limit ${limit}`.execute(database.db)).rows;
    const plainRepos = async (filter: MetricsFilter, limit: number) =>
      (await sql<{ repository: string; pulls: number }>`
        select repo_name as repository, sum(pull_count)::int as pulls from container_pull_metrics
        where pull_date between ${filter.from}::date and ${filter.to}::date
          and (${filter.architecture ?? null}::text is null or architecture = ${filter.architecture ?? null})
        group by 1 order by pulls desc, repository limit ${limit}`.execute(database.db)).rows;
    const ranges: Array<[string, string]> = [['2026-02-03', '2026-03-14'], ['2026-02-05', '2026-02-05'], ['2026-02-04', '2026-02-17'], ['2026-02-10', '2026-03-01'], ['2026-03-08', '2026-03-12']];
    for (const [from, to] of ranges) {
      for (const extra of [{}, { architecture: 'arm64' }, { repository: 'org/repo-1' }, { tag: 'latest' }, { repository: 'org/repo-3', architecture: 'amd64' }]) {
        for (const limit of [1, 3, 10]) {
          const filter: MetricsFilter = { from, to, ...extra };
          const label = JSON.stringify({ ...filter, limit });
          expect((await topTags(database.db, filter, limit)).map(({ repository, tag, pulls }) => ({ repository, tag, pulls })), label).to.deep.equal(await plainTop(filter, limit));
          if (!('repository' in extra) && !('tag' in extra)) {
            expect((await topRepositories(database.db, filter, limit)).map(({ repository, pulls }) => ({ repository, pulls })), label).to.deep.equal(await plainRepos(filter, limit));
          }
        }
      }
    }
  });

  it('stay exact when a database at 0005 with data is upgraded, with a writer in flight across the upgrade', async () => {
    // A database as deployed before 0007: migrations up to 0005, rollups kept by its temp-table triggers.
    await database.drop();
    database = await createTestDatabase({ migrate: false });
    const upTo0005 = mkdtempSync(join(tmpdir(), 'staticreg-migrations-0005-'));
    try {
      for (const file of readdirSync(MIGRATIONS_DIR)) if (file.endsWith('.sql') && file <= '0005_metrics_rollups.sql') copyFileSync(join(MIGRATIONS_DIR, file), join(upTo0005, file));
      await migrateToLatest(database.db, upTo0005);
    } finally {
      rmSync(upTo0005, { recursive: true, force: true });
    }
    const functions = async () =>
      (await sql<{ proname: string }>`
        select proname from pg_proc where proname in ('metrics_rollup_add', 'metrics_rollup_apply') order by proname`.execute(database.db)).rows.map((row) => row.proname);
    expect(await functions()).to.deep.equal(['metrics_rollup_add']);

    const next = random(31);
    const model = new Map<string, number>();
    /** A batch of random deltas of one kind, as the worker writes them: some rows taken back, some to 0. */
    const randomBatch = (kind: 'pull' | 'check') => {
      const batch = new Map<string, CountChange>();
      for (let i = 0; i < 10; i += 1) {
        const key = KEYS[Math.floor(next() * KEYS.length)]!;
        const id = `${kind}|${keyOf(key)}`;
        if (batch.has(id)) continue;
        const current = model.get(id) ?? 0;
        const count = current > 0 && next() < 0.4 ? -(next() < 0.5 ? current : 1 + Math.floor(next() * current)) : 1 + Math.floor(next() * 5);
        batch.set(id, { ...key, count });
        model.set(id, current + count);
      }
      return sortCounts([...batch.values()]);
    };
    for (let step = 0; step < 20; step += 1) {
      await database.db.transaction().execute(async (trx) => {
        await addCounts(trx, 'pull', randomBatch('pull'));
        await addCounts(trx, 'check', randomBatch('check'));
      });
    }
    expect(await differences(database.db), 'before the upgrade').to.deep.equal([]);
    expect(await rollupRows(database.db)).to.be.greaterThan(0);

    // A worker's transaction writes pulls under 0005's triggers, the upgrade commits, then it writes checks and pulls.
    const writer = createDb({ url: database.url, applicationName: 'staticreg-test-writer', maxConnections: 1 });
    try {
      let firstWritten!: () => void;
      let upgraded!: () => void;
      const written = new Promise<void>((resolve) => (firstWritten = resolve));
      const upgrade = new Promise<void>((resolve) => (upgraded = resolve));
      const inFlight = writer.transaction().execute(async (trx) => {
        await addCounts(trx, 'pull', randomBatch('pull'));
        firstWritten();
        await upgrade;
        await addCounts(trx, 'check', randomBatch('check'));
        await addCounts(trx, 'pull', randomBatch('pull'));
      });
      await written;
      const applied = await migrateToLatest(database.db);
      upgraded();
      await inFlight;
      expect(applied.map((result) => result.migrationName)).to.include('0007_metrics_rollups_fast');
    } finally {
      await writer.destroy();
    }
    expect(await functions()).to.deep.equal(['metrics_rollup_add', 'metrics_rollup_apply']);
    const body = await sql<{ src: string }>`select prosrc as src from pg_proc where proname = 'metrics_rollup_pulls_trigger'`.execute(database.db);
    expect(body.rows[0]!.src).to.include('new_rows').and.not.to.include('TEMP TABLE');
    expect(await differences(database.db), 'across the upgrade').to.deep.equal([]);

    // A trigger that read 0005's functions just before the upgrade committed runs them after it: they still add exactly.
    const old0005 = readFileSync(join(MIGRATIONS_DIR, '0005_metrics_rollups.sql'), 'utf8');
    const oldTriggers = old0005.match(/CREATE OR REPLACE FUNCTION metrics_rollup_(pulls|checks)_trigger\(\)[\s\S]*?END \$\$;/g);
    expect(oldTriggers).to.have.length(2);
    await sql.raw(oldTriggers!.join('\n')).execute(database.db);
    for (let step = 0; step < 5; step += 1) {
      await database.db.transaction().execute(async (trx) => {
        await addCounts(trx, 'pull', randomBatch('pull'));
        await addCounts(trx, 'check', randomBatch('check'));
      });
    }
    expect(await differences(database.db), 'with 0005\'s trigger functions over 0007').to.deep.equal([]);
    await sql.raw(readFileSync(join(MIGRATIONS_DIR, '0007_metrics_rollups_fast.sql'), 'utf8')).execute(database.db);

    for (let step = 0; step < 20; step += 1) {
      await database.db.transaction().execute(async (trx) => {
        await addCounts(trx, 'pull', randomBatch('pull'));
        await addCounts(trx, 'check', randomBatch('check'));
      });
    }
    await deleteCountsBefore(database.db, '2026-03-02', { batchSize: 4 });
    expect(await differences(database.db), 'after the upgrade').to.deep.equal([]);
    const stored = await sql<{ n: number }>`
      select (select coalesce(sum(pull_count), 0) from container_pull_metrics where pull_date >= '2026-03-02')::int as n`.execute(database.db);
    expect(stored.rows[0]!.n).to.equal([...model].filter(([id]) => id.startsWith('pull|') && !id.includes('|2026-03-01|')).reduce((sum, [, n]) => sum + n, 0));
  });

  it('are built from the existing rows by metrics_rollups_rebuild()', async () => {
    for (const [i, key] of KEYS.entries()) await addCounts(database.db, 'pull', [{ ...key, count: i + 1 }]);
    await sql`truncate metrics_daily_repo, metrics_daily_arch, metrics_weekly_repo, metrics_weekly_tag`.execute(database.db);
    expect(await differences(database.db)).to.not.deep.equal([]);
    await sql`select metrics_rollups_rebuild()`.execute(database.db);
    expect(await differences(database.db)).to.deep.equal([]);
  });
});
