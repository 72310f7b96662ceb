// The one place that reads process.env: parses and validates every STATICREG_* variable once.
import { z } from 'zod';

/** The User-Agent staticreg sends to the registry; the receiver ignores it by default. */
export const STATICREG_USER_AGENT = 'staticreg/0.1.0 (+https://github.com/staticreg/staticreg)';
export const STATICREG_USER_AGENT_PRODUCT = 'staticreg/';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable}${problem.startsWith('=') ? '' : ' '}${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const port = z.coerce.number({ message: 'must be a port number' }).int().min(0, 'must be a port number from 0 to 65535').max(65535, 'must be a port number from 0 to 65535');
const positiveInt = z.coerce.number({ message: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1');

const postgresUrl = z.string().refine(
  (value) => {
    try {
      return ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  },
  { message: 'must be a postgresql://[user[:password]@][host][:port][/dbname] URL' },
);

const redisUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      if (!['redis:', 'rediss:'].includes(url.protocol)) return false;
      return url.pathname === '' || url.pathname === '/' || /^\/\d{1,2}$/.test(url.pathname);
    } catch {
      return false;
    }
  },
  { message: 'must be a redis://[user:password@]host[:port][/db] URL' },
);

/** "1mb", "512kb", "1048576" -> bytes. */
const byteSize = z.string().transform((value, ctx) => {
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(value.trim());
  if (!match) {
    ctx.addIssue({ code: 'custom', message: 'must be a size such as 1048576, 512kb or 1mb' });
    return z.NEVER;
  }
  const unit = (match[2] ?? 'b').toLowerCase();
  const bytes = Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
  if (bytes < 1024) {
    ctx.addIssue({ code: 'custom', message: 'must be at least 1kb' });
    return z.NEVER;
  }
  return bytes;
});

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0),
);

/** An unset variable and an empty one both mean "use the default". */
function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

function parse<T extends z.ZodType>(env: Env, name: string, schema: T, fallback?: string): z.output<T> {
  const raw = read(env, name) ?? fallback;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(name, raw === undefined ? 'is required' : `=${JSON.stringify(redact(name, raw))}: ${issue?.message ?? 'is invalid'}`);
  }
  return result.data;
}

function redact(name: string, raw: string): string {
  if (name.endsWith('_TOKEN') || name.endsWith('_PASSWORD')) return '***';
  if (name.endsWith('_URL')) return raw.replace(/\/\/([^@/]*)@/, '//***@');
  return raw;
}

export interface CommonConfig {
  logLevel: LogLevel;
  redisUrl: string;
  bind: string;
}

export interface ReceiverConfig extends CommonConfig {
  port: number;
  webhookToken: string | undefined;
  bodyLimitBytes: number;
  ignoredUserAgents: string[];
  enqueueTimeoutMs: number;
}

export const COUNT_POLICIES = ['sessions', 'guide'] as const;
export type CountPolicy = (typeof COUNT_POLICIES)[number];

export interface WorkerConfig extends CommonConfig {
  dbUrl: string | undefined;
  /** sessions: pulls per client session (HEAD-only sessions are checks); guide: every tagged manifest event is a pull. */
  countPolicy: CountPolicy;
  sessionWindowMs: number;
  sessionRetentionHours: number;
  /** Where the worker reads manifests and configs to learn an image's platform. */
  registryHostname: string | undefined;
  /** Port of the worker's health endpoints (/healthz, /readyz). 0 disables them. */
  healthPort: number;
  batchSize: number;
  batchMaxWaitMs: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  dbRetryMs: number;
  dedupRetentionDays: number;
}

export interface BrowseConfig extends CommonConfig {
  port: number;
  dbUrl: string | undefined;
  registryHostname: string | undefined;
}

function loadCommon(env: Env): CommonConfig {
  return {
    logLevel: parse(env, 'STATICREG_LOG_LEVEL', z.enum(LOG_LEVELS), 'info'),
    redisUrl: parse(env, 'STATICREG_REDIS_URL', redisUrl, 'redis://127.0.0.1:6379'),
    bind: parse(env, 'STATICREG_BIND', z.string().min(1), '0.0.0.0'),
  };
}

const registryHostname = z.string().refine(
  (value) => {
    try {
      const url = new URL(/^https?:\/\//i.test(value) ? value : `http://${value}`);
      return url.hostname !== '' && url.search === '' && url.hash === '';
    } catch {
      return false;
    }
  },
  { message: 'must be host[:port] (plain http) or an http(s):// URL' },
);

function loadRegistryHostname(env: Env): string | undefined {
  return read(env, 'STATICREG_REGISTRY_HOSTNAME') === undefined ? undefined : parse(env, 'STATICREG_REGISTRY_HOSTNAME', registryHostname);
}

function loadDbUrl(env: Env): string | undefined {
  return read(env, 'STATICREG_DB_URL') === undefined ? undefined : parse(env, 'STATICREG_DB_URL', postgresUrl);
}

export function loadReceiverConfig(env: Env = process.env): ReceiverConfig {
  return {
    ...loadCommon(env),
    port: parse(env, 'STATICREG_RECEIVER_PORT', port, '8093'),
    webhookToken: read(env, 'STATICREG_WEBHOOK_TOKEN'),
    bodyLimitBytes: parse(env, 'STATICREG_WEBHOOK_BODY_LIMIT', byteSize, '1mb'),
    // Set but empty ("") means: ignore no User-Agent at all.
    ignoredUserAgents:
      env.STATICREG_IGNORED_USER_AGENTS === undefined
        ? [STATICREG_USER_AGENT_PRODUCT]
        : parse(env, 'STATICREG_IGNORED_USER_AGENTS', commaList, ''),
    // Below the registry's default 1 s notification timeout, so a slow Redis gets a 503 rather than a timeout.
    enqueueTimeoutMs: parse(env, 'STATICREG_ENQUEUE_TIMEOUT_MS', positiveInt, '750'),
  };
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const lockDurationMs = parse(env, 'STATICREG_WORKER_LOCK_MS', z.coerce.number().int().min(1000), '30000');
  return {
    ...loadCommon(env),
    dbUrl: loadDbUrl(env),
    healthPort: parse(env, 'STATICREG_WORKER_PORT', port, '8094'),
    batchSize: parse(env, 'STATICREG_BATCH_SIZE', z.coerce.number().int().min(1).max(5000), '500'),
    batchMaxWaitMs: parse(env, 'STATICREG_BATCH_MAX_WAIT_MS', z.coerce.number().int().min(1).max(60000), '200'),
    lockDurationMs,
    stalledIntervalMs: parse(env, 'STATICREG_WORKER_STALLED_INTERVAL_MS', z.coerce.number().int().min(500), String(lockDurationMs)),
    maxStalledCount: parse(env, 'STATICREG_WORKER_MAX_STALLED', positiveInt, '100'),
    dbRetryMs: parse(env, 'STATICREG_DB_RETRY_MS', z.coerce.number().int().min(100), '2000'),
    dedupRetentionDays: parse(env, 'STATICREG_DEDUP_RETENTION_DAYS', positiveInt, '7'),
    countPolicy: parse(env, 'STATICREG_COUNT_POLICY', z.enum(COUNT_POLICIES, { message: 'must be sessions or guide' }), 'sessions'),
    sessionWindowMs: 1000 * parse(env, 'STATICREG_SESSION_WINDOW_SECONDS', z.coerce.number({ message: 'must be a number of seconds' }).min(0.1).max(3600), '10'),
    sessionRetentionHours: parse(env, 'STATICREG_SESSION_RETENTION_HOURS', positiveInt, '48'),
    registryHostname: loadRegistryHostname(env),
  };
}

export function loadBrowseConfig(env: Env = process.env): BrowseConfig {
  return {
    ...loadCommon(env),
    port: parse(env, 'STATICREG_BROWSE_PORT', port, '8080'),
    dbUrl: loadDbUrl(env),
    registryHostname: loadRegistryHostname(env),
  };
}

/** For `make migrate`: the database URL is required there. */
export function loadMigrateConfig(env: Env = process.env): { dbUrl: string; logLevel: LogLevel } {
  return {
    dbUrl: parse(env, 'STATICREG_DB_URL', postgresUrl),
    logLevel: parse(env, 'STATICREG_LOG_LEVEL', z.enum(LOG_LEVELS), 'info'),
  };
}
