// The receiver's HTTP contract against a real Redis: status codes, counts, auth, and 503 when Redis is down.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Writable } from 'node:stream';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createLogger } from '@staticreg/log';
import { createPullQueue, createRedisConnection, type PullJobData } from '@staticreg/queue';
import { closeServer, listen } from '@staticreg/http';
import { createReceiverApp, WEBHOOK_PATH } from '../../apps/receiver/src/app.js';
import { loadScenario } from '../support/fixtures.js';
import { eventually, freshRedis, TEST_REDIS_URL } from '../support/services.js';
import { createPrivateRedis, type PrivateRedis } from '../support/private-services.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';

const V1 = 'application/vnd.docker.distribution.events.v1+json';
const V2 = 'application/vnd.docker.distribution.events.v2+json';

interface Receiver {
  url: string;
  queue: Queue<PullJobData>;
  redis: Redis;
  logs: Array<Record<string, any>>;
  close(): Promise<void>;
}

async function startReceiver(redisUrl: string, overrides: { webhookToken?: string; bodyLimitBytes?: number } = {}): Promise<Receiver> {
  const logs: Array<Record<string, any>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger('receiver', 'debug', sink);
  const redis = createRedisConnection(redisUrl, 'producer');
  const queue = createPullQueue(redis);
  const app = createReceiverApp({
    queue,
    redis,
    log,
    rules: { ignoredUserAgents: ['staticreg/'] },
    webhookToken: overrides.webhookToken,
    bodyLimitBytes: overrides.bodyLimitBytes ?? 1024 * 1024,
    enqueueTimeoutMs: 1000,
  });
  // The producer connection fails fast while still connecting (no offline queue): wait for it, or the first
  // envelope of a test on a busy machine could get a 503.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  const server: Server = await listen(app, 0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    queue,
    redis,
    logs,
    async close() {
      await closeServer(server);
      await queue.close();
      redis.disconnect();
    },
  };
}

function post(receiver: Receiver, body: string, headers: Record<string, string> = { 'content-type': V1 }) {
  return fetch(`${receiver.url}${WEBHOOK_PATH}`, { method: 'POST', body, headers, redirect: 'manual' });
}

async function json(response: Response): Promise<any> {
  return response.json();
}

const pullByTag = loadScenario('pull-by-tag-docker-ua')[0]!;
const blobPull = loadScenario('blob-pull')[0]!;

describe('receiver (real Redis)', () => {
  let receiver: Receiver;

  beforeEach(async () => {
    await (await freshRedis()).quit();
    receiver = await startReceiver(TEST_REDIS_URL);
  });
  afterEach(async () => receiver.close());

  it('acknowledges a registry 2.x envelope only with the event in the queue', async () => {
    const response = await post(receiver, pullByTag.raw);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ eventsReceived: 1, eventsAccepted: 1, eventsSkipped: 0 });
    const jobs = await receiver.queue.getJobs(['waiting']);
    expect(jobs).to.have.length(1);
    expect(jobs[0]!.data.event).to.include({
      id: pullByTag.body.events[0]!.id,
      repository: 'library/demo',
      tag: '1.0',
      architecture: 'arm64',
      pullDate: '2026-11-27',
      time: Date.UTC(2026, 10, 27, 9, 2, 14, 824),
    });
    const done = receiver.logs.find((line) => line.msg === 'Webhook processing completed');
    expect(done).to.include({ totalEvents: 1, eventsProcessed: 1, eventsSkipped: 0, level: 30 });
  });

  it('accepts the 3.x media type and plain JSON', async () => {
    for (const type of [V2, 'application/json', 'application/json; charset=utf-8']) {
      const response = await post(receiver, pullByTag.raw, { 'content-type': type });
      expect(response.status, type).to.equal(200);
    }
    expect(await receiver.queue.count()).to.equal(3);
  });

  it('acknowledges filtered events without enqueueing them', async () => {
    const response = await post(receiver, blobPull.raw);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ eventsReceived: 1, eventsAccepted: 0, eventsSkipped: 1 });
    expect(await receiver.queue.count()).to.equal(0);
  });

  it('enqueues the good events of a mixed envelope and skips the bad ones', async () => {
    const good = structuredClone(pullByTag.body.events[0]!);
    const html = { ...structuredClone(good), id: 'html', target: { ...good.target, repository: '<img src=x onerror=alert(1)>' } };
    const second = { ...structuredClone(good), id: 'second' };
    const body = JSON.stringify({ events: [good, html, blobPull.body.events[0], 17, second] });
    const response = await post(receiver, body);
    expect(await response.json()).to.deep.equal({ eventsReceived: 5, eventsAccepted: 2, eventsSkipped: 3 });
    const ids = (await receiver.queue.getJobs(['waiting'])).map((job) => job.data.event.id).sort();
    expect(ids).to.deep.equal([good.id, 'second'].sort());
    const skipped = receiver.logs.filter((line) => line.msg === 'Skipped invalid event');
    expect(skipped.map((line) => line.reason)).to.deep.equal(['invalid-repository', 'not-an-object']);
  });

  const refusals: Array<[string, string, Record<string, string>, number, RegExp]> = [
    ['malformed JSON', '{"events": [', { 'content-type': V1 }, 400, /malformed JSON/],
    ['a body that is not an envelope', '{"event": []}', { 'content-type': V1 }, 400, /"events" array/],
    ['a JSON array', '[]', { 'content-type': V1 }, 400, /JSON object/],
    ['a JSON string', '"events"', { 'content-type': 'application/json' }, 400, /JSON object/],
    ['an unknown content type', pullByTag.raw, { 'content-type': 'text/plain' }, 415, /Content-Type must be one of/],
    ['no content type', pullByTag.raw, {}, 415, /Content-Type must be one of/],
  ];
  for (const [what, body, headers, status, message] of refusals) {
    it(`refuses ${what} with ${status} and a JSON error`, async () => {
      const response = await post(receiver, body, headers);
      expect(response.status).to.equal(status);
      expect((await json(response)).error).to.match(message);
      expect(await receiver.queue.count()).to.equal(0);
    });
  }

  it('refuses a body over the limit with 413', async () => {
    await receiver.close();
    receiver = await startReceiver(TEST_REDIS_URL, { bodyLimitBytes: 4096 });
    const events = Array.from({ length: 10 }, (_, i) => ({ ...pullByTag.body.events[0], id: `big-${i}` }));
    const response = await post(receiver, JSON.stringify({ events }));
    expect(response.status).to.equal(413);
    expect((await json(response)).error).to.match(/larger than the limit of 4096 bytes/);
    expect(await receiver.queue.count()).to.equal(0);
  });

  it('answers other methods on the webhook with 405 and unknown paths with 404, never a redirect', async () => {
    const get = await fetch(`${receiver.url}${WEBHOOK_PATH}`, { redirect: 'manual' });
    expect(get.status).to.equal(405);
    expect(get.headers.get('allow')).to.equal('POST');
    const slash = await fetch(`${receiver.url}${WEBHOOK_PATH}/`, { method: 'POST', body: pullByTag.raw, headers: { 'content-type': V1 }, redirect: 'manual' });
    expect(slash.status).to.be.oneOf([200, 404]);
    const other = await fetch(`${receiver.url}/api/webhook`, { method: 'POST', redirect: 'manual' });
    expect(other.status).to.equal(404);
  });

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${receiver.url}/healthz`)).status).to.equal(200);
    // Ready once its Redis connection is up, which may take a moment after start.
    const ready = await eventually(async () => {
      const response = await fetch(`${receiver.url}/readyz`);
      return response.status === 200 ? response : undefined;
    }, 10_000, 'receiver ready');
    expect(await ready!.json()).to.deep.equal({ status: 'ok', checks: { redis: 'ok' } });
  });

  describe('with STATICREG_WEBHOOK_TOKEN', () => {
    beforeEach(async () => {
      await receiver.close();
      receiver = await startReceiver(TEST_REDIS_URL, { webhookToken: 'correct horse battery staple' });
    });

    for (const [what, header] of [
      ['no Authorization header', undefined],
      ['a wrong token', 'Bearer wrong'],
      ['the token without the Bearer scheme', 'correct horse battery staple'],
      ['a token with a suffix', 'Bearer correct horse battery staple!'],
    ] as const) {
      it(`refuses ${what} with 401`, async () => {
        const headers: Record<string, string> = { 'content-type': V1 };
        if (header) headers.authorization = header;
        const response = await post(receiver, pullByTag.raw, headers);
        expect(response.status).to.equal(401);
        expect(response.headers.get('www-authenticate')).to.match(/^Bearer/);
        expect(await receiver.queue.count()).to.equal(0);
      });
    }

    it('accepts the right bearer token', async () => {
      const response = await post(receiver, pullByTag.raw, { 'content-type': V1, authorization: 'Bearer correct horse battery staple' });
      expect(response.status).to.equal(200);
      expect(await receiver.queue.count()).to.equal(1);
      expect(JSON.stringify(receiver.logs)).to.not.include('horse');
    });
  });
});

describe('receiver while Redis is down', () => {
  let redisServer: PrivateRedis;
  let receiver: Receiver;

  before(async () => {
    redisServer = await createPrivateRedis();
    receiver = await startReceiver(redisServer.url);
  });
  after(async () => {
    await receiver.close();
    await redisServer.stop();
  });

  it('answers 503 so the registry retries, and 200 again once Redis is back', async () => {
    expect((await post(receiver, pullByTag.raw)).status).to.equal(200);

    await redisServer.stop();
    const down = await post(receiver, pullByTag.raw);
    expect(down.status).to.equal(503);
    expect(down.headers.get('retry-after')).to.equal('1');
    expect((await json(down)).error).to.match(/queue unavailable/);
    expect((await fetch(`${receiver.url}/readyz`)).status).to.equal(503);
    // A filtered-only envelope needs no Redis, so it is still acknowledged.
    expect((await post(receiver, blobPull.raw)).status).to.equal(200);

    await redisServer.start();
    let status = 0;
    for (let attempt = 0; attempt < 100 && status !== 200; attempt += 1) {
      status = (await post(receiver, pullByTag.raw)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).to.equal(200);
    // The restarted Redis is empty: only the post-recovery event is there, nothing half-written.
    expect(await receiver.queue.count()).to.equal(1);
  });

  it('answers 503 within its enqueue timeout when Redis hangs, and counts the event once after', async () => {
    await receiver.queue.obliterate({ force: true });
    redisServer.freeze();
    let frozen: Response;
    try {
      // The connection stays open and Redis answers nothing: only the receiver's own timeout ends the request.
      frozen = await post(receiver, pullByTag.raw);
    } finally {
      redisServer.thaw();
    }
    expect(frozen.status).to.equal(503);
    expect(frozen.headers.get('retry-after')).to.equal('1');
    expect(receiver.logs.some((line) => line.msg === 'Could not enqueue pull events' && /timed out/.test(JSON.stringify(line.err)))).to.equal(true);
    // The registry sends the same envelope again. The first add may still have reached Redis once it woke up:
    // then the event is there twice, and the worker's event-id claim counts it once (worker tests).
    expect((await post(receiver, pullByTag.raw)).status).to.equal(200);
    const jobs = await receiver.queue.getJobs(['waiting']);
    expect(jobs.length).to.be.within(1, 2);
    expect(new Set(jobs.map((job) => job.data.event.id))).to.deep.equal(new Set([pullByTag.body.events[0]!.id]));
  });
});

describe('receiver process while Redis is down', function () {
  this.timeout(60_000);
  let redisServer: PrivateRedis;
  let app: AppProcess;

  before(async () => {
    redisServer = await createPrivateRedis();
  });
  after(async () => {
    // SIGKILL: a failed test may leave it waiting for the Redis that is down.
    await app?.stop('SIGKILL');
    await redisServer.stop();
  });

  it('logs the lost connection through its logger and prints nothing else', async () => {
    const port = await freePort();
    app = startApp('receiver', {
      STATICREG_REDIS_URL: redisServer.url,
      STATICREG_RECEIVER_PORT: String(port),
      STATICREG_ENQUEUE_TIMEOUT_MS: '1000',
      STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED: 'true',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, app);
    const send = () => fetch(`${base}${WEBHOOK_PATH}`, { method: 'POST', body: pullByTag.raw, headers: { 'content-type': V1 } });
    expect((await send()).status).to.equal(200);

    await redisServer.stop();
    expect((await send()).status).to.equal(503);
    await eventually(async () => app.logLines('Redis connection error').length > 0, 30_000, 'the connection error in the log').catch((error: unknown) => {
      throw new Error(`${String(error)}; the process printed:\n${app.output()}`);
    });
    await redisServer.start();
    await eventually(async () => (await send()).status === 200, 30_000, 'a 200 once Redis is back');
    expect(await app.stop()).to.equal(0);

    const lines = app.output().split('\n').filter((line) => line !== '');
    const notLogged = lines.filter((line) => !line.startsWith('{'));
    expect(notLogged, 'lines printed outside the logger').to.deep.equal([]);
    const logged = app.logLines('Redis connection error');
    expect(logged[0]).to.deep.include({ level: 40, queue: 'staticreg-pull-events' });
  });
});
