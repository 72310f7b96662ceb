// End to end: real docker-registry 2.8.2 notifications -> receiver -> Redis -> worker -> exact container_pull_metrics rows.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { STATICREG_USER_AGENT } from '@staticreg/config';
import { utcDayOf } from '@staticreg/events';
import { createPullQueue, type PullJobData } from '@staticreg/queue';
import { FIXTURES_DIR } from '../support/fixtures.js';
import { buildImage, buildIndex, writeOciLayout, type OciArtifact } from '../support/oci-layout.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { queueDrained } from '../support/pull-queue.js';
import { registryDelivered, startRegistry, skopeo, type Registry } from '../support/registry.js';
import {
  createTestDatabase,
  freshRedis,
  metricRows,
  TEST_REDIS_URL,
  type MetricRow,
  type TestDatabase,
} from '../support/services.js';

const DOCKER_ARM64_UA =
  'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/arm64 ' +
  'UpstreamClient(Docker-Client/24.0.7 \\(linux\\))';
// What docker 24 asks for when it resolves a tag: every manifest type it can use.
const DOCKER_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');
const EVENTS_CONTENT_TYPE = 'application/vnd.docker.distribution.events.v1+json';
const REDELIVERED_FIXTURE = join(FIXTURES_DIR, 'pull-by-tag-docker-ua', '01-pull.json');

function sumField(records: Array<Record<string, unknown>>, field: string): number {
  return records.reduce((sum, record) => sum + Number(record[field] ?? 0), 0);
}

describe('registry pulls end to end (docker-registry 2.8.2, skopeo, receiver, worker, Postgres)', function () {
  this.timeout(120_000);

  const token = randomBytes(16).toString('hex');
  let workDir: string;
  let database: TestDatabase;
  let redis: Redis;
  let queue: Queue<PullJobData>;
  let receiver: AppProcess;
  let worker: AppProcess;
  let receiverUrl: string;
  let registry: Registry;
  let demo: OciArtifact;
  let multiAmd64: OciArtifact;
  let multiArm64: OciArtifact;
  let multi: OciArtifact;

  before(async function () {
    workDir = await mkdtemp(join(tmpdir(), 'staticreg-e2e-'));
    database = await createTestDatabase();
    redis = await freshRedis();
    queue = createPullQueue(redis);

    const receiverPort = await freePort();
    const workerPort = await freePort();
    // The rules asserted here are the events policy (every manifest pull by tag counts); the default policy,
    // sessions, counts the same requests differently.
    const common = { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_LOG_LEVEL: 'debug', STATICREG_COUNT_POLICY: 'events' };
    receiver = startApp('receiver', {
      ...common,
      STATICREG_RECEIVER_PORT: String(receiverPort),
      STATICREG_WEBHOOK_TOKEN: token,
    });
    worker = startApp('worker', {
      ...common,
      STATICREG_DB_URL: database.url,
      STATICREG_WORKER_PORT: String(workerPort),
      STATICREG_BATCH_MAX_WAIT_MS: '50',
    });
    receiverUrl = `http://127.0.0.1:${receiverPort}`;
    await Promise.all([
      waitForHttp(`${receiverUrl}/readyz`, receiver),
      waitForHttp(`http://127.0.0.1:${workerPort}/readyz`, worker),
    ]);

    registry = await startRegistry({
      dir: join(workDir, 'registry'),
      port: await freePort(),
      debugPort: await freePort(),
      notificationUrl: `${receiverUrl}/api/webhook/registry`,
      token,
    });

    // A per-run nonce in every layer gives fresh digests, so nothing cached by an earlier run (skopeo's blob
    // info cache, a reused registry) can turn a push into a mount or skip a blob.
    const nonce = randomBytes(8).toString('hex');
    demo = buildImage({ architecture: 'amd64', os: 'linux' }, 'hello.txt', `demo ${nonce}\n`);
    multiAmd64 = buildImage({ architecture: 'amd64', os: 'linux' }, 'hello.txt', `multi amd64 ${nonce}\n`);
    multiArm64 = buildImage({ architecture: 'arm64', os: 'linux', variant: 'v8' }, 'hello.txt', `multi arm64 ${nonce}\n`);
    multi = buildIndex([
      { platform: { architecture: 'amd64', os: 'linux' }, image: multiAmd64 },
      { platform: { architecture: 'arm64', os: 'linux', variant: 'v8' }, image: multiArm64 },
    ]);
    await writeOciLayout(join(workDir, 'layout-demo'), '1.0', demo);
    await writeOciLayout(join(workDir, 'layout-multi'), '1.0', multi);
  });

  after(async function () {
    // Whatever a failed test left running; the shutdown test has normally stopped the apps already.
    await registry?.stop();
    await Promise.all([receiver?.stop(), worker?.stop()]);
    await queue?.close();
    redis?.disconnect();
    await database?.drop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  /** A manifest request as docker sends it; returns what a client checks: the status and the digest served. */
  async function manifestRequest(method: 'GET' | 'HEAD', image: string, ref: string, userAgent: string): Promise<[number, string]> {
    const response = await fetch(`${registry.baseUrl}/v2/${image}/manifests/${ref}`, {
      method,
      headers: { 'User-Agent': userAgent, Accept: DOCKER_ACCEPT },
    });
    await response.arrayBuffer();
    return [response.status, response.headers.get('docker-content-digest') ?? ''];
  }

  /** docker://host/<image> in this test's registry. */
  const remote = (image: string): string => `docker://${registry.host}/${image}`;
  const local = (name: string): string => join(workDir, name);

  it('counts every tagged manifest pull of real clients once, and nothing else', async function () {
    // Pushes: each must not count, and must keep our bytes, or the digests below would be wrong.
    await skopeo('copy', '--dest-tls-verify=false', `oci:${local('layout-demo')}:1.0`, remote('e2e/demo:1.0'));
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${local('layout-multi')}:1.0`, remote('e2e/multi:1.0'));

    const firstDay = utcDayOf(Date.now());
    const src = '--src-tls-verify=false';
    // skopeo by tag: the manifest GET carries tag 1.0 (counted, UA has no arch); its blob GETs do not count.
    await skopeo('copy', src, remote('e2e/demo:1.0'), `dir:${local('pull-demo-tag')}`);
    // skopeo by digest: no tag in the event, not counted.
    await skopeo('copy', src, remote(`e2e/demo@${demo.root.digest}`), `dir:${local('pull-demo-digest')}`);
    // docker's tag check (HEAD) and a GET by tag: both are pulls under the current rules, arch from the UA.
    const dockerHead = await manifestRequest('HEAD', 'e2e/demo', '1.0', DOCKER_ARM64_UA);
    const dockerGet = await manifestRequest('GET', 'e2e/demo', '1.0', DOCKER_ARM64_UA);
    // staticreg's own registry client: ignored by default.
    const ownGet = await manifestRequest('GET', 'e2e/demo', '1.0', STATICREG_USER_AGENT);
    // skopeo --all: the index GET by tag counts; both platform manifests are fetched by digest and do not.
    await skopeo('copy', '--all', src, remote('e2e/multi:1.0'), `oci:${local('pull-multi-all')}:1.0`);
    // skopeo picking arm64/v8 from the index: index by tag (counted), arm64 manifest by digest (not).
    const arm64 = ['--override-arch=arm64', '--override-variant=v8'];
    await skopeo(...arm64, 'copy', src, remote('e2e/multi:1.0'), `dir:${local('pull-multi-arm64')}`);
    // docker's multi-arch pattern: HEAD the tag (counted), then GET the platform manifest by digest (not).
    const dockerMultiHead = await manifestRequest('HEAD', 'e2e/multi', '1.0', DOCKER_ARM64_UA);
    const dockerChildGet = await manifestRequest('GET', 'e2e/multi', multiArm64.root.digest, DOCKER_ARM64_UA);
    const lastDay = utcDayOf(Date.now());

    // The clients got what they asked for, so every event below stands for a real answered request.
    expect([dockerHead, dockerGet, ownGet, dockerMultiHead, dockerChildGet]).to.deep.equal([
      [200, demo.root.digest],
      [200, demo.root.digest],
      [200, demo.root.digest],
      [200, multi.root.digest],
      [200, multiArm64.root.digest],
    ]);
    const pulledByTag = JSON.parse(await readFile(local('pull-demo-tag/manifest.json'), 'utf8')) as { mediaType: string };
    expect(pulledByTag.mediaType).to.equal('application/vnd.oci.image.manifest.v1+json');
    if (firstDay !== lastDay) throw new Error(`the pulls straddled UTC midnight (${firstDay} -> ${lastDay}); run the test again`);

    const delivered = await registryDelivered(registry);
    // Every notification was accepted on the first POST: the bearer token configured in the registry works.
    expect({ failures: delivered.Failures, errors: delivered.Errors, statuses: delivered.Statuses }).to.deep.equal({
      failures: 0,
      errors: 0,
      statuses: { '200 OK': delivered.Events },
    });

    // Every request above did reach staticreg, so the rows below leave things out by rule, not by accident:
    // pushes 3 + 7 (blobs, manifests, index); manifests by tag 1 + 2 + 1 + 1 + 1 + 1 and by digest 1 + 2 + 1 + 1;
    // blob GETs 2 + 2 + 4 + 2.
    expect(delivered.Events, 'events the registry sent').to.equal(32);
    const completed = receiver.logLines('Webhook processing completed');
    expect(sumField(completed, 'totalEvents'), 'events the receiver took in').to.equal(32);
    const ignored = receiver.logLines('Skipped event').filter((record) => record.reason === 'ignored-user-agent');
    expect(ignored, 'events skipped for their User-Agent').to.have.length(1);

    await queueDrained(queue, worker);
    const row = (repo_name: string, digest: string, architecture: string, pull_count: number): MetricRow => ({
      pull_date: firstDay,
      repo_name,
      tag: '1.0',
      digest,
      architecture,
      pull_count,
    });
    const expected: MetricRow[] = [
      row('e2e/demo', demo.root.digest, 'arm64', 2),
      row('e2e/demo', demo.root.digest, 'not-specified', 1),
      row('e2e/multi', multi.root.digest, 'arm64', 1),
      row('e2e/multi', multi.root.digest, 'not-specified', 2),
    ];
    expect(await metricRows(database.db)).to.deep.equal(expected);
  });

  it('counts an event the registry delivers twice once', async function () {
    const body = await readFile(REDELIVERED_FIXTURE, 'utf8');
    const post = (authorization?: string): Promise<Response> =>
      fetch(`${receiverUrl}/api/webhook/registry`, {
        method: 'POST',
        headers: { 'Content-Type': EVENTS_CONTENT_TYPE, ...(authorization ? { Authorization: authorization } : {}) },
        body,
      });

    // Without the token nothing is taken in; the registry would keep retrying.
    expect((await post()).status).to.equal(401);

    const rowsBefore = (await metricRows(database.db)).length;
    for (let delivery = 1; delivery <= 2; delivery += 1) {
      const response = await post(`Bearer ${token}`);
      const answer = [response.status, await response.json()];
      expect(answer, `delivery ${delivery}`).to.deep.equal([200, { eventsReceived: 1, eventsAccepted: 1, eventsSkipped: 0 }]);
    }

    await queueDrained(queue, worker);
    const rows = await metricRows(database.db);
    expect(rows.length - rowsBefore, 'rows added').to.equal(1);
    expect(rows.filter((row) => row.repo_name === 'library/demo')).to.deep.equal([
      {
        pull_date: '2026-11-27',
        repo_name: 'library/demo',
        tag: '1.0',
        digest: 'sha256:14fb41572c028a4ee4275003ca13e004abf7b64a874c6161d5adc43fced5d1b8',
        architecture: 'arm64',
        pull_count: 1,
      },
    ]);
  });

  it('stops the receiver and the worker cleanly on SIGTERM', async function () {
    // The registry goes first so that nothing is posted to a receiver that is going away.
    await registry.stop();
    const [receiverCode, workerCode] = await Promise.all([receiver.stop('SIGTERM'), worker.stop('SIGTERM')]);
    expect({ receiver: receiverCode, worker: workerCode }).to.deep.equal({ receiver: 0, worker: 0 });
    expect(receiver.logLines('Stopped')).to.have.length(1);
    expect(worker.logLines('Stopped')).to.have.length(1);
  });
});
