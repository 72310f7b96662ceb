// The dashboard's replay endpoint over HTTP against real Redis: a same-origin request with the page's token replays, anything else gets 403 and replays nothing.
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
import { failJobs } from '../support/failed-jobs.js';
import { makePull } from '../support/pulls.js';
import { freshRedis, TEST_REDIS_URL } from '../support/services.js';

const REPLAY = '/api/metrics/failed-jobs/replay';

describe('dashboard replay endpoint (real Redis)', function () {
  this.timeout(60_000);
  let redis: Redis;
  let queue: Queue<PullJobData>;
  let server: Server;
  let base: string;
  let host: string;
  let jobIds: string[];

  before(async () => {
    redis = await freshRedis();
    queue = createPullQueue(createRedisConnection(TEST_REDIS_URL, 'reader'));
    const app = createBrowseApp({
      log: createLogger('browse', 'silent'),
      probes: () => ({}),
      isShuttingDown: () => false,
      routers: [createDashboardRouter({ db: undefined, queue, redis })],
    });
    server = await listen(app, 0, '127.0.0.1');
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    base = `http://${host}`;
  });
  after(async () => {
    if (server) await closeServer(server);
    await queue.close();
    await redis.quit();
  });
  beforeEach(async () => {
    await redis.flushdb();
    await failJobs(queue, [makePull('one', { repository: 'team/one' }), makePull('two', { repository: 'team/two' })]);
    jobIds = (await queue.getFailed()).map((job) => String(job.id));
  });

  /** What the page gives a browser: its cookie and the token embedded in the pipeline panel. */
  async function openDashboard(): Promise<{ cookie: string; token: string }> {
    const response = await fetch(`${base}/dashboard`);
    expect(response.status).to.equal(200);
    const setCookie = response.headers.get('set-cookie')!;
    expect(setCookie).to.match(/^staticreg_csrf=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    const token = /data-csrf-token="([^"]+)"/.exec(await response.text())![1]!;
    return { cookie: setCookie.split(';')[0]!, token };
  }

  async function post(headers: Record<string, string>, body: unknown = { jobIds }): Promise<{ status: number; body: { error?: string; replayed?: number; jobs?: unknown[] } }> {
    const response = await fetch(`${base}${REPLAY}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { error?: string; replayed?: number } };
  }

  const failedCount = async () => (await queue.getJobCounts('failed')).failed;

  it('replays the jobs named, from the page itself, and says how many', async () => {
    const { cookie, token } = await openDashboard();
    const answer = await post({ Origin: base, 'Sec-Fetch-Site': 'same-origin', Cookie: cookie, 'X-CSRF-Token': token });
    expect(answer.status).to.equal(200);
    expect(answer.body.replayed).to.equal(2);
    expect(answer.body.jobs!.map((job) => (job as { eventId: string }).eventId)).to.have.members(['one', 'two']);
    expect(await failedCount()).to.equal(0);
    expect((await queue.getJobCounts('wait')).wait).to.equal(2);
    // Again: they are no longer failed, so nothing is replayed twice.
    expect((await post({ Origin: base, Cookie: cookie, 'X-CSRF-Token': token })).body.replayed).to.equal(0);
  });

  it('keeps the token a browser already has', async () => {
    const { cookie, token } = await openDashboard();
    const again = await fetch(`${base}/dashboard`, { headers: { Cookie: cookie } });
    expect(again.headers.get('set-cookie')).to.equal(null);
    expect(await again.text()).to.include(`data-csrf-token="${token}"`);
  });

  const refused: Array<[string, (page: { cookie: string; token: string }) => Record<string, string>, RegExp]> = [
    ['a foreign Origin', ({ cookie, token }) => ({ Origin: 'http://evil.example', Cookie: cookie, 'X-CSRF-Token': token }), /another origin \(http:\/\/evil\.example\)/],
    ['Sec-Fetch-Site: cross-site', ({ cookie, token }) => ({ 'Sec-Fetch-Site': 'cross-site', Cookie: cookie, 'X-CSRF-Token': token }), /another site/],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', ({ cookie, token }) => ({ Origin: base, 'Sec-Fetch-Site': 'same-site', Cookie: cookie, 'X-CSRF-Token': token }), /another site/],
    ['neither Origin nor Sec-Fetch-Site', ({ cookie, token }) => ({ Cookie: cookie, 'X-CSRF-Token': token }), /names no origin/],
    ['no token header', ({ cookie }) => ({ Origin: base, Cookie: cookie }), /no X-CSRF-Token header/],
    ['no cookie', ({ token }) => ({ Origin: base, 'X-CSRF-Token': token }), /does not match/],
    ['a token of another browser', ({ cookie }) => ({ Origin: base, Cookie: cookie, 'X-CSRF-Token': 'abc.def' }), /does not match/],
    ['a cookie and header made up together', () => ({ Origin: base, Cookie: 'staticreg_csrf=abc.def', 'X-CSRF-Token': 'abc.def' }), /does not match/],
  ];
  for (const [what, headers, message] of refused) {
    it(`refuses ${what} with 403, replaying nothing`, async () => {
      const page = await openDashboard();
      const answer = await post(headers(page));
      expect(answer.status).to.equal(403);
      expect(answer.body.error).to.match(/^refused: /).and.to.match(message);
      expect(await failedCount()).to.equal(2);
    });
  }

  it('refuses a request body that names no jobs with 400', async () => {
    const { cookie, token } = await openDashboard();
    const same = { Origin: base, Cookie: cookie, 'X-CSRF-Token': token };
    expect((await post(same, {})).status).to.equal(400);
    expect((await post(same, { jobIds: ['1 OR 1'] })).body.error).to.match(/is not a job id/);
    const malformed = await fetch(`${base}${REPLAY}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...same }, body: '{"jobIds": [' });
    expect(malformed.status).to.equal(400);
    expect(((await malformed.json()) as { error: string }).error).to.match(/^malformed JSON: /);
    expect(await failedCount()).to.equal(2);
  });

  it('answers a body over its limit as every other browse and receiver route does: 413 naming the limit', async () => {
    const { cookie, token } = await openDashboard();
    const answer = await post({ Origin: base, Cookie: cookie, 'X-CSRF-Token': token }, { jobIds: ['x'.repeat(70_000)] });
    expect(answer.status).to.equal(413);
    expect(answer.body.error).to.equal('request body is larger than the limit of 65536 bytes');
    expect(await failedCount()).to.equal(2);
  });
});
