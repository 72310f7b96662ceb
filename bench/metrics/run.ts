// The dashboard bench alone: `node --import tsx --conditions=staticreg-source bench/metrics/run.ts` (also part of `make bench`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createDb, METRICS_SESSION_OPTIONS } from '@staticreg/db';
import { createTestDatabase } from '../../test/support/services.js';
import { formatMetricsReport, runMetricsBench, type MetricsBenchResult } from './bench.js';

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** Creates a database of its own (dropped at the end), runs the bench, prints the figures, writes them as JSON. */
export async function runDashboardBench(log: (line: string) => void = console.log): Promise<MetricsBenchResult> {
  const database = await createTestDatabase({ migrate: false });
  // Generating and indexing 10M rows takes minutes per statement: no 30 s statement timeout here.
  const db = createDb({ url: database.url, applicationName: 'staticreg-bench-metrics', maxConnections: 2, statementTimeoutMs: 3_600_000 });
  // The panels are measured as browse runs them (its session settings); the plain SQL queries as psql would.
  const panelDb = createDb({ url: database.url, applicationName: 'staticreg-bench-panels', maxConnections: 1, sessionOptions: METRICS_SESSION_OPTIONS });
  log(`Postgres database ${database.name} (dropped at the end)`);
  try {
    const result = await runMetricsBench({ db, panelDb, url: database.url }, log);
    log('');
    log(formatMetricsReport(result));
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(`${RESULTS_DIR}metrics.json`, `${JSON.stringify({ at: new Date().toISOString(), ...result, plans: undefined }, null, 2)}\n`);
    writeFileSync(`${RESULTS_DIR}metrics-plans.txt`, result.plans.map((p) => `== ${p.name}\n${p.plan}\n`).join('\n'));
    log('figures as JSON: bench/results/metrics.json; query plans: bench/results/metrics-plans.txt');
    return result;
  } finally {
    await db.destroy();
    await panelDb.destroy();
    await database.drop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runDashboardBench().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
