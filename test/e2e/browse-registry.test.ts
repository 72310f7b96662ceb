// End to end: docker-registry 2.8.2 notifications -> receiver -> Redis stream -> browse refreshes the pushed or
// deleted repository within seconds (no crawl pass in between); browse's own reads never count as pulls; the
// repository page shows the worker's pulls and checks.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { utcDayOf } from '@staticreg/events';
import { writeOciLayout } from '../support/oci-layout.js';
import { buildSpecImage } from '../support/images.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { createTestDatabase, eventually, freshRedis, metricRows, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';

const DOCKER_UA = 'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/amd64 UpstreamClient(Docker-Client/24.0.7 \\(linux\\))';
const ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

interface TagJson {
  tag: string;
  digest: string;
  usage?: { pulls30: number; checks30: number; lastSeen?: string };
}

describe('browse follows registry pushes and deletes, and never counts as a pull (end to end)', function () {
  this.timeout(180_000);
  const token = randomBytes(16).toString('hex');
  let dir: string;
  let database: TestDatabase;
  let redis: Redis;
  let registry: TestRegistry;
  let receiver: AppProcess;
  let worker: AppProcess;
  let browse: AppProcess;
  let browseUrl: string;

  async function api<T>(path: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`${browseUrl}${path}`);
    return { status: response.status, body: (await response.json()) as T };
  }
  async function tags(repository: string): Promise<TagJson[] | undefined> {
    const answer = await api<{ tags: TagJson[] }>(`/api/r/${repository}`);
    return answer.status === 200 ? answer.body.tags : undefined;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-e2e-browse-'));
    database = await createTestDatabase();
    redis = await freshRedis();
    const receiverPort = await freePort();
    receiver = startApp('receiver', { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_RECEIVER_PORT: String(receiverPort), STATICREG_WEBHOOK_TOKEN: token, STATICREG_LOG_LEVEL: 'debug' });
    await waitForHttp(`http://127.0.0.1:${receiverPort}/readyz`, receiver);
    registry = await startTestRegistry({ dir: join(dir, 'registry'), notifications: { url: `http://127.0.0.1:${receiverPort}/api/webhook/registry`, token } });
    worker = startApp('worker', {
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_WORKER_PORT: String(await freePort()),
      STATICREG_BATCH_MAX_WAIT_MS: '50',
      STATICREG_REGISTRY_HOSTNAME: registry.host,
    });
    const browsePort = await freePort();
    browseUrl = `http://127.0.0.1:${browsePort}`;
    browse = startApp('browse', {
      // Access control is not what this suite tests: anonymous access, as an operator opts in to it.
      STATICREG_BROWSE_AUTH: 'none',
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_BROWSE_PORT: String(browsePort),
      STATICREG_REGISTRY_HOSTNAME: registry.host,
      STATICREG_BROWSE_CRAWL_RATE: '0',
      // No second pass during the test: whatever browse learns after the first one came through the stream.
      STATICREG_BROWSE_CRAWL_INTERVAL_SECONDS: '3600',
    });
    await waitForHttp(`${browseUrl}/healthz`, browse);
    await eventually(async () => (await api<{ crawler?: { lastPassFinishedAt?: number } }>('/api/catalog')).body.crawler?.lastPassFinishedAt, 30_000, 'the first crawl pass');
  });

  after(async () => {
    await registry?.stop();
    await Promise.all([receiver?.stop(), worker?.stop(), browse?.stop()]);
    redis?.disconnect();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows a pushed repository and tag within seconds, and drops a deleted manifest', async () => {
    const nonce = randomBytes(6).toString('hex');
    const first = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-07-01T00:00:00Z', layers: [['f', `one ${nonce}`]] });
    const second = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-07-02T00:00:00Z', layers: [['f', `two ${nonce}`]] });
    await writeOciLayout(join(dir, 'first'), 'x', first);
    await writeOciLayout(join(dir, 'second'), 'x', second);
    expect(await tags('live/app')).to.equal(undefined);

    await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'first')}:x`, `docker://${registry.host}/live/app:1.0`);
    const afterPush = await eventually(async () => (await tags('live/app'))?.find((tag) => tag.tag === '1.0'), 30_000, 'live/app:1.0 in browse');
    expect(afterPush!.digest).to.equal(first.root.digest);

    await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'second')}:x`, `docker://${registry.host}/live/app:2.0`);
    await eventually(async () => (await tags('live/app'))?.some((tag) => tag.tag === '2.0'), 30_000, 'live/app:2.0 in browse');

    const deleted = await fetch(`${registry.baseUrl}/v2/live/app/manifests/${second.root.digest}`, { method: 'DELETE' });
    expect(deleted.status).to.equal(202);
    const afterDelete = await eventually(async () => {
      const list = await tags('live/app');
      return list && !list.some((tag) => tag.tag === '2.0') ? list : undefined;
    }, 30_000, 'live/app:2.0 gone from browse');
    expect(afterDelete!.map((tag) => tag.tag)).to.deep.equal(['1.0']);

    const catalog = await api<{ crawler: { notified: number; lastPassFinishedAt: number; passTotal: number } }>('/api/catalog');
    expect(catalog.body.crawler.notified).to.be.at.least(3);
    expect(receiver.logLines('Webhook processing completed').some((line) => Number(line.registryChanges) > 0)).to.equal(true);
  });

  it("counts a client's pull and check, not browse's reads, and shows both on the repository page", async () => {
    // browse has read live/app:1.0 by tag (GET, staticreg's User-Agent) several times by now.
    await skopeo('copy', '--src-tls-verify=false', `docker://${registry.host}/live/app:1.0`, `dir:${join(dir, 'pulled')}`);
    const head = await fetch(`${registry.baseUrl}/v2/live/app/manifests/1.0`, { method: 'HEAD', headers: { 'User-Agent': DOCKER_UA, Accept: ACCEPT } });
    expect(head.status).to.equal(200);

    const usage = await eventually(async () => {
      const tag = (await tags('live/app'))?.find((row) => row.tag === '1.0');
      return tag?.usage && tag.usage.pulls30 === 1 && tag.usage.checks30 === 1 ? tag.usage : undefined;
    }, 60_000, 'one pull and one check of live/app:1.0');
    expect(usage!.lastSeen).to.equal(utcDayOf(Date.now()));
    // Only skopeo's GET is a pull: browse's GETs by tag were skipped by the receiver for their User-Agent.
    const rows = await metricRows(database.db);
    expect(rows.map((row) => [row.repo_name, row.tag, row.pull_count])).to.deep.equal([['live/app', '1.0', 1]]);
    const ignored = receiver.logLines('Skipped event').filter((line) => line.reason === 'ignored-user-agent');
    expect(ignored.length).to.be.at.least(3);

    const page = await fetch(`${browseUrl}/r/live/app`);
    const html = await page.text();
    expect(html).to.include('Pulls 7d · 30d').and.include('Checks 7d · 30d').and.include('not pulled or checked in 30 days');
  });
});
