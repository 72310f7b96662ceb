// How the worker and browse reach the registry: hostname, TLS trust, credentials, timeout.
import { z } from 'zod';
import { booleanFlag, ConfigError, parse, read, readConfigFile, redact, type Env } from './env.js';

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

export function loadRegistryHostname(env: Env): string | undefined {
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

export function loadRegistryAccess(env: Env): RegistryAccessConfig | undefined {
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
