// `make cleanup-plan`: print what the cleanup policy would delete and why (table, JSON or CSV); deletes nothing.
import { loadCleanupPlanConfig } from '@staticreg/config';
import { planCleanupInSnapshot, planCsv, planJson, planTable } from '@staticreg/cleanup';
import { catalogRepositoryCount, createDb } from '@staticreg/db';
import { runMain } from '@staticreg/http';
import { loadPolicyOrExit } from './cleanup-policy.js';

const FORMATTERS = { table: planTable, json: planJson, csv: planCsv };

runMain('cleanup-plan', async () => {
  const config = loadCleanupPlanConfig(process.argv.slice(2));
  const policy = await loadPolicyOrExit(config.policyFile);
  const db = createDb({ url: config.dbUrl, applicationName: 'staticreg-cleanup-plan', maxConnections: 2, statementTimeoutMs: 600_000 });
  try {
    if ((await catalogRepositoryCount(db)) === 0) {
      process.stderr.write(
        'The registry catalog in Postgres is empty: browse fills it when it runs with STATICREG_DB_URL and a registry ' +
          '(docs/browse.md). Without it there is nothing to plan.\n',
      );
      process.exitCode = 1;
      return;
    }
    const plan = await planCleanupInSnapshot(db, policy, { now: new Date(), retentionDays: config.retentionDays });
    process.stdout.write(FORMATTERS[config.format](plan));
  } finally {
    await db.destroy();
  }
});
