// The one place that reads process.env: parses and validates every STATICREG_* variable once.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { checkCidr, parseAccessRules, type AccessRule } from './access-rules.js';

export type { AccessRule } from './access-rules.js';

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
  if (name.endsWith('_TOKEN') || name.endsWith('_PASSWORD') || name.endsWith('_SECRET')) return '***';
  if (name.endsWith('_URL')) return raw.replace(/\/\/([^@/]*)@/, '//***@');
  // A password may itself hold '@' or '/': everything up to the last '@' goes.
  if (name.endsWith('_HOSTNAME')) return raw.replace(/^((?:[a-z][a-z0-9+.-]*:)?\/\/)?.*@/is, '$1***@');
  return raw;
}

export interface CommonConfig {
  logLevel: LogLevel;
  redisUrl: string;
  bind: string;
  /** When set, GET /metrics answers 401 without `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
}

/** One entry of an address allow-list: an IPv4 or IPv6 network in CIDR form. */
export interface NetworkRange {
  network: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export interface ReceiverConfig extends CommonConfig {
  port: number;
  /** Undefined only when unauthenticated intake was enabled explicitly (`allowUnauthenticated`). */
  webhookToken: string | undefined;
  allowUnauthenticated: boolean;
  /** Source networks the webhook accepts; empty: any address. The socket's address counts, never X-Forwarded-For. */
  allowedNetworks: NetworkRange[];
  bodyLimitBytes: number;
  ignoredUserAgents: string[];
  enqueueTimeoutMs: number;
  /** Redis stream the receiver appends manifest pushes and deletes to (browse follows it). */
  changesStream: string;
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

export interface BrowseConfig extends CommonConfig {
  port: number;
  dbUrl: string | undefined;
  registryHostname: string | undefined;
  registry: RegistryAccessConfig | undefined;
  crawler: CrawlerConfig;
  /** host[:port] shown in `docker pull` commands: the name clients use, which may differ from the one browse uses. */
  pullHostname: string | undefined;
  /** Signs the dashboard's CSRF tokens; replicas behind one address need the same. Unset: random per process. */
  csrfSecret: string | undefined;
  auth: BrowseAuthConfig;
}

/**
 * registry: people sign in with their registry credentials; proxy: an authenticating proxy names them in headers;
 * none: anonymous access to everything (explicit only).
 */
export const BROWSE_AUTH_MODES = ['registry', 'proxy', 'none'] as const;
export type BrowseAuthMode = (typeof BROWSE_AUTH_MODES)[number];

/** Who may read browse, and how sign-in sessions behave (STATICREG_BROWSE_AUTH and friends). */
export interface BrowseAuthConfig {
  mode: BrowseAuthMode;
  /** Mark the session cookie Secure even when browse itself serves plain HTTP (TLS ends at a proxy in front). */
  secureCookies: boolean;
  /** A session unused this long ends. */
  sessionIdleMs: number;
  /** A session ends this long after sign-in, used or not. */
  sessionMaxMs: number;
  /** How long what a user may pull is reused before the token service is asked again (API clients' credentials). */
  accessTtlMs: number;
  /** Failed sign-ins allowed per user name, and per client address, within the window, before 429. */
  signInMaxFailuresPerUser: number;
  signInMaxFailuresPerAddress: number;
  signInWindowMs: number;
  /** Users (and, in proxy mode, `group:<name>` entries) who see every repository, the dashboard, pipeline health and failed jobs. */
  admins: string[];
  /** Proxy mode only. */
  proxy: BrowseProxyConfig | undefined;
}

/** STATICREG_BROWSE_AUTH=proxy: who the proxy says is asking, believed only from the proxy's addresses. */
export interface BrowseProxyConfig {
  /** Header names, lower case. */
  userHeader: string;
  groupsHeader: string;
  /** Addresses and CIDR ranges the headers are believed from (STATICREG_BROWSE_TRUSTED_PROXIES). */
  trustedProxies: string[];
  /** From STATICREG_BROWSE_RULES_FILE. */
  rules: AccessRule[];
}

const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name').transform((value) => value.toLowerCase());

function loadProxy(env: Env): BrowseProxyConfig {
  const trustedProxies = parse(env, 'STATICREG_BROWSE_TRUSTED_PROXIES', commaList.pipe(z.array(z.string()).min(1, 'must list at least one address or CIDR range')));
  for (const entry of trustedProxies) {
    const problem = checkCidr(entry);
    if (problem) throw new ConfigError('STATICREG_BROWSE_TRUSTED_PROXIES', `: ${problem}`);
  }
  const rulesPath = read(env, 'STATICREG_BROWSE_RULES_FILE');
  if (rulesPath === undefined) throw new ConfigError('STATICREG_BROWSE_RULES_FILE', 'is required with STATICREG_BROWSE_AUTH=proxy (a JSON file mapping users and groups to repositories)');
  let rules: AccessRule[];
  try {
    rules = parseAccessRules(readConfigFile(env, 'STATICREG_BROWSE_RULES_FILE')!);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('STATICREG_BROWSE_RULES_FILE', `=${JSON.stringify(rulesPath)}: ${(error as Error).message}`);
  }
  return {
    userHeader: parse(env, 'STATICREG_BROWSE_PROXY_USER_HEADER', headerName, 'X-Forwarded-User'),
    groupsHeader: parse(env, 'STATICREG_BROWSE_PROXY_GROUPS_HEADER', headerName, 'X-Forwarded-Groups'),
    trustedProxies,
    rules,
  };
}

/** Registry access shared by the worker and browse: the URL, TLS trust, credentials, timeouts. */
export interface RegistryAccessConfig {
  hostname: string;
  /** PEM bundle trusted in addition to the system CAs (STATICREG_REGISTRY_CA_FILE, read at start). */
  caPem: string | undefined;
  /** Accept any certificate. Opt-in only, for a test registry. */
  insecureSkipVerify: boolean;
  /** Basic credentials, also sent to the token service of a bearer-token registry. */
  username: string | undefined;
  password: string | undefined;
  timeoutMs: number;
}

export interface CrawlerConfig {
  /** Requests per second to the registry (and its token service); 0 means no limit. */
  requestsPerSecond: number;
  concurrency: number;
  /** Pause after a full pass over every repository before the next pass starts. */
  intervalMs: number;
  /** Memory bound of the in-memory catalog (no database): tags kept at most; further tags are not indexed. */
  memoryMaxTags: number;
  /** Redis stream the receiver appends registry pushes and deletes to. */
  changesStream: string;
}

/** The shortest shared secret accepted: shorter ones are guessable; `openssl rand -hex 32` gives 64 characters. */
export const MIN_TOKEN_LENGTH = 16;
const GENERATE_TOKEN_HINT = 'generate one with `openssl rand -hex 32`';

function loadToken(env: Env, name: string): string | undefined {
  const token = read(env, name);
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(name, `is too short: use at least ${MIN_TOKEN_LENGTH} characters (${GENERATE_TOKEN_HINT})`);
  }
  return token;
}

function loadCommon(env: Env): CommonConfig {
  return {
    logLevel: parse(env, 'STATICREG_LOG_LEVEL', z.enum(LOG_LEVELS), 'info'),
    redisUrl: parse(env, 'STATICREG_REDIS_URL', redisUrl, 'redis://127.0.0.1:6379'),
    bind: parse(env, 'STATICREG_BIND', z.string().min(1), '0.0.0.0'),
    metricsToken: loadToken(env, 'STATICREG_METRICS_TOKEN'),
  };
}

/** "10.0.0.0/8, 192.168.1.7, fd00::/8" (an address alone is a /32 or /128); a bad entry fails at start. */
function loadNetworks(env: Env, name: string): NetworkRange[] {
  const ranges: NetworkRange[] = [];
  for (const entry of parse(env, name, commaList, '')) {
    const [network = '', prefixText, extra] = entry.split('/');
    const version = isIP(network);
    const family = version === 6 ? 'ipv6' : 'ipv4';
    const maxPrefix = version === 6 ? 128 : 32;
    const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
    const valid = version !== 0 && extra === undefined && /^\d{1,3}$/.test(prefixText ?? '0') && prefix <= maxPrefix;
    if (!valid) throw new ConfigError(name, `=${JSON.stringify(entry)}: must be a list of IPv4 or IPv6 networks such as 10.0.0.0/8, 192.168.1.7, fd00::/8`);
    ranges.push({ network, prefix, family });
  }
  return ranges;
}

function loadWebhookAuth(env: Env): Pick<ReceiverConfig, 'webhookToken' | 'allowUnauthenticated'> {
  const webhookToken = loadToken(env, 'STATICREG_WEBHOOK_TOKEN');
  const allowUnauthenticated = parse(env, 'STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED', booleanFlag, 'false');
  if (webhookToken === undefined && !allowUnauthenticated) {
    throw new ConfigError(
      'STATICREG_WEBHOOK_TOKEN',
      `is required: ${GENERATE_TOKEN_HINT} and give the registry the same value (Authorization: [Bearer <token>] in its notification headers), ` +
        'or set STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED=true to accept notifications from anyone who can reach the receiver',
    );
  }
  if (webhookToken !== undefined && allowUnauthenticated) {
    throw new ConfigError('STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED', 'cannot be true while STATICREG_WEBHOOK_TOKEN is set: unset one of them');
  }
  return { webhookToken, allowUnauthenticated };
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
  const raw = read(env, 'STATICREG_REGISTRY_HOSTNAME');
  if (raw === undefined) return undefined;
  // Credentials in the URL would be logged with the hostname and never sent: they have their own variables.
  if (raw.includes('@')) {
    throw new ConfigError(
      'STATICREG_REGISTRY_HOSTNAME',
      `=${JSON.stringify(redact('STATICREG_REGISTRY_HOSTNAME', raw))}: must not hold credentials; set STATICREG_REGISTRY_USER and STATICREG_REGISTRY_PASSWORD (or STATICREG_REGISTRY_PASSWORD_FILE) instead`,
    );
  }
  return parse(env, 'STATICREG_REGISTRY_HOSTNAME', registryHostname);
}

const booleanFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' }).transform((value) => ['true', '1', 'yes'].includes(value));

/** A file read once at start; a missing or unreadable file is a configuration error naming the variable. */
function readConfigFile(env: Env, name: string): string | undefined {
  const path = read(env, name);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `=${JSON.stringify(path)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function loadRegistryAccess(env: Env): RegistryAccessConfig | undefined {
  const hostname = loadRegistryHostname(env);
  if (hostname === undefined) return undefined;
  const username = read(env, 'STATICREG_REGISTRY_USER');
  const passwordFromFile = readConfigFile(env, 'STATICREG_REGISTRY_PASSWORD_FILE')?.replace(/\r?\n$/, '');
  const password = read(env, 'STATICREG_REGISTRY_PASSWORD') ?? passwordFromFile;
  if (read(env, 'STATICREG_REGISTRY_PASSWORD') !== undefined && passwordFromFile !== undefined) {
    throw new ConfigError('STATICREG_REGISTRY_PASSWORD_FILE', 'cannot be set together with STATICREG_REGISTRY_PASSWORD');
  }
  if ((username === undefined) !== (password === undefined)) {
    throw new ConfigError(username === undefined ? 'STATICREG_REGISTRY_USER' : 'STATICREG_REGISTRY_PASSWORD', 'is required when the other registry credential is set');
  }
  const caPem = readConfigFile(env, 'STATICREG_REGISTRY_CA_FILE');
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('STATICREG_REGISTRY_CA_FILE', 'must be a PEM file of one or more certificates');
  }
  return {
    hostname,
    caPem,
    insecureSkipVerify: parse(env, 'STATICREG_REGISTRY_INSECURE_SKIP_VERIFY', booleanFlag, 'false'),
    username,
    password,
    timeoutMs: parse(env, 'STATICREG_REGISTRY_TIMEOUT_MS', z.coerce.number().int().min(100).max(120_000), '10000'),
  };
}

function loadCrawler(env: Env): CrawlerConfig {
  return {
    requestsPerSecond: parse(env, 'STATICREG_BROWSE_CRAWL_RATE', z.coerce.number({ message: 'must be a number of requests per second' }).min(0).max(100_000), '20'),
    concurrency: parse(env, 'STATICREG_BROWSE_CRAWL_CONCURRENCY', z.coerce.number().int().min(1).max(64), '4'),
    intervalMs: 1000 * parse(env, 'STATICREG_BROWSE_CRAWL_INTERVAL_SECONDS', z.coerce.number().int().min(1).max(7 * 24 * 3600), '300'),
    memoryMaxTags: parse(env, 'STATICREG_BROWSE_MEMORY_MAX_TAGS', z.coerce.number().int().min(1000).max(20_000_000), '2000000'),
    changesStream: parse(env, 'STATICREG_REGISTRY_CHANGES_STREAM', z.string().min(1), REGISTRY_CHANGES_STREAM),
  };
}

/** The Redis stream of registry pushes and deletes (receiver writes, browse replicas read). */
export const REGISTRY_CHANGES_STREAM = 'staticreg:registry-changes';

function loadDbUrl(env: Env): string | undefined {
  return read(env, 'STATICREG_DB_URL') === undefined ? undefined : parse(env, 'STATICREG_DB_URL', postgresUrl);
}

export function loadReceiverConfig(env: Env = process.env): ReceiverConfig {
  return {
    ...loadCommon(env),
    port: parse(env, 'STATICREG_RECEIVER_PORT', port, '8093'),
    ...loadWebhookAuth(env),
    allowedNetworks: loadNetworks(env, 'STATICREG_WEBHOOK_ALLOWED_NETWORKS'),
    bodyLimitBytes: parse(env, 'STATICREG_WEBHOOK_BODY_LIMIT', byteSize, '1mb'),
    // Set but empty ("") means: ignore no User-Agent at all.
    ignoredUserAgents:
      env.STATICREG_IGNORED_USER_AGENTS === undefined
        ? [STATICREG_USER_AGENT_PRODUCT]
        : parse(env, 'STATICREG_IGNORED_USER_AGENTS', commaList, ''),
    // Below the registry's default 1 s notification timeout, so a slow Redis gets a 503 rather than a timeout.
    enqueueTimeoutMs: parse(env, 'STATICREG_ENQUEUE_TIMEOUT_MS', positiveInt, '750'),
    changesStream: parse(env, 'STATICREG_REGISTRY_CHANGES_STREAM', z.string().min(1), REGISTRY_CHANGES_STREAM),
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
    batchesInFlight: parse(env, 'STATICREG_BATCHES_IN_FLIGHT', z.coerce.number().int().min(1).max(8), '2'),
    lockDurationMs,
    stalledIntervalMs: parse(env, 'STATICREG_WORKER_STALLED_INTERVAL_MS', z.coerce.number().int().min(500), String(lockDurationMs)),
    maxStalledCount: parse(env, 'STATICREG_WORKER_MAX_STALLED', positiveInt, '100'),
    dbRetryMs: parse(env, 'STATICREG_DB_RETRY_MS', z.coerce.number().int().min(100), '2000'),
    dedupRetentionDays: parse(env, 'STATICREG_DEDUP_RETENTION_DAYS', positiveInt, '7'),
    retentionDays: read(env, 'STATICREG_RETENTION_DAYS') === undefined ? undefined : parse(env, 'STATICREG_RETENTION_DAYS', positiveInt),
    countPolicy: parse(env, 'STATICREG_COUNT_POLICY', z.enum(COUNT_POLICIES, { message: 'must be sessions or guide' }), 'sessions'),
    sessionWindowMs: 1000 * parse(env, 'STATICREG_SESSION_WINDOW_SECONDS', z.coerce.number({ message: 'must be a number of seconds' }).min(0.1).max(3600), '10'),
    sessionRetentionHours: parse(env, 'STATICREG_SESSION_RETENTION_HOURS', positiveInt, '48'),
    registryHostname: loadRegistryHostname(env),
    registry: loadRegistryAccess(env),
  };
}

function loadBrowseAuth(env: Env, registry: RegistryAccessConfig | undefined): BrowseAuthConfig {
  const mode = parse(env, 'STATICREG_BROWSE_AUTH', z.enum(BROWSE_AUTH_MODES, { message: 'must be registry, proxy or none' }), 'registry');
  // Signing in against no registry would check nothing: anonymous access has to be asked for by name.
  if (mode === 'registry' && registry === undefined) {
    throw new ConfigError(
      'STATICREG_BROWSE_AUTH',
      'is registry (the default: people sign in with their registry credentials) but STATICREG_REGISTRY_HOSTNAME is not set; set the registry, or STATICREG_BROWSE_AUTH=none for anonymous access to everything',
    );
  }
  const minutes = (name: string, fallback: string, max: number): number => 60_000 * parse(env, name, z.coerce.number({ message: 'must be a number of minutes' }).int('must be a whole number of minutes').min(1).max(max), fallback);
  const sessionIdleMs = minutes('STATICREG_BROWSE_SESSION_IDLE_MINUTES', '30', 7 * 24 * 60);
  const sessionMaxMs = minutes('STATICREG_BROWSE_SESSION_MAX_MINUTES', '480', 30 * 24 * 60);
  if (sessionIdleMs > sessionMaxMs) throw new ConfigError('STATICREG_BROWSE_SESSION_IDLE_MINUTES', 'must not be longer than STATICREG_BROWSE_SESSION_MAX_MINUTES');
  const admins = parse(env, 'STATICREG_BROWSE_ADMINS', commaList, '');
  const group = admins.find((admin) => admin.startsWith('group:'));
  if (group !== undefined && mode !== 'proxy') {
    throw new ConfigError('STATICREG_BROWSE_ADMINS', `names ${JSON.stringify(group)}: groups come from an authenticating proxy, and STATICREG_BROWSE_AUTH=${mode} has none; list user names`);
  }
  return {
    mode,
    admins,
    proxy: mode === 'proxy' ? loadProxy(env) : undefined,
    secureCookies: parse(env, 'STATICREG_BROWSE_SECURE_COOKIES', booleanFlag, 'false'),
    sessionIdleMs,
    sessionMaxMs,
    accessTtlMs: 1000 * parse(env, 'STATICREG_BROWSE_ACCESS_TTL_SECONDS', z.coerce.number({ message: 'must be a number of seconds' }).int('must be a whole number of seconds').min(1).max(3600), '60'),
    signInMaxFailuresPerUser: parse(env, 'STATICREG_BROWSE_SIGNIN_MAX_FAILURES', z.coerce.number().int().min(1).max(1000), '5'),
    signInMaxFailuresPerAddress: parse(env, 'STATICREG_BROWSE_SIGNIN_MAX_FAILURES_PER_ADDRESS', z.coerce.number().int().min(1).max(100_000), '20'),
    signInWindowMs: 1000 * parse(env, 'STATICREG_BROWSE_SIGNIN_WINDOW_SECONDS', z.coerce.number().int().min(1).max(24 * 3600), '900'),
  };
}

export function loadBrowseConfig(env: Env = process.env): BrowseConfig {
  const registry = loadRegistryAccess(env);
  return {
    ...loadCommon(env),
    port: parse(env, 'STATICREG_BROWSE_PORT', port, '8080'),
    dbUrl: loadDbUrl(env),
    registryHostname: loadRegistryHostname(env),
    registry,
    crawler: loadCrawler(env),
    pullHostname: read(env, 'STATICREG_BROWSE_PULL_HOSTNAME') === undefined ? undefined : parse(env, 'STATICREG_BROWSE_PULL_HOSTNAME', z.string().regex(/^[^\s/]+(\/[^\s]*)?$/, 'must be host[:port] as clients write it')),
    csrfSecret: read(env, 'STATICREG_BROWSE_CSRF_SECRET') === undefined ? undefined : parse(env, 'STATICREG_BROWSE_CSRF_SECRET', z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32)')),
    auth: loadBrowseAuth(env, registry),
  };
}

/** For `make migrate`: the database URL is required there. */
export function loadMigrateConfig(env: Env = process.env): { dbUrl: string; logLevel: LogLevel } {
  return {
    dbUrl: parse(env, 'STATICREG_DB_URL', postgresUrl),
    logLevel: parse(env, 'STATICREG_LOG_LEVEL', z.enum(LOG_LEVELS), 'info'),
  };
}

/** `make replay-failed`: which failed pull jobs to put back, from the command line. */
export interface ReplayFailedConfig {
  redisUrl: string;
  logLevel: LogLevel;
  failedSince: Date | undefined;
  failedUntil: Date | undefined;
  /** Substring (any case) or exact match of the job's failed reason. */
  reason: { text: string; match: 'substring' | 'exact' } | undefined;
  limit: number | undefined;
  dryRun: boolean;
}

export const REPLAY_FAILED_USAGE =
  'usage: replay-failed [--since TIME] [--until TIME] [--reason TEXT | --reason-exact TEXT] [--limit N] [--dry-run]\n' +
  '  TIME is a UTC date (2026-12-01) or an ISO 8601 time with its zone (2026-12-01T08:00Z, 2026-12-01T09:00+01:00)';

/** A date (midnight UTC) or a time with an explicit zone: a time without one would depend on the machine's zone. */
const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/, 'must be a UTC date (2026-12-01) or an ISO 8601 time with its zone (2026-12-01T08:00Z)')
  .transform((value, ctx) => {
    const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
    // Date rolls 2026-02-30 over to March; a calendar date that does not exist is a typo.
    const calendar = new Date(Date.UTC(year, month - 1, day));
    const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day || Number.isNaN(date.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'is not a real date and time' });
      return z.NEVER;
    }
    return date;
  });

function parseOption<T extends z.ZodType>(name: string, schema: T, raw: string | undefined): z.output<T> | undefined {
  if (raw === undefined) return undefined;
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(`--${name}`, `=${JSON.stringify(raw)}: ${result.error.issues[0]?.message ?? 'is invalid'}`);
  return result.data;
}

/** Parses the command's arguments (an unknown option or a missing value is an error naming it) and the Redis URL. */
export function loadReplayFailedConfig(argv: readonly string[], env: Env = process.env): ReplayFailedConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        reason: { type: 'string' },
        'reason-exact': { type: 'string' },
        limit: { type: 'string' },
        'dry-run': { type: 'boolean' },
      },
    }));
  } catch (error) {
    // node's messages name the option ("Unknown option '--foo'"); the usage says what is accepted.
    const message = error instanceof Error ? error.message : String(error);
    const option = /'(-[^' <]*)/.exec(message)?.[1] ?? 'arguments';
    throw new ConfigError(option, `is not accepted (${message})\n${REPLAY_FAILED_USAGE}`);
  }
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const failedSince = parseOption('since', instant, text('since'));
  const failedUntil = parseOption('until', instant, text('until'));
  if (failedSince && failedUntil && failedSince > failedUntil) throw new ConfigError('--until', `=${JSON.stringify(text('until'))}: must not be before --since`);
  const substring = parseOption('reason', z.string().min(1, 'must not be empty'), text('reason'));
  const exact = parseOption('reason-exact', z.string().min(1, 'must not be empty'), text('reason-exact'));
  if (substring !== undefined && exact !== undefined) throw new ConfigError('--reason-exact', 'cannot be used together with --reason');
  return {
    redisUrl: loadCommon(env).redisUrl,
    logLevel: loadCommon(env).logLevel,
    failedSince,
    failedUntil,
    reason: exact !== undefined ? { text: exact, match: 'exact' } : substring !== undefined ? { text: substring, match: 'substring' } : undefined,
    limit: parseOption('limit', positiveInt, text('limit')),
    dryRun: values['dry-run'] === true,
  };
}

