// The dashboard in headless Chromium on seeded data: every chart draws, filters drive the panels and the URL, CSV downloads.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { UnrecoverableError, Worker } from 'bullmq';
import { addDays, utcDayOf } from '@staticreg/events';
import { createLogger } from '@staticreg/log';
import { closeServer, listen } from '@staticreg/http';
import { createPullQueue, createRedisConnection, IntakeRecorder, publishCountingPause, PULL_QUEUE, type PullJobData } from '@staticreg/queue';
import { createBrowseApp } from '../../apps/browse/src/app.js';
import { createDashboardRouter } from '../../apps/browse/src/dashboard/index.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';
import { digestOf, enqueue, spreadPulls } from '../support/pulls.js';

const NOW = new Date('2026-03-15T12:00:00Z');
const day = (offset: number) => addDays(utcDayOf(NOW), -offset);
const OLD_LATEST = digestOf('nginx-old');
const NEW_LATEST = digestOf('nginx-new');

interface Row {
  date: string;
  repository: string;
  tag: string;
  digest: string;
  architecture: string;
  count: number;
}

/** 30 days of pulls over a few repositories and architectures; nginx:latest moves to a new digest 10 days ago. */
function seedRows(): { pulls: Row[]; checks: Row[] } {
  const pulls: Row[] = [];
  const checks: Row[] = [];
  const architectures = ['amd64', 'arm64', 'arm/v7'];
  for (let offset = 0; offset < 30; offset += 1) {
    const date = day(offset);
    architectures.forEach((architecture, a) => {
      pulls.push({ date, repository: 'library/nginx', tag: 'latest', digest: offset < 10 ? NEW_LATEST : OLD_LATEST, architecture, count: 20 + ((offset * 7 + a * 3) % 11) });
      // Some clients keep pulling the old digest for two days after the move.
      if (offset === 8 || offset === 9) pulls.push({ date, repository: 'library/nginx', tag: 'latest', digest: OLD_LATEST, architecture, count: 2 });
      pulls.push({ date, repository: 'library/nginx', tag: '1.27', digest: digestOf('nginx-1.27'), architecture, count: 5 + ((offset + a) % 4) });
    });
    pulls.push({ date, repository: 'library/redis', tag: '7', digest: digestOf('redis-7'), architecture: 'amd64', count: 12 + (offset % 5) });
    pulls.push({ date, repository: 'team/api', tag: `v${1 + Math.floor(offset / 10)}`, digest: digestOf(`api-${Math.floor(offset / 10)}`), architecture: 'not-specified', count: 3 });
    checks.push({ date, repository: 'library/nginx', tag: 'latest', digest: NEW_LATEST, architecture: 'amd64', count: 4 + (offset % 3) });
  }
  return { pulls, checks };
}

describe('dashboard in Chromium (real Postgres and Redis)', function () {
  this.timeout(180_000);
  let database: TestDatabase;
  let redis: Redis;
  let server: Server;
  let base: string;
  let browser: TestBrowser;
  const { pulls, checks } = seedRows();
  const sum = (rows: Row[], keep: (row: Row) => boolean = () => true) => rows.filter(keep).reduce((total, row) => total + row.count, 0);

  before(async () => {
    database = await createTestDatabase();
    redis = await freshRedis();
    for (const [table, column, rows] of [
      ['container_pull_metrics', 'pull_count', pulls],
      ['container_pull_checks', 'check_count', checks],
    ] as const) {
      await sql`
        insert into ${sql.table(table)} (pull_date, repo_name, tag, digest, architecture, ${sql.ref(column)}, updated_at)
        select d, r, t, g, a, c, d + time '12:00' from unnest(
          ${rows.map((r) => r.date)}::date[], ${rows.map((r) => r.repository)}::text[], ${rows.map((r) => r.tag)}::text[],
          ${rows.map((r) => r.digest)}::text[], ${rows.map((r) => r.architecture)}::text[], ${rows.map((r) => r.count)}::int[]
        ) as s(d, r, t, g, a, c)`.execute(database.db);
    }
    // The pipeline panel: one failed job with its error, two waiting, intake in the last minutes.
    const connection = createRedisConnection(TEST_REDIS_URL, 'worker');
    const failing = new Worker<PullJobData>(PULL_QUEUE, async () => {
      throw new UnrecoverableError('invalid input syntax for type date: "2026-13-01"');
    }, { connection });
    await enqueue(TEST_REDIS_URL, spreadPulls('broken', 1));
    const probe = createPullQueue(redis);
    await eventually(async () => (await probe.getJobCounts('failed')).failed === 1, 30_000, 'a failed job');
    await failing.close();
    connection.disconnect();
    await enqueue(TEST_REDIS_URL, spreadPulls('waiting', 2));
    // A worker paused by a read-only database two minutes ago.
    const pausedSince = new Date(Date.now() - 120_000).toISOString();
    await publishCountingPause(redis, { since: pausedSince, sqlstate: '25006', message: 'cannot execute INSERT in a read-only transaction', cause: 'error', worker: 'test:1' }, 600);
    // On the dashboard's pinned clock, so the events fall in its last hour.
    const recorder = new IntakeRecorder(redis, { now: () => NOW.getTime() - 60_000 });
    recorder.record(5, ['not-manifest', 'not-manifest', 'not-pull']);
    await recorder.close();

    const app = createBrowseApp({
      log: createLogger('browse', 'silent'),
      probes: () => ({}),
      isShuttingDown: () => false,
      routers: [createDashboardRouter({ db: database.db, queue: probe, redis, now: () => NOW })],
    });
    server = await listen(app, 0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser('dashboard');
  });

  after(async () => {
    await browser?.close();
    if (server) await closeServer(server);
    await redis?.quit();
    await database?.drop();
  });

  /** Waits until every panel has finished (drawn, waiting for a filter, or failed) for the current URL. */
  async function settled(page: Page): Promise<Record<string, string>> {
    await page.waitForFunction(() => {
      const panels = [...document.querySelectorAll<HTMLElement>('section.panel')];
      return panels.length > 0 && panels.every((panel) => panel.dataset.state !== 'loading') && document.body.dataset.loaded !== undefined;
    });
    return page.evaluate(() => Object.fromEntries([...document.querySelectorAll<HTMLElement>('section.panel')].map((panel) => [panel.dataset.panel!, panel.dataset.state!])));
  }

  /** What Chart.js drew in a panel: dataset labels and values, and whether the canvas has pixels. */
  async function chartOf(page: Page, panel: string): Promise<{ labels: string[]; datasets: Array<{ label: string; data: number[] }>; painted: boolean }> {
    return page.evaluate((id) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`#panel-${id} canvas`)!;
      const chart = (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): any } }).Chart.getChart(canvas);
      if (!chart) return { labels: [], datasets: [], painted: false };
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = false;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) { painted = true; break; }
      return {
        labels: chart.data.labels.map(String),
        datasets: chart.data.datasets.map((d: { label: string; data: number[] }) => ({ label: d.label, data: [...d.data] })),
        painted,
      };
    }, panel);
  }

  async function tableRows(page: Page, panel: string): Promise<string[][]> {
    return page.$$eval(`#panel-${panel} .numbers tbody tr`, (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent ?? '')));
  }

  it('loads on seeded data and draws every chart, with the exact numbers behind them', async () => {
    const { page, problems } = await browser.newPage();
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(`${base}/dashboard`);
    const states = await settled(page);
    expect(states).to.deep.equal({
      daily: 'drawn',
      'top-repositories': 'drawn',
      'top-tags': 'drawn',
      architectures: 'drawn',
      'daily-architectures': 'drawn',
      'image-architectures': 'needs',
      'tag-digests': 'needs',
      pipeline: 'drawn',
    });
    for (const panel of ['daily', 'top-repositories', 'top-tags', 'architectures', 'daily-architectures', 'pipeline']) {
      expect((await chartOf(page, panel)).painted, panel).to.equal(true);
    }

    const daily = await chartOf(page, 'daily');
    expect(daily.labels).to.have.length(30);
    expect(daily.labels[29]).to.equal('2026-03-15');
    expect(daily.datasets.map((d) => d.label)).to.deep.equal(['pulls', 'checks']);
    expect(daily.datasets[0]!.data.reduce((a, b) => a + b, 0)).to.equal(sum(pulls));
    expect(daily.datasets[1]!.data.reduce((a, b) => a + b, 0)).to.equal(sum(checks));
    expect(await page.textContent('[data-kpi="pulls"]')).to.equal(sum(pulls).toLocaleString('en-US'));
    expect(await page.textContent('[data-kpi="checks"]')).to.equal(sum(checks).toLocaleString('en-US'));
    expect(await page.textContent('[data-kpi="last"]')).to.equal(sum(pulls, (r) => r.date === '2026-03-15').toLocaleString('en-US'));

    const top = await chartOf(page, 'top-repositories');
    expect(top.labels).to.deep.equal(['library/nginx', 'library/redis', 'team/api']);
    expect(top.datasets[0]!.data).to.deep.equal(['library/nginx', 'library/redis', 'team/api'].map((repo) => sum(pulls, (r) => r.repository === repo)));
    expect((await tableRows(page, 'top-tags'))[0]).to.deep.equal(['library/nginx', 'latest', sum(pulls, (r) => r.tag === 'latest').toLocaleString('en-US'), sum(checks).toLocaleString('en-US')]);
    const arch = await chartOf(page, 'architectures');
    const byArchitecture = ['amd64', 'arm64', 'arm/v7', 'not-specified'].map((a) => [a, sum(pulls, (r) => r.architecture === a)] as const);
    expect(arch.labels).to.deep.equal(byArchitecture.sort((x, y) => y[1] - x[1]).map(([a]) => a));
    expect((await chartOf(page, 'daily-architectures')).datasets.map((d) => d.label).sort()).to.deep.equal(['amd64', 'arm/v7', 'arm64', 'not-specified']);

    const tiles = await page.$$eval('#panel-pipeline .tiles > div', (divs) => Object.fromEntries(divs.map((div) => [div.querySelector('dt')!.textContent, div.querySelector('dd')!.textContent])));
    expect(tiles).to.deep.include({ Waiting: '2', Failed: '1', 'Accepted, last hour': '5', 'Skipped, last hour': '3' });
    expect(tiles.Redis).to.match(/^ok \(/);
    expect(tiles.Postgres).to.match(/^ok \(/);
    expect(tiles.Counting).to.match(/^paused \d+ min: SQLSTATE 25006: cannot execute INSERT in a read-only transaction$/);
    const failed = await page.$$eval('#panel-pipeline .failed tbody tr', (rows) => rows.map((row) => row.textContent));
    expect(failed).to.have.length(1);
    expect(failed[0]).to.include('invalid input syntax for type date: "2026-13-01"');
    expect(problems).to.deep.equal([]);
    await browser.screenshot(page, 'dashboard-1280-light');
    await page.close();
  });

  it('a filter change updates every panel and the URL; back restores the previous view', async () => {
    const { page, problems } = await browser.newPage();
    await page.goto(`${base}/dashboard?days=30`);
    await settled(page);

    await page.selectOption('select[name="architecture"]', 'arm64');
    await page.waitForURL(/architecture=arm64/);
    await settled(page);
    const daily = await chartOf(page, 'daily');
    expect(daily.datasets[0]!.data.reduce((a, b) => a + b, 0)).to.equal(sum(pulls, (r) => r.architecture === 'arm64'));
    expect((await chartOf(page, 'architectures')).labels).to.deep.equal(['arm64']);
    expect((await chartOf(page, 'top-repositories')).labels).to.deep.equal(['library/nginx']);

    await page.fill('input[name="repository"]', 'library/nginx');
    await page.fill('input[name="tag"]', 'latest');
    await page.press('input[name="tag"]', 'Enter');
    await page.waitForURL(/repository=library%2Fnginx.*tag=latest|tag=latest.*repository=library%2Fnginx/);
    const states = await settled(page);
    expect(Object.values(states).every((state) => state === 'drawn'), JSON.stringify(states)).to.equal(true);
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).to.deep.equal({ days: '30', repository: 'library/nginx', tag: 'latest', architecture: 'arm64' });

    const perTag = await chartOf(page, 'image-architectures');
    expect(perTag.labels).to.deep.equal(['latest']);
    expect(perTag.datasets).to.deep.equal([{ label: 'arm64', data: [sum(pulls, (r) => r.tag === 'latest' && r.architecture === 'arm64')] }]);
    const digests = await tableRows(page, 'tag-digests');
    expect(digests.map((row) => row[1])).to.deep.equal(
      [NEW_LATEST, OLD_LATEST].map((d) => sum(pulls, (r) => r.digest === d && r.tag === 'latest' && r.architecture === 'arm64').toLocaleString('en-US')),
    );
    expect(digests[0]![4]).to.equal('2026-03-15 (still pulled)');
    expect(digests[1]![4]).to.equal(day(8));
    expect((await chartOf(page, 'tag-digests')).datasets).to.have.length(2);
    await browser.screenshot(page, 'dashboard-1280-light-filtered');

    await page.goBack();
    await page.waitForURL((u) => !u.searchParams.has('tag'));
    await settled(page);
    expect(await page.inputValue('input[name="repository"]')).to.equal('');
    expect(await page.getAttribute('#panel-tag-digests', 'data-state')).to.equal('needs');

    // A preset keeps the other filters; a hand-picked date turns the range into from/to.
    await page.click('a.preset[data-days="7"]');
    await page.waitForURL(/days=7/);
    await settled(page);
    expect((await chartOf(page, 'daily')).labels).to.have.length(7);
    expect(new URL(page.url()).searchParams.get('architecture')).to.equal('arm64');
    await page.fill('input[name="from"]', '2026-03-01');
    await page.dispatchEvent('input[name="from"]', 'change');
    await page.waitForURL(/from=2026-03-01/);
    await settled(page);
    expect(Object.fromEntries(new URL(page.url()).searchParams)).to.deep.equal({ from: '2026-03-01', to: '2026-03-15', architecture: 'arm64' });
    expect((await chartOf(page, 'daily')).labels).to.have.length(15);
    expect(problems).to.deep.equal([]);
    await page.close();
  });

  it('suggests repositories as one types', async () => {
    const { page } = await browser.newPage();
    await page.goto(`${base}/dashboard`);
    await settled(page);
    await page.type('input[name="repository"]', 'library/');
    await page.waitForFunction(() => document.querySelectorAll('#repository-suggestions option').length === 2);
    expect(await page.$$eval('#repository-suggestions option', (options) => options.map((o) => (o as HTMLOptionElement).value))).to.deep.equal(['library/nginx', 'library/redis']);
    await page.close();
  });

  it('downloads the CSV of a panel, the same as the API gives', async () => {
    const { page } = await browser.newPage();
    await page.goto(`${base}/dashboard?days=14&architecture=amd64`);
    await settled(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#panel-top-tags a.csv')]);
    expect(download.suggestedFilename()).to.equal('staticreg-top-tags-2026-03-02-to-2026-03-15.csv');
    const text = await readFile((await download.path())!, 'utf8');
    const api = await (await fetch(`${base}/api/metrics/top-tags?days=14&architecture=amd64&format=csv`)).text();
    expect(text).to.equal(api);
    expect(text.split('\r\n')[0]).to.equal('repository,tag,pulls,checks');
    await page.close();
  });

  it('refuses a bad parameter with a page that names it', async () => {
    const response = await fetch(`${base}/dashboard?from=2026-02-30&to=2026-03-15`);
    expect(response.status).to.equal(400);
    expect(await response.text()).to.include('from: must be a date as YYYY-MM-DD');
  });

  for (const scheme of ['light', 'dark'] as const) {
    for (const [label, width, height] of [
      ['1280', 1280, 900],
      ['phone', 390, 844],
    ] as const) {
      it(`fits ${label} width in the ${scheme} scheme (screenshot)`, async () => {
        const { page, problems } = await browser.newPage();
        await page.setViewportSize({ width, height });
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto(`${base}/dashboard?days=30&repository=library/nginx&tag=latest`);
        const states = await settled(page);
        expect(Object.values(states).every((state) => state === 'drawn'), JSON.stringify(states)).to.equal(true);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, 'horizontal overflow in px').to.be.at.most(0);
        const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        expect(background).to.equal(scheme === 'dark' ? 'rgb(13, 17, 23)' : 'rgb(255, 255, 255)');
        await browser.screenshot(page, `dashboard-${label}-${scheme}`);
        expect(problems).to.deep.equal([]);
        await page.close();
      });
    }
  }
});
