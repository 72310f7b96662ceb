// Retention of the count tables: whole UTC days older than the cutoff go, a few thousand rows per statement.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Executor } from './executor.js';
import { lockRollups } from './pull-metrics.repository.js';

export interface RetentionResult {
  pulls: number;
  checks: number;
}

/**
 * Deletes the rows of container_pull_metrics and container_pull_checks dated before `before` (YYYY-MM-DD).
 * Each batch is its own transaction (or part of the caller's), so row locks are held for one batch only
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
      // The rollups' lock first, then the rows (see lockRollups), in a transaction of its own per batch.
      const remove = async (trx: Executor) => {
        await lockRollups(trx);
        return trx
          .deleteFrom(table)
          .where('id', 'in', (eb) => eb.selectFrom(table).select('id').where('pull_date', '<', before).limit(batchSize))
          .executeTakeFirstOrThrow();
      };
      const deleted = db.isTransaction ? await remove(db) : await (db as Kysely<Database>).transaction().execute(remove);
      const count = Number(deleted.numDeletedRows);
      result[kind] += count;
      if (count < batchSize) break;
    }
  }
  return result;
}
