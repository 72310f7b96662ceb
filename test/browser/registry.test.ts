// The registry pages in headless Chromium: walk home -> folder -> repository -> tag, search with autocomplete, sort,
// the unseen filter, the copy button; a pushed image whose labels and history hold HTML and script runs nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import { addDays, utcDayOf } from '@staticreg/events';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { writeOciLayout } from '../support/oci-layout.js';
import { buildSpecImage, buildSpecIndex } from '../support/images.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { createTestDatabase, eventually, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';

const XSS = `<script>window.__pwned = 'script'</script><img src=x onerror="window.__pwned = 'img'"><b onmouseover="window.__pwned = 'hover'">bold</b>`;

function daysAgo(days: number): string {
  return addDays(utcDayOf(Date.now()), -days);
}

describe('registry pages in Chromium', function () {
  this.timeout(180_000);
  let dir: string;
  let registry: TestRegistry;
  let database: TestDatabase;
  let browse: AppProcess;
  let base: string;
  let chromium: TestBrowser;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-browser-'));
    registry = await startTestRegistry({ dir: join(dir, 'registry') });
    database = await createTestDatabase();
    const app = buildSpecImage({
      platform: { architecture: 'amd64', os: 'linux' },
      created: '2026-03-01T10:00:00Z',
      labels: { 'org.opencontainers.image.title': 'shop api', 'org.opencontainers.image.version': '1.4.2' },
      entrypoint: ['/usr/local/bin/api'],
      cmd: ['--listen', ':8080'],
      exposedPorts: ['8080/tcp'],
      history: [
        { created: '2026-03-01T09:59:00Z', created_by: '/bin/sh -c #(nop) ADD file:rootfs in /' },
        { created: '2026-03-01T10:00:00Z', created_by: 'COPY api /usr/local/bin/api' },
        { created: '2026-03-01T10:00:00Z', created_by: '/bin/sh -c #(nop) EXPOSE 8080', empty_layer: true },
      ],
      layers: [['rootfs', 'base layer'], ['api', 'the api binary']],
    });
    const arm = buildSpecImage({ platform: { architecture: 'arm64', os: 'linux', variant: 'v8' }, created: '2026-03-02T10:00:00Z', layers: [['api', 'arm64 api']] });
    const index = buildSpecIndex([app, arm], [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);
    const hostile = buildSpecImage({
      platform: { architecture: 'amd64', os: 'linux' },
      created: '2026-03-03T10:00:00Z',
      labels: { description: XSS, [`${XSS}key`]: 'x' },
      history: [{ created_by: `/bin/sh -c echo '${XSS}'`, comment: XSS }],
      layers: [['evil', 'hostile']],
      annotations: { 'org.opencontainers.image.description': XSS },
    });
    await writeOciLayout(join(dir, 'app'), 'x', app);
    await writeOciLayout(join(dir, 'index'), 'x', index);
    await writeOciLayout(join(dir, 'hostile'), 'x', hostile);
    const to = (reference: string): string => `docker://${registry.host}/${reference}`;
    for (const tag of ['1.0', '1.1', '1.9', '1.10']) await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'app')}:x`, to(`shop/api:${tag}`));
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${join(dir, 'index')}:x`, to('shop/api:2.0'));
    await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'hostile')}:x`, to('shop/api:hostile'));
    for (const repository of ['shop/web', 'shop/tools/migrate', 'infra/proxy', 'infra/dns', 'base/debian']) {
      await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'app')}:x`, to(`${repository}:latest`));
    }
    // Usage as the worker writes it: 1.10 pulled today, 1.9 only checked (daily), 1.0 pulled 40 days ago, 1.1 never.
    const rows: Array<[string, string, string, number]> = [
      ['container_pull_metrics', daysAgo(0), '1.10', 12],
      ['container_pull_metrics', daysAgo(3), '2.0', 4],
      ['container_pull_checks', daysAgo(1), '1.9', 30],
      ['container_pull_metrics', daysAgo(40), '1.0', 2],
    ];
    for (const [table, day, tag, count] of rows) {
      const column = table === 'container_pull_metrics' ? 'pull_count' : 'check_count';
      await sql`insert into ${sql.table(table)} (pull_date, repo_name, tag, digest, architecture, ${sql.ref(column)}) values (${day}, 'shop/api', ${tag}, 'sha256:seed', 'amd64', ${count})`.execute(database.db);
    }

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    browse = startApp('browse', {
      // Access control is not what this suite tests: anonymous access, as an operator opts in to it.
      STATICREG_BROWSE_AUTH: 'none',
      STATICREG_BROWSE_PORT: String(port),
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_REGISTRY_HOSTNAME: registry.host,
      STATICREG_BROWSE_PULL_HOSTNAME: 'registry.example.com',
      STATICREG_BROWSE_CRAWL_RATE: '0',
    });
    await waitForHttp(`${base}/healthz`, browse);
    await eventually(async () => {
      const response = await fetch(`${base}/api/catalog`);
      const body = (await response.json()) as { crawler?: { lastPassFinishedAt?: number } };
      return body.crawler?.lastPassFinishedAt;
    }, 60_000, 'the first crawl pass');
    chromium = await launchBrowser('registry');
  });

  after(async () => {
    await chromium?.close();
    await browse?.stop();
    await registry?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(width = 1280): Promise<{ page: Page; problems: string[] }> {
    const opened = await chromium.newPage();
    await opened.page.setViewportSize({ width, height: 900 });
    return opened;
  }

  it('walks home -> folder -> repository -> tag, and each page shows what it should', async () => {
    const { page, problems } = await open();
    await page.goto(`${base}/`);
    await chromium.screenshot(page, 'home-1280');
    expect(await page.locator('h1').textContent()).to.equal('Repositories');
    await page.locator('td.name a.folder', { hasText: /^shop\/$/ }).click();
    await page.waitForURL(`${base}/?path=shop`);
    expect(await page.locator('nav.crumbs').textContent()).to.match(/Repositories\s*\/\s*shop/);
    await chromium.screenshot(page, 'folder-1280');
    await page.locator('td.name a.repo', { hasText: /^api$/ }).click();
    await page.waitForURL(`${base}/r/shop/api`);
    const tagNames = await page.locator('table.tags tbody td.name').allTextContents();
    expect(tagNames.map((name) => name.trim())).to.deep.equal(['1.0', '1.1', '1.9', '1.10', '2.0', 'hostile']);
    const row = page.locator('table.tags tbody tr', { hasText: '2.0' });
    expect(await row.locator('ul.chips li').allTextContents()).to.deep.equal(['linux/amd64', 'linux/arm64/v8']);
    expect(await row.locator('td .pulls7').textContent()).to.equal('4');
    await chromium.screenshot(page, 'repository-1280');
    await page.getByRole('link', { name: '2.0', exact: true }).click();
    await page.waitForURL(`${base}/r/shop/api/-/tags/2.0`);
    expect(await page.locator('h1').textContent()).to.equal('shop/api:2.0');
    expect(await page.locator('table.platforms tbody tr').count()).to.equal(2);
    await page.locator('details.raw summary').first().click();
    expect(await page.locator('details.raw pre').first().textContent()).to.include('"mediaType": "application/vnd.oci.image.index.v1+json"');
    await chromium.screenshot(page, 'tag-index-1280');
    await page.goto(`${base}/r/shop/api/-/tags/1.10`);
    expect(await page.locator('dl.facts').first().textContent()).to.include('12 in 7 days');
    await chromium.screenshot(page, 'tag-image-1280');
    expect(problems).to.deep.equal([]);
  });

  it('suggests repositories while typing; Enter on a suggestion opens it', async () => {
    const { page, problems } = await open();
    await page.goto(`${base}/`);
    await page.locator('#registry-search').pressSequentially('infra');
    const suggestions = page.locator('#registry-suggestions [role="option"]');
    // Answers to the shorter prefixes typed on the way ('i', 'in') may show first: wait for those of 'infra'.
    await page.waitForFunction(() => {
      const options = [...document.querySelectorAll('#registry-suggestions [role="option"]')];
      return options.length > 0 && options.every((option) => option.textContent?.startsWith('infra/'));
    });
    expect((await suggestions.allTextContents()).map((text) => text.replace(/\s+\d+ tags?$/, ''))).to.deep.equal(['infra/dns', 'infra/proxy']);
    await chromium.screenshot(page, 'search-suggestions-1280');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/r/infra/proxy`);
    await page.goto(`${base}/`);
    await page.locator('#registry-search').fill('shop');
    await page.locator('form.search button').click();
    await page.waitForURL(`${base}/search?q=shop`);
    expect(await page.locator('table.listing tbody tr').count()).to.equal(3);
    expect(problems).to.deep.equal([]);
  });

  it('sorts by created and by pulls, and finds tags not pulled or checked in 30 days (a daily check counts)', async () => {
    const { page, problems } = await open();
    await page.goto(`${base}/r/shop/api`);
    await page.getByRole('link', { name: /^Pulls 7d · 30d/ }).click();
    await page.waitForURL(/sort=pulls/);
    const byPulls = (await page.locator('table.tags tbody td.name').allTextContents()).map((name) => name.trim());
    expect(byPulls.slice(0, 2)).to.deep.equal(['1.10', '2.0']);
    await page.locator('select#unseen').selectOption('30');
    await page.waitForURL(/unseen=30/);
    const unseen = (await page.locator('table.tags tbody td.name').allTextContents()).map((name) => name.trim()).sort();
    expect(unseen).to.deep.equal(['1.0', '1.1', 'hostile']);
    expect(await page.locator('p.note').textContent()).to.include('were neither pulled nor checked');
    await chromium.screenshot(page, 'repository-unseen-1280');
    await page.goto(`${base}/r/shop/api`);
    await page.getByRole('link', { name: /^Created/ }).click();
    await page.waitForURL(/sort=created/);
    expect((await page.locator('table.tags tbody td.name').first().textContent())?.trim()).to.equal('hostile');
    expect(problems).to.deep.equal([]);
  });

  it('copies the pull command', async () => {
    const { page, problems } = await open();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.goto(`${base}/r/shop/api`);
    const button = page.locator('table.tags tbody tr', { hasText: '1.10' }).locator('button.copy');
    await button.click();
    await page.waitForFunction(() => document.querySelector('button.copy.done') !== null);
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal('docker pull registry.example.com/shop/api:1.10');
    expect(problems).to.deep.equal([]);
  });

  it('shows labels, annotations and history with HTML and script as text, and runs none of it', async () => {
    const { page, problems } = await open();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${base}/r/shop/api/-/tags/hostile`);
    await page.locator('table.kv').first().hover();
    await page.locator('details.raw summary').first().click();
    expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).to.equal(undefined);
    expect(await page.locator('script').count()).to.equal(1);
    expect(await page.locator('main img').count()).to.equal(0);
    expect(await page.locator('table.kv td').first().textContent()).to.equal(XSS);
    expect(await page.locator('code.step').first().textContent()).to.include(XSS);
    expect(dialogs).to.deep.equal([]);
    await chromium.screenshot(page, 'tag-hostile-1280');
    expect(problems).to.deep.equal([]);
  });

  it('reads well at phone width', async () => {
    const { page, problems } = await open(390);
    for (const [path, name] of [
      ['/', 'home-390'],
      ['/r/shop/api', 'repository-390'],
      ['/r/shop/api/-/tags/2.0', 'tag-index-390'],
    ] as const) {
      await page.goto(`${base}${path}`);
      // Nothing wider than the screen but the tables' own scroll areas.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, path).to.be.at.most(0);
      await chromium.screenshot(page, name);
    }
    expect(problems).to.deep.equal([]);
  });
});
