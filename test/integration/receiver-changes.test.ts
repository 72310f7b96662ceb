// The receiver passes manifest pushes and deletes on to the registry-changes stream (one XADD per envelope that has
// any), adds nothing for pull envelopes, and answers 503 when Redis cannot take them; browse's reader gets them.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { createPullQueue, createRedisConnection, latestRegistryChangeId, readRegistryChanges } from '@staticreg/queue';
import { closeServer, listen } from '@staticreg/http';
import { createReceiverApp, WEBHOOK_PATH } from '../../apps/receiver/src/app.js';
import { loadScenario } from '../support/fixtures.js';
import { createPrivateRedis, type PrivateRedis } from '../support/private-services.js';
import { freshRedis, TEST_REDIS_URL } from '../support/services.js';

const STREAM = 'staticreg:registry-changes:test';

/** `queueRedisUrl` puts the pull queue on another Redis than the changes stream (one Redis in production). */
async function startReceiver(
  redisUrl: string,
  options: { queueRedisUrl?: string; enqueueTimeoutMs?: number } = {},
): Promise<{ url: string; redis: Redis; stop(): Promise<void> }> {
  const redis = createRedisConnection(redisUrl, 'producer');
  const queueRedis = options.queueRedisUrl ? createRedisConnection(options.queueRedisUrl, 'producer') : redis;
  const queue = createPullQueue(queueRedis);
  const app = createReceiverApp({
    queue,
    redis,
    log: pino({ level: 'silent' }),
    rules: { ignoredUserAgents: ['staticreg/'] },
    webhookToken: undefined,
    bodyLimitBytes: 1024 * 1024,
    enqueueTimeoutMs: options.enqueueTimeoutMs ?? 750,
    changesStream: STREAM,
  });
  // The producer connections fail fast while not yet connected (no offline queue): on a busy machine the first
  // envelope could otherwise meet a connection still opening and get a 503.
  await Promise.all([redis, queueRedis].map((connection) => (connection.status === 'ready' ? undefined : new Promise((resolve) => connection.once('ready', resolve)))));
  const server: Server = await listen(app, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${WEBHOOK_PATH}`,
    redis,
    async stop() {
      await closeServer(server);
      await queue.close();
      redis.disconnect();
      queueRedis.disconnect();
    },
  };
}

const post = (url: string, raw: string): Promise<Response> => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });

describe('receiver: registry changes stream', function () {
  this.timeout(60_000);
  let redis: Redis;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    redis = await freshRedis();
    receiver = await startReceiver(TEST_REDIS_URL);
  });
  after(async () => {
    await receiver?.stop();
    redis?.disconnect();
  });

  it('writes one entry per push or delete envelope, none for pulls and blob pushes, readable by browse', async () => {
    const start = await latestRegistryChangeId(redis, STREAM);
    for (const scenario of ['pull-by-tag-docker-ua', 'push-single-arch', 'delete']) {
      for (const file of loadScenario(scenario)) expect((await post(receiver.url, file.raw)).status, `${scenario}/${file.file}`).to.equal(200);
    }
    expect(await redis.xlen(STREAM)).to.equal(4);
    const batch = await readRegistryChanges(redis, STREAM, start, 100);
    expect(batch.changes.map((change) => `${change.action} ${change.repository}:${change.tag ?? ''}`)).to.deep.equal([
      'push library/demo:1.0',
      'delete library/demo:',
      'delete library/demo:latest',
      'delete library/demo:1.0',
    ]);
    expect(batch.changes.every((change) => change.streamTime > Date.now() - 60_000)).to.equal(true);
    expect((await readRegistryChanges(redis, STREAM, batch.lastId, 10)).changes).to.deep.equal([]);
  });

  describe('when Redis is down', () => {
    let privateRedis: PrivateRedis;
    let isolated: Awaited<ReturnType<typeof startReceiver>>;
    before(async () => {
      privateRedis = await createPrivateRedis();
      isolated = await startReceiver(privateRedis.url);
    });
    after(async () => {
      // The queue closes cleanly only with its Redis back.
      await privateRedis?.start();
      await isolated?.stop();
      await privateRedis?.stop();
    });

    it('answers 503 to a push, so the registry delivers it again', async () => {
      await privateRedis.stop();
      const [file] = loadScenario('push-single-arch').slice(-1);
      const response = await post(isolated.url, file!.raw);
      expect([response.status, response.headers.get('retry-after')]).to.deep.equal([503, '1']);
    });
  });

  describe('when Redis hangs', () => {
    // The pull queue and the stream on two private Redis servers, so that the pull enqueue can be let through
    // (SIGCONT) while the stream's Redis still hangs (SIGSTOP): the answer then shows whether the publish got
    // a budget of its own.
    const BUDGET_MS = 6000;
    let queueRedis: PrivateRedis;
    let changesRedis: PrivateRedis;
    let hung: Awaited<ReturnType<typeof startReceiver>>;
    before(async () => {
      [queueRedis, changesRedis] = await Promise.all([createPrivateRedis(), createPrivateRedis()]);
      hung = await startReceiver(changesRedis.url, { queueRedisUrl: queueRedis.url, enqueueTimeoutMs: BUDGET_MS });
    });
    after(async () => {
      queueRedis?.thaw();
      changesRedis?.thaw();
      await hung?.stop();
      await Promise.all([queueRedis?.stop(), changesRedis?.stop()]);
    });

    it('answers an envelope holding a pull and a push with 503 within one enqueue budget', async () => {
      const pull = loadScenario('pull-by-tag-docker-ua')[0]!.body.events;
      const push = loadScenario('push-single-arch').slice(-1)[0]!.body.events;
      const raw = JSON.stringify({ events: [...pull, ...push] });
      // Unfrozen first: BullMQ's first add checks the server, and both connections are then open.
      expect((await post(hung.url, raw)).status).to.equal(200);

      queueRedis.freeze();
      changesRedis.freeze();
      const answer = post(hung.url, raw).then((response) => ({ status: response.status, at: performance.now() }));
      // Half the budget in, the pull enqueue goes through; the publish still hangs. With one budget for both the
      // answer comes half a budget later; with a budget each it comes a whole budget after this thaw, at the
      // earliest (the publish only starts once the enqueue has finished).
      await new Promise((resolve) => setTimeout(resolve, BUDGET_MS / 2));
      const thawedAt = performance.now();
      queueRedis.thaw();
      const { status, at } = await answer;
      changesRedis.thaw();
      expect(status).to.equal(503);
      // A tenth off: a timer may fire a millisecond early, and the fixed code answers about half a budget earlier.
      expect(at - thawedAt, 'ms from letting the enqueue through to the answer').to.be.below(BUDGET_MS * 0.9);
      // The 503 is the publish's: the pull of each envelope is in the queue (the registry's retry is counted once).
      const reader = createRedisConnection(queueRedis.url, 'reader');
      const queue = createPullQueue(reader);
      try {
        expect(await queue.count()).to.equal(2);
      } finally {
        await queue.close();
        reader.disconnect();
      }
    });
  });
});
