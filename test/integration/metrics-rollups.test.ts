// The dashboard's rollups stay equal to the count tables under the worker's positive and negative deltas,
// retention, hand-made edits and concurrent writers (real Postgres).
import { expect } from 'chai';
import { sql } from 'kysely';
import { addCounts, deleteCountsBefore, topRepositories, topTags, type Database, type MetricsFilter } from '@staticreg/db';
import type { PullCount } from '@staticreg/events';
import type { Kysely } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { digestOf } from '../support/pulls.js';

/** A small deterministic random generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = (() => {
  const keys: Array<Omit<PullCount, 'count'>> = [];
  for (const pullDate of ['2026-03-01', '2026-03-02', '2026-03-03'])
    for (const repository of ['a/one', 'b/two'])
      for (const tag of ['latest', '1.0'])
        for (const digest of [digestOf('x'), digestOf('y')])
          for (const architecture of ['amd64', 'arm64']) keys.push({ pullDate, repository, tag, digest, architecture });
  return keys;
})();

const keyOf = (c: Omit<PullCount, 'count'>) => [c.pullDate, c.repository, c.tag, c.digest, c.architecture].join('|');
const sortCounts = (counts: PullCount[]) => counts.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));

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
      const batch = new Map<string, PullCount>();
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
        const picked = new Map<string, PullCount>();
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

  it('give the exact top tags and top repositories that a plain GROUP BY gives, for any range and filter', async () => {
    const next = random(23);
    const rows: PullCount[] = [];
    // 40 days over 6 weeks, 30 repositories of Zipf-like popularity, a few tags and architectures each.
    for (let day = 0; day < 40; day += 1) {
      const pullDate = new Date(Date.UTC(2026, 1, 3) + day * 86_400_000).toISOString().slice(0, 10);
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

  it('are built from the existing rows by metrics_rollups_rebuild()', async () => {
    for (const [i, key] of KEYS.entries()) await addCounts(database.db, 'pull', [{ ...key, count: i + 1 }]);
    await sql`truncate metrics_daily_repo, metrics_daily_arch, metrics_weekly_repo, metrics_weekly_tag`.execute(database.db);
    expect(await differences(database.db)).to.not.deep.equal([]);
    await sql`select metrics_rollups_rebuild()`.execute(database.db);
    expect(await differences(database.db)).to.deep.equal([]);
  });
});
