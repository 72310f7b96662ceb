// Test access to the real Postgres and Redis: a fresh database per suite, a dedicated Redis db index.
import { randomBytes } from 'node:crypto';
import { Kysely, sql } from 'kysely';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createDb, migrateToLatest, type Database } from '@staticreg/db';

/** A Postgres role that may create databases (trust auth on this machine and in CI). */
export const ADMIN_DB_URL = process.env.STATICREG_TEST_ADMIN_DB_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
/** Tests use their own Redis db index so they never touch a running stack's queue. */
export const TEST_REDIS_URL = process.env.STATICREG_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/9';

export interface TestDatabase {
  name: string;
  url: string;
  db: Kysely<Database>;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.href;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_DB_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (migrated unless told otherwise) and returns a Kysely handle on it. */
export async function createTestDatabase(options: { migrate?: boolean; adminUrl?: string } = {}): Promise<TestDatabase> {
  const name = `staticreg_test_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = withDatabase(ADMIN_DB_URL, name);
  const db = createDb({ url, applicationName: 'staticreg-test', maxConnections: 4 });
  if (options.migrate !== false) await migrateToLatest(db);
  return {
    name,
    url,
    db,
    async drop() {
      await db.destroy();
      await admin((client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

export interface MetricRow {
  pull_date: string;
  repo_name: string;
  tag: string;
  digest: string;
  architecture: string;
  pull_count: number;
}

export async function metricRows(db: Kysely<Database>): Promise<MetricRow[]> {
  return db
    .selectFrom('container_pull_metrics')
    .select(['pull_date', 'repo_name', 'tag', 'digest', 'architecture', 'pull_count'])
    .orderBy('pull_date')
    .orderBy('repo_name')
    .orderBy('tag')
    .orderBy('digest')
    .orderBy('architecture')
    .execute();
}

export async function totalPulls(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('container_pull_metrics')
    .select(sql<number>`coalesce(sum(pull_count), 0)::int`.as('total'))
    .executeTakeFirstOrThrow();
  return row.total;
}

/** A connection to the tests' Redis db, emptied first. */
export async function freshRedis(url = TEST_REDIS_URL): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  await redis.flushdb();
  return redis;
}

/** Polls until `check` returns a truthy value, or fails after `timeoutMs` with the last value seen. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
