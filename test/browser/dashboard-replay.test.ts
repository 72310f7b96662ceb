// The failed-jobs panel's replay button in headless Chromium against real Redis and Postgres: the jobs go, the answer says how many.
/// <reference lib="dom" />
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import { createLogger } from '@staticreg/log';
import { closeServer, listen } from '@staticreg/http';
import { createPullQueue, createRedisConnection, type PullJobData } from '@staticreg/queue';
import { createBrowseApp } from '../../apps/browse/src/app.js';
import { createDashboardRouter } from '../../apps/browse/src/dashboard/index.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { failJobs } from '../support/failed-jobs.js';
import { makePull } from '../support/pulls.js';
import { createTestDatabase, freshRedis, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';

describe('dashboard replay button in Chromium (real Redis and Postgres)', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let redis: Redis;
  let queue: Queue<PullJobData>;
  let server: Server;
  let base: string;
  let browser: TestBrowser;

  before(async () => {
    database = await createTestDatabase();
    redis = await freshRedis();
    queue = createPullQueue(createRedisConnection(TEST_REDIS_URL, 'reader'));
    await failJobs(queue, [makePull('first', { repository: 'team/first' }), makePull('second', { repository: 'team/second' })]);
    const app = createBrowseApp({
      log: createLogger('browse', 'silent'),
      probes: () => ({}),
      isShuttingDown: () => false,
      routers: [createDashboardRouter({ db: database.db, queue, redis })],
    });
    server = await listen(app, 0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser('dashboard-replay');
  });
  after(async () => {
    await browser?.close();
    if (server) await closeServer(server);
    await queue?.close();
    await redis?.quit();
    await database?.drop();
  });

  it('replays the failed jobs shown, says how many, and the panel refreshes without them', async () => {
    const { page, problems } = await browser.newPage();
    await page.goto(`${base}/dashboard`);
    const failedRows = () => page.$$eval('#panel-pipeline .failed tbody tr', (rows) => rows.map((row) => row.textContent ?? ''));
    await page.waitForFunction(() => document.querySelectorAll('#panel-pipeline .failed tbody tr').length === 2);
    expect((await failedRows()).join('\n')).to.include('rejected team/first').and.to.include('rejected team/second');
    const button = page.locator('#panel-pipeline button.replay-failed');
    expect(await button.textContent()).to.equal('Replay the 2 failed jobs shown');
    await browser.screenshot(page, 'before-replay');

    await button.click();
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#panel-pipeline .replay-result')?.dataset.replayed !== undefined);
    expect(await page.locator('#panel-pipeline .replay-result').textContent()).to.equal('Replayed 2 failed jobs.');
    // The refreshed table: its one row says there is nothing.
    await page.waitForFunction(() => !document.querySelector('#panel-pipeline .failed tbody')?.textContent?.includes('rejected'));
    expect(await failedRows()).to.have.length(1);
    expect(await button.isHidden()).to.equal(true);
    const failedTile = await page.$$eval('#panel-pipeline .tiles > div', (divs) => divs.find((div) => div.querySelector('dt')!.textContent === 'Failed')!.querySelector('dd')!.textContent);
    expect(failedTile).to.equal('0');
    await browser.screenshot(page, 'after-replay');

    expect((await queue.getJobCounts('failed', 'wait')).failed).to.equal(0);
    expect((await queue.getJobCounts('wait')).wait).to.equal(2);
    expect(problems).to.deep.equal([]);
  });
});
