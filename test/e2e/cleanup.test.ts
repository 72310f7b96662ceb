// End to end: cleanup by use on docker-registry 2.8.2. Images pushed with skopeo, pulls and checks on chosen days
// sent through the receiver and the worker, the catalog crawled by browse into Postgres; the plan, then apply:
// exactly the planned digests go, a pull between plan and apply saves its image, a shared digest survives, the
// catalog follows the deletes, and a registry with deletes disabled is refused cleanly (the CLI too).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { applyCleanup, loadPolicy, planCleanup, type CleanupPlan } from '@staticreg/cleanup';
import { STATICREG_USER_AGENT } from '@staticreg/config';
import { listCleanupAudit, usedSince } from '@staticreg/db';
import { addDays, utcDayOf, type UtcDay } from '@staticreg/events';
import { createPullQueue, createRedisConnection, oldestWaitingJobTime } from '@staticreg/queue';
import { RegistryClient } from '@staticreg/registry';
import { buildSpecImage, buildSpecIndex } from '../support/images.js';
import { writeOciLayout, type OciArtifact } from '../support/oci-layout.js';
import { freePort, REPO_ROOT, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';

const run = promisify(execFile);
const REPOSITORY = 'e2e-cleanup/app';
const DOCKER_UA = 'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/amd64 UpstreamClient(Docker-Client/24.0.7 \\(linux\\))';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
// Every image was built long ago: "never used" falls back to its creation, which is past any grace period here.
const CREATED = '2025-01-01T00:00:00Z';
const POLICY = `rules:
  - name: stale
    repositories: ["e2e-cleanup/**"]
    keepUsedWithinDays: 30
    keepTags: ["stable"]
`;

describe('cleanup by use end to end (docker-registry 2.8.2, receiver, worker, browse catalog, Postgres)', function () {
  this.timeout(240_000);
  const token = randomBytes(16).toString('hex');
  const today = utcDayOf(new Date());
  let dir: string;
  let database: TestDatabase;
  let registry: TestRegistry;
  let lockedRegistry: TestRegistry;
  let receiver: AppProcess;
  let worker: AppProcess;
  let browse: AppProcess;
  let receiverPort: number;
  let client: RegistryClient;
  let policyFile: string;
  let eventCount = 0;
  /** The images by the name of their first tag. */
  const images = new Map<string, OciArtifact>();
  const digestOf = (name: string): string => images.get(name)!.root.digest;

  async function push(name: string, artifact: OciArtifact, tags: string[]): Promise<void> {
    images.set(name, artifact);
    const layout = join(dir, 'layouts', name);
    await writeOciLayout(layout, 'x', artifact);
    for (const tag of tags) {
      await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout}:x`, `docker://${registry.host}/${REPOSITORY}:${tag}`);
    }
  }

  /** A manifest request as the registry reports it, stamped on `day`, from a client of its own (no session joins it). */
  async function notify(method: 'GET' | 'HEAD', tag: string, name: string, day: UtcDay): Promise<void> {
    eventCount += 1;
    const id = `cleanup-e2e-${eventCount}-${randomBytes(4).toString('hex')}`;
    const digest = digestOf(name);
    const mediaType = images.get(name)!.root.mediaType === OCI_INDEX ? OCI_INDEX : OCI_MANIFEST;
    const event = {
      id,
      timestamp: `${day}T12:00:00.000Z`,
      action: 'pull',
      target: { mediaType, size: 1234, digest, length: 1234, repository: REPOSITORY, url: `http://${registry.host}/v2/${REPOSITORY}/manifests/${digest}`, tag },
      request: { id: `request-${id}`, addr: `10.9.${eventCount}.1:40000`, host: registry.host, method, useragent: DOCKER_UA },
      actor: {},
      source: { addr: 'registry:5000', instanceID: 'cleanup-e2e' },
    };
    const response = await fetch(`http://127.0.0.1:${receiverPort}/api/webhook/registry`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/vnd.docker.distribution.events.v1+json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ events: [event] }),
    });
    expect(response.status, await response.text()).to.be.within(200, 299);
  }

  /** The last day each image was pulled and checked, as the count tables hold it. */
  async function useOf(name: string): Promise<{ pulled: string | null; checked: string | null }> {
    const digest = digestOf(name);
    const last = async (table: 'container_pull_metrics' | 'container_pull_checks') => {
      const row = await database.db.selectFrom(table).select((eb) => eb.fn.max('pull_date').as('day')).where('repo_name', '=', REPOSITORY).where('digest', '=', digest).executeTakeFirst();
      return (row?.day as string | null | undefined) ?? null;
    };
    return { pulled: await last('container_pull_metrics'), checked: await last('container_pull_checks') };
  }

  async function served(digest: string): Promise<number> {
    const response = await fetch(`${registry.baseUrl}/v2/${REPOSITORY}/manifests/${digest}`, { method: 'HEAD', headers: { 'User-Agent': STATICREG_USER_AGENT, Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
    return response.status;
  }

  async function catalogDigests(): Promise<string[]> {
    const rows = await database.db.selectFrom('registry_tags').select('digest').where('repository', '=', REPOSITORY).distinct().execute();
    return rows.map((row) => row.digest).sort();
  }

  /** The CLI as `make cleanup-apply` runs it (from source), with its exit code and output. */
  async function cli(registryHost: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', STATICREG_DB_URL: database.url, STATICREG_REGISTRY_HOSTNAME: registryHost, STATICREG_CLEANUP_DELETE_INTERVAL_MS: '0', STATICREG_REDIS_URL: TEST_REDIS_URL };
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--conditions=staticreg-source', 'apps/worker/src/cleanup-apply.ts', '--policy', policyFile, ...args], { cwd: REPO_ROOT, env });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-e2e-cleanup-'));
    policyFile = join(dir, 'cleanup.yaml');
    await writeFile(policyFile, POLICY);
    database = await createTestDatabase();
    (await freshRedis()).disconnect();
    receiverPort = await freePort();
    receiver = startApp('receiver', { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_RECEIVER_PORT: String(receiverPort), STATICREG_WEBHOOK_TOKEN: token });
    await waitForHttp(`http://127.0.0.1:${receiverPort}/readyz`, receiver);
    registry = await startTestRegistry({ dir: join(dir, 'registry'), notifications: { url: `http://127.0.0.1:${receiverPort}/api/webhook/registry`, token } });
    lockedRegistry = await startTestRegistry({ dir: join(dir, 'locked'), deletes: false });
    client = new RegistryClient({ baseUrl: registry.baseUrl, userAgent: STATICREG_USER_AGENT });

    const nonce = randomBytes(6).toString('hex');
    const image = (name: string, architecture = 'amd64') =>
      buildSpecImage({ platform: { architecture, os: 'linux' }, created: CREATED, layers: [['f.txt', `${name} ${nonce}`]] });
    await push('old', image('old'), ['old']);
    await push('recent', image('recent'), ['recent']);
    await push('multi', buildSpecIndex([image('multi-amd64'), image('multi-arm64', 'arm64')], [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux' }]), ['multi']);
    await push('saved', image('saved'), ['saved']);
    await push('stable', image('stable'), ['stable', 'build-7']);
    await push('retag', image('retag'), ['retag']);

    worker = startApp('worker', {
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_WORKER_PORT: String(await freePort()),
      STATICREG_BATCH_MAX_WAIT_MS: '50',
      STATICREG_SESSION_WINDOW_SECONDS: '1',
      STATICREG_REGISTRY_HOSTNAME: registry.host,
    });
    const browsePort = await freePort();
    browse = startApp('browse', {
      STATICREG_BROWSE_AUTH: 'none',
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_BROWSE_PORT: String(browsePort),
      STATICREG_REGISTRY_HOSTNAME: registry.host,
      STATICREG_BROWSE_CRAWL_RATE: '0',
      // One pass at start; what browse learns afterwards comes through the receiver's change stream.
      STATICREG_BROWSE_CRAWL_INTERVAL_SECONDS: '3600',
    });
    await waitForHttp(`http://127.0.0.1:${browsePort}/healthz`, browse);
    const everyDigest = [...images.values()].map((artifact) => artifact.root.digest).sort();
    await eventually(async () => JSON.stringify(await catalogDigests()) === JSON.stringify(everyDigest), 60_000, 'the catalog to hold every pushed image');

    // Use on chosen days: within the policy's 30 days only for `recent`; the rest long before.
    await notify('GET', 'old', 'old', addDays(today, -60));
    await notify('GET', 'recent', 'recent', addDays(today, -5));
    await notify('HEAD', 'multi', 'multi', addDays(today, -90));
    await notify('GET', 'saved', 'saved', addDays(today, -60));
    await notify('GET', 'build-7', 'stable', addDays(today, -60));
    await notify('GET', 'retag', 'retag', addDays(today, -45));
    await eventually(async () => {
      const use = await Promise.all(['old', 'recent', 'multi', 'saved', 'stable', 'retag'].map(useOf));
      return use.every((row) => row.pulled !== null || row.checked !== null);
    }, 60_000, 'every pull and check counted');
  });

  after(async () => {
    await client?.close();
    await registry?.stop();
    await lockedRegistry?.stop();
    await Promise.all([receiver?.stop(), worker?.stop(), browse?.stop()]);
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let plan: CleanupPlan;

  it('counts the use on the chosen days', async () => {
    expect(await useOf('old')).to.deep.equal({ pulled: addDays(today, -60), checked: null });
    expect(await useOf('recent')).to.deep.equal({ pulled: addDays(today, -5), checked: null });
    expect(await useOf('multi')).to.deep.equal({ pulled: null, checked: addDays(today, -90) });
  });

  it('plans the images unused for 30 days, never the digest a kept tag shares', async () => {
    plan = await planCleanup(database.db, await loadPolicy(policyFile), { now: new Date() });
    const planned = plan.deletions.map((deletion) => [deletion.digest, deletion.tags, deletion.rule]);
    expect(planned).to.have.deep.members([
      [digestOf('old'), ['old'], 'stale'],
      [digestOf('multi'), ['multi'], 'stale'],
      [digestOf('saved'), ['saved'], 'stale'],
      [digestOf('retag'), ['retag'], 'stale'],
    ]);
  });

  it('the CLI prints the plan and deletes nothing without confirmation', async () => {
    const answer = await cli(registry.host);
    expect(answer.code, answer.stderr).to.equal(3);
    expect(answer.stdout).to.include('4 manifests to delete');
    for (const name of ['old', 'multi', 'saved', 'retag']) expect(answer.stdout).to.include(digestOf(name).slice(0, 19));
    expect(answer.stdout).not.to.include(digestOf('recent').slice(0, 19));
    expect(answer.stderr).to.include('Not applied');
    expect(await served(digestOf('old'))).to.equal(200);
    expect(await listCleanupAudit(database.db)).to.deep.equal([]);
  });

  it('the CLI is refused cleanly by a registry with deletes disabled, quoting its answer', async () => {
    const answer = await cli(lockedRegistry.host, '--yes');
    expect(answer.code, answer.stderr).to.equal(4);
    expect(answer.stderr).to.match(/does not allow deletes \(it answered 405 UNSUPPORTED/).and.include('Nothing was deleted');
    const audit = await listCleanupAudit(database.db);
    expect(audit.map((row) => [row.action, row.result])).to.deep.equal([['apply', 'refused']]);
    expect(audit[0]!.actor).to.match(/^cli:/);
  });

  it('applies exactly the plan, except an image pulled since the plan and a digest a new tag now shares', async () => {
    // Between plan and apply: `saved` is pulled (its event stamped today) and `pinned` is pushed onto `retag`'s digest.
    await notify('GET', 'saved', 'saved', today);
    await eventually(() => usedSince(database.db, REPOSITORY, [digestOf('saved')], new Date(plan.plannedAt)), 60_000, 'the pull of saved counted');
    // Pushed from the local layout: copying from the registry would be a pull of `retag`, saving it for that reason.
    await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'layouts', 'retag')}:x`, `docker://${registry.host}/${REPOSITORY}:pinned`);

    // The real pull queue, caught up: apply goes on.
    const redis = createRedisConnection(TEST_REDIS_URL, 'reader');
    const queue = createPullQueue(redis);
    const pullBacklog = { oldestWaitingJobTime: () => oldestWaitingJobTime(queue), maxWaitMs: 60_000 };
    const report = await applyCleanup(database.db, client, plan, { actor: 'e2e-admin', confirmed: true, intervalMs: 0, pullBacklog })
      .finally(async () => {
        await queue.close();
        redis.disconnect();
      });
    const results = Object.fromEntries(report.actions.map((action) => [action.deletion.tags[0], [action.result, action.detail]]));
    expect(results).to.deep.equal({
      old: ['deleted', ''],
      multi: ['deleted', ''],
      saved: ['skipped', 'used since the plan'],
      retag: ['skipped', 'a kept tag now points to it: pinned'],
    });

    expect(await served(digestOf('old'))).to.equal(404);
    expect(await served(digestOf('multi'))).to.equal(404);
    for (const kept of ['recent', 'saved', 'stable', 'retag']) expect(await served(digestOf(kept)), kept).to.equal(200);
    expect((await client.listTags(REPOSITORY)).sort()).to.deep.equal(['build-7', 'pinned', 'recent', 'retag', 'saved', 'stable']);
    expect(await client.manifestDigest(REPOSITORY, 'build-7')).to.equal(digestOf('stable'));

    const audit = await listCleanupAudit(database.db);
    expect(audit.filter((row) => row.action === 'delete').map((row) => [row.actor, row.tags[0], row.result]).sort()).to.deep.equal([
      ['e2e-admin', 'multi', 'deleted'],
      ['e2e-admin', 'old', 'deleted'],
      ['e2e-admin', 'retag', 'skipped'],
      ['e2e-admin', 'saved', 'skipped'],
    ]);
  });

  it("browse's catalog follows the deletes through the registry's notifications", async () => {
    const expected = ['recent', 'saved', 'stable', 'retag'].map(digestOf).sort();
    await eventually(async () => JSON.stringify(await catalogDigests()) === JSON.stringify(expected), 60_000, 'the catalog without the deleted images');
    const tags = await database.db.selectFrom('registry_tags').select('tag').where('repository', '=', REPOSITORY).orderBy('tag').execute();
    expect(tags.map((row) => row.tag)).to.deep.equal(['build-7', 'pinned', 'recent', 'retag', 'saved', 'stable']);
  });
});
