// The Express row of bench 1: Express, its JSON parser and the rules, then the answer and one log line; no I/O.
import express from 'express';
import { evaluateEnvelope } from '@staticreg/events';
import { createLogger } from '@staticreg/log';
import { errorHandler, HttpError, listen } from '@staticreg/http';
import { STATICREG_USER_AGENT_PRODUCT } from '@staticreg/config';

const [portArg] = process.argv.slice(2);
if (!portArg) throw new Error('usage: express-ingest.ts <port>');

// Same logger, level and per-request line as the receiver.
const log = createLogger('express-none', 'info');
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
app.post('/api/webhook/registry', express.json({ type: contentTypes, limit: '1mb', strict: false }), (req, res) => {
  if (req.body === undefined) throw new HttpError(415, 'unsupported Content-Type');
  const result = evaluateEnvelope(req.body, rules);
  if (!result.ok) throw new HttpError(400, result.error);
  // Answer first, then log, as the receiver does.
  res.json({ eventsReceived: result.total, eventsAccepted: result.accepted.length, eventsSkipped: result.skipped.length });
  log.info({ totalEvents: result.total, eventsProcessed: result.accepted.length, eventsSkipped: result.skipped.length }, 'Webhook processing completed');
});
app.use(errorHandler(log));

const server = await listen(app, Number(portArg), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
});
