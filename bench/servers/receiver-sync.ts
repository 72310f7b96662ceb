// The synchronous design of bench 1: the real receiver (its app, metrics, rules and log line, built from the same
// environment), but each request's accepted events are committed to Postgres before the answer instead of enqueued.
import { loadReceiverConfig } from '@staticreg/config';
import { createDb } from '@staticreg/db';
import { countPerEvent } from '@staticreg/ingest';
import { createLogger } from '@staticreg/log';
import { listen } from '@staticreg/http';
import { createReceiver } from '../../apps/receiver/src/receiver.js';

const dbUrl = process.argv[2];
if (!dbUrl) throw new Error('usage: receiver-sync.ts <postgres url> (the receiver variables from the environment)');

const config = loadReceiverConfig();
const log = createLogger('receiver-sync', config.logLevel);
const db = createDb({ url: dbUrl, applicationName: 'staticreg-bench-sync', maxConnections: 4 });
// One transaction per request: the dedup insert and the upsert, what the worker does for a batch of one.
const receiver = createReceiver(config, log, {
  deliver: async (events) => {
    await countPerEvent(db, events);
  },
  // A commit may take longer than an enqueue; the design is measured, not timed out.
  enqueueTimeoutMs: 30_000,
});
const server = await listen(receiver.app, config.port, config.bind);
process.on('SIGTERM', () => {
  receiver.shutDown();
  server.close(() => void receiver.close().then(() => db.destroy()).then(() => process.exit(0)));
});
