// Soak: two registry-like senders, tens of thousands of deliveries through a worker SIGKILLed and restarted,
// a Postgres restart and a read-only database; the stored counts must equal the test's own reference exactly.
import { expect } from 'chai';
import pg from 'pg';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createPullQueue, createRedisConnection, queueCounts, recentFailedJobs, type PullJobData } from '@staticreg/queue';
import type { CountPolicy } from '@staticreg/config';
import { createPrivatePostgres, createPrivateRedis, type PrivatePostgres, type PrivateRedis } from '../support/private-services.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { eventually } from '../support/services.js';
import { NotificationSender } from '../support/notification-sender.js';
import { loadSoakSettings } from './soak-settings.js';
import { differences, plannedPulls, referenceCounts, rowKey, type PlannedPull } from './soak-traffic.js';

/** The token the receiver requires and the senders send, as a registry's notification endpoint is configured. */
const WEBHOOK_TOKEN = 'soak-webhook-token-0123456789abcdef';

const settings = loadSoakSettings();
const DATABASE = 'soak';
/** Output kept per process: enough to diagnose, bounded however much a failing worker logs. */
const KEEP_OUTPUT_CHARS = 4 * 1024 * 1024;
/**
 * Cumulative share of each sender's events released by the end of each phase. The read-only phase gets few: with
 * thousands of events failing at once the worker is so slow that no job is retried often enough to spend its
 * attempts, which would hide the very loss that phase looks for (a job's 8 attempts take 127 s of backoff).
 */
const RELEASED_BY = { warmUp: 0.1, workerKill: 0.35, postgresDown: 0.6, readOnly: 0.62, killAfterReadOnly: 0.8, tail: 1 };

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.href;
}

/** One short-lived connection per use: Postgres restarts under the test, so nothing is kept open. */
async function query<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'staticreg-soak' });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

for (const policy of settings.policies) {
  describe(`soak (count policy ${policy})`, function () {
    // The fault durations plus generous room for a busy CI machine; every wait inside is on a condition.
    this.timeout((settings.readOnlySeconds + 25 * 60) * 1000);
    let postgres: PrivatePostgres | undefined;
    let redis: PrivateRedis | undefined;
    let queueConnection: Redis | undefined;
    let queue: Queue<PullJobData> | undefined;
    const apps: AppProcess[] = [];
    const senders: Array<NotificationSender<PlannedPull>> = [];

    after(async () => {
      for (const sender of senders) sender.abort();
      for (const app of apps) await app.stop('SIGKILL');
      await queue?.close();
      queueConnection?.disconnect();
      await redis?.stop();
      postgres?.remove();
    });

    it('counts exactly what two retrying senders delivered through worker kills, a Postgres restart and a read-only database', async () => {
      try {
        await runSoak(policy);
      } catch (error) {
        // What the pipeline looked like when a condition was not met, to tell a stuck worker from a slow one.
        const counts = queue ? await queueCounts(queue).catch(() => undefined) : undefined;
        const failed = queue ? await recentFailedJobs(queue, 2).catch(() => []) : [];
        const worker = apps.filter((app) => app.child.spawnargs.some((arg) => arg.includes('apps/worker/'))).at(-1);
        const lastLines = worker?.output().trimEnd().split('\n').slice(-5).filter((line) => line !== '') ?? [];
        console.log(
          [
            `soak (${policy}) stopped: queue ${JSON.stringify(counts)}`,
            `  failed jobs, e.g. ${JSON.stringify(failed.map((job) => ({ error: job.error.slice(0, 300), attemptsMade: job.attemptsMade })))}`,
            `  the last worker's last log lines:${lastLines.length === 0 ? ' (none)' : ''}`,
            ...lastLines.map((line) => `    ${line.slice(0, 600)}`),
          ].join('\n'),
        );
        throw error;
      }
    });

    async function runSoak(countPolicy: CountPolicy): Promise<void> {
      const started = Date.now();
      const timings: Array<[string, number]> = [];
      let phaseStart = Date.now();
      const phaseDone = (name: string): void => {
        timings.push([name, (Date.now() - phaseStart) / 1000]);
        phaseStart = Date.now();
      };

      postgres = await createPrivatePostgres();
      redis = await createPrivateRedis();
      const adminUrl = postgres.url;
      const dbUrl = withDatabase(postgres.url, DATABASE);
      await query(adminUrl, `create database ${DATABASE}`);
      queueConnection = createRedisConnection(redis.url, 'reader');
      queue = createPullQueue(queueConnection);

      const receiverPort = await freePort();
      let receiver: AppProcess | undefined;
      const startReceiver = async (): Promise<void> => {
        receiver = startApp('receiver', { STATICREG_REDIS_URL: redis!.url, STATICREG_RECEIVER_PORT: String(receiverPort), STATICREG_WEBHOOK_TOKEN: WEBHOOK_TOKEN, STATICREG_LOG_LEVEL: 'warn' }, 'main.ts', {
          keepOutputChars: KEEP_OUTPUT_CHARS,
        });
        apps.push(receiver);
        await waitForHttp(`http://127.0.0.1:${receiverPort}/readyz`, receiver, 120_000);
      };
      await startReceiver();

      const workerPort = await freePort();
      const workerEnv = {
        STATICREG_REDIS_URL: redis.url,
        STATICREG_DB_URL: dbUrl,
        STATICREG_WORKER_PORT: String(workerPort),
        STATICREG_COUNT_POLICY: countPolicy,
        STATICREG_LOG_LEVEL: 'warn',
        // A killed worker's jobs come back after the lock expires; 10 s keeps the soak short and renewals safe.
        STATICREG_WORKER_LOCK_MS: '10000',
        STATICREG_DB_RETRY_MS: '500',
      };
      let worker: AppProcess | undefined;
      let workerStarts = 0;
      let workerKills = 0;
      /** Starts a worker and waits for /readyz (Postgres reachable too) or only /healthz (the process is up). */
      const startWorker = async (wait: 'readyz' | 'healthz'): Promise<void> => {
        worker = startApp('worker', workerEnv, 'main.ts', { keepOutputChars: KEEP_OUTPUT_CHARS });
        apps.push(worker);
        workerStarts += 1;
        await waitForHttp(`http://127.0.0.1:${workerPort}/${wait}`, worker, 120_000);
      };
      const killWorker = async (): Promise<void> => {
        await worker!.stop('SIGKILL');
        workerKills += 1;
      };
      const storedTotal = async (): Promise<number> =>
        Number((await query<{ total: string }>(dbUrl, 'select coalesce(sum(pull_count), 0) as total from container_pull_metrics'))[0]!.total);
      /** Kills the worker while it holds jobs, after it has stored some of this phase's events. */
      const killWorkerMidBatch = async (what: string): Promise<void> => {
        const before = await storedTotal();
        await eventually(async () => (await queueCounts(queue!)).active > 0 && (await storedTotal()) > before, 300_000, `${what}: the worker storing and holding jobs`);
        await killWorker();
      };

      /** Nothing waits, runs or waits for a retry (failed jobs are the end of the line and may remain). */
      const drained = (): Promise<unknown> =>
        eventually(
          async () => {
            const counts = await queueCounts(queue!);
            return counts.waiting + counts.active + counts.delayed + counts.prioritized === 0;
          },
          10 * 60_000,
          'the queue to drain',
        );

      await startWorker('readyz');

      const now = Date.now();
      const planned = [0, 1].map((sender) => plannedPulls(sender, settings.eventsPerSender, settings.seed, now));
      for (const [sender, pulls] of planned.entries()) {
        senders.push(
          new NotificationSender<PlannedPull>({
            name: `registry-${sender}`,
            url: `http://127.0.0.1:${receiverPort}/api/webhook/registry`,
            token: WEBHOOK_TOKEN,
            pullAt: (index) => pulls[index]!,
            attemptTimeoutMs: 1000,
            threshold: 3,
            backoffMs: 1000,
            resendAfterAck: (index) => (index % 40 === 7 ? 'now' : index % 40 === 27 ? 'later' : undefined),
          }),
        );
      }
      const release = (share: number): void => senders.forEach((sender) => sender.release(Math.round(share * settings.eventsPerSender)));
      const acknowledged = (share?: number): Promise<unknown> =>
        Promise.all(senders.map((sender) => sender.acknowledged(share === undefined ? undefined : Math.round(share * settings.eventsPerSender))));
      phaseDone('setup');

      // 1. Warm-up: the pipeline counts at all.
      release(RELEASED_BY.warmUp);
      await acknowledged();
      await eventually(async () => (await storedTotal()) > 0, 120_000, 'first counts');
      phaseDone('warm-up');

      // 2. SIGKILL the worker mid-batch; the senders go on; a new worker picks up the stalled jobs. The receiver is
      // SIGKILLed too, with a POST in flight: the senders retry, back off, and re-send what it may have enqueued.
      release((RELEASED_BY.warmUp + RELEASED_BY.workerKill) / 2);
      await killWorkerMidBatch('kill 1');
      const retriesBefore = senders.map((sender) => sender.stats.retries);
      await receiver!.stop('SIGKILL');
      release(RELEASED_BY.workerKill);
      await eventually(async () => senders.every((sender, i) => sender.stats.retries >= retriesBefore[i]! + 4), 60_000, 'both senders backing off');
      await startReceiver();
      await acknowledged();
      await startWorker('readyz');
      phaseDone('worker SIGKILL');

      // 3. Postgres stopped while the senders send; the worker is SIGKILLed and started again while it is down.
      postgres.stop();
      release(RELEASED_BY.postgresDown);
      await acknowledged((RELEASED_BY.workerKill + RELEASED_BY.postgresDown) / 2);
      await killWorker();
      await startWorker('healthz');
      await acknowledged();
      postgres.start();
      await waitForHttp(`http://127.0.0.1:${workerPort}/readyz`, worker!, 120_000);
      // The read-only phase starts on an empty queue: a backlog failing with it would slow the worker so much that
      // no job spends its attempts, and the phase would prove nothing.
      await drained();
      phaseDone('Postgres down, then the backlog');

      // 4. The database read-only: new sessions only, so the worker's connections are cut and it reconnects read-only.
      if (settings.readOnlySeconds > 0) {
        const readOnlySince = new Date();
        await query(adminUrl, `alter database ${DATABASE} set default_transaction_read_only = on`);
        const cutWorkerSessions = (): Promise<unknown> =>
          query(adminUrl, `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = 'staticreg-worker'`, [DATABASE]);
        await cutWorkerSessions();
        expect((await query<{ ro: string }>(dbUrl, `select current_setting('default_transaction_read_only') as ro`))[0]!.ro).to.equal('on');
        const totalWhileReadOnly = await storedTotal();
        // The senders keep sending all along: the phase's events go out in slices spread over the fault's duration.
        const slices = 10;
        for (let slice = 1; slice <= slices; slice += 1) {
          release(RELEASED_BY.postgresDown + ((RELEASED_BY.readOnly - RELEASED_BY.postgresDown) * slice) / slices);
          await acknowledged();
          if (slice === 1) {
            // The worker has the first slice's jobs to store, so it opens sessions, which are now read-only.
            await eventually(
              async () =>
                (
                  await query(adminUrl, `select 1 from pg_stat_activity where datname = $1 and application_name = 'staticreg-worker' and backend_start > $2`, [
                    DATABASE,
                    readOnlySince,
                  ])
                ).length > 0,
              120_000,
              'the worker reconnecting to the read-only database',
            );
          }
          const sliceEnd = readOnlySince.getTime() + (settings.readOnlySeconds * 1000 * slice) / slices;
          // The fault's duration is the point of this phase: it is the one wait on time.
          if (slice < slices) await new Promise((resolve) => setTimeout(resolve, Math.max(0, sliceEnd - Date.now())));
        }
        const remaining = readOnlySince.getTime() + settings.readOnlySeconds * 1000 - Date.now();
        if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
        expect(await storedTotal(), 'counts stored while the database was read-only').to.equal(totalWhileReadOnly);
        // The admin session is on the postgres database, which was never read-only.
        await query(adminUrl, `alter database ${DATABASE} set default_transaction_read_only = off`);
        await cutWorkerSessions();
        expect((await query<{ ro: string }>(dbUrl, `select current_setting('default_transaction_read_only') as ro`))[0]!.ro).to.equal('off');
      } else {
        release(RELEASED_BY.readOnly);
        await acknowledged();
      }
      phaseDone(settings.readOnlySeconds > 0 ? `read-only ${settings.readOnlySeconds} s` : 'read-only skipped');

      // 5. Another SIGKILL once the database is writable again, while the worker catches up.
      release(RELEASED_BY.killAfterReadOnly);
      await killWorkerMidBatch('kill 3');
      await acknowledged();
      await startWorker('readyz');
      phaseDone('worker SIGKILL after read-only');

      // 6. The rest, and every deliberate re-send still pending; then the queue must drain.
      release(RELEASED_BY.tail);
      await Promise.all(senders.map((sender) => sender.finish()));
      phaseDone('tail');
      await drained();
      phaseDone('drain');

      // The reference: distinct acknowledged event ids per row, from the senders' own records.
      const acked = senders.flatMap((sender) => [...sender.acked.values()]);
      const expected = referenceCounts(acked);
      const rows = await query<{ day: string; repo_name: string; tag: string; digest: string; architecture: string; pull_count: string }>(
        dbUrl,
        `select to_char(pull_date, 'YYYY-MM-DD') as day, repo_name, tag, digest, architecture, pull_count from container_pull_metrics`,
      );
      const stored = new Map(rows.map((row) => [rowKey(row.day, row.repo_name, row.tag, row.digest, row.architecture), Number(row.pull_count)]));
      const checks = Number((await query<{ n: string }>(dbUrl, 'select count(*) as n from container_pull_checks'))[0]!.n);
      const counts = await queueCounts(queue);
      const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);
      const days = new Set(acked.map((pull) => pull.timestamp.slice(0, 10)));

      console.log(
        [
          `soak (${countPolicy}): ${((Date.now() - started) / 1000).toFixed(0)} s`,
          `  deliveries ${sum(senders.map((s) => s.stats.deliveries))}, retried attempts ${sum(senders.map((s) => s.stats.retries))}, deliberate re-sends ${sum(senders.map((s) => s.stats.deliberateResends))}`,
          `  answers per sender ${senders.map((s) => JSON.stringify(s.stats.statuses)).join(' ')}`,
          `  distinct events ${acked.length} on ${days.size} UTC days; worker starts ${workerStarts}, SIGKILLs ${workerKills}; receiver SIGKILLs 1`,
          `  log output of the processes ${(sum(apps.map((app) => app.outputChars())) / 1e6).toFixed(1)} MB`,
          `  reference ${sum(expected.values())} pulls in ${expected.size} rows; stored ${sum(stored.values())} pulls in ${stored.size} rows; checks ${checks}`,
          `  queue after drain ${JSON.stringify(counts)}`,
          `  phases ${timings.map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`).join(', ')}`,
        ].join('\n'),
      );

      expect(acked.length, 'every planned event acknowledged').to.equal(2 * settings.eventsPerSender);
      expect(counts.failed, 'failed jobs').to.equal(0);
      expect(differences(expected, stored).slice(0, 20), 'rows that differ from the reference').to.deep.equal([]);
      expect(checks, 'checks stored (the traffic has none)').to.equal(0);
    }
  });
}
