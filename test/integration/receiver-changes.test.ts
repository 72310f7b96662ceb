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

async function startReceiver(redisUrl: string): Promise<{ url: string; redis: Redis; stop(): Promise<void> }> {
  const redis = createRedisConnection(redisUrl, 'producer');
  const queue = createPullQueue(redis);
  const app = createReceiverApp({
    queue,
    redis,
    log: pino({ level: 'silent' }),
    rules: { ignoredUserAgents: ['staticreg/'] },
    webhookToken: undefined,
    bodyLimitBytes: 1024 * 1024,
    enqueueTimeoutMs: 750,
    changesStream: STREAM,
  });
  const server: Server = await listen(app, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${WEBHOOK_PATH}`,
    redis,
    async stop() {
      await closeServer(server);
      await queue.close();
      redis.disconnect();
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
});
