// /metrics on the three app processes and the dashboard's pipeline health, against the real Redis and Postgres.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { UnrecoverableError, Worker } from 'bullmq';
import { createPullQueue, createRedisConnection, IntakeRecorder, PULL_QUEUE, readIntake, type PullJobData } from '@staticreg/queue';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, totalPulls, type TestDatabase } from '../support/services.js';
import { loadScenario } from '../support/fixtures.js';
import { enqueue, spreadPulls } from '../support/pulls.js';

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of one metric in a Prometheus text exposition. */
function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    out.push({ labels, value: Number(match[3]) });
  }
  return out;
}

function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(text, name).filter((sample) => Object.entries(labels).every(([key, v]) => sample.labels[key] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).to.equal(200);
  expect(response.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

describe('observability: /metrics and pipeline health (real processes)', function () {
  this.timeout(120_000);
  let redis: Redis;
  let database: TestDatabase;
  const apps: AppProcess[] = [];

  beforeEach(async () => {
    redis = await freshRedis();
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop('SIGKILL')));
    await redis.quit();
    await database.drop();
  });

  it('receiver: requests by route pattern, latency, events accepted and skipped by reason; intake per minute in Redis', async () => {
    const port = await freePort();
    const receiver = startApp('receiver', {
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_RECEIVER_PORT: String(port),
      STATICREG_LOG_LEVEL: 'warn',
      STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED: 'true',
    });
    apps.push(receiver);
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, receiver);

    const post = (body: string) =>
      fetch(`${base}/api/webhook/registry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post(loadScenario('pull-by-tag-docker-ua')[0]!.raw)).status).to.equal(200);
    expect((await post(loadScenario('blob-pull')[0]!.raw)).status).to.equal(200);
    expect((await post(loadScenario('delete')[0]!.raw)).status).to.equal(200);
    for (const path of ['/random-a', '/random-b/c', '/wp-login.php']) expect((await fetch(`${base}${path}`)).status).to.equal(404);

    const text = await scrape(`${base}/metrics`);
    expect(value(text, 'staticreg_receiver_events_accepted_total')).to.equal(1);
    expect(value(text, 'staticreg_receiver_events_skipped_total', { reason: 'not-manifest' })).to.equal(1);
    expect(value(text, 'staticreg_receiver_events_skipped_total', { reason: 'not-pull' })).to.equal(1);
    expect(value(text, 'staticreg_receiver_events_skipped_total', { reason: 'invalid-digest' })).to.equal(0);
    const webhook = { method: 'POST', route: '/api/webhook/registry', status: '200' };
    expect(value(text, 'staticreg_receiver_http_requests_total', webhook)).to.equal(3);
    expect(value(text, 'staticreg_receiver_http_request_duration_seconds_count', webhook)).to.equal(3);
    expect(value(text, 'staticreg_receiver_http_request_duration_seconds_bucket', { ...webhook, le: '+Inf' })).to.equal(3);
    expect(value(text, 'staticreg_receiver_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).to.equal(3);
    // Bounded labels: no raw path ever becomes a label value.
    expect(text).not.to.match(/random|wp-login/);
    expect(value(text, 'process_cpu_user_seconds_total')).to.be.a('number');

    // The receiver flushes its per-minute counts on shutdown (and every 5 s while it runs).
    expect(await receiver.stop('SIGTERM')).to.equal(0);
    const minutes = await readIntake(redis, 5);
    const accepted = minutes.reduce((sum, minute) => sum + minute.accepted, 0);
    const skipped = minutes.reduce((sum, minute) => sum + Object.values(minute.skipped).reduce((a, b) => a + b, 0), 0);
    expect({ accepted, skipped }).to.deep.equal({ accepted: 1, skipped: 2 });
  });

  it('worker: batch size, flush duration, events counted and de-duplicated, queue depth', async () => {
    const port = await freePort();
    const worker = startApp('worker', {
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_WORKER_PORT: String(port),
      STATICREG_COUNT_POLICY: 'events',
      STATICREG_BATCH_MAX_WAIT_MS: '50',
      STATICREG_LOG_LEVEL: 'warn',
    });
    apps.push(worker);
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, worker);
    const events = spreadPulls('obs', 40);
    await enqueue(TEST_REDIS_URL, events);
    await eventually(async () => (await totalPulls(database.db)) === 40, 60_000, '40 pulls stored');
    // The same 10 events again, as a registry re-delivery: stored nowhere, counted as duplicates.
    await enqueue(TEST_REDIS_URL, events.slice(0, 10));
    const text: string = await eventually(async () => {
      const body = await scrape(`http://127.0.0.1:${port}/metrics`);
      return value(body, 'staticreg_worker_events_deduplicated_total') === 10 ? body : '';
    }, 60_000, '10 duplicates counted');
    expect(value(text, 'staticreg_worker_events_counted_total')).to.equal(40);
    expect(value(text, 'staticreg_worker_batch_size_sum')).to.equal(50);
    const batches = value(text, 'staticreg_worker_batch_size_count')!;
    expect(batches).to.be.at.least(2);
    expect(value(text, 'staticreg_worker_flush_duration_seconds_count', { result: 'stored' })).to.equal(batches);
    expect(value(text, 'staticreg_queue_jobs', { state: 'waiting' })).to.equal(0);
    expect(value(text, 'staticreg_queue_jobs', { state: 'failed' })).to.equal(0);
    expect(value(text, 'staticreg_queue_oldest_waiting_age_seconds')).to.equal(0);
    expect(await totalPulls(database.db)).to.equal(40);
  });

  it('browse: pipeline health with queue depth, oldest waiting job, intake, failed jobs with their error, and /metrics', async () => {
    // One job fails for good, with its error, through a real BullMQ worker; two more wait.
    const connection = createRedisConnection(TEST_REDIS_URL, 'worker');
    const failing = new Worker<PullJobData>(PULL_QUEUE, async () => {
      throw new UnrecoverableError('value too long for type character varying(5)');
    }, { connection, autorun: true });
    const [bad] = spreadPulls('bad', 1);
    await enqueue(TEST_REDIS_URL, [bad!]);
    const reader = createRedisConnection(TEST_REDIS_URL, 'reader');
    const queue = createPullQueue(reader);
    await eventually(async () => (await queue.getJobCounts('failed')).failed === 1, 30_000, 'one failed job');
    await failing.close();
    connection.disconnect();
    await enqueue(TEST_REDIS_URL, spreadPulls('waiting', 2));
    const [oldest] = await queue.getJobs(['wait'], 0, -1, true);
    const recorder = new IntakeRecorder(redis);
    recorder.record(3, ['not-manifest', 'not-manifest', 'not-pull']);
    await recorder.close();

    const port = await freePort();
    const browse = startApp('browse', { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_DB_URL: database.url, STATICREG_BROWSE_PORT: String(port), STATICREG_BROWSE_AUTH: 'none' });
    apps.push(browse);
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, browse);

    const health = (await (await fetch(`${base}/api/metrics/pipeline`)).json()) as Record<string, any>;
    expect(health.redis.status).to.equal('ok');
    expect(health.postgres.status).to.equal('ok');
    expect(health.queue).to.deep.equal({ waiting: 2, active: 0, delayed: 0, prioritized: 0, failed: 1 });
    const expectedAge = Math.round((Date.parse(health.generatedAt) - oldest!.timestamp) / 1000);
    expect(health.oldestWaitingAgeSeconds).to.equal(Math.max(0, expectedAge));
    expect(health.lastHour).to.deep.equal({ accepted: 3, skipped: { 'not-manifest': 2, 'not-pull': 1 } });
    expect(health.lastEventReceivedAt).to.be.a('string');

    const failed = (await (await fetch(`${base}/api/metrics/failed-jobs`)).json()) as { rows: Array<Record<string, unknown>> };
    expect(failed.rows).to.have.length(1);
    expect(failed.rows[0]).to.deep.include({
      eventId: 'bad-0',
      repository: bad!.repository,
      tag: bad!.tag,
      error: 'value too long for type character varying(5)',
    });
    const csv = await (await fetch(`${base}/api/metrics/failed-jobs?format=csv`)).text();
    expect(csv.split('\r\n')[0]).to.equal('failed_at,job_id,event_id,repository,tag,digest,attempts,error');
    expect(csv).to.include(',bad-0,team-0/app-0,v0,');

    const intake = (await (await fetch(`${base}/api/metrics/intake?minutes=5`)).json()) as { rows: Array<{ accepted: number }> };
    expect(intake.rows).to.have.length(5);
    expect(intake.rows.reduce((sum, row) => sum + row.accepted, 0)).to.equal(3);
    const refused = await fetch(`${base}/api/metrics/intake?minutes=999`);
    expect(refused.status).to.equal(400);
    expect(((await refused.json()) as { error: string }).error).to.match(/^minutes: must be a whole number from 1 to 180/);

    const text = await scrape(`${base}/metrics`);
    expect(value(text, 'staticreg_browse_http_requests_total', { method: 'GET', route: '/api/metrics/pipeline', status: '200' })).to.equal(1);
    expect(value(text, 'staticreg_browse_http_requests_total', { method: 'GET', route: '/api/metrics/intake', status: '400' })).to.equal(1);
    await queue.close();
    reader.disconnect();
  });

  describe('STATICREG_METRICS_TOKEN', () => {
    const METRICS_TOKEN = 'metrics-token-for-the-test-0123';
    const ports = { receiver: 'STATICREG_RECEIVER_PORT', worker: 'STATICREG_WORKER_PORT', browse: 'STATICREG_BROWSE_PORT' } as const;
    for (const app of ['receiver', 'worker', 'browse'] as const) {
      it(`${app}: /metrics answers 401 without the bearer token and 200 with it; health stays open`, async () => {
        const port = await freePort();
        const proc = startApp(app, {
          STATICREG_REDIS_URL: TEST_REDIS_URL,
          STATICREG_DB_URL: database.url,
          STATICREG_WEBHOOK_TOKEN: 'webhook-token-for-the-test-0123',
          STATICREG_METRICS_TOKEN: METRICS_TOKEN,
          STATICREG_LOG_LEVEL: 'warn',
          // No registry to sign in against here: browse's anonymous access is asked for explicitly.
          ...(app === 'browse' ? { STATICREG_BROWSE_AUTH: 'none' } : {}),
          [ports[app]]: String(port),
        });
        apps.push(proc);
        const base = `http://127.0.0.1:${port}`;
        await waitForHttp(`${base}/healthz`, proc);
        const metrics = (authorization?: string) => fetch(`${base}/metrics`, { headers: authorization ? { authorization } : {} });

        for (const refused of [await metrics(), await metrics(`Bearer ${METRICS_TOKEN}x`), await metrics(METRICS_TOKEN)]) {
          expect(refused.status).to.equal(401);
          expect(refused.headers.get('www-authenticate')).to.equal('Bearer realm="staticreg metrics"');
          expect(await refused.text()).to.not.include('process_cpu_user_seconds_total');
        }
        const allowed = await metrics(`Bearer ${METRICS_TOKEN}`);
        expect(allowed.status).to.equal(200);
        expect(value(await allowed.text(), 'process_cpu_user_seconds_total')).to.be.a('number');
        expect((await fetch(`${base}/healthz`)).status).to.equal(200);
        // The token is never written to the log.
        expect(proc.output()).to.not.include(METRICS_TOKEN);
      });
    }
  });
});
