// The session policy through real workers: the stored counts equal the pure model's, whatever the workers do.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { countSession, evaluateEvent, splitSessions, sumCounts, toSessionEvent, type PullEvent, type SessionEvent } from '@staticreg/events';
import { loadScenario } from '../support/fixtures.js';
import { startApp, type AppProcess } from '../support/processes.js';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';
import { enqueue, sessionTraffic } from '../support/pulls.js';
import { queueCounts } from '../support/pull-queue.js';

const ENV = {
  STATICREG_COUNT_POLICY: 'sessions',
  STATICREG_REDIS_URL: TEST_REDIS_URL,
  STATICREG_WORKER_PORT: '0',
  STATICREG_WORKER_LOCK_MS: '2000',
  STATICREG_WORKER_STALLED_INTERVAL_MS: '1000',
  STATICREG_DB_RETRY_MS: '300',
  STATICREG_BATCH_MAX_WAIT_MS: '50',
  STATICREG_LOG_LEVEL: 'debug',
};

/** What the rules say these events count, with no registry to ask (platforms from User-Agents). */
function expectedCounts(events: PullEvent[]): string[] {
  const byClient = new Map<string, SessionEvent[]>();
  for (const event of events.map(toSessionEvent)) byClient.set(event.clientKey, [...(byClient.get(event.clientKey) ?? []), event]);
  const counts = [...byClient.values()].flatMap((list) => splitSessions(list, 10_000).flatMap((session) => countSession(session, () => undefined)));
  return sumCounts(counts).map((c) => `${c.kind} ${c.pullDate} ${c.repository}:${c.tag}@${c.digest} ${c.architecture} x${c.count}`).sort();
}

async function storedCounts(database: TestDatabase): Promise<string[]> {
  const rows = await sql<{ line: string }>`
    select 'pull ' || pull_date || ' ' || repo_name || ':' || tag || '@' || digest || ' ' || architecture || ' x' || pull_count as line
    from container_pull_metrics
    union all
    select 'check ' || pull_date || ' ' || repo_name || ':' || tag || '@' || digest || ' ' || architecture || ' x' || check_count
    from container_pull_checks`.execute(database.db);
  return rows.rows.map((row) => row.line).sort();
}

/** Jobs still to do; a failed job fails the test. */
async function pendingJobs(): Promise<number> {
  const counts = await queueCounts();
  expect(counts.failed).to.equal(0);
  return counts.pending;
}

describe('worker, session policy (real Redis and Postgres)', function () {
  this.timeout(150_000);
  let database: TestDatabase;
  let redis: Redis;
  const workers: AppProcess[] = [];
  const startWorker = (env: Record<string, string> = {}): AppProcess => {
    const worker = startApp('worker', { ...ENV, STATICREG_DB_URL: database.url, ...env });
    workers.push(worker);
    return worker;
  };

  beforeEach(async () => {
    database = await createTestDatabase();
    redis = await freshRedis();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop('SIGKILL')));
    await redis.quit();
    await database.drop();
  });

  it('the model counts pulls, checks and pinned digests as the rules say', () => {
    const lines = expectedCounts(sessionTraffic('model', 4));
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(/^check 2026-11-27 team-1\/app:latest@sha256:\w+ not-specified x2$/);
    expect(lines.filter((line) => line.startsWith('pull'))).to.have.length(3);
  });

  it('counts a leap-second pull on its own UTC day, also from a job queued by an older receiver', async () => {
    const raw = { ...loadScenario('pull-by-tag-docker-ua')[0]!.body.events[0]!, timestamp: '2026-11-30T23:59:60.5Z' };
    const verdict = evaluateEvent(raw, { ignoredUserAgents: [] });
    if (!verdict.accepted) throw new Error(verdict.reason);
    // An older receiver carried no `time` and dated 23:59:60Z on the next day; another client, so another session.
    const { time: _time, ...older } = { ...verdict.event, id: 'older-receiver', clientAddress: '10.9.9.9:1234', pullDate: '2026-12-01' };
    const events = [verdict.event, older];
    await enqueue(TEST_REDIS_URL, events);
    startWorker();
    await eventually(async () => (await pendingJobs()) === 0, 60_000, 'drained');
    const stored = await storedCounts(database);
    expect(stored).to.deep.equal(expectedCounts(events));
    expect(stored).to.deep.equal([`pull 2026-11-30 library/demo:1.0@${verdict.event.digest} arm64 x2`]);
  });

  it('counts exactly what the model counts, with redelivered events, in small batches', async () => {
    const events = sessionTraffic('small', 40);
    await enqueue(TEST_REDIS_URL, [...events, ...events.slice(0, 30)], 7);
    startWorker({ STATICREG_BATCH_SIZE: '5' });
    await eventually(async () => (await pendingJobs()) === 0, 60_000, 'drained');
    expect(await storedCounts(database)).to.deep.equal(expectedCounts(events));
  });

  it('merges sessions split between two workers into the same counts as one worker', async () => {
    const events = sessionTraffic('pair', 1_500);
    await enqueue(TEST_REDIS_URL, events);
    const a = startWorker({ STATICREG_BATCH_SIZE: '50' });
    const b = startWorker({ STATICREG_BATCH_SIZE: '50' });
    await eventually(async () => (await pendingJobs()) === 0, 120_000, 'two workers drain');
    expect(await storedCounts(database)).to.deep.equal(expectedCounts(events));
    expect(a.logLines('Pull batch stored')).to.not.be.empty;
    expect(b.logLines('Pull batch stored')).to.not.be.empty;
    // Every check and pull row keeps a count of at least one: retracted rows are deleted, never left at zero.
    const zero = await sql<{ n: number }>`
      select (select count(*) from container_pull_metrics where pull_count < 1) + (select count(*) from container_pull_checks where check_count < 1) as n`.execute(database.db);
    expect(Number(zero.rows[0]!.n)).to.equal(0);
  });

  it('is exact after a worker is killed mid-drain', async () => {
    const events = sessionTraffic('kill', 2_500);
    await enqueue(TEST_REDIS_URL, events);
    const first = startWorker({ STATICREG_BATCH_SIZE: '25' });
    await eventually(async () => first.logLines('Pull batch stored').length >= 20, 60_000, 'first worker storing');
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await pendingJobs()).to.be.greaterThan(0);
    startWorker({ STATICREG_BATCH_SIZE: '100' });
    await eventually(async () => (await pendingJobs()) === 0, 120_000, 'second worker drains');
    expect(await storedCounts(database)).to.deep.equal(expectedCounts(events));
  });
});
