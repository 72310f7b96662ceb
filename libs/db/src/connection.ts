// The Postgres pool behind Kysely, with type parsers that keep dates and counts exact.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

const DATE_OID = 1082;
const INT8_OID = 20;

// DATE stays the 'YYYY-MM-DD' string it is (pg would build a Date at local midnight);
// BIGINT sums become numbers (pull counts stay far below 2^53).
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === DATE_OID) return (value: string) => value;
    if (oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface DbOptions {
  url: string;
  applicationName: string;
  maxConnections?: number;
  statementTimeoutMs?: number;
  /** Session settings sent at connect, e.g. '-c jit=off'. */
  sessionOptions?: string;
  onPoolError?: (error: Error) => void;
}

export function createDb(options: DbOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    application_name: options.applicationName,
    max: options.maxConnections ?? 5,
    connectionTimeoutMillis: 5000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    ...(options.sessionOptions ? { options: options.sessionOptions } : {}),
    types: typeParsers,
  });
  // Idle clients report a lost server here; without a listener it would crash the process.
  pool.on('error', (error) => options.onPoolError?.(error));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** One round trip to Postgres: resolves when it answers (readiness probes, the worker's wait at start). */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

/** SQLSTATE classes and socket errors that mean "Postgres is unreachable right now", not "this data is bad". */
export function isTransientDbError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^(08|53|57P0[1-3]|58)/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED/i.test(
    error.message,
  );
}

/** The error's five-character SQLSTATE when Postgres raised it, else undefined (socket errors, code defects). */
export function sqlState(error: unknown): string | undefined {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * SQLSTATE classes 22 (data exception) and 23 (integrity violation): Postgres refused the data itself. Only on
 * one event, isolated from neighbours that were stored, does this prove the event is at fault (see pull-consumer).
 */
export function isDataError(error: unknown): boolean {
  return /^2[23]/.test(sqlState(error) ?? '');
}

/** A deadlock or serialisation failure between concurrent transactions: running the transaction again succeeds. */
export function isConflict(error: unknown): boolean {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return code === '40001' || code === '40P01';
}
