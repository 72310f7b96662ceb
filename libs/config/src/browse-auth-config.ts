// Who may read browse: the sign-in mode, session lifetimes, sign-in limits, admins, and the proxy mode's rules.
import { z } from 'zod';
import { checkCidr, parseAccessRules, type AccessRule } from './access-rules.js';
import { booleanFlag, commaList, ConfigError, parse, read, readConfigFile, type Env } from './env.js';
import type { RegistryAccessConfig } from './registry-config.js';

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

export function loadBrowseAuth(env: Env, registry: RegistryAccessConfig | undefined): BrowseAuthConfig {
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
