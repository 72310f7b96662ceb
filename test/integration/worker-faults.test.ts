// The worker while Postgres refuses writes for reasons other than an outage: every event delivered during the
// fault is counted once after it, none spends an attempt or ends in the failed set, and the pause is visible.
import { expect } from 'chai';
import { sql, type Kysely } from 'kysely';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { createDb, type Database } from '@staticreg/db';
import { createPullQueue, createRedisConnection, readCountingPause } from '@staticreg/queue';
import { freePort, startApp, type AppProcess } from '../support/processes.js';
import { ADMIN_DB_URL, createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, totalPulls, type TestDatabase } from '../support/services.js';
import { enqueue, spreadPulls } from '../support/pulls.js';
import { queueCounts } from '../support/pull-queue.js';

const WORKER_ENV = {
  STATICREG_COUNT_POLICY: 'events',
  STATICREG_REDIS_URL: TEST_REDIS_URL,
  STATICREG_WORKER_LOCK_MS: '5000',
  STATICREG_WORKER_STALLED_INTERVAL_MS: '2000',
  STATICREG_DB_RETRY_MS: '300',
  STATICREG_BATCH_MAX_WAIT_MS: '50',
  STATICREG_LOG_LEVEL: 'debug',
};

/** Runs SQL as the superuser on the test database (the worker may connect as another role). */
async function asAdmin(database: string, text: string): Promise<void> {
  const url = new URL(ADMIN_DB_URL);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.href });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Drops the worker's connections, as a failover does; the pool opens new ones with the database's current settings. */
async function dropWorkerConnections(database: string): Promise<void> {
  await asAdmin(
    'postgres',
    `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${database}' and application_name = 'staticreg-worker'`,
  );
}

/** The /metrics value of a sample line (name with its labels), 0 when absent. */
async function metric(port: number, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

interface Fault {
  name: string;
  /** The SQLSTATE the worker's /readyz must name while the fault lasts. */
  sqlstate: string;
  /** Worker role: the database owner (a role of its own) when the fault revokes privileges. */
  ownRole?: boolean;
  /** Database settings applied before the worker starts. */
  before?: (db: string, role: string) => Promise<void>;
  start: (db: string, role: string, admin: AdminSession) => Promise<void>;
  end: (db: string, role: string, admin: AdminSession) => Promise<void>;
}

/** An admin connection that can hold a transaction open across the fault (locks). */
interface AdminSession {
  client: pg.Client | undefined;
}

async function adminSession(database: string): Promise<pg.Client> {
  const url = new URL(ADMIN_DB_URL);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.href });
  await client.connect();
  return client;
}

const FAULTS: Fault[] = [
  {
    name: 'the database is read-only (a failover to a standby)',
    sqlstate: '25006',
    start: async (db) => {
      await asAdmin('postgres', `alter database ${db} set default_transaction_read_only = on`);
      await dropWorkerConnections(db);
    },
    end: async (db) => {
      await asAdmin('postgres', `alter database ${db} set default_transaction_read_only = off`);
      await dropWorkerConnections(db);
    },
  },
  {
    name: 'the worker role lost its INSERT privilege',
    sqlstate: '42501',
    ownRole: true,
    start: async (db, role) => asAdmin(db, `revoke insert on processed_pull_events from ${role}`),
    end: async (db, role) => asAdmin(db, `grant insert on processed_pull_events to ${role}`),
  },
  {
    name: 'a table is missing',
    sqlstate: '42P01',
    start: async (db) => asAdmin(db, 'alter table processed_pull_events rename to processed_pull_events_away'),
    end: async (db) => asAdmin(db, 'alter table processed_pull_events_away rename to processed_pull_events'),
  },
  {
    name: 'a column is missing',
    sqlstate: '42703',
    start: async (db) => asAdmin(db, 'alter table container_pull_metrics rename column updated_at to updated_at_away'),
    end: async (db) => asAdmin(db, 'alter table container_pull_metrics rename column updated_at_away to updated_at'),
  },
  {
    name: 'a lock wait runs past lock_timeout',
    sqlstate: '55P03',
    before: async (db) => asAdmin('postgres', `alter database ${db} set lock_timeout = '100ms'`),
    start: async (db, _role, admin) => {
      admin.client = await adminSession(db);
      await admin.client.query('begin');
      await admin.client.query('lock table container_pull_metrics in exclusive mode');
    },
    end: async (_db, _role, admin) => {
      await admin.client?.query('commit');
    },
  },
  {
    name: 'statements are cancelled (statement timeout, SQLSTATE 57014)',
    sqlstate: '57014',
    start: async (db, _role, admin) => {
      // Writes wait on a lock, and each waiting statement is cancelled, as statement_timeout would.
      admin.client = await adminSession(db);
      await admin.client.query('begin');
      await admin.client.query('lock table container_pull_metrics in exclusive mode');
      const canceller = await adminSession('postgres');
      const cancel = async (): Promise<void> => {
        if (!admin.client) return;
        await canceller.query(
          `select pg_cancel_backend(pid) from pg_stat_activity where datname = $1 and application_name = 'staticreg-worker' and wait_event_type = 'Lock'`,
          [db],
        );
      };
      const timer = setInterval(() => void cancel().catch(() => undefined), 50);
      (admin as AdminSession & { stopCancelling?: () => Promise<void> }).stopCancelling = async () => {
        clearInterval(timer);
        await canceller.end();
      };
    },
    end: async (_db, _role, admin) => {
      await (admin as AdminSession & { stopCancelling?: () => Promise<void> }).stopCancelling?.();
      await admin.client?.query('commit');
    },
  },
  {
    name: 'Postgres raises an internal error (XX000)',
    sqlstate: 'XX000',
    start: async (db) =>
      asAdmin(
        db,
        `create function fault_internal() returns trigger language plpgsql as $$
           begin raise exception 'simulated internal error' using errcode = 'XX000'; end $$;
         create trigger fault_internal before insert on processed_pull_events for each row execute function fault_internal()`,
      ),
    end: async (db) => asAdmin(db, 'drop trigger fault_internal on processed_pull_events; drop function fault_internal()'),
  },
  {
    name: 'every event violates a constraint (both halves of every split fail)',
    sqlstate: '23514',
    start: async (db) => asAdmin(db, 'alter table container_pull_metrics add constraint fault_no_rows check (pull_count < 0) not valid'),
    end: async (db) => asAdmin(db, 'alter table container_pull_metrics drop constraint fault_no_rows'),
  },
];

describe('worker under database faults other than an outage (real Redis and Postgres)', function () {
  this.timeout(180_000);
  let database: TestDatabase;
  let redis: Redis;
  let worker: AppProcess | undefined;
  let role: string;
  const admin: AdminSession = { client: undefined };

  beforeEach(async () => {
    redis = await freshRedis();
  });
  afterEach(async () => {
    await worker?.stop('SIGKILL');
    worker = undefined;
    await admin.client?.end().catch(() => undefined);
    admin.client = undefined;
    await redis.quit();
    await database.drop();
    if (role) await asAdmin('postgres', `drop role if exists ${role}`);
  });

  for (const fault of FAULTS) {
    it(`${fault.name}: pauses without spending attempts, then counts every event once`, async () => {
      role = '';
      if (fault.ownRole) {
        // A database owned by a role of its own, migrated by the worker, so privileges can be taken away.
        role = `staticreg_fault_${Math.random().toString(16).slice(2, 10)}`;
        await asAdmin('postgres', `create role ${role} login`);
        database = await createTestDatabase({ migrate: false });
        await asAdmin('postgres', `alter database ${database.name} owner to ${role}`);
        await asAdmin(database.name, `alter schema public owner to ${role}`);
      } else {
        database = await createTestDatabase();
      }
      await fault.before?.(database.name, role);
      const workerUrl = new URL(database.url);
      if (role) workerUrl.username = role;
      const port = await freePort();
      worker = startApp('worker', { ...WORKER_ENV, STATICREG_DB_URL: workerUrl.href, STATICREG_WORKER_PORT: String(port) });
      const db: Kysely<Database> = createDb({ url: database.url, applicationName: 'staticreg-test', maxConnections: 1 });
      try {
        await enqueue(TEST_REDIS_URL, spreadPulls('before', 300));
        await eventually(async () => {
          try {
            return (await totalPulls(db)) === 300;
          } catch {
            return false; // schema not created yet
          }
        }, 60_000, 'counted before the fault');

        await fault.start(database.name, role, admin);
        await enqueue(TEST_REDIS_URL, spreadPulls('during', 500));

        // The pause shows on /readyz with the SQLSTATE, on /metrics, and in Redis for the dashboard.
        const readiness = await eventually(async () => {
          const response = await fetch(`http://127.0.0.1:${port}/readyz`);
          const body = (await response.json()) as { checks?: Record<string, string> };
          return response.status === 503 && body.checks?.counting?.includes(`SQLSTATE ${fault.sqlstate}`) ? body : undefined;
        }, 60_000, `/readyz naming SQLSTATE ${fault.sqlstate}`);
        expect(readiness!.checks!.counting).to.match(/^paused since /);
        expect(await metric(port, 'staticreg_worker_counting_paused')).to.equal(1);
        expect((await readCountingPause(redis))?.sqlstate).to.be.a('string');

        // The batch is retried as a whole, several times, while the fault lasts.
        const failedBefore = await metric(port, 'staticreg_worker_flush_duration_seconds_count{result="failed"}');
        await eventually(
          async () => (await metric(port, 'staticreg_worker_flush_duration_seconds_count{result="failed"}')) >= failedBefore + 3,
          60_000,
          'retries during the fault',
        );
        const queue = createPullQueue(createRedisConnection(TEST_REDIS_URL, 'reader'));
        try {
          const jobs = await queue.getJobs(['wait', 'active', 'delayed', 'prioritized', 'failed']);
          expect(jobs.length).to.be.greaterThan(0);
          expect(jobs.filter((job) => job.attemptsMade > 0).map((job) => job.failedReason)).to.deep.equal([]);
          expect(await queue.getFailedCount()).to.equal(0);
        } finally {
          await queue.close();
          (queue.opts.connection as Redis).disconnect?.();
        }

        await fault.end(database.name, role, admin);
        await eventually(async () => (await queueCounts()).pending === 0, 60_000, 'drained after the fault');
        expect((await queueCounts()).failed, worker.output().split('\n').filter((l) => /could not be stored|Pull job failed/.test(l)).slice(0, 3).join('\n')).to.equal(0);
        expect(await totalPulls(db)).to.equal(800);
        await eventually(async () => worker!.logLines('Pull counting resumed').length > 0, 10_000, 'resumed logged');
        expect(worker.logLines('Pull counting paused, jobs wait and retry')).to.have.length(1);
        expect(worker.logLines('Pull counting resumed')).to.have.length(1);
        expect(worker.logLines('Pull job failed')).to.deep.equal([]);
        await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 10_000, 'ready again');
        expect(await metric(port, 'staticreg_worker_counting_paused')).to.equal(0);
        expect(await readCountingPause(redis)).to.equal(null);
      } finally {
        await db.destroy();
      }
    });
  }
});
