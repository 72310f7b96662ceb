// The webhook receiver's routes: check the sender, authenticate, parse, filter, enqueue once, then acknowledge.
import { BlockList, isIPv6 } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { NetworkRange } from '@staticreg/config';
import { evaluateEnvelope, INVALID_REASONS, type PullEvent, type RuleOptions, type SkipReason } from '@staticreg/events';
import { enqueuePullEvents, publishRegistryChanges, type IntakeRecorder, type PullJobData } from '@staticreg/queue';
import { addHealthRoutes, errorHandler, HttpError, requireBearerToken, UnavailableError, withTimeout } from '@staticreg/http';
import { METRICS_PATH, metricsHandler, type HttpMetrics, type ReceiverEventMetrics, type Registry } from '@staticreg/observability';

export const WEBHOOK_PATH = '/api/webhook/registry';

/** registry 2.x sends events.v1+json, 3.x events.v2+json; plain JSON is accepted for tools and tests. */
export const WEBHOOK_CONTENT_TYPES = [
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/json',
];

export interface ReceiverDeps {
  queue: Queue<PullJobData>;
  redis: Redis;
  log: Logger;
  rules: RuleOptions;
  /** Undefined: notifications are taken without a token (only when the configuration says so explicitly). */
  webhookToken: string | undefined;
  /** Source networks the webhook accepts (by socket address); empty or unset: any. */
  allowedNetworks?: readonly NetworkRange[];
  /** Required on GET /metrics as a bearer token when set. */
  metricsToken?: string;
  bodyLimitBytes: number;
  enqueueTimeoutMs: number;
  /**
   * Makes the accepted events durable before the answer; by default one enqueue on `queue`. The ack bench's
   * synchronous design commits them to Postgres here instead, so the two designs differ in nothing else.
   */
  deliver?: (events: readonly PullEvent[]) => Promise<void>;
  /** Redis stream for manifest pushes and deletes (browse refreshes those repositories); unset: not published. */
  changesStream?: string;
  isShuttingDown?: () => boolean;
  /** Prometheus metrics (served at /metrics) and the per-minute intake counts; all synchronous on the ack path. */
  observability?: ReceiverObservability;
}

export interface ReceiverObservability {
  registry: Registry;
  http: HttpMetrics;
  events: ReceiverEventMetrics;
  intake?: IntakeRecorder;
}

const INVALID: ReadonlySet<SkipReason> = new Set(INVALID_REASONS);

/**
 * 403 for a sender outside the allowed networks, before the body is read. The address is the TCP peer's:
 * X-Forwarded-For is ignored (anyone can write it), so behind a proxy the proxy's address is the one checked.
 */
function allowNetworks(ranges: readonly NetworkRange[]): RequestHandler {
  const allowed = new BlockList();
  for (const range of ranges) allowed.addSubnet(range.network, range.prefix, range.family);
  return (req, _res, next) => {
    const address = req.socket.remoteAddress;
    // Node's BlockList matches an IPv4-mapped IPv6 peer (::ffff:10.0.0.1, on a dual-stack socket) against IPv4 ranges.
    if (address === undefined || !allowed.check(address, isIPv6(address) ? 'ipv6' : 'ipv4')) {
      next(new HttpError(403, 'this address may not send notifications'));
      return;
    }
    next();
  };
}

export function createReceiverApp(deps: ReceiverDeps): Express {
  const { log, queue } = deps;
  const deliver = deps.deliver ?? ((events: readonly PullEvent[]) => enqueuePullEvents(queue, events));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const observed = deps.observability;
  if (observed) app.use(observed.http.middleware);
  // The webhook's routes come first: a notification matches the first route the router tries.

  const handlers: RequestHandler[] = [];
  if (deps.allowedNetworks && deps.allowedNetworks.length > 0) handlers.push(allowNetworks(deps.allowedNetworks));
  if (deps.webhookToken !== undefined) handlers.push(requireBearerToken(deps.webhookToken, 'staticreg'));
  handlers.push(express.json({ type: WEBHOOK_CONTENT_TYPES, limit: deps.bodyLimitBytes, strict: false }));

  app.post(WEBHOOK_PATH, ...handlers, async (req, res) => {
    if (req.body === undefined) {
      throw new HttpError(415, `Content-Type must be one of ${WEBHOOK_CONTENT_TYPES.join(', ')}`);
    }
    const result = evaluateEnvelope(req.body, deps.rules);
    if (!result.ok) throw new HttpError(400, result.error);

    for (const skip of result.skipped) {
      const fields = { eventId: skip.eventId, index: skip.index, reason: skip.reason };
      if (INVALID.has(skip.reason)) log.warn(fields, 'Skipped invalid event');
      else log.debug(fields, 'Skipped event');
    }
    // Pushes and deletes (rare) also go to the stream browse follows; pull envelopes add no Redis round trip.
    const changes = deps.changesStream ? result.changes : [];
    const makeDurable = async (): Promise<void> => {
      await deliver(result.accepted);
      if (changes.length > 0) await publishRegistryChanges(deps.redis, deps.changesStream!, changes);
    };
    try {
      // One budget for the pulls and the changes together: the registry waits for the sum, not for each.
      await withTimeout(makeDurable(), deps.enqueueTimeoutMs, 'enqueue');
    } catch (error) {
      // Nothing is acknowledged that is not in Redis: 503 makes the registry retry the whole envelope.
      log.error({ err: error, events: result.accepted.length }, 'Could not enqueue pull events');
      throw new UnavailableError('queue unavailable, retry later', { retryAfterSeconds: 1 });
    }
    // Acknowledge first: the log line and the counters are written after the answer, off the registry's wait.
    res.json({ eventsReceived: result.total, eventsAccepted: result.accepted.length, eventsSkipped: result.skipped.length });
    if (observed) {
      observed.events.accepted.inc(result.accepted.length);
      for (const skip of result.skipped) observed.events.skipped.inc({ reason: skip.reason });
      observed.intake?.record(result.accepted.length, result.skipped.map((skip) => skip.reason));
    }
    log.info(
      { totalEvents: result.total, eventsProcessed: result.accepted.length, eventsSkipped: result.skipped.length, registryChanges: changes.length },
      'Webhook processing completed',
    );
  });

  app.all(WEBHOOK_PATH, (_req, res) => {
    res.set('Allow', 'POST').status(405).json({ error: `POST registry notifications to ${WEBHOOK_PATH}` });
  });

  if (observed) app.get(METRICS_PATH, ...metricsHandler(observed.registry, deps.metricsToken));
  addHealthRoutes(app, () => ({ redis: () => deps.redis.ping() }), deps.isShuttingDown ?? (() => false));

  app.use((req, res) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
  });
  app.use(errorHandler(log));
  return app;
}
