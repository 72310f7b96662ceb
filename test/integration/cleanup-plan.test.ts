// The cleanup plan over a real Postgres: a catalog written by the catalog store, counts on chosen days through the
// worker's upsert, and a plan per rule that must be exactly what the rule says; the use reads apply relies on.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { PostgresCatalogStore, describeIndex, type ImageDetails } from '@staticreg/catalog';
import { planCleanup, planInstantWarnings, planJson, planTable, parsePolicy, type CleanupPlan } from '@staticreg/cleanup';
import { addCounts, createDb, HIDDEN_SESSION_MARGIN_MS, lastUseByDigest, planInstant, usedSince } from '@staticreg/db';
import { baselinePlan } from '../../bench/cleanup/baseline.js';
import { REPO_ROOT } from '../support/processes.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { image, sha } from '../support/catalog-images.js';

const NOW = new Date('2026-06-30T12:00:00Z');
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';

/** Index 10 of images 11 (linux/amd64) and 12 (linux/arm64). */
function index(): { index: ReturnType<typeof describeIndex>; platforms: ImageDetails[] } {
  const platforms = [image(11, '2026-01-10T00:00:00Z'), image(12, '2026-01-10T00:00:00Z')];
  const json = {
    schemaVersion: 2,
    mediaType: INDEX_TYPE,
    manifests: platforms.map((platform, i) => ({
      mediaType: platform.mediaType, digest: platform.digest, size: platform.manifestSize,
      platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
    })),
  };
  return { index: describeIndex(sha(10), INDEX_TYPE, JSON.stringify(json), json, platforms), platforms };
}

const POLICY = `
exclude: ["base/**"]
rules:
  - name: ci-by-use
    repositories: ["ci/*"]
    keepUsedWithinDays: 14
  - name: apps-by-tag
    repositories: ["apps/**"]
    keepNewest: 2
    keepTags: ["latest", "semver"]
`;

/** Runs `cleanup-plan` as `make cleanup-plan` does (from source) against `dbUrl`; its exit code and output. */
function runCleanupPlan(dbUrl: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=staticreg-source', 'apps/worker/src/cleanup-plan.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', STATICREG_DB_URL: dbUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Each deletion as repository, digest number, tags: what the rules must give, readable in one line. */
const deletions = (plan: CleanupPlan) => plan.deletions.map((d) => `${d.repository} ${Number(d.digest.slice(7))} [${d.tags.join(',')}]`);

describe('the cleanup plan over Postgres', function () {
  this.timeout(120_000);
  let database: TestDatabase;

  before(async () => {
    database = await createTestDatabase();
    const store = new PostgresCatalogStore(database.db, { owner: 'test' });
    const images = [
      image(1, '2026-01-01T00:00:00Z'), image(2, '2026-02-01T00:00:00Z'), image(3, '2026-03-01T00:00:00Z'),
      image(4, '2026-04-01T00:00:00Z'), image(5, '2026-05-01T00:00:00Z'), image(6, '2026-06-01T00:00:00Z'),
      image(7, '2026-06-25T00:00:00Z'),
    ];
    const multi = index();
    await store.syncRepositoryNames(['base/os', 'ci/app', 'apps/web', 'other/thing'], 1_000);
    await store.saveRepository('base/os', [['old', sha(1)]], images, 2_000);
    await store.saveRepository('ci/app', [
      ['pulled', sha(2)], ['checked', sha(3)], ['stale', sha(4)], ['fresh', sha(7)], ['forgotten', sha(6)], ['multi', sha(10)],
    ], [...images, multi.index], 2_000);
    await store.saveRepository('apps/web', [
      ['1.0.0', sha(1)], ['old', sha(2)], ['latest', sha(3)], ['feature', sha(3)], ['nightly', sha(4)], ['dev', sha(5)], ['newest', sha(6)],
    ], images, 2_000);
    await store.saveRepository('other/thing', [['x', sha(4)]], images, 2_000);
    await store.putDetails(image(8, '2026-01-01T00:00:00Z')); // only ever pulled by digest in ci/app
    // The catalog saw these images long before NOW (it stamps described_at with the real clock).
    await database.db.updateTable('registry_manifests').set({ described_at: new Date('2026-01-15T00:00:00Z') }).execute();
    const count = (day: string, repository: string, tag: string, n: number) => ({ pullDate: day, repository, tag, digest: sha(n), architecture: 'amd64', count: 1 });
    await database.db.transaction().execute(async (trx) => {
      await addCounts(trx, 'pull', [
        count('2026-06-01', 'ci/app', '', 8), // untagged, unused lately
        count('2026-06-16', 'ci/app', 'stale', 4), // the day before the 14-day window
        count('2026-06-20', 'ci/app', 'pulled', 2),
        count('2026-06-28', 'ci/app', '', 9), // untagged, used, not in the catalog
        count('2026-06-29', 'ci/app', '', 11), // a platform of the index, by digest
        count('2026-06-30', 'apps/web', 'nightly', 4), // use does not count under apps-by-tag
        count('2026-06-30', 'ci/other', 'stale', 4), // another repository's use
      ]);
      await addCounts(trx, 'check', [count('2026-06-17', 'ci/app', 'checked', 3)]); // the window's first day
    });
  });
  after(async () => {
    await database?.drop();
  });

  it('plans under each rule exactly what the rule says', async () => {
    const plan = await planCleanup(database.db, parsePolicy(POLICY, 'cleanup.yaml'), { now: NOW });
    expect(deletions(plan)).to.deep.equal([
      'apps/web 2 [old]', // not among the 2 newest (6, 5), no kept tag
      'apps/web 4 [nightly]', // pulled today, but this rule does not look at use
      'ci/app 4 [stale]',
      'ci/app 6 [forgotten]', // never used, created before the 14-day grace
      'ci/app 8 []',
    ]);
    const stale = plan.deletions.find((d) => d.repository === 'ci/app' && d.digest === sha(4));
    expect(stale).to.deep.equal({
      repository: 'ci/app', digest: sha(4), tags: ['stale'], rule: 'ci-by-use',
      reason: 'not pulled or checked since 2026-06-17 (keep: used within 14 days)',
      lastPulled: '2026-06-16', lastChecked: null, created: '2026-04-01T00:00:00.000Z',
      freesBytes: 0, // image 4 is kept by other/thing
    });
    // Image 2 is kept in ci/app, 4 in other/thing, 6 in apps/web; 8 is nobody else's: config (10 bytes) + a layer of 8.
    expect(plan.deletions.map((d) => d.freesBytes)).to.deep.equal([0, 0, 0, 0, 18]);
    expect(plan).to.include({ policyFile: 'cleanup.yaml', freesBytes: 18 });
    expect(plan.warnings).to.deep.equal([]);
    // Kept: base/os 1; ci/app 2, 3, 7, 10 (its platform 11 goes with it, not counted apart), 9; apps/web 1, 3, 5, 6;
    // other/thing 4. ci/other has counts but is not in the catalog: nothing is planned there.
    expect(plan.kept).to.equal(1 + 5 + 4 + 1);
  });

  const POLICIES = [POLICY, 'rules:\n  - repositories: ["**"]\n    keepUsedWithinDays: 2\n    keepNewest: 1\n', 'rules:\n  - repositories: ["**"]\n    keepNewest: 0\n'];
  async function expectBaselineAgrees(): Promise<CleanupPlan[]> {
    const plans: CleanupPlan[] = [];
    for (const text of POLICIES) {
      const policy = parsePolicy(text, 'cleanup.yaml');
      const plan = await planCleanup(database.db, policy, { now: NOW });
      const baseline = await baselinePlan(database.db, policy, '2026-06-30');
      expect(baseline, text).to.deep.equal(plan.deletions.map((d) => ({
        repository: d.repository, digest: d.digest, rule: d.rule, tags: d.tags, lastPulled: d.lastPulled, lastChecked: d.lastChecked, freesBytes: d.freesBytes,
      })));
      plans.push(plan);
    }
    return plans;
  }

  it("agrees with the cleanup bench's one-query SQL baseline", async () => {
    await expectBaselineAgrees();
  });

  it('plans nothing in a repository where a tag points to a manifest the catalog has not described, as the baseline', async () => {
    // The catalog loses index 10's description (tag `multi` in ci/app): any digest there may be one of its platforms.
    const row = await database.db.selectFrom('registry_manifests').selectAll().where('digest', '=', sha(10)).executeTakeFirstOrThrow();
    await database.db.deleteFrom('registry_manifests').where('digest', '=', sha(10)).execute();
    try {
      for (const plan of await expectBaselineAgrees()) {
        expect(plan.deletions.filter((d) => d.repository === 'ci/app')).to.deep.equal([]);
        expect(plan.warnings.some((warning) => warning.startsWith('ci/app: ') && warning.includes('tag multi'))).to.equal(true);
      }
    } finally {
      await database.db.insertInto('registry_manifests').values({ ...row, platforms: JSON.stringify(row.platforms), details: JSON.stringify(row.details) }).execute();
    }
  });

  it('starts the grace of a never-used image when the catalog first described it', async () => {
    const seen = (at: string) => database.db.updateTable('registry_manifests').set({ described_at: new Date(at) }).where('digest', '=', sha(6)).execute();
    await seen('2026-06-28T00:00:00Z'); // image 6 claims 2026-06-01 but was first seen two days ago: within the 14-day grace
    try {
      const plan = await planCleanup(database.db, parsePolicy(POLICY, 'cleanup.yaml'), { now: NOW });
      expect(deletions(plan)).not.to.include('ci/app 6 [forgotten]');
    } finally {
      await seen('2026-01-15T00:00:00Z');
    }
  });

  it('warns, in the table and the JSON, when a use window reaches before the first counted day', async () => {
    // The fixture's counts start on 2026-06-01; ci-by-use's 14 days start on 2026-06-17.
    expect((await planCleanup(database.db, parsePolicy(POLICY, 'cleanup.yaml'), { now: NOW })).warnings).to.deep.equal([]);
    const long = parsePolicy('rules:\n  - name: long\n    repositories: ["ci/*"]\n    keepUsedWithinDays: 60\n', 'cleanup.yaml');
    const plan = await planCleanup(database.db, long, { now: NOW });
    expect(plan.warnings).to.deep.equal([
      'rule long: keepUsedWithinDays 60 reaches back to 2026-05-02, but the count tables start on 2026-06-01: an image used only before then looks never used',
    ]);
    expect((await planCleanup(database.db, parsePolicy(POLICY, 'cleanup.yaml'), { now: NOW, retentionDays: 10 })).warnings).to.deep.equal([
      'rule ci-by-use: keepUsedWithinDays 14 reaches back to 2026-06-17, but STATICREG_RETENTION_DAYS=10 keeps counts from 2026-06-21: an image used only before then looks never used',
    ]);
    expect(planTable(plan)).to.include('\nWarning: rule long: keepUsedWithinDays 60');
    expect(JSON.parse(planJson(plan)).warnings).to.deep.equal(plan.warnings);
  });

  it('gives the same plan whatever the page size', async () => {
    const policy = parsePolicy(POLICY, 'cleanup.yaml');
    const whole = await planCleanup(database.db, policy, { now: NOW });
    // plannedAt is the database's clock at each run; the rest must not differ.
    expect({ ...(await planCleanup(database.db, policy, { now: NOW, pageSize: 1 })), plannedAt: whole.plannedAt }).to.deep.equal(whole);
  });

  it('reads the last day each digest was pulled and checked', async () => {
    const rows = await lastUseByDigest(database.db, { repositories: ['ci/app'] });
    expect(rows.sort((a, b) => a.digest.localeCompare(b.digest)).map((row) => [Number(row.digest.slice(7)), row.lastPulled, row.lastChecked])).to.deep.equal([
      [2, '2026-06-20', null], [3, null, '2026-06-17'], [4, '2026-06-16', null], [8, '2026-06-01', null], [9, '2026-06-28', null], [11, '2026-06-29', null],
    ]);
    expect(await lastUseByDigest(database.db, { repositories: [] })).to.deep.equal([]);
  });

  it('tells apply whether a digest was used after an instant', async () => {
    const before = (await sql<{ now: Date }>`select now() as now`.execute(database.db)).rows[0]!.now;
    expect(await usedSince(database.db, 'ci/app', [sha(5)], new Date(0))).to.equal(false);
    expect(await usedSince(database.db, 'ci/app', [sha(3)], new Date(0))).to.equal(true); // a check
    expect(await usedSince(database.db, 'ci/app', [sha(3)], before)).to.equal(false);
    await database.db.transaction().execute((trx) =>
      addCounts(trx, 'check', [{ pullDate: '2026-06-30', repository: 'ci/app', tag: 'dev', digest: sha(5), architecture: 'amd64', count: 1 }]));
    expect(await usedSince(database.db, 'ci/app', [sha(10), sha(5)], before)).to.equal(true);
    expect(await usedSince(database.db, 'apps/web', [sha(5)], before)).to.equal(false);
    expect(await usedSince(database.db, 'ci/app', [], new Date(0))).to.equal(false);
  });

  it("takes plannedAt from the database, before any count a transaction still open could commit", async () => {
    const policy = parsePolicy('rules:\n  - repositories: ["ci/*"]\n    keepUsedWithinDays: 1\n', 'cleanup.yaml');
    // A worker's batch: its updated_at is its transaction's start, and it commits only after the plan has read.
    let plan: CleanupPlan | undefined;
    await database.db.transaction().execute(async (trx) => {
      await addCounts(trx, 'pull', [{ pullDate: '2026-06-30', repository: 'ci/app', tag: 'dev', digest: sha(6), architecture: 'amd64', count: 1 }]);
      plan = await database.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only')
        .execute((snapshot) => planCleanup(snapshot, policy, { now: new Date() }));
    });
    expect(plan!.deletions.map((d) => d.digest)).to.include(sha(6));
    expect(await usedSince(database.db, 'ci/app', [sha(6)], new Date(plan!.plannedAt))).to.equal(true);
    // With no transaction open, plannedAt is the database's now: not after it, and later than the batch above.
    const quiet = await planCleanup(database.db, policy, { now: NOW });
    const after = (await sql<{ now: Date }>`select now() as now`.execute(database.db)).rows[0]!.now;
    expect(Date.parse(quiet.plannedAt)).to.be.within(Date.parse(plan!.plannedAt), after.getTime());
    expect(await usedSince(database.db, 'ci/app', [sha(6)], new Date(quiet.plannedAt))).to.equal(false);
  });

  it('moves plannedAt back a margin, and warns, when other sessions are hidden from the planning role', async () => {
    // As a superuser every session is visible: no margin.
    const visible = await planInstant(database.db);
    expect(visible.hiddenSessions).to.equal(0);
    const role = `${database.name}_planner`;
    await sql.raw(`create role ${role} login`).execute(database.db);
    const url = new URL(database.url);
    url.username = role;
    const planner = createDb({ url: url.href, applicationName: 'staticreg-test-planner', maxConnections: 1 });
    try {
      // The test's own superuser connections (a worker's, in production) are hidden from this role.
      await sql`select 1`.execute(database.db);
      const hidden = await planInstant(planner);
      const now = (await sql<{ now: Date }>`select now() as now`.execute(database.db)).rows[0]!.now;
      expect(hidden.hiddenSessions).to.be.greaterThan(0);
      expect(hidden.instant.getTime()).to.be.at.most(now.getTime() - HIDDEN_SESSION_MARGIN_MS);
      expect(planInstantWarnings(hidden.hiddenSessions, undefined, now)[0]).to.match(/hidden from this role .* moves back 10 minutes; plan as the worker's role, or grant pg_read_all_stats$/);
    } finally {
      await planner.destroy();
      await sql.raw(`drop role if exists ${role}`).execute(database.db);
    }
  });

  it('warns when a transaction open for long moved plannedAt back, naming it', () => {
    const now = new Date('2026-07-01T12:00:00Z');
    const old = { pid: 42, applicationName: 'psql', startedAt: new Date('2026-07-01T09:00:00Z') };
    expect(planInstantWarnings(0, old, now)).to.deep.equal([
      'a transaction open since 2026-07-01T09:00:00.000Z (pid 42 (psql)) moved the plan time back: apply skips anything used since then',
    ]);
    expect(planInstantWarnings(0, { ...old, startedAt: new Date('2026-07-01T11:58:00Z') }, now)).to.deep.equal([]);
  });

  describe('the cleanup-plan command', () => {
    // Rules that do not look at use, so the plan does not depend on the day the test runs.
    const byTag = 'rules:\n  - name: apps-by-tag\n    repositories: ["apps/**"]\n    keepNewest: 2\n    keepTags: ["latest", "semver"]\n';
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'staticreg-cleanup-plan-'));
      await writeFile(join(dir, 'by-tag.yaml'), byTag);
      await writeFile(join(dir, 'bad.yaml'), 'rules:\n  - name: x\n    repositories: ["a"]\n    keepNewst: 2\n    keepTags: [latest]\n');
    });

    it('prints a table with a summary line, JSON and CSV of the same plan', async () => {
      const policy = join(dir, 'by-tag.yaml');
      const table = await runCleanupPlan(database.url, ['--policy', policy]);
      expect(table.code, table.stderr).to.equal(0);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^REPOSITORY +DIGEST +TAGS +RULE +LAST PULLED +LAST CHECKED +CREATED +FREES +REASON$/);
      expect(lines[1]).to.match(/^apps\/web +sha256:000000000000 +old +apps-by-tag +- +- +2026-02-01 +0 B +not among the 2 newest tags; no tag matches latest, semver$/);
      expect(lines[2]).to.match(/^apps\/web +sha256:000000000000 +nightly +apps-by-tag +2026-06-30 +- +2026-04-01 +0 B /);
      expect(lines[3]).to.match(new RegExp(`^Plan \\(${policy}, [0-9T:.Z-]+\\): 2 manifests to delete \\(2 tags\\) in 1 repository, \\d+ kept; frees 0 B .*Nothing was deleted\\.$`));
      expect(lines).to.have.length(4);

      const json = await runCleanupPlan(database.url, ['--policy', policy, '--json']);
      expect(json.code, json.stderr).to.equal(0);
      const plan = JSON.parse(json.stdout) as CleanupPlan;
      expect(deletions(plan)).to.deep.equal(['apps/web 2 [old]', 'apps/web 4 [nightly]']);
      expect(lines[3]).to.contain(`, ${plan.kept} kept;`);

      const csv = await runCleanupPlan(database.url, ['--policy', policy, '--format', 'csv']);
      expect(csv.code, csv.stderr).to.equal(0);
      expect(csv.stdout.split('\r\n')).to.deep.equal([
        'repository,digest,tags,rule,reason,last_pulled,last_checked,created,frees_bytes',
        `apps/web,${sha(2)},old,apps-by-tag,"not among the 2 newest tags; no tag matches latest, semver",,,2026-02-01T00:00:00.000Z,0`,
        `apps/web,${sha(4)},nightly,apps-by-tag,"not among the 2 newest tags; no tag matches latest, semver",2026-06-30,,2026-04-01T00:00:00.000Z,0`,
        '',
      ]);
    });

    it('exits 2 naming the line and field of a bad policy file, or a bad option', async () => {
      const bad = await runCleanupPlan(database.url, ['--policy', join(dir, 'bad.yaml')]);
      expect([bad.code, bad.stdout, bad.stderr]).to.deep.equal([2, '', `${join(dir, 'bad.yaml')}:4: rules[0].keepNewst: unknown field (keepNewst)\n`]);
      const missing = await runCleanupPlan(database.url, ['--policy', join(dir, 'none.yaml')]);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.contain('cannot read the policy file');
      const format = await runCleanupPlan(database.url, ['--policy', join(dir, 'by-tag.yaml'), '--format', 'xml']);
      expect([format.code, format.stderr]).to.deep.equal([2, 'Invalid configuration: --format="xml": must be table, json or csv\n']);
      const twice = await runCleanupPlan(database.url, ['--policy', join(dir, 'by-tag.yaml'), '--json', '--csv']);
      expect(twice.code).to.equal(2);
    });

    it('says so when the catalog in Postgres is empty', async () => {
      const empty = await createTestDatabase();
      try {
        const result = await runCleanupPlan(empty.url, ['--policy', join(dir, 'by-tag.yaml')]);
        expect(result.code).to.equal(1);
        expect(result.stderr).to.contain('The registry catalog in Postgres is empty');
      } finally {
        await empty.drop();
      }
    });
  });
});
