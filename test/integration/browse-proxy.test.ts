// Browse behind an authenticating proxy: the user and group headers are believed only from a trusted address, and a
// rules file maps users and groups to repositories. Requests from 127.0.0.2 stand for a client that is not the proxy.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { buildSpecImage } from '../support/images.js';
import { writeOciLayout } from '../support/oci-layout.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { eventually, TEST_REDIS_URL } from '../support/services.js';

describe('browse behind an authenticating proxy', function () {
  this.timeout(120_000);
  let dir: string;
  let registry: TestRegistry;
  let browse: AppProcess;
  let base: string;
  const fromProxy = new Agent({ localAddress: '127.0.0.1' });
  const fromElsewhere = new Agent({ localAddress: '127.0.0.2' });

  async function get(path: string, headers: Record<string, string>, via = fromProxy): Promise<{ status: number; body: string }> {
    const response = await request(`${base}${path}`, { headers, dispatcher: via });
    return { status: response.statusCode, body: await response.body.text() };
  }

  async function tree(headers: Record<string, string>, via = fromProxy): Promise<string[]> {
    const answer = await get('/api/tree', headers, via);
    expect(answer.status, answer.body).to.equal(200);
    return (JSON.parse(answer.body) as { entries: Array<{ path: string }> }).entries.map((entry) => entry.path);
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-browse-proxy-'));
    registry = await startTestRegistry({ dir: join(dir, 'registry') });
    const image = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-02-03T04:05:06Z', layers: [['f.txt', 'x']] });
    await writeOciLayout(join(dir, 'layout'), 'x', image);
    for (const repository of ['team-a/app', 'team-b/app', 'infra/dns', 'other/secret']) {
      await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'layout')}:x`, `docker://${registry.host}/${repository}:v1`);
    }
    const rules = join(dir, 'rules.json');
    await writeFile(rules, JSON.stringify({ rules: [{ users: ['alice'], repositories: ['team-a/*'] }, { groups: ['platform'], repositories: ['infra/*'] }] }));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    browse = startApp('browse', {
      STATICREG_BROWSE_PORT: String(port),
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_REGISTRY_HOSTNAME: registry.host,
      STATICREG_BROWSE_CRAWL_RATE: '0',
      STATICREG_BROWSE_AUTH: 'proxy',
      STATICREG_BROWSE_TRUSTED_PROXIES: '127.0.0.1/32',
      STATICREG_BROWSE_RULES_FILE: rules,
      STATICREG_BROWSE_ADMINS: 'group:ops',
    });
    await waitForHttp(`${base}/healthz`, browse);
    // Until the first crawl pass has read the catalog, browse answers 503 (being read for the first time).
    await eventually(async () => (await get('/api/tree', { 'x-forwarded-user': 'root', 'x-forwarded-groups': 'ops' })).status === 200, 30_000, 'the first crawl pass');
    await eventually(async () => (await tree({ 'x-forwarded-user': 'root', 'x-forwarded-groups': 'ops' })).length === 4, 30_000, 'every repository');
  });

  after(async () => {
    await browse?.stop();
    await registry?.stop();
    await fromProxy.close();
    await fromElsewhere.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows each user what the rules give them and their groups', async () => {
    expect(await tree({ 'x-forwarded-user': 'alice' })).to.deep.equal(['team-a']);
    expect(await tree({ 'x-forwarded-user': 'alice', 'x-forwarded-groups': 'sales, platform' })).to.deep.equal(['infra', 'team-a']);
    expect(await tree({ 'x-forwarded-user': 'carol' })).to.deep.equal([]);
    expect((await get('/r/team-b/app', { 'x-forwarded-user': 'alice' })).status).to.equal(404);
    const page = await get('/r/team-a/app', { 'x-forwarded-user': 'alice' });
    expect(page.status).to.equal(200);
    expect(page.body).to.include('<span class="user">alice</span>').and.not.include('Sign out');
    expect((await get('/api/metrics/pipeline', { 'x-forwarded-user': 'alice' })).status).to.equal(403);
    const dashboard = await get('/dashboard', { 'x-forwarded-user': 'root', 'x-forwarded-groups': 'ops' });
    expect(dashboard.body).to.include('panel-pipeline');
    expect((await get('/api/metrics/pipeline', { 'x-forwarded-user': 'root', 'x-forwarded-groups': 'ops' })).status).to.equal(200);
    expect(await tree({ 'x-forwarded-user': 'root', 'x-forwarded-groups': 'ops' })).to.deep.equal(['infra', 'other', 'team-a', 'team-b']);
  });

  it('ignores the headers from an address that is not a trusted proxy, and answers a request without them 403', async () => {
    for (const path of ['/', '/api/tree', '/r/team-a/app', '/dashboard']) {
      const forged = await get(path, { 'x-forwarded-user': 'root', 'x-forwarded-groups': 'ops' }, fromElsewhere);
      expect(forged.status, path).to.equal(403);
      expect(forged.body, path).to.not.match(/team-|infra|secret/);
      expect((await get(path, {})).status, path).to.equal(403);
    }
    // What stays open for anyone: probes and assets.
    expect((await get('/healthz', {}, fromElsewhere)).status).to.equal(200);
    expect((await get('/assets/app.css', {}, fromElsewhere)).status).to.equal(200);
  });
});
