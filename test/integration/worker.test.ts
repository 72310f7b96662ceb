// The worker against real Redis and Postgres: exact counts under re-delivery, kills, two workers and outages.
import { expect } from 'chai';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import { aggregatePulls } from '@staticreg/events';
import { createDb } from '@staticreg/db';
import { countPerEvent } from '@staticreg/ingest';
import { createPullQueue, createRedisConnection } from '@staticreg/queue';
import { freePort, startApp, type AppProcess } from '../support/processes.js';
import { createTestDatabase, eventually, freshRedis, metricRows, TEST_REDIS_URL, totalPulls, type TestDatabase } from '../support/services.js';
import { createPrivatePostgres, type PrivatePostgres } from '../support/private-services.js';
import { enqueue, makePull, spreadPulls } from '../support/pulls.js';
import { queueCounts } from '../support/pull-queue.js';

const FAST_RECOVERY = {
  STATICREG_COUNT_POLICY: 'events',
  STATICREG_REDIS_URL: TEST_REDIS_URL,
  STATICREG_WORKER_PORT: '0',
  STATICREG_WORKER_LOCK_MS: '2000',
  STATICREG_WORKER_STALLED_INTERVAL_MS: '1000',
  STATICREG_DB_RETRY_MS: '300',
  STATICREG_BATCH_MAX_WAIT_MS: '50',
  STATICREG_LOG_LEVEL: 'debug',
};

async function queueEmpty(): Promise<boolean> {
  return (await queueCounts()).pending === 0;
}

describe('worker, events policy (real Redis and Postgres)', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let redis: Redis;
  const workers: AppProcess[] = [];

  function startWorker(env: Record<string, string> = {}): AppProcess {
    const worker = startApp('worker', { ...FAST_RECOVERY, STATICREG_DB_URL: database.url, ...env });
    workers.push(worker);
    return worker;
  }

  beforeEach(async () => {
    database = await createTestDatabase();
    redis = await freshRedis();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop('SIGKILL')));
    await redis.quit();
    await database.drop();
  });

  it('counts a re-delivered event once, in one batch or across batches', async () => {
    const event = makePull('redelivered');
    await enqueue(TEST_REDIS_URL, [event, event, makePull('other', { tag: '2.0' })]);
    const worker = startWorker();
    await eventually(async () => (await totalPulls(database.db)) === 2, 30_000, 'first batch');
    await enqueue(TEST_REDIS_URL, [event, event]);
    await eventually(() => queueEmpty(), 30_000, 'queue drained');
    expect(await metricRows(database.db)).to.deep.equal([
      { pull_date: '2026-11-27', repo_name: 'library/demo', tag: '1.0', digest: event.digest, architecture: 'amd64', pull_count: 1 },
      { pull_date: '2026-11-27', repo_name: 'library/demo', tag: '2.0', digest: event.digest, architecture: 'amd64', pull_count: 1 },
    ]);
    expect(worker.logLines('Pull metrics updated').map((line) => line.tag).sort()).to.deep.equal(['1.0', '2.0']);
    expect((await queueCounts()).failed).to.equal(0);
  });

  it('adds nothing when a committed batch is replayed', async () => {
    const events = spreadPulls('replay', 500);
    const first = await countPerEvent(database.db, events);
    const replay = await countPerEvent(database.db, events);
    expect(first).to.include({ counted: 500, duplicates: 0 });
    expect(replay).to.include({ counted: 0, duplicates: 500 });
    expect(replay.changes).to.deep.equal([]);
    expect(await totalPulls(database.db)).to.equal(500);
  });

  it('is exact after a worker is killed mid-drain and another takes over', async () => {
    const events = spreadPulls('kill', 20_000);
    await enqueue(TEST_REDIS_URL, events);
    const first = startWorker({ STATICREG_BATCH_SIZE: '100' });
    const partial = await eventually(async () => {
      const total = await totalPulls(database.db);
      return total >= 2_000 ? total : 0;
    }, 60_000, 'first worker counting');
    first.child.kill('SIGKILL');
    await first.exited;
    const atKill = await totalPulls(database.db);
    // The kill must have landed mid-drain, or this test proves nothing.
    expect(atKill).to.be.within(partial, events.length - 1);

    startWorker({ STATICREG_BATCH_SIZE: '100' });
    await eventually(() => queueEmpty(), 90_000, 'second worker drains');
    expect(await totalPulls(database.db)).to.equal(events.length);
    const expected = aggregatePulls(events).map((row) => row.count);
    expect((await metricRows(database.db)).map((row) => row.pull_count)).to.deep.equal(expected);
    expect((await queueCounts()).failed).to.equal(0);
  });

  it('gives the same counts with two workers at once as with one', async () => {
    const events = spreadPulls('pair', 10_000);
    await enqueue(TEST_REDIS_URL, events);
    const a = startWorker({ STATICREG_BATCH_SIZE: '200' });
    const b = startWorker({ STATICREG_BATCH_SIZE: '200' });
    await eventually(() => queueEmpty(), 90_000, 'two workers drain');
    const rows = await metricRows(database.db);
    expect(rows.map((row) => [row.pull_date, row.repo_name, row.tag, row.digest, row.architecture, row.pull_count])).to.deep.equal(
      aggregatePulls(events).map((row) => [row.pullDate, row.repository, row.tag, row.digest, row.architecture, row.count]),
    );
    // Both really worked: each stored at least one batch.
    expect(a.logLines('Pull batch stored')).to.not.be.empty;
    expect(b.logLines('Pull batch stored')).to.not.be.empty;
  });

  it('stores the good events of a batch and fails only the one Postgres rejects', async () => {
    const good = spreadPulls('good', 20);
    const poison = makePull('poison', { pullDate: '2026-02-30' });
    await enqueue(TEST_REDIS_URL, [...good.slice(0, 10), poison, ...good.slice(10)], 100);
    startWorker({ STATICREG_BATCH_SIZE: '50', STATICREG_BATCH_MAX_WAIT_MS: '500' });
    await eventually(async () => (await queueCounts()).failed === 1 && (await queueEmpty()), 90_000, 'poison job failed');
    expect(await totalPulls(database.db)).to.equal(20);
    const queue = createPullQueue(createRedisConnection(TEST_REDIS_URL, 'reader'));
    const [failed] = await queue.getJobs(['failed']);
    await queue.close();
    expect(failed!.data.event.id).to.equal('poison');
    expect(failed!.failedReason).to.match(/date/i);
  });

  it('shuts down cleanly on SIGTERM in the middle of a drain, losing nothing', async () => {
    const events = spreadPulls('term', 5_000);
    await enqueue(TEST_REDIS_URL, events);
    const first = startWorker({ STATICREG_BATCH_SIZE: '50' });
    await eventually(async () => (await totalPulls(database.db)) > 0, 30_000, 'counting started');
    expect(await first.stop('SIGTERM')).to.equal(0);
    expect(first.logLines('Stopped')).to.have.length(1);
    startWorker();
    await eventually(() => queueEmpty(), 60_000, 'drained after restart');
    expect(await totalPulls(database.db)).to.equal(events.length);
  });

  it('drains jobs without storing them when STATICREG_DB_URL is unset', async () => {
    await enqueue(TEST_REDIS_URL, spreadPulls('nodb', 30));
    const worker = startApp('worker', { ...FAST_RECOVERY });
    workers.push(worker);
    await eventually(() => queueEmpty(), 30_000, 'queue drained without a database');
    // A job completes before its log line reaches this process: wait for the lines, then check there are no more.
    const skipped = 'Skipping pull event save: Database pool is not active.';
    await eventually(async () => worker.logLines(skipped).length >= 30, 30_000, 'a log line per skipped job');
    expect(worker.logLines('WARNING: STATICREG_DB_URL environment variable is not set. Database functions will be disabled.')).to.have.length(1);
    expect(worker.logLines('Skipping pull event save: Database pool is not active.')).to.have.length(30);
    expect((await queueCounts()).failed).to.equal(0);
    expect(await totalPulls(database.db)).to.equal(0);
  });
});

describe('worker start-up', function () {
  this.timeout(60_000);

  it('stops cleanly on SIGTERM while it is still retrying to reach Postgres', async () => {
    const nothingListens = await freePort();
    const worker = startApp('worker', { ...FAST_RECOVERY, STATICREG_DB_RETRY_MS: '60000', STATICREG_DB_URL: `postgresql://postgres@127.0.0.1:${nothingListens}/staticreg` });
    try {
      await eventually(async () => worker.logLines('Unable to prepare the database, retrying').length > 0, 30_000, 'start-up retry');
      expect(await worker.stop('SIGTERM')).to.equal(0);
      expect(worker.logLines('Stopped')).to.have.length(1);
      expect(worker.logLines('Worker consuming pull jobs')).to.deep.equal([]);
    } finally {
      await worker.stop('SIGKILL');
    }
  });
});

describe('worker, events policy, while Postgres is stopped and restarted', function () {
  this.timeout(180_000);
  let postgres: PrivatePostgres;
  let redis: Redis;
  let worker: AppProcess | undefined;
  let dbUrl: string;

  before(async () => {
    postgres = await createPrivatePostgres();
    const admin = createDb({ url: postgres.url, applicationName: 'staticreg-test', maxConnections: 1 });
    await sql`create database staticreg`.execute(admin);
    await admin.destroy();
    dbUrl = postgres.url.replace(/\/postgres$/, '/staticreg');
    redis = await freshRedis();
  });
  after(async () => {
    await worker?.stop('SIGKILL');
    await redis.quit();
    postgres.remove();
  });

  it('keeps jobs waiting through the outage, spends no attempts, and counts everything once it is back', async () => {
    worker = startApp('worker', { ...FAST_RECOVERY, STATICREG_DB_URL: dbUrl });
    const db = createDb({ url: dbUrl, applicationName: 'staticreg-test', maxConnections: 1 });
    try {
      await enqueue(TEST_REDIS_URL, spreadPulls('before', 1_000));
      await eventually(async () => {
        try {
          return (await totalPulls(db)) === 1_000;
        } catch {
          return false; // schema not created yet
        }
      }, 60_000, 'counted before the outage');

      postgres.stop();
      await enqueue(TEST_REDIS_URL, spreadPulls('during', 1_000));
      await eventually(async () => worker!.logLines('Pull counting paused, jobs wait and retry').length > 0, 30_000, 'outage noticed');
      // Several retry rounds pass while Postgres is down.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const during = await queueCounts();
      expect(during.failed).to.equal(0);
      expect(during.pending).to.be.greaterThan(0);

      postgres.start();
      await eventually(() => queueEmpty(), 60_000, 'drained after the outage');
      expect(await totalPulls(db)).to.equal(2_000);
      expect((await queueCounts()).failed).to.equal(0);
    } finally {
      await db.destroy();
    }
  });

  it('starts while Postgres is down and begins counting once it is up', async () => {
    await worker?.stop('SIGKILL');
    await redis.flushdb();
    postgres.stop();
    worker = startApp('worker', { ...FAST_RECOVERY, STATICREG_DB_URL: dbUrl });
    await enqueue(TEST_REDIS_URL, spreadPulls('cold', 200));
    await eventually(async () => worker!.logLines('Unable to prepare the database, retrying').length >= 2, 30_000, 'start-up retries');
    postgres.start();
    const db = createDb({ url: dbUrl, applicationName: 'staticreg-test', maxConnections: 1 });
    try {
      await eventually(() => queueEmpty(), 60_000, 'drained once Postgres is up');
      expect(await totalPulls(db)).to.equal(2_000 + 200);
    } finally {
      await db.destroy();
    }
  });
});
