// The pull consumer's batches in flight, in process against real Redis: how many transactions run at once, and
// that the jobs of a batch complete only when its own store returns.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { PullEvent } from '@staticreg/events';
import { createLogger } from '@staticreg/log';
import { startPullConsumer, type PullConsumer } from '@staticreg/ingest';
import { createPullQueue, createRedisConnection } from '@staticreg/queue';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';
import { enqueue, spreadPulls } from '../support/pulls.js';

describe('pull consumer, batches in flight (real Redis)', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let redis: Redis;
  let connection: Redis;
  let consumer: PullConsumer | undefined;
  let releases: Array<() => void> = [];
  /** Set when a test ends: every batch held or still to come is let through, so close() waits on nothing. */
  let letThrough = false;

  beforeEach(async () => {
    database = await createTestDatabase({ migrate: false });
    redis = await freshRedis();
    connection = createRedisConnection(TEST_REDIS_URL, 'worker');
  });
  afterEach(async () => {
    letThrough = true;
    for (const release of releases.splice(0)) release();
    await consumer?.close();
    consumer = undefined;
    connection.disconnect();
    await redis.quit();
    await database.drop();
  });

  /** Starts a consumer whose store records each batch and returns only when the test releases it. */
  function gatedConsumer(batchesInFlight: number, batchMaxWaitMs = 60_000) {
    const started: PullEvent[][] = [];
    releases = [];
    letThrough = false;
    let running = 0;
    let most = 0;
    consumer = startPullConsumer({
      connection,
      db: database.db,
      log: createLogger('pull-consumer-test', 'silent'),
      batchSize: 3,
      batchMaxWaitMs,
      batchesInFlight,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 1,
      dbRetryMs: 1000,
      store: async (_db, events) => {
        running += 1;
        most = Math.max(most, running);
        started.push(events);
        if (!letThrough) await new Promise<void>((resolve) => releases.push(resolve));
        running -= 1;
        return { counted: events.length, duplicates: 0, changes: [] };
      },
    });
    return { started, releases, most: () => most };
  }

  /** The event ids of the jobs BullMQ holds as active. */
  async function activeIds(): Promise<string[]> {
    const queue = createPullQueue(redis);
    try {
      return (await queue.getActive()).map((job) => job.data.event.id).sort();
    } finally {
      await queue.close();
    }
  }

  const ids = (batch: PullEvent[] | undefined) => (batch ?? []).map((event) => event.id);

  async function counts(): Promise<Record<string, number>> {
    const queue = createPullQueue(redis);
    try {
      return await queue.getJobCounts('wait', 'active', 'completed', 'failed');
    } finally {
      await queue.close();
    }
  }

  it('stores two full batches at once with batchesInFlight 2, holding the jobs of both', async () => {
    await enqueue(TEST_REDIS_URL, spreadPulls('inflight', 9));
    const gated = gatedConsumer(2);
    await eventually(async () => gated.started.length === 2, 20_000, 'two batches storing');
    // Six jobs held (two batches of three), the last three still waiting: no third batch before a store returns.
    await eventually(async () => (await counts()).active === 6, 20_000, 'six active jobs');
    expect(await counts()).to.include({ wait: 3, active: 6 });
    expect(gated.started.length).to.equal(2);

    gated.releases.shift()!();
    await eventually(async () => gated.started.length === 3, 20_000, 'third batch after the first committed');
    expect(gated.most()).to.equal(2);
    // The first batch's jobs completed (and were removed); the second's are still held with the third's.
    await eventually(async () => (await activeIds()).length === 6, 20_000, 'six active jobs again');
    expect(await activeIds()).to.deep.equal([...ids(gated.started[1]), ...ids(gated.started[2])].sort());
    while (gated.releases.length > 0) gated.releases.shift()!();
    await eventually(async () => (await counts()).wait === 0 && (await counts()).active === 0, 20_000, 'queue drained');
    expect(gated.started.flat()).to.have.length(9);
    expect(new Set(gated.started.flat().map((event) => event.id)).size).to.equal(9);
  });

  it('holds a batch cut by age until one of the batches in flight commits', async () => {
    const gated = gatedConsumer(2, 50);
    // Three partial batches, each cut by its 50 ms timer: two flush, the third waits although BullMQ could hold more.
    for (const name of ['age-a', 'age-b', 'age-c']) {
      const before = gated.started.length;
      await enqueue(TEST_REDIS_URL, spreadPulls(name, 1));
      if (before < 2) await eventually(async () => gated.started.length === before + 1, 20_000, `${name} storing`);
    }
    await eventually(async () => (await counts()).active === 3, 20_000, 'three active jobs');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(gated.started.length).to.equal(2);
    gated.releases.shift()!();
    await eventually(async () => gated.started.length === 3, 20_000, 'the third batch after a commit');
    expect(gated.most()).to.equal(2);
  });

  it('stores one batch at a time with batchesInFlight 1', async () => {
    await enqueue(TEST_REDIS_URL, spreadPulls('serial', 6));
    const gated = gatedConsumer(1);
    await eventually(async () => gated.started.length === 1 && (await counts()).active === 3, 20_000, 'one batch storing');
    expect(await counts()).to.include({ wait: 3, active: 3 });
    gated.releases.shift()!();
    await eventually(async () => gated.started.length === 2, 20_000, 'second batch');
    gated.releases.shift()!();
    await eventually(async () => (await counts()).active === 0, 20_000, 'queue drained');
    expect(gated.most()).to.equal(1);
  });
  it('pauses on an error in its own code, spending no attempt, and counts everything once the error is gone', async () => {
    await enqueue(TEST_REDIS_URL, spreadPulls('defect', 6));
    let broken = true;
    let failedStores = 0;
    const stored: string[] = [];
    consumer = startPullConsumer({
      connection,
      db: database.db,
      log: createLogger('pull-consumer-test', 'silent'),
      batchSize: 3,
      batchMaxWaitMs: 20,
      batchesInFlight: 1,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 1,
      dbRetryMs: 100,
      store: async (_db, events) => {
        if (broken) {
          failedStores += 1;
          throw new TypeError('a defect in the count policy');
        }
        stored.push(...events.map((event) => event.id));
        return { counted: events.length, duplicates: 0, changes: [] };
      },
    });
    await eventually(async () => failedStores >= 3, 20_000, 'the batch retried while broken');
    expect(consumer.pause()).to.include({ sqlstate: null, message: 'a defect in the count policy', cause: 'error' });
    const queue = createPullQueue(redis);
    try {
      const jobs = await queue.getJobs(['wait', 'active', 'delayed', 'prioritized', 'failed']);
      expect(jobs).to.have.length(6);
      expect(jobs.map((job) => job.attemptsMade)).to.deep.equal([0, 0, 0, 0, 0, 0]);
    } finally {
      await queue.close();
    }
    broken = false;
    await eventually(async () => (await counts()).wait === 0 && (await counts()).active === 0, 20_000, 'queue drained');
    expect((await counts()).failed).to.equal(0);
    expect(new Set(stored).size).to.equal(6);
    expect(consumer.pause()).to.equal(undefined);
  });
});
