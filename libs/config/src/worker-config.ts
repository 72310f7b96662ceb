// The worker's settings: batching, stalled-job handling, retention, the count policy and session window.
import { z } from 'zod';
import { loadCommon, loadDbUrl, type CommonConfig } from './common-config.js';
import { parse, parseOptional, port, positiveInt, type Env } from './env.js';
import { loadRegistryAccess, loadRegistryHostname, type RegistryAccessConfig } from './registry-config.js';

export const COUNT_POLICIES = ['sessions', 'events'] as const;
export type CountPolicy = (typeof COUNT_POLICIES)[number];
// `guide`, the policy's first name, still parses (to `events`) so existing deployments keep starting.
const countPolicy = z
  .enum([...COUNT_POLICIES, 'guide'], { message: 'must be sessions or events' })
  .transform((policy): CountPolicy => (policy === 'guide' ? 'events' : policy));

export interface WorkerConfig extends CommonConfig {
  dbUrl: string | undefined;
  /** sessions: pulls per client session (HEAD-only sessions are checks); events: every tagged manifest event is a pull. */
  countPolicy: CountPolicy;
  sessionWindowMs: number;
  sessionRetentionHours: number;
  /** Where the worker reads manifests and configs to learn an image's platform. */
  registryHostname: string | undefined;
  /** How to reach that registry (scheme, TLS, credentials); undefined when no hostname is set. */
  registry: RegistryAccessConfig | undefined;
  /** Port of the worker's health endpoints (/healthz, /readyz). 0 disables them. */
  healthPort: number;
  batchSize: number;
  batchMaxWaitMs: number;
  /** Batches stored at once, each in its own transaction and Postgres connection. */
  batchesInFlight: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  dbRetryMs: number;
  dedupRetentionDays: number;
  /** Days of counts kept (today included); older days are deleted by a scheduled job. Undefined keeps everything. */
  retentionDays: number | undefined;
}

/** STATICREG_SESSION_WINDOW_SECONDS in ms: how long the sessions policy holds a client's events (cleanup apply waits as long). */
export function loadSessionWindowMs(env: Env): number {
  return 1000 * parse(env, 'STATICREG_SESSION_WINDOW_SECONDS', z.coerce.number({ message: 'must be a number of seconds' }).min(0.1).max(3600), '10');
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const lockDurationMs = parse(env, 'STATICREG_WORKER_LOCK_MS', z.coerce.number().int().min(1000), '30000');
  return {
    ...loadCommon(env),
    dbUrl: loadDbUrl(env),
    healthPort: parse(env, 'STATICREG_WORKER_PORT', port, '8094'),
    batchSize: parse(env, 'STATICREG_BATCH_SIZE', z.coerce.number().int().min(1).max(5000), '500'),
    batchMaxWaitMs: parse(env, 'STATICREG_BATCH_MAX_WAIT_MS', z.coerce.number().int().min(1).max(60000), '200'),
    batchesInFlight: parse(env, 'STATICREG_BATCHES_IN_FLIGHT', z.coerce.number().int().min(1).max(8), '2'),
    lockDurationMs,
    stalledIntervalMs: parse(env, 'STATICREG_WORKER_STALLED_INTERVAL_MS', z.coerce.number().int().min(500), String(lockDurationMs)),
    maxStalledCount: parse(env, 'STATICREG_WORKER_MAX_STALLED', positiveInt, '100'),
    dbRetryMs: parse(env, 'STATICREG_DB_RETRY_MS', z.coerce.number().int().min(100), '2000'),
    dedupRetentionDays: parse(env, 'STATICREG_DEDUP_RETENTION_DAYS', positiveInt, '7'),
    retentionDays: parseOptional(env, 'STATICREG_RETENTION_DAYS', positiveInt),
    countPolicy: parse(env, 'STATICREG_COUNT_POLICY', countPolicy, 'sessions'),
    sessionWindowMs: loadSessionWindowMs(env),
    sessionRetentionHours: parse(env, 'STATICREG_SESSION_RETENTION_HOURS', positiveInt, '48'),
    registryHostname: loadRegistryHostname(env),
    registry: loadRegistryAccess(env),
  };
}
