// The schema: migrations, the hand-applied SQL file, and container_pull_metrics with its specified columns and indexes.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { sql } from 'kysely';
import { COLUMN_CATALOG, createDb, MIGRATIONS_DIR, migrateToLatest } from '@staticreg/db';
import { REPO_ROOT, startApp } from '../support/processes.js';
import { ADMIN_DB_URL, createTestDatabase, type TestDatabase } from '../support/services.js';

const SCHEMA_FILE = `${REPO_ROOT}sql/event_schema.sql`;

async function describeTable(database: TestDatabase) {
  const columns = await sql<{ column_name: string; data_type: string; is_nullable: string }>`
    select column_name, data_type, is_nullable from information_schema.columns
    where table_name = 'container_pull_metrics' order by ordinal_position`.execute(database.db);
  const indexes = await sql<{ indexdef: string }>`
    select indexdef from pg_indexes where tablename = 'container_pull_metrics' order by indexname`.execute(database.db);
  return { columns: columns.rows, indexes: indexes.rows.map((row) => row.indexdef.replace(/ ON public\./, ' ON ')) };
}

describe('schema', () => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it('creates container_pull_metrics with its specified columns, unique key and indexes', async () => {
    database = await createTestDatabase();
    const table = await describeTable(database);
    expect(table.columns.map((c) => [c.column_name, c.data_type, c.is_nullable])).to.deep.equal([
      ['id', 'bigint', 'NO'],
      ['pull_date', 'date', 'NO'],
      ['repo_name', 'text', 'NO'],
      ['tag', 'text', 'NO'],
      ['digest', 'text', 'NO'],
      ['architecture', 'text', 'NO'],
      ['pull_count', 'integer', 'NO'],
      ['created_at', 'timestamp without time zone', 'NO'],
      ['updated_at', 'timestamp without time zone', 'NO'],
    ]);
    expect(table.indexes).to.deep.equal([
      'CREATE UNIQUE INDEX container_pull_metrics_pkey ON container_pull_metrics USING btree (id)',
      'CREATE UNIQUE INDEX container_pull_metrics_unique_key ON container_pull_metrics USING btree (pull_date, repo_name, tag, digest, architecture)',
      'CREATE INDEX idx_container_pull_metrics_pull_date ON container_pull_metrics USING btree (pull_date)',
      'CREATE INDEX idx_container_pull_metrics_repo_arch_date ON container_pull_metrics USING btree (repo_name, architecture, pull_date)',
      'CREATE INDEX idx_container_pull_metrics_repo_date ON container_pull_metrics USING btree (repo_name, pull_date)',
      // Beyond the specified table: a tag's digests over time answered from the index alone.
      'CREATE INDEX idx_container_pull_metrics_repo_tag_date ON container_pull_metrics USING btree (repo_name, tag, pull_date) INCLUDE (digest, architecture, pull_count, updated_at)',
    ]);
  });

  it('describes every table and column of the migrated schema in the Database type', async () => {
    database = await createTestDatabase();
    const live = await sql<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>`
      select table_name, column_name, data_type, is_nullable from information_schema.columns
      where table_schema = 'public' and table_name not like 'staticreg_migration%'
      order by table_name, column_name`.execute(database.db);
    const migrated: Record<string, Record<string, { type: string; nullable: boolean }>> = {};
    for (const column of live.rows) {
      (migrated[column.table_name] ??= {})[column.column_name] = { type: column.data_type, nullable: column.is_nullable === 'YES' };
    }
    const typed = JSON.parse(JSON.stringify(COLUMN_CATALOG)) as typeof migrated;
    expect(Object.keys(typed).sort(), 'tables').to.deep.equal(Object.keys(migrated).sort());
    for (const table of Object.keys(migrated)) {
      expect(typed[table], `columns of ${table} (libs/db/src/schema.ts)`).to.deep.equal(migrated[table]);
    }
  });

  it('keeps sql/event_schema.sql equal to the migrations (regenerate with `make schema`)', () => {
    const text = readFileSync(SCHEMA_FILE, 'utf8');
    const migrations = readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).sort();
    expect(migrations).to.not.be.empty;
    let position = 0;
    for (const file of migrations) {
      const body = readFileSync(`${MIGRATIONS_DIR}/${file}`, 'utf8');
      const at = text.indexOf(body, position);
      expect(at, `${file} is missing or out of order in sql/event_schema.sql`).to.be.greaterThan(-1);
      position = at + body.length;
    }
  });

  it('applies sql/event_schema.sql with psql, and the migrator then runs cleanly over it', async () => {
    database = await createTestDatabase({ migrate: false });
    execFileSync('psql', ['-v', 'ON_ERROR_STOP=1', '-q', '-d', database.url, '-f', SCHEMA_FILE], { stdio: 'pipe' });
    const byHand = await describeTable(database);
    await migrateToLatest(database.db);
    expect(await describeTable(database)).to.deep.equal(byHand);
    expect(byHand.columns).to.have.length(9);
  });

  it('builds the search trigram index where pg_trgm already lives in a schema outside the search path', async () => {
    database = await createTestDatabase({ migrate: false });
    await sql`create schema extensions`.execute(database.db);
    await sql`create extension pg_trgm schema extensions`.execute(database.db);
    await migrateToLatest(database.db);
    const index = await sql<{ indexdef: string }>`
      select indexdef from pg_indexes where indexname = 'idx_registry_repositories_search_name'`.execute(database.db);
    expect(index.rows.map((row) => row.indexdef)).to.deep.equal([
      'CREATE INDEX idx_registry_repositories_search_name ON public.registry_repositories USING gin (search_name extensions.gin_trgm_ops)',
    ]);
  });

  it('migrates without the trigram index where pg_trgm lives in a schema the migrating role may not use', async () => {
    database = await createTestDatabase({ migrate: false });
    const role = `${database.name}_owner`;
    await sql`create schema private_ext`.execute(database.db);
    await sql`create extension pg_trgm schema private_ext`.execute(database.db);
    await sql.raw(`create role ${role} login`).execute(database.db);
    await sql.raw(`alter database ${database.name} owner to ${role}`).execute(database.db);
    await sql.raw(`alter schema public owner to ${role}`).execute(database.db);
    const url = new URL(database.url);
    url.username = role;
    const owner = createDb({ url: url.href, applicationName: 'staticreg-test-owner', maxConnections: 1 });
    try {
      await migrateToLatest(owner);
      const index = await sql`select 1 from pg_indexes where indexname = 'idx_registry_repositories_search_name'`.execute(owner);
      expect(index.rows).to.have.length(0);
      const migrations = await sql<{ name: string }>`select name from staticreg_migration order by name`.execute(owner);
      expect(migrations.rows.map((row) => row.name)).to.include('0006_registry_catalog_search').and.include('0007_metrics_rollups_fast');
    } finally {
      await owner.destroy();
      await database.drop();
      database = undefined;
      const admin = createDb({ url: ADMIN_DB_URL, applicationName: 'staticreg-test-admin', maxConnections: 1 });
      await sql.raw(`drop role if exists ${role}`).execute(admin);
      await admin.destroy();
    }
  });

  it('`make migrate` applies the migrations to STATICREG_DB_URL and reports them', async () => {
    database = await createTestDatabase({ migrate: false });
    const migrate = startApp('worker', { STATICREG_DB_URL: database.url }, 'migrate.ts');
    expect(await migrate.exited).to.equal(0);
    const [line] = migrate.logLines('Database schema initialized successfully.');
    const all = readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).sort().map((file) => file.replace(/\.sql$/, ''));
    expect(all.slice(0, 3)).to.deep.equal(['0001_container_pull_metrics', '0002_processed_pull_events', '0003_pull_sessions']);
    expect(line?.applied).to.deep.equal(all);
    const again = startApp('worker', { STATICREG_DB_URL: database.url }, 'migrate.ts');
    expect(await again.exited).to.equal(0);
    expect(again.logLines('Database schema initialized successfully.')[0]?.applied).to.deep.equal([]);
  });
});
