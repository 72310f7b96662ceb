// A Kysely handle that records every statement it runs, beside a plain client to EXPLAIN them: index checks in tests.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '@staticreg/db';

export interface CapturedStatement {
  sql: string;
  parameters: readonly unknown[];
}

export interface StatementCapture {
  /** Run the code under test with this handle. */
  db: Kysely<Database>;
  statements: CapturedStatement[];
  /** A separate connection for EXPLAIN and session settings (`set enable_seqscan = off`). */
  client: pg.Client;
  /** EXPLAIN of a captured statement, its plan's lines joined. */
  explain(statement: CapturedStatement): Promise<string>;
  close(): Promise<void>;
}

export async function captureStatements(url: string): Promise<StatementCapture> {
  const statements: CapturedStatement[] = [];
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  // The suite drops its database with (force) afterwards: a connection ended that way must not crash the run.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === 'query') statements.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return {
    db,
    statements,
    client,
    async explain(statement) {
      const result = await client.query(`explain ${statement.sql}`, statement.parameters as unknown[]);
      return result.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
    },
    async close() {
      await client.end();
      await db.destroy();
    },
  };
}
