// The receiver's intake counts against a real Redis that goes away and comes back.
import { expect } from 'chai';
import { createRedisConnection, IntakeRecorder, lastEventReceivedAt, minuteKey } from '@staticreg/queue';
import { createPrivateRedis, type PrivateRedis } from '../support/private-services.js';
import { eventually } from '../support/services.js';

describe('IntakeRecorder against a Redis that stops and starts again', function () {
  this.timeout(60_000);
  let server: PrivateRedis;

  before(async () => {
    server = await createPrivateRedis();
  });

  after(async () => {
    await server.stop();
  });

  it('keeps the counts of a failed flush and writes them, once, with a later flush', async () => {
    const now = Date.UTC(2026, 0, 15, 10, 30, 12);
    const minute = Math.floor(now / 60_000);
    const redis = createRedisConnection(server.url, 'producer');
    await eventually(async () => redis.status === 'ready', 10_000, 'the producer connection');
    const recorder = new IntakeRecorder(redis, { now: () => now });
    try {
      recorder.record(2, ['not-pull']);
      await server.stop();
      await eventually(async () => redis.status !== 'ready', 10_000, 'the connection to notice the stop');
      let failure: unknown;
      await recorder.flush().catch((error: unknown) => (failure = error));
      expect(failure, 'the flush while Redis is down').to.be.instanceOf(Error);

      await server.start();
      await eventually(async () => redis.status === 'ready', 10_000, 'the reconnection');
      recorder.record(1, ['not-pull', 'not-manifest']);
      await recorder.flush();
      await recorder.flush();

      expect(await redis.hgetall(minuteKey(minute))).to.deep.equal({
        accepted: '3',
        'skipped:not-pull': '2',
        'skipped:not-manifest': '1',
      });
      expect(await lastEventReceivedAt(redis)).to.equal(new Date(now).toISOString());
    } finally {
      await recorder.close();
      redis.disconnect();
    }
  });
});
