// Prometheus metrics shared by the apps (prom-client): one registry per process, bounded labels only.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Request, RequestHandler, Response } from 'express';
import { requireBearerToken } from '@staticreg/http';

export { Registry } from 'prom-client';

export const METRICS_PATH = '/metrics';

/** A registry with Node's process metrics (CPU, memory, event loop lag, GC), prefixed by nothing, as usual. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * GET /metrics in the Prometheus text format; with a token (STATICREG_METRICS_TOKEN), only for requests that carry
 * `Authorization: Bearer <token>` (401 otherwise, through the app's error handler). Mount as `get(METRICS_PATH, ...handlers)`.
 */
export function metricsHandler(registry: Registry, token?: string): RequestHandler[] {
  const serve: RequestHandler = async (_req, res) => {
    const text = await registry.metrics();
    res.set('Cache-Control', 'no-store').type(registry.contentType).send(text);
  };
  return token === undefined ? [serve] : [requireBearerToken(token, 'staticreg metrics'), serve];
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The route a request matched, as its pattern: never the raw path, so a scan of random URLs adds no series.
 * Requests no route matched (404s, static files) are `unmatched` unless the app names their mount point.
 */
export function routeLabel(req: Request, mounts: readonly string[] = []): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  const mount = mounts.find((prefix) => req.originalUrl === prefix || req.originalUrl.startsWith(`${prefix}/`));
  return mount ?? 'unmatched';
}

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route' | 'status'>;
  /** Express middleware: starts a timer, and on finish increments the counter and observes the duration (no await). */
  middleware: RequestHandler;
}

/** `<prefix>_http_requests_total` and `<prefix>_http_request_duration_seconds`, labelled by method, route pattern and status. */
export function createHttpMetrics(registry: Registry, prefix: string, options: { mounts?: readonly string[]; buckets?: number[] } = {}): HttpMetrics {
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: `${prefix}_http_requests_total`,
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: `${prefix}_http_request_duration_seconds`,
    help: 'Time from the request to the end of the response, by method, route pattern and status code.',
    labelNames,
    buckets: options.buckets ?? [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const middleware: RequestHandler = (req: Request, res: Response, next) => {
    const end = duration.startTimer();
    res.once('finish', () => {
      const labels = {
        method: METHODS.has(req.method) ? req.method : 'other',
        route: routeLabel(req, options.mounts),
        status: String(res.statusCode),
      };
      requests.inc(labels);
      end(labels);
    });
    next();
  };
  return { requests, duration, middleware };
}

export interface ReceiverEventMetrics {
  accepted: Counter;
  skipped: Counter<'reason'>;
}

/** Events the receiver acknowledged: accepted (queued) and skipped by reason (a fixed set). */
export function createReceiverEventMetrics(registry: Registry, reasons: readonly string[]): ReceiverEventMetrics {
  const accepted = new Counter({
    name: 'staticreg_receiver_events_accepted_total',
    help: 'Pull events accepted and put on the queue.',
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'staticreg_receiver_events_skipped_total',
    help: 'Events not counted, by reason (not-pull, not-manifest, ignored-user-agent, or an invalid field).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Every reason shows from the start, at 0, so rate() works before the first skip.
  for (const reason of reasons) skipped.inc({ reason }, 0);
  return { accepted, skipped };
}

export interface WorkerBatchMetrics {
  batchSize: Histogram;
  flushDuration: Histogram<'result'>;
  counted: Counter;
  deduplicated: Counter;
}

/** What the worker's batches do: size, time to store (one transaction), events counted and duplicates dropped. */
export function createWorkerBatchMetrics(registry: Registry): WorkerBatchMetrics {
  return {
    batchSize: new Histogram({
      name: 'staticreg_worker_batch_size',
      help: 'Events per stored batch.',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    }),
    flushDuration: new Histogram({
      name: 'staticreg_worker_flush_duration_seconds',
      help: 'Time to store one batch in Postgres (one transaction), by result (stored or failed).',
      labelNames: ['result'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    counted: new Counter({
      name: 'staticreg_worker_events_counted_total',
      help: 'Events stored for the first time.',
      registers: [registry],
    }),
    deduplicated: new Counter({
      name: 'staticreg_worker_events_deduplicated_total',
      help: 'Events dropped because their id had already been stored (re-deliveries, replayed batches).',
      registers: [registry],
    }),
  };
}

export interface QueueDepthSource {
  /** Jobs per state (waiting, active, delayed, failed, ...). */
  counts(): Promise<Record<string, number>>;
  /** Age in seconds of the oldest waiting job, 0 when none waits. */
  oldestWaitingAgeSeconds(): Promise<number>;
}

/** staticreg_queue_jobs{state} and the oldest waiting job's age, read from Redis at each scrape. */
export function registerQueueDepth(registry: Registry, source: QueueDepthSource): void {
  new Gauge({
    name: 'staticreg_queue_jobs',
    help: 'Pull jobs in the queue, by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [state, count] of Object.entries(await source.counts())) this.set({ state }, count);
    },
  });
  new Gauge({
    name: 'staticreg_queue_oldest_waiting_age_seconds',
    help: 'Age of the oldest pull job still waiting for a worker (0: none waits).',
    registers: [registry],
    async collect() {
      this.set(await source.oldestWaitingAgeSeconds());
    },
  });
}

/**
 * Whether this worker has paused counting after a systemic error (1) or counts (0), and for how long: alert on
 * a pause that lasts, since events wait in Redis meanwhile.
 */
export function registerCountingPause(registry: Registry, pausedSince: () => Date | undefined): void {
  new Gauge({
    name: 'staticreg_worker_counting_paused',
    help: 'Whether pull counting is paused by a systemic error (1) or running (0); events wait in Redis while paused.',
    registers: [registry],
    collect() {
      this.set(pausedSince() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'staticreg_worker_counting_paused_seconds',
    help: 'How long the current counting pause has lasted (0 while counting).',
    registers: [registry],
    collect() {
      const since = pausedSince();
      this.set(since ? Math.max(0, (Date.now() - since.getTime()) / 1000) : 0);
    },
  });
}
