// Retention and pruning as BullMQ job schedulers run by the real worker, against the real Postgres and Redis.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { deleteCountsBefore } from '@staticreg/db';
import { addDays, utcDayOf } from '@staticreg/events';
import { createMaintenanceQueue, createRedisConnection, MAINTENANCE_JOBS, scheduleMaintenance } from '@staticreg/queue';
import { startApp, type AppProcess } from '../support/processes.js';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';
import { digestOf } from '../support/pulls.js';

const daysAgo = (days: number): string => addDays(utcDayOf(Date.now()), -days);

async function seedCounts(database: TestDatabase, table: 'container_pull_metrics' | 'container_pull_checks', dates: string[]): Promise<void> {
  const column = table === 'container_pull_metrics' ? 'pull_count' : 'check_count';
  for (const [i, date] of dates.entries()) {
    await sql`
      insert into ${sql.table(table)} (pull_date, repo_name, tag, digest, architecture, ${sql.ref(column)})
      values (${date}::date, ${`team/app-${i % 3}`}, 'latest', ${digestOf(String(i))}, 'amd64', ${i + 1})`.execute(database.db);
  }
}

async function datesIn(database: TestDatabase, table: 'container_pull_metrics' | 'container_pull_checks'): Promise<string[]> {
  const result = await sql<{ d: string }>`select distinct to_char(pull_date, 'YYYY-MM-DD') as d from ${sql.table(table)} order by d`.execute(database.db);
  return result.rows.map((row) => row.d);
}

async function schedulers(): Promise<Array<{ key: string; every: number | undefined }>> {
  const connection = createRedisConnection(TEST_REDIS_URL, 'reader');
  const queue = createMaintenanceQueue(connection);
  try {
    const list = await queue.getJobSchedulers();
    return list.map((s) => ({ key: s.key, every: s.every === undefined || s.every === null ? undefined : Number(s.every) })).sort((a, b) => a.key.localeCompare(b.key));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

describe('retention and pruning (real worker, Postgres, Redis)', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let redis: Redis;
  const apps: AppProcess[] = [];

  beforeEach(async () => {
    database = await createTestDatabase();
    redis = await freshRedis();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop('SIGKILL')));
    await redis.quit();
    await database.drop();
  });

  it('deleteCountsBefore removes whole days before the cutoff, batch by batch, from both tables', async () => {
    await seedCounts(database, 'container_pull_metrics', ['2026-01-01', '2026-01-01', '2026-01-02', '2026-01-02', '2026-01-02', '2026-01-03', '2026-01-04']);
    await seedCounts(database, 'container_pull_checks', ['2026-01-02', '2026-01-03']);
    const result = await deleteCountsBefore(database.db, '2026-01-03', { batchSize: 2 });
    expect(result).to.deep.equal({ pulls: 5, checks: 1 });
    expect(await datesIn(database, 'container_pull_metrics')).to.deep.equal(['2026-01-03', '2026-01-04']);
    expect(await datesIn(database, 'container_pull_checks')).to.deep.equal(['2026-01-03']);
    expect(await deleteCountsBefore(database.db, '2026-01-03', { batchSize: 2 })).to.deep.equal({ pulls: 0, checks: 0 });
    // Asked to stop, it stops before the next batch.
    expect(await deleteCountsBefore(database.db, '2026-02-01', { shouldStop: () => true })).to.deep.equal({ pulls: 0, checks: 0 });
    expect(await datesIn(database, 'container_pull_metrics')).to.deep.equal(['2026-01-03', '2026-01-04']);
  });

  it('with STATICREG_RETENTION_DAYS, the worker schedules retention and pruning, and deletes only what is older', async () => {
    const keptFrom = daysAgo(29); // 30 days kept, today included
    await seedCounts(database, 'container_pull_metrics', [daysAgo(45), daysAgo(30), keptFrom, daysAgo(3), daysAgo(0)]);
    await seedCounts(database, 'container_pull_checks', [daysAgo(31), daysAgo(1)]);
    await sql`
      insert into processed_pull_events (event_id, processed_at)
      values ('old-1', now() - interval '9 days'), ('old-2', now() - interval '8 days'), ('new-1', now() - interval '1 day')`.execute(database.db);

    const worker = startApp('worker', {
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_WORKER_PORT: '0',
      STATICREG_RETENTION_DAYS: '30',
      STATICREG_DEDUP_RETENTION_DAYS: '7',
      STATICREG_LOG_LEVEL: 'info',
    });
    apps.push(worker);

    const done = await eventually(async () => {
      const lines = worker.logLines('Maintenance job done');
      return MAINTENANCE_JOBS.every((job) => lines.some((line) => line.job === job)) ? lines : null;
    }, 60_000, 'every maintenance job to run once');
    expect(done!.find((line) => line.job === 'apply-retention')).to.deep.include({ pulls: 2, checks: 1, before: keptFrom });
    expect(done!.find((line) => line.job === 'prune-processed-events')).to.deep.include({ deleted: 2 });

    expect(await datesIn(database, 'container_pull_metrics')).to.deep.equal([keptFrom, daysAgo(3), daysAgo(0)].sort());
    expect(await datesIn(database, 'container_pull_checks')).to.deep.equal([daysAgo(1)]);
    const ids = await sql<{ event_id: string }>`select event_id from processed_pull_events order by event_id`.execute(database.db);
    expect(ids.rows.map((row) => row.event_id)).to.deep.equal(['new-1']);

    expect(await schedulers()).to.deep.equal([
      { key: 'apply-retention', every: 3_600_000 },
      { key: 'prune-processed-events', every: 3_600_000 },
      { key: 'prune-sessions', every: 3_600_000 },
    ]);
    expect(worker.output()).not.to.match(/"level":(50|60)/);
  });

  it('without STATICREG_RETENTION_DAYS, every day is kept and a retention scheduler left from before is removed', async () => {
    const queue = createMaintenanceQueue(createRedisConnection(TEST_REDIS_URL, 'reader'));
    await scheduleMaintenance(queue, new Set(MAINTENANCE_JOBS));
    await queue.close();
    expect((await schedulers()).map((s) => s.key)).to.include('apply-retention');
    await seedCounts(database, 'container_pull_metrics', [daysAgo(400), daysAgo(0)]);

    const worker = startApp('worker', {
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_WORKER_PORT: '0',
      STATICREG_LOG_LEVEL: 'info',
    });
    apps.push(worker);
    await eventually(async () => worker.logLines('Maintenance scheduled').length === 1, 60_000, 'maintenance scheduled');
    await eventually(async () => {
      const jobs = worker.logLines('Maintenance job done').map((line) => line.job);
      return jobs.includes('prune-processed-events') && jobs.includes('prune-sessions');
    }, 60_000, 'the prune jobs to run');
    expect((await schedulers()).map((s) => s.key)).to.deep.equal(['prune-processed-events', 'prune-sessions']);
    expect(await datesIn(database, 'container_pull_metrics')).to.deep.equal([daysAgo(400), daysAgo(0)]);
  });
});
