// Browse process (placeholder until the browse issue): serves health endpoints only.
import express from 'express';
import { sql } from 'kysely';
import { loadBrowseConfig } from '@staticreg/config';
import { createLogger } from '@staticreg/log';
import { createDb } from '@staticreg/db';
import { createRedisConnection } from '@staticreg/queue';
import { addHealthRoutes, closeServer, errorHandler, listen, onShutdownSignal, runMain } from '@staticreg/http';

async function main(): Promise<void> {
  const config = loadBrowseConfig();
  const log = createLogger('browse', config.logLevel);
  const redis = createRedisConnection(config.redisUrl, 'reader');
  const db = config.dbUrl ? createDb({ url: config.dbUrl, applicationName: 'staticreg-browse' }) : undefined;
  let shuttingDown = false;

  const app = express();
  app.disable('x-powered-by');
  addHealthRoutes(
    app,
    () => ({ redis: () => redis.ping(), ...(db ? { postgres: () => sql`select 1`.execute(db) } : {}) }),
    () => shuttingDown,
  );
  app.get('/', (_req, res) => {
    res.type('text/plain').send('staticreg browse: repository pages are not built yet.\n');
  });
  app.use(errorHandler(log));
  const server = await listen(app, config.port, config.bind);
  log.info({ port: config.port, bind: config.bind, registry: config.registryHostname }, 'Browse listening');

  onShutdownSignal(log, async () => {
    shuttingDown = true;
    await closeServer(server);
    await db?.destroy();
    redis.disconnect();
  });
}

runMain('browse', main);
