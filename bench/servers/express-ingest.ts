// Express designs of bench 1: parse and apply the rules, then answer at once ('none') or after a Postgres commit ('postgres').
import express from 'express';
import { evaluateEnvelope } from '@staticreg/events';
import { createDb } from '@staticreg/db';
import { storePullBatch } from '@staticreg/ingest';
import { createLogger } from '@staticreg/log';
import { errorHandler, HttpError, listen } from '@staticreg/http';
import { STATICREG_USER_AGENT_PRODUCT } from '@staticreg/config';

const [portArg, store, dbUrl] = process.argv.slice(2);
if (!portArg || (store !== 'none' && store !== 'postgres') || (store === 'postgres' && !dbUrl)) {
  throw new Error('usage: express-ingest.ts <port> none | postgres <postgres url>');
}

// Same logger, level and per-request line as the receiver, so the designs differ only in what they wait for.
const log = createLogger(`express-${store}`, 'info');
const db = store === 'postgres' ? createDb({ url: dbUrl!, applicationName: 'staticreg-bench-sync', maxConnections: 4 }) : undefined;
const rules = { ignoredUserAgents: [STATICREG_USER_AGENT_PRODUCT] };
const contentTypes = [
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/json',
];

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.post('/api/webhook/registry', express.json({ type: contentTypes, limit: '1mb', strict: false }), async (req, res) => {
  if (req.body === undefined) throw new HttpError(415, 'unsupported Content-Type');
  const result = evaluateEnvelope(req.body, rules);
  if (!result.ok) throw new HttpError(400, result.error);
  // The synchronous design: one transaction per request (dedup insert + upsert), what the worker does for a batch of one.
  const counted = db ? (await storePullBatch(db, result.accepted)).counted : 0;
  // Answer first, then log, as the receiver does.
  res.json({ eventsReceived: result.total, eventsAccepted: result.accepted.length, eventsSkipped: result.skipped.length });
  log.info(
    { totalEvents: result.total, eventsProcessed: result.accepted.length, eventsCounted: counted, eventsSkipped: result.skipped.length },
    'Webhook processing completed',
  );
});
app.use(errorHandler(log));

const server = await listen(app, Number(portArg), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => void (db ? db.destroy() : Promise.resolve()).then(() => process.exit(0)));
});
