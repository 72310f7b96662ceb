// Replay of failed pull jobs against real Redis, Postgres and worker: each filter picks exactly its jobs, each event counts once.
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { Job, Queue } from 'bullmq';
import type { PullEvent } from '@staticreg/events';
import { createPullQueue, createRedisConnection, readCountingPause, replayFailedPullJobs, type PullJobData } from '@staticreg/queue';
import { failJobs } from '../support/failed-jobs.js';
import { REPO_ROOT, startApp, type AppProcess } from '../support/processes.js';
import { createTestDatabase, eventually, freshRedis, metricRows, TEST_REDIS_URL, totalPulls, type TestDatabase } from '../support/services.js';
import { enqueue, makePull } from '../support/pulls.js';
import { queueCounts } from '../support/pull-queue.js';

const WORKER_ENV = {
  STATICREG_COUNT_POLICY: 'events',
  STATICREG_REDIS_URL: TEST_REDIS_URL,
  STATICREG_WORKER_PORT: '0',
  STATICREG_BATCH_MAX_WAIT_MS: '50',
  STATICREG_DB_RETRY_MS: '300',
  STATICREG_LOG_LEVEL: 'warn',
};

/** The failed job ids, by event id, oldest failure first. */
async function failedEventIds(queue: Queue<PullJobData>): Promise<string[]> {
  const jobs = (await queue.getJobs(['failed'], 0, -1, true)) as Array<Job<PullJobData>>;
  return jobs.map((job) => job.data.event.id).sort();
}

/** After this returns, every job that has failed so far has a `finishedOn` before the instant it returns. */
async function instantAfterFailures(queue: Queue<PullJobData>): Promise<Date> {
  const jobs = await queue.getJobs(['failed']);
  const last = Math.max(0, ...jobs.map((job) => job.finishedOn ?? 0));
  await eventually(async () => Date.now() > last + 1, 5_000, 'the clock to pass the last failure');
  return new Date(last + 1);
}

async function settled(failed: number): Promise<void> {
  await eventually(async () => {
    const counts = await queueCounts();
    return counts.pending === 0 && counts.failed === failed;
  }, 60_000, `queue settled with ${failed} failed`);
}

describe('replay of failed pull jobs (real Redis, Postgres and worker)', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let redis: Redis;
  let queue: Queue<PullJobData>;
  let worker: AppProcess;

  beforeEach(async () => {
    database = await createTestDatabase();
    redis = await freshRedis();
    queue = createPullQueue(createRedisConnection(TEST_REDIS_URL, 'reader'));
    worker = startApp('worker', { ...WORKER_ENV, STATICREG_DB_URL: database.url });
  });
  afterEach(async () => {
    await worker.stop('SIGKILL');
    await queue.close();
    await redis.quit();
    await database.drop();
  });

  /** An operator's mistake Postgres enforces: pulls of these repositories are rejected until it is dropped. */
  async function reject(constraint: string, prefix: string): Promise<void> {
    await sql`alter table container_pull_metrics add constraint ${sql.id(constraint)} check (repo_name not like ${sql.lit(`${prefix}/%`)})`.execute(database.db);
  }
  async function allow(constraint: string): Promise<void> {
    await sql`alter table container_pull_metrics drop constraint ${sql.id(constraint)}`.execute(database.db);
  }

  /**
   * Enqueues events Postgres refuses and waits until the worker pauses on them (nothing proves them poisonous while
   * no other event can be stored), then events it accepts: once those are stored, the refused jobs fail.
   */
  async function failThroughWorker(refused: PullEvent[], accepted: PullEvent[], failed: number): Promise<void> {
    await enqueue(TEST_REDIS_URL, refused);
    await eventually(async () => (await readCountingPause(redis)) !== null, 60_000, 'the worker pausing on the refused events');
    await enqueue(TEST_REDIS_URL, accepted);
    await settled(failed);
  }

  it('replays exactly the jobs each filter picks, and each is then counted once', async () => {
    await reject('no_alpha', 'alpha');
    await reject('no_beta', 'beta');
    const pull = (id: string, repository: string): PullEvent => makePull(id, { repository });
    await failThroughWorker([pull('alpha-1', 'alpha/app'), pull('alpha-2', 'alpha/app')], [pull('good-1', 'ok/app'), pull('good-2', 'ok/app')], 2);
    const afterFirst = await instantAfterFailures(queue);
    await failThroughWorker([pull('beta-1', 'beta/app'), pull('beta-2', 'beta/app')], [pull('good-3', 'ok/app')], 4);
    const afterSecond = await instantAfterFailures(queue);
    await failThroughWorker([pull('alpha-3', 'alpha/app')], [pull('good-4', 'ok/app')], 5);
    expect(await totalPulls(database.db)).to.equal(4);
    const alphaReason = (await queue.getJobs(['failed'])).find((job) => job.data.event.id === 'alpha-3')!.failedReason;
    expect(alphaReason).to.include('no_alpha');
    // The cause is fixed; now the failed jobs can be counted.
    await allow('no_alpha');
    await allow('no_beta');

    // A dry run lists and moves nothing.
    const dry = await replayFailedPullJobs(queue, redis, { reason: { text: 'NO_ALPHA', match: 'substring' } }, { dryRun: true });
    expect(dry.replayed.map((job) => job.eventId).sort()).to.deep.equal(['alpha-1', 'alpha-2', 'alpha-3']);
    expect(await failedEventIds(queue)).to.have.length(5);

    // Failed between the two instants: the beta jobs only.
    const window = await replayFailedPullJobs(queue, redis, { failedSince: afterFirst, failedUntil: afterSecond });
    expect(window.replayed.map((job) => job.eventId).sort()).to.deep.equal(['beta-1', 'beta-2']);
    expect(window.replayed[0]).to.include({ repository: 'beta/app', tag: '1.0' });
    expect(window.replayed[0]!.failedReason).to.include('no_beta');
    expect(Date.parse(window.replayed[0]!.failedAt)).to.be.within(afterFirst.getTime(), afterSecond.getTime());
    await settled(3);
    expect(await failedEventIds(queue)).to.deep.equal(['alpha-1', 'alpha-2', 'alpha-3']);
    expect(await totalPulls(database.db)).to.equal(6);

    // An exact reason must be the whole reason: a part of it picks nothing.
    expect((await replayFailedPullJobs(queue, redis, { reason: { text: 'no_alpha', match: 'exact' } })).replayed).to.deep.equal([]);
    // A substring in any case, limited to one: the oldest failure.
    const one = await replayFailedPullJobs(queue, redis, { reason: { text: 'NO_ALPHA', match: 'substring' }, limit: 1 });
    expect(one.replayed).to.have.length(1);
    expect(['alpha-1', 'alpha-2']).to.include(one.replayed[0]!.eventId);
    await settled(2);
    // Failed since the second instant: alpha-3 only.
    const since = await replayFailedPullJobs(queue, redis, { failedSince: afterSecond });
    expect(since.replayed.map((job) => job.eventId)).to.deep.equal(['alpha-3']);
    await settled(1);
    // The whole reason, as the failed set shows it.
    const exact = await replayFailedPullJobs(queue, redis, { reason: { text: alphaReason!, match: 'exact' } });
    expect(exact.replayed).to.have.length(1);
    await settled(0);

    expect(await totalPulls(database.db)).to.equal(9);
    expect((await metricRows(database.db)).map((row) => [row.repo_name, row.pull_count])).to.deep.equal([
      ['alpha/app', 3],
      ['beta/app', 2],
      ['ok/app', 4],
    ]);
  });

  it('gives a replayed job its full attempts again', async () => {
    await reject('no_alpha', 'alpha');
    await failThroughWorker([makePull('alpha-1', { repository: 'alpha/app' })], [makePull('good-1', { repository: 'ok/app' })], 1);
    const [failed] = await queue.getJobs(['failed']);
    expect(failed!.attemptsMade).to.be.greaterThan(0);
    await worker.stop('SIGKILL');
    await replayFailedPullJobs(queue, redis);
    const [waiting] = await queue.getJobs(['wait']);
    expect(waiting!.id).to.equal(failed!.id);
    expect(waiting!.attemptsMade).to.equal(0);
  });

  it('adds nothing when a replayed job\'s event was already counted', async () => {
    const event = makePull('redelivered', { repository: 'alpha/app' });
    await reject('no_alpha', 'alpha');
    await failThroughWorker([event], [makePull('good-1', { repository: 'ok/app' })], 1);
    await allow('no_alpha');
    // The registry delivers the same event again, and this time it is counted.
    await enqueue(TEST_REDIS_URL, [event]);
    await eventually(async () => (await totalPulls(database.db)) === 2, 30_000, 'the re-delivery counted');
    await settled(1);
    const { replayed } = await replayFailedPullJobs(queue, redis);
    expect(replayed.map((job) => job.eventId)).to.deep.equal(['redelivered']);
    // Completed (its batch committed) and still one pull: the event id was already claimed.
    await settled(0);
    expect(await totalPulls(database.db)).to.equal(2);
    const [claims] = await sql<{ n: number }>`select count(*)::int as n from processed_pull_events where event_id = 'redelivered'`.execute(database.db).then((r) => r.rows);
    expect(claims!.n).to.equal(1);
  });
});

/** Runs `replay-failed` as `make replay-failed` does (from source), and returns its exit code and output. */
function runReplayCommand(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=staticreg-source', 'apps/worker/src/replay-failed.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', STATICREG_REDIS_URL: TEST_REDIS_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('replay paging through the failed set (real Redis)', function () {
  this.timeout(60_000);
  let redis: Redis;
  let queue: Queue<PullJobData>;

  beforeEach(async () => {
    redis = await freshRedis();
    queue = createPullQueue(createRedisConnection(TEST_REDIS_URL, 'reader'));
    // 25 failed jobs, every third one of team/odd, many failing within the same millisecond.
    await failJobs(queue, Array.from({ length: 25 }, (_, i) => makePull(`job-${i}`, { repository: i % 3 === 0 ? 'team/odd' : 'team/even' })));
  });
  afterEach(async () => {
    await queue.close();
    await redis.quit();
  });

  it('visits every failed job once, two per page, skipping and replaying', async () => {
    // An id left in the failed set whose job is gone (removed between BullMQ's two writes) is stepped over, not read forever.
    const oldest = (await queue.getJobs(['failed'], 0, 0, true))[0]!.finishedOn!;
    await redis.zadd(queue.toKey('failed'), oldest, 'gone-1', oldest, 'gone-2');
    const dry = await replayFailedPullJobs(queue, redis, {}, { dryRun: true, pageSize: 2 });
    expect(dry.replayed.map((job) => job.eventId)).to.have.members(Array.from({ length: 25 }, (_, i) => `job-${i}`));
    const odd = await replayFailedPullJobs(queue, redis, { reason: { text: 'team/odd', match: 'exact' } }, { pageSize: 2 });
    expect(odd.replayed).to.deep.equal([]);
    const picked = await replayFailedPullJobs(queue, redis, { reason: { text: 'rejected team/odd', match: 'exact' } }, { pageSize: 2 });
    expect(picked.replayed.map((job) => job.eventId)).to.have.members(['job-0', 'job-3', 'job-6', 'job-9', 'job-12', 'job-15', 'job-18', 'job-21', 'job-24']);
    expect(await failedEventIds(queue)).to.have.length(16);
    const rest = await replayFailedPullJobs(queue, redis, { limit: 10 }, { pageSize: 3 });
    expect(rest.replayed).to.have.length(10);
    expect(await failedEventIds(queue)).to.have.length(6);
  });

  it('leaves alone a job that fails again after the replay started', async () => {
    const startedBeforeAll = await replayFailedPullJobs(queue, redis, {}, { now: () => 0 });
    expect(startedBeforeAll.replayed).to.deep.equal([]);
    expect(await failedEventIds(queue)).to.have.length(25);
  });
});

describe('replay-failed command (real Redis)', function () {
  this.timeout(60_000);
  let redis: Redis;
  let queue: Queue<PullJobData>;

  beforeEach(async () => {
    redis = await freshRedis();
    queue = createPullQueue(createRedisConnection(TEST_REDIS_URL, 'reader'));
    await failJobs(queue, [makePull('one', { repository: 'team/one' }), makePull('two', { repository: 'team/two', tag: 'v2' }), makePull('three', { repository: 'team/three' })]);
  });
  afterEach(async () => {
    await queue.close();
    await redis.quit();
  });

  it('prints one line per replayed job and the total', async () => {
    const { code, stdout, stderr } = await runReplayCommand(['--reason', 'TEAM/T']);
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^FAILED AT \(UTC\)\s+JOB\s+EVENT\s+IMAGE\s+REASON$/);
    expect(lines.slice(1, -1).map((line) => line.split(/\s{2,}/).slice(2))).to.have.deep.members([
      ['two', 'team/two:v2', 'rejected team/two'],
      ['three', 'team/three:1.0', 'rejected team/three'],
    ]);
    expect(lines.at(-1)).to.equal('Replayed 2 failed jobs.');
    expect(await failedEventIds(queue)).to.deep.equal(['one']);
    expect((await queue.getJobCounts('wait')).wait).to.equal(2);
  });

  it('lists without replaying on --dry-run', async () => {
    const { code, stdout } = await runReplayCommand(['--dry-run', '--reason-exact', 'rejected team/one']);
    expect(code).to.equal(0);
    expect(stdout).to.include('team/one:1.0');
    expect(stdout.trimEnd().split('\n').at(-1)).to.equal('Dry run: 1 failed job would be replayed; nothing was replayed.');
    expect(await failedEventIds(queue)).to.have.length(3);
  });

  for (const [args, named] of [
    [['--since', 'yesterday'], '--since'],
    [['--until', '2026-02-30'], '--until'],
    [['--since', '2026-12-02', '--until', '2026-12-01'], '--until'],
    [['--limit', '0'], '--limit'],
    [['--reason', 'a', '--reason-exact', 'b'], '--reason-exact'],
    [['--sinse', '2026-12-01'], '--sinse'],
  ] as const) {
    it(`refuses ${args.join(' ')} naming ${named}, replaying nothing`, async () => {
      const { code, stdout, stderr } = await runReplayCommand([...args]);
      expect(code).to.equal(2);
      expect(stdout).to.equal('');
      expect(stderr).to.match(new RegExp(`^Invalid configuration: ${named}`));
      expect(await failedEventIds(queue)).to.have.length(3);
    });
  }
});
