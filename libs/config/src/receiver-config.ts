// The receiver's settings: port, webhook authentication, allowed networks, body limit, ignored User-Agents.
import { isIP } from 'node:net';
import { z } from 'zod';
import { loadCommon, REGISTRY_CHANGES_STREAM, type CommonConfig } from './common-config.js';
import { booleanFlag, byteSize, commaList, ConfigError, GENERATE_TOKEN_HINT, loadToken, parse, port, positiveInt, type Env } from './env.js';

/** The User-Agent staticreg sends to the registry; the receiver ignores it by default. */
export const STATICREG_USER_AGENT = 'staticreg/0.1.0 (+https://github.com/staticreg/staticreg)';
export const STATICREG_USER_AGENT_PRODUCT = 'staticreg/';

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
