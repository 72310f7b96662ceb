// `make migrate`: apply migrations/ to STATICREG_DB_URL once and exit.
import { loadMigrateConfig } from '@staticreg/config';
import { createLogger } from '@staticreg/log';
import { createDb, migrateToLatest } from '@staticreg/db';
import { runMain } from '@staticreg/http';

runMain('migrate', async () => {
  const config = loadMigrateConfig();
  const log = createLogger('migrate', config.logLevel);
  const db = createDb({ url: config.dbUrl, applicationName: 'staticreg-migrate', maxConnections: 1 });
  try {
    const results = await migrateToLatest(db);
    log.info({ applied: results.map((result) => result.migrationName) }, 'Database schema initialized successfully.');
  } finally {
    await db.destroy();
  }
});
