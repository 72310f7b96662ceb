// Cleanup apply against real docker-registry 2.8.2 and Postgres, on plans written by hand (the e2e test plans them):
// confirmation, re-checks of use and of tags, the audit, and a registry with deletes disabled.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { applyCleanup, CleanupNotConfirmed, type CleanupPlan, type CleanupRegistry, type PlannedDeletion } from '@staticreg/cleanup';
import { listCleanupAudit } from '@staticreg/db';
import { oldestWaitingJobTime, type PullJobData } from '@staticreg/queue';
import { Queue } from 'bullmq';
import { RegistryClient } from '@staticreg/registry';
import { writeOciLayout } from '../support/oci-layout.js';
import { buildSpecImage, buildSpecIndex } from '../support/images.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { createTestDatabase, freshRedis, type TestDatabase } from '../support/services.js';

describe('cleanup apply (docker-registry 2.8.2, Postgres)', function () {
  this.timeout(120_000);
  let dir: string;
  let database: TestDatabase;
  const stops: Array<() => Promise<void>> = [];

  async function registryWith(name: string, deletes: boolean): Promise<{ registry: TestRegistry; client: RegistryClient }> {
    const registry = await startTestRegistry({ dir: join(dir, name), deletes });
    stops.push(() => registry.stop());
    const client = new RegistryClient({ baseUrl: registry.baseUrl, userAgent: 'staticreg-test' });
    stops.push(() => client.close());
    return { registry, client };
  }

  async function push(registry: TestRegistry, repository: string, tags: string[], content: string): Promise<string> {
    const image = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-01-01T00:00:00Z', layers: [['f.txt', content]] });
    const layout = join(dir, `layout-${content}`);
    await writeOciLayout(layout, 'x', image);
    for (const tag of tags) await skopeo('copy', '--dest-tls-verify=false', `oci:${layout}:x`, `docker://${registry.host}/${repository}:${tag}`);
    return image.root.digest;
  }

  const deletion = (repository: string, digest: string, tags: string[]): PlannedDeletion => ({
    repository, digest, tags, rule: 'stale', reason: 'not used in 30 days', lastPulled: null, lastChecked: null, created: null, freesBytes: 10,
  });
  const planOf = (plannedAt: Date, deletions: PlannedDeletion[]): CleanupPlan => ({ plannedAt: plannedAt.toISOString(), policyFile: 'policy.yaml', deletions, kept: 1, freesBytes: 10, warnings: [] });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-apply-'));
    database = await createTestDatabase();
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('deletes only confirmed plans, skips a digest used since the plan or shared with a kept tag, and audits each action', async () => {
    const { registry, client } = await registryWith('open', true);
    const stale = await push(registry, 'team/app', ['old'], 'stale');
    const used = await push(registry, 'team/app', ['used'], 'used');
    const shared = await push(registry, 'team/app', ['shared-old', 'shared-kept'], 'shared');
    const plannedAt = new Date(Date.now() - 1000);
    const plan = planOf(plannedAt, [deletion('team/app', stale, ['old']), deletion('team/app', used, ['used']), deletion('team/app', shared, ['shared-old'])]);

    let refused: unknown;
    try {
      await applyCleanup(database.db, client, plan, { actor: 'ops', confirmed: false, intervalMs: 0 });
    } catch (error) {
      refused = error;
    }
    expect(refused).to.be.instanceOf(CleanupNotConfirmed);
    expect(await listCleanupAudit(database.db)).to.deep.equal([]);

    // A pull of `used` counted after the plan (updated_at is set by the database when the row is written).
    await database.db.insertInto('container_pull_metrics')
      .values({ pull_date: '2026-01-02', repo_name: 'team/app', tag: 'used', digest: used, architecture: 'amd64', pull_count: 1 })
      .execute();

    const report = await applyCleanup(database.db, client, plan, { actor: 'ops', confirmed: true, intervalMs: 0 });
    expect(report.actions.map((action) => [action.deletion.digest, action.result, action.detail])).to.deep.equal([
      [stale, 'deleted', ''],
      [used, 'skipped', 'used since the plan'],
      [shared, 'skipped', 'a kept tag now points to it: shared-kept'],
    ]);
    expect(report).to.include({ deleted: 1, skipped: 2, failed: 0 });
    expect(await client.manifestDigest('team/app', 'old')).to.equal(undefined);
    expect(await client.manifestDigest('team/app', 'used')).to.equal(used);
    expect(await client.manifestDigest('team/app', 'shared-old')).to.equal(shared);

    const audit = await listCleanupAudit(database.db);
    expect(audit.map((row) => [row.actor, row.action, row.digest, row.result, row.rule, row.tags])).to.deep.equal([
      ['ops', 'delete', shared, 'skipped', 'stale', ['shared-old']],
      ['ops', 'delete', used, 'skipped', 'stale', ['used']],
      ['ops', 'delete', stale, 'deleted', 'stale', ['old']],
    ]);
    expect(audit.every((row) => row.plannedAt.toISOString() === plannedAt.toISOString())).to.equal(true);

    // Applied again, the deleted manifest is already gone.
    const again = await applyCleanup(database.db, client, planOf(new Date(), [deletion('team/app', stale, ['old'])]), { actor: 'ops', confirmed: true, intervalMs: 0 });
    expect(again.actions.map((action) => action.result)).to.deep.equal(['already-gone']);
  });

  it('skips an untagged digest that a tagged index lists, even when the plan did not know the index', async () => {
    const { registry, client } = await registryWith('indexes', true);
    const platform = (content: string, architecture: string) =>
      buildSpecImage({ platform: { architecture, os: 'linux' }, created: '2026-01-01T00:00:00Z', layers: [['f.txt', content]] });
    const amd64 = platform('multi-amd64', 'amd64');
    const index = buildSpecIndex([amd64, platform('multi-arm64', 'arm64')], [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux' }]);
    const layout = join(dir, 'layout-multi');
    await writeOciLayout(layout, 'x', index);
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout}:x`, `docker://${registry.host}/team/multi:multi`);

    // The catalog had not described `multi`, so its amd64 platform looked like an untagged digest to the plan.
    const report = await applyCleanup(database.db, client, planOf(new Date(), [deletion('team/multi', amd64.root.digest, [])]), { actor: 'ops', confirmed: true, intervalMs: 0 });
    expect(report.actions.map((action) => [action.result, action.detail])).to.deep.equal([['skipped', 'a kept tag now points to it: multi (an index listing it)']]);
    expect((await client.getManifest('team/multi', amd64.root.digest)).digest).to.equal(amd64.root.digest);
  });

  it('skips a tagged digest that another tag\'s index now lists, even when the plan did not know the index', async () => {
    const { registry, client } = await registryWith('tagged-indexes', true);
    const platform = (content: string, architecture: string) =>
      buildSpecImage({ platform: { architecture, os: 'linux' }, created: '2026-01-01T00:00:00Z', layers: [['f.txt', content]] });
    const amd64 = platform('tagged-amd64', 'amd64');
    // `v1` is the amd64 image alone; `latest` was then pushed as an index listing it (buildx imagetools create).
    const single = join(dir, 'layout-tagged-v1');
    await writeOciLayout(single, 'x', amd64);
    await skopeo('copy', '--dest-tls-verify=false', `oci:${single}:x`, `docker://${registry.host}/team/tagged:v1`);
    const index = buildSpecIndex([amd64, platform('tagged-arm64', 'arm64')], [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux' }]);
    const layout = join(dir, 'layout-tagged-index');
    await writeOciLayout(layout, 'x', index);
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout}:x`, `docker://${registry.host}/team/tagged:latest`);
    expect(await client.manifestDigest('team/tagged', 'v1')).to.equal(amd64.root.digest);

    const report = await applyCleanup(database.db, client, planOf(new Date(), [deletion('team/tagged', amd64.root.digest, ['v1'])]), { actor: 'ops', confirmed: true, intervalMs: 0 });
    expect(report.actions.map((action) => [action.result, action.detail])).to.deep.equal([['skipped', 'a kept tag now points to it: latest (an index listing it)']]);
    expect(await client.manifestDigest('team/tagged', 'v1')).to.equal(amd64.root.digest);
  });

  it('reads use last, after the tag check: a pull counted while the tags are read cancels the delete', async () => {
    const { registry, client } = await registryWith('order', true);
    const digest = await push(registry, 'team/order', ['busy'], 'busy');
    // The real client, with a pull counted while apply lists the repository's tags (a slow check of many tags).
    const pullDuringTagCheck: CleanupRegistry = {
      listTags: async (repository) => {
        await database.db.insertInto('container_pull_metrics')
          .values({ pull_date: '2026-01-02', repo_name: 'team/order', tag: 'busy', digest, architecture: 'amd64', pull_count: 1 })
          .execute();
        return client.listTags(repository);
      },
      getManifest: (repository, reference) => client.getManifest(repository, reference),
      deleteManifest: (repository, reference) => client.deleteManifest(repository, reference),
      probeDeleteRights: (repository) => client.probeDeleteRights(repository),
    };
    const plannedAt = (await database.db.selectNoFrom((eb) => eb.fn<Date>('now').as('now')).executeTakeFirstOrThrow()).now;
    const report = await applyCleanup(database.db, pullDuringTagCheck, planOf(plannedAt, [deletion('team/order', digest, ['busy'])]), { actor: 'ops', confirmed: true, intervalMs: 0 });
    expect(report.actions.map((action) => [action.result, action.detail])).to.deep.equal([['skipped', 'used since the plan']]);
    expect(await client.manifestDigest('team/order', 'busy')).to.equal(digest);
  });

  it('stops, audited, while the pull queue holds a job waiting longer than the backlog allows', async () => {
    const { registry, client } = await registryWith('backlog', true);
    const digest = await push(registry, 'team/backlog', ['waiting'], 'waiting');
    const redis = await freshRedis();
    const queue = new Queue<PullJobData>('cleanup-apply-backlog', { connection: redis });
    try {
      // A pull event queued an hour ago and not processed yet: the worker is behind.
      await queue.add('pull', {} as PullJobData, { timestamp: Date.now() - 3_600_000 });
      const pullBacklog = { oldestWaitingJobTime: () => oldestWaitingJobTime(queue), maxWaitMs: 60_000 };
      const plan = planOf(new Date(), [deletion('team/backlog', digest, ['waiting'])]);
      const report = await applyCleanup(database.db, client, plan, { actor: 'ops', confirmed: true, intervalMs: 0, pullBacklog });
      expect(report.actions).to.deep.equal([]);
      expect(report.stopped).to.match(/^the pull queue holds a job waiting since .* \(more than 60 s\): a pull since the plan may not be counted yet/);
      expect(await client.manifestDigest('team/backlog', 'waiting')).to.equal(digest);
      expect((await listCleanupAudit(database.db, { limit: 1 }))[0]).to.include({ action: 'apply', result: 'refused', repository: 'team/backlog', detail: report.stopped });

      await queue.drain(); // caught up
      const again = await applyCleanup(database.db, client, plan, { actor: 'ops', confirmed: true, intervalMs: 0, pullBacklog });
      expect(again.actions.map((action) => action.result)).to.deep.equal(['deleted']);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }
  });

  it('stops before any delete when the registry disables deletes, quoting its answer', async () => {
    const { registry, client } = await registryWith('no-deletes', false);
    const digest = await push(registry, 'team/locked', ['v1'], 'locked');
    const before = (await listCleanupAudit(database.db)).length;
    const report = await applyCleanup(database.db, client, planOf(new Date(), [deletion('team/locked', digest, ['v1'])]), { actor: 'ops', confirmed: true, intervalMs: 0 });
    expect(report.refused?.refusal).to.equal('deletes-disabled');
    expect(report.refused?.answer).to.match(/^405 UNSUPPORTED/);
    expect(report.actions).to.deep.equal([]);
    expect(await client.manifestDigest('team/locked', 'v1')).to.equal(digest);
    const audit = await listCleanupAudit(database.db);
    expect(audit.length).to.equal(before + 1);
    expect(audit[0]).to.include({ action: 'apply', result: 'refused', repository: 'team/locked', digest });
    expect(audit[0]!.detail).to.match(/does not allow deletes \(it answered 405 UNSUPPORTED/);
  });
});
