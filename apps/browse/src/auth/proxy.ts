// Proxy mode: an authenticating proxy names the user and groups in headers, believed only from its addresses.
import { BlockList, isIP } from 'node:net';
import type { Request, RequestHandler } from 'express';
import type { AccessRule, BrowseProxyConfig } from '@staticreg/config';
import { HttpError } from '@staticreg/http';
import { isStateChanging, requireSameOrigin } from './csrf.js';
import { ALL_REPOSITORIES, setViewer, type RepositoryAccess } from './viewer.js';

export interface ProxyAuthDeps {
  proxy: BrowseProxyConfig;
  /** User names, and `group:<name>` entries. */
  admins: readonly string[];
  /** Every repository name the catalog holds; undefined while it has never been listed. */
  catalogNames: () => Promise<string[] | undefined>;
  accessTtlMs: number;
  now?: () => number;
}

/** `*` is any run of characters (slashes included): `team-a/*` is everything under team-a/, `*` everything. */
export function patternMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  const source = patterns.map((pattern) => pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')).join('.*')).join('|');
  const regex = new RegExp(`^(?:${source})$`);
  return (name) => regex.test(name);
}

/** The patterns of every rule that names this user or one of their groups. */
export function patternsFor(rules: readonly AccessRule[], user: string, groups: readonly string[]): string[] {
  return rules.filter((rule) => rule.users.includes(user) || rule.groups.some((group) => groups.includes(group))).flatMap((rule) => rule.repositories);
}

export function trustedProxyList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address!) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address!, family);
    else list.addSubnet(address!, Number(prefix), family);
  }
  return list;
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: it is checked as the IPv4 address it is. */
export function isTrustedAddress(list: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return list.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** The user and groups the proxy named, or undefined when the request did not come from a trusted proxy. */
function proxiedIdentity(req: Request, deps: ProxyAuthDeps, trusted: BlockList): { user: string; groups: string[] } | undefined {
  if (!isTrustedAddress(trusted, req.socket.remoteAddress)) return undefined;
  const user = req.get(deps.proxy.userHeader)?.trim();
  if (!user) return undefined;
  const groups = (req.get(deps.proxy.groupsHeader) ?? '')
    .split(',')
    .map((group) => group.trim())
    .filter((group) => group !== '');
  return { user, groups };
}

export function proxyAuth(deps: ProxyAuthDeps): RequestHandler {
  const trusted = trustedProxyList(deps.proxy.trustedProxies);
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { access: RepositoryAccess; expiresAt: number }>();

  const accessFor = async (user: string, groups: string[]): Promise<RepositoryAccess> => {
    const patterns = patternsFor(deps.proxy.rules, user, groups);
    if (patterns.includes('*')) return ALL_REPOSITORIES;
    const key = `${user}\0${[...groups].sort().join('\0')}`;
    const cached = cache.get(key);
    if (cached && cached.expiresAt > now()) return cached.access;
    const names = await deps.catalogNames();
    const matches = patternMatcher(patterns);
    const access: RepositoryAccess = { kind: 'some', names: new Set((names ?? []).filter(matches)) };
    // A catalog not listed yet is not remembered as "nothing visible".
    if (names !== undefined) {
      cache.delete(key);
      cache.set(key, { access, expiresAt: now() + deps.accessTtlMs });
      while (cache.size > 1000) cache.delete(cache.keys().next().value!);
    }
    return access;
  };

  return async (req, res, next) => {
    const identity = proxiedIdentity(req, deps, trusted);
    // Headers from anywhere but a trusted proxy are ignored: the request is anonymous, and anonymous sees nothing.
    if (!identity) throw new HttpError(403, 'no signed-in user: browse is reached through its authenticating proxy', { 'Cache-Control': 'no-store' });
    // No session token here (the proxy holds the session): the same-origin check guards state-changing requests.
    if (isStateChanging(req.method)) requireSameOrigin(req);
    const admin = deps.admins.includes(identity.user) || identity.groups.some((group) => deps.admins.includes(`group:${group}`));
    setViewer(res, { user: identity.user, admin, access: admin ? ALL_REPOSITORIES : await accessFor(identity.user, identity.groups), csrfToken: undefined });
    res.set('Vary', `${deps.proxy.userHeader}, ${deps.proxy.groupsHeader}`);
    next();
  };
}
