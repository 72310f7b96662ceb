// A receiver without Express or a log line, for bench 1: node:http, JSON.parse, the rules, one enqueue, then 200.
// With `ping` instead of an enqueue it sends one Redis PING: the least any design that acks after Redis must pay.
import { createServer, type ServerResponse } from 'node:http';
import { evaluateEnvelope } from '@staticreg/events';
import { createPullQueue, createRedisConnection, enqueuePullEvents } from '@staticreg/queue';
import { STATICREG_USER_AGENT_PRODUCT } from '@staticreg/config';

const [portArg, redisUrl, mode = 'enqueue'] = process.argv.slice(2);
if (!portArg || !redisUrl || (mode !== 'enqueue' && mode !== 'ping')) throw new Error('usage: bare-enqueue.ts <port> <redis url> [enqueue|ping]');

const redis = createRedisConnection(redisUrl, 'producer');
const queue = createPullQueue(redis);
const rules = { ignoredUserAgents: [STATICREG_USER_AGENT_PRODUCT] };

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    answer(res, 200, { status: 'ok' });
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      answer(res, 400, { error: 'malformed JSON' });
      return;
    }
    const result = evaluateEnvelope(body, rules);
    if (!result.ok) {
      answer(res, 400, { error: result.error });
      return;
    }
    (mode === 'ping' ? redis.ping() : enqueuePullEvents(queue, result.accepted)).then(
      () => answer(res, 200, { eventsReceived: result.total, eventsAccepted: result.accepted.length, eventsSkipped: result.skipped.length }),
      () => answer(res, 503, { error: 'queue unavailable' }),
    );
  });
});

redis.once('ready', () => server.listen(Number(portArg), '127.0.0.1'));
process.on('SIGTERM', () => {
  server.close(() => void queue.close().then(() => process.exit(0)));
});
