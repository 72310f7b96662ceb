// The browse app's registry pages and API, as a process against a real docker-registry 2.8.2, without a database.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { writeOciLayout } from '../support/oci-layout.js';
import { buildSpecImage, buildSpecIndex } from '../support/images.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { eventually, TEST_REDIS_URL } from '../support/services.js';

const HOSTILE = `"><script>alert('label')</script><img src=x onerror=alert(1)>`;

describe('browse: registry pages and API (no database)', function () {
  this.timeout(120_000);
  let dir: string;
  let registry: TestRegistry;
  let browse: AppProcess;
  let base: string;

  async function get(path: string): Promise<{ status: number; body: string; headers: Headers }> {
    const response = await fetch(`${base}${path}`);
    return { status: response.status, body: await response.text(), headers: response.headers };
  }
  async function json<T = Record<string, any>>(path: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`${base}${path}`);
    return { status: response.status, body: (await response.json()) as T };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-browse-'));
    registry = await startTestRegistry({ dir: join(dir, 'registry') });
    const plain = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-05-01T00:00:00Z', layers: [['a', 'plain']] });
    const hostile = buildSpecImage({
      platform: { architecture: 'amd64', os: 'linux' },
      created: '2026-05-02T00:00:00Z',
      labels: { [`x${HOSTILE}`]: HOSTILE },
      history: [{ created_by: `/bin/sh -c echo ${HOSTILE}`, comment: HOSTILE }],
      layers: [['a', 'hostile']],
    });
    const arm = buildSpecImage({ platform: { architecture: 'arm64', os: 'linux', variant: 'v8' }, created: '2026-05-03T00:00:00Z', layers: [['a', 'arm']] });
    const index = buildSpecIndex([plain, arm], [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);
    await writeOciLayout(join(dir, 'plain'), 'x', plain);
    await writeOciLayout(join(dir, 'hostile'), 'x', hostile);
    await writeOciLayout(join(dir, 'index'), 'x', index);
    const to = (reference: string): string => `docker://${registry.host}/${reference}`;
    for (const repository of ['apps/api', 'apps/web', 'apps/tools/lint', 'base']) await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'plain')}:x`, to(`${repository}:1.0`));
    await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'hostile')}:x`, to('apps/api:hostile'));
    for (const tag of ['2.0', '10.0']) await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${join(dir, 'index')}:x`, to(`apps/api:${tag}`));

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    browse = startApp('browse', {
      // Access control is not what this suite tests: anonymous access, as an operator opts in to it.
      STATICREG_BROWSE_AUTH: 'none',
      STATICREG_BROWSE_PORT: String(port),
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_REGISTRY_HOSTNAME: registry.host,
      STATICREG_BROWSE_PULL_HOSTNAME: 'registry.example.test',
      STATICREG_BROWSE_CRAWL_RATE: '0',
    });
    await waitForHttp(`${base}/healthz`, browse);
    await eventually(async () => (await json('/api/catalog')).body.crawler?.lastPassFinishedAt !== undefined, 30_000, 'the first crawl pass');
  });

  after(async () => {
    await browse?.stop();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the repository tree with counts, as HTML and JSON, under the Content-Security-Policy', async () => {
    const home = await get('/');
    expect(home.status).to.equal(200);
    expect(home.headers.get('content-security-policy')).to.include("script-src 'self'");
    expect(home.body).to.include('href="/?path=apps"').and.include('href="/r/base"');
    const tree = await json('/api/tree?path=apps');
    expect(tree.body.entries.map((entry: Record<string, unknown>) => [entry.path, entry.isRepository, entry.repositoriesBelow, entry.tags])).to.deep.equal([
      ['apps/api', true, 0, 4],
      ['apps/tools', false, 1, 1],
      ['apps/web', true, 0, 1],
    ]);
    expect(tree.body.catalog).to.include({ repositories: 4, tags: 7 });
  });

  it('suggests repositories as you type and searches with pages', async () => {
    const suggest = await json('/api/search?q=API');
    expect(suggest.body.repositories.map((repository: { name: string; href: string }) => [repository.name, repository.href])).to.deep.equal([['apps/api', '/r/apps/api']]);
    const search = await get('/search?q=apps');
    expect(search.body).to.include('3 repositories matching').and.include('href="/r/apps/tools/lint"');
  });

  it('lists tags with digest, created, platforms, size and pull command, sortable, with a note that pulls need a database', async () => {
    const page = await json('/api/r/apps/api?sort=created');
    expect(page.body.tags.map((tag: Record<string, any>) => [tag.tag, tag.created, tag.platforms.length, tag.pullCommand])).to.deep.equal([
      // Same created: by name.
      ['2.0', '2026-05-03T00:00:00.000Z', 2, 'docker pull registry.example.test/apps/api:2.0'],
      ['10.0', '2026-05-03T00:00:00.000Z', 2, 'docker pull registry.example.test/apps/api:10.0'],
      ['hostile', '2026-05-02T00:00:00.000Z', 1, 'docker pull registry.example.test/apps/api:hostile'],
      ['1.0', '2026-05-01T00:00:00.000Z', 1, 'docker pull registry.example.test/apps/api:1.0'],
    ]);
    expect(page.body.note).to.match(/STATICREG_DB_URL/);
    const byName = await json('/api/r/apps/api');
    expect(byName.body.tags.map((tag: { tag: string }) => tag.tag)).to.deep.equal(['1.0', '2.0', '10.0', 'hostile']);
    const html = await get('/r/apps/api?sort=created&order=asc');
    expect(html.status).to.equal(200);
    expect(html.body).to.include('Pull counts are not shown').and.include('data-copy="docker pull registry.example.test/apps/api:1.0"');
  });

  it('shows a tag: every platform of an index with its size and config', async () => {
    const tag = await json('/api/r/apps/api/-/tags/10.0');
    expect(tag.body.manifest.kind).to.equal('index');
    expect(tag.body.manifest.images.map((image: Record<string, any>) => [image.config.architecture, image.size])).to.have.length(2);
    const html = await get('/r/apps/api/-/tags/10.0');
    expect(html.body).to.include('linux/arm64/v8').and.include('Raw index JSON');
  });

  it('escapes labels and history written by whoever pushed', async () => {
    const html = await get('/r/apps/api/-/tags/hostile');
    expect(html.status).to.equal(200);
    expect(html.body).to.not.include('<script>alert').and.not.include('<img src=x');
    expect(html.body).to.include('&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;');
    const scripts = html.body.match(/<script[^>]*>/g) ?? [];
    expect(scripts).to.deep.equal(['<script src="/assets/registry.js" defer>']);
  });

  it('answers a real 404 for an unknown repository or tag, and 400 for a bad parameter', async () => {
    expect((await get('/r/apps/nope')).status).to.equal(404);
    expect((await get('/r/apps/api/-/tags/nope')).status).to.equal(404);
    expect(await json('/api/r/apps/nope')).to.deep.equal({ status: 404, body: { error: 'no repository named apps/nope in the registry' } });
    expect((await get('/?path=nothing/here')).status).to.equal(404);
    const bad = await json('/api/r/apps/api?sort=size');
    expect(bad.status).to.equal(400);
    expect(bad.body.error).to.match(/^sort:/);
  });

  it('keeps serving what it read when the registry goes away; a browse that never read it answers 503', async () => {
    await registry.stop();
    const repository = await get('/r/apps/api');
    expect(repository.status).to.equal(200);
    expect(repository.body).to.include('hostile');
    const port = await freePort();
    const cold = startApp('browse', {
      STATICREG_BROWSE_AUTH: 'none',
      STATICREG_BROWSE_PORT: String(port),
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_REGISTRY_HOSTNAME: registry.host,
    });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, cold);
      let last: unknown;
      const state = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/api/tree`);
        const body = (await response.json()) as { error?: string };
        last = [response.status, body];
        return response.status === 503 && body.error?.includes('could not be read') ? body : undefined;
      }, 30_000, 'a 503 naming the registry error').catch((error: Error) => {
        throw new Error(`${error.message}; last answer ${JSON.stringify(last)}\n${cold.output().slice(-2000)}`);
      });
      expect(state?.error).to.match(/ECONNREFUSED/);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).to.equal(503);
      expect(await page.text()).to.include('Registry unavailable');
    } finally {
      expect(await cold.stop()).to.equal(0);
    }
  });
});

describe('browse: no registry configured', function () {
  this.timeout(60_000);
  let browse: AppProcess;
  let base: string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    browse = startApp('browse', { STATICREG_BROWSE_PORT: String(port), STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_BROWSE_AUTH: 'none' });
    await waitForHttp(`${base}/healthz`, browse);
  });
  after(async () => {
    expect(await browse?.stop()).to.equal(0);
  });

  it('pages say to set STATICREG_REGISTRY_HOSTNAME and link the dashboard, with 501 and no caching', async () => {
    for (const path of ['/', '/?path=apps', '/search?q=web', '/r/apps/api', '/r/apps/api/-/tags/1.0']) {
      const response = await fetch(`${base}${path}`);
      const body = await response.text();
      expect([path, response.status, response.headers.get('cache-control'), response.headers.get('retry-after')]).to.deep.equal([path, 501, 'no-store', null]);
      expect(body, path).to.include('<h1>No registry configured</h1>');
      expect(body, path).to.include('<code>STATICREG_REGISTRY_HOSTNAME</code>');
      expect(body, path).to.include('<a href="/dashboard">dashboard</a>');
      expect(body, path).to.not.include('Registry unavailable');
    }
    // The page it points to answers without a registry.
    expect((await fetch(`${base}/dashboard`)).status).to.equal(200);
  });

  it('the JSON API says the same, with the same status', async () => {
    for (const path of ['/api/tree', '/api/search?q=web', '/api/r/apps/api', '/api/r/apps/api/-/tags/1.0']) {
      const response = await fetch(`${base}${path}`);
      expect([path, response.status, response.headers.get('cache-control')]).to.deep.equal([path, 501, 'no-store']);
      const body = (await response.json()) as { error: string };
      expect(body.error, path).to.match(/^no registry is configured: set STATICREG_REGISTRY_HOSTNAME .* \/dashboard works without it$/);
    }
    // What the catalog holds is still readable: nothing, never listed.
    const catalog = await fetch(`${base}/api/catalog`);
    expect(catalog.status).to.equal(200);
    expect(await catalog.json()).to.deep.include({ repositories: 0, tags: 0, neverRefreshed: 0 });
  });
});
