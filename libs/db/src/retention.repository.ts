// Retention of the count tables: whole UTC days older than the cutoff go, a few thousand rows per statement.
import { sql } from 'kysely';
import type { Executor } from './pull-metrics.repository.js';

export interface RetentionResult {
  pulls: number;
  checks: number;
}

/**
 * Deletes the rows of container_pull_metrics and container_pull_checks dated before `before` (YYYY-MM-DD).
 * Each batch is its own statement (its own transaction outside one), so row locks are held for one batch only
 * and the worker's upserts of today's rows never wait on it. `shouldStop` is asked between batches.
 */
export async function deleteCountsBefore(
  db: Executor,
  before: string,
  options: { batchSize?: number; shouldStop?: () => boolean } = {},
): Promise<RetentionResult> {
  const batchSize = options.batchSize ?? 5000;
  const result: RetentionResult = { pulls: 0, checks: 0 };
  for (const [kind, table] of [
    ['pulls', 'container_pull_metrics'],
    ['checks', 'container_pull_checks'],
  ] as const) {
    for (;;) {
      if (options.shouldStop?.()) return result;
      const deleted = await sql`
        delete from ${sql.table(table)} where id in (
          select id from ${sql.table(table)} where pull_date < ${before}::date limit ${batchSize})`.execute(db);
      const count = Number(deleted.numAffectedRows ?? 0);
      result[kind] += count;
      if (count < batchSize) break;
    }
  }
  return result;
}
