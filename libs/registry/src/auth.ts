// The registry's authentication challenges and the bearer tokens answering them, cached per scope.
import { isObject } from '@staticreg/events';

/** A parsed `WWW-Authenticate` challenge: `Bearer realm="...",service="...",scope="..."`. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses the first challenge of a WWW-Authenticate header. Parameter values are tokens or quoted strings
 * (with backslash escapes); names are case-insensitive, values are kept as sent.
 */
export function parseChallenge(header: string | undefined | null): AuthChallenge | undefined {
  if (!header) return undefined;
  const scheme = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)/.exec(header);
  if (!scheme) return undefined;
  const params: Record<string, string> = {};
  let rest = header.slice(scheme[0].length);
  const param = /^[\s,]*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/;
  for (;;) {
    const match = param.exec(rest);
    if (!match) break;
    params[match[1]!.toLowerCase()] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]!;
    rest = rest.slice(match[0].length);
  }
  return { scheme: scheme[1]!.toLowerCase(), params };
}

/**
 * The scope a request needs: `repository:<name>:pull` under /v2/<name>/... (`:delete` for a DELETE),
 * `registry:catalog:*` for the catalog.
 */
export function scopeForPath(path: string, method = 'GET'): string | undefined {
  if (path.startsWith('/v2/_catalog')) return 'registry:catalog:*';
  const match = /^\/v2\/(.+)\/(?:tags\/list|manifests\/[^/]+|blobs\/[^/]+)(?:\?.*)?$/.exec(path);
  return match ? `repository:${match[1]}:${method === 'DELETE' ? 'delete' : 'pull'}` : undefined;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Bearer tokens by scope. A token is used until 10% of its lifetime (at least 5 s) is left; the map is bounded,
 * dropping the oldest scope first, so a crawl of 100,000 repositories does not keep 100,000 tokens.
 */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly maxEntries = 2048,
    private readonly now: () => number = Date.now,
  ) {}

  get(scope: string): string | undefined {
    const cached = this.tokens.get(scope);
    if (!cached) return undefined;
    if (cached.expiresAt <= this.now()) {
      this.tokens.delete(scope);
      return undefined;
    }
    return cached.token;
  }

  /**
   * The lifetime counts from now, when the token arrived, not from the service's `issued_at`: a token service whose
   * clock is ahead or behind would otherwise hand out tokens that look expired (or eternal) here.
   */
  set(scope: string, token: string, lifetimeSeconds: number): void {
    const lifetimeMs = Math.max(1, lifetimeSeconds) * 1000;
    const margin = Math.max(5000, lifetimeMs / 10);
    this.tokens.delete(scope);
    this.tokens.set(scope, { token, expiresAt: this.now() + lifetimeMs - margin });
    while (this.tokens.size > this.maxEntries) this.tokens.delete(this.tokens.keys().next().value!);
  }

  get size(): number {
    return this.tokens.size;
  }
}

/** The token service's answer: `token` (or the OAuth2 `access_token`), `expires_in` seconds (60 when absent). */
export function parseTokenResponse(body: unknown): { token: string; expiresIn: number } | undefined {
  if (!isObject(body)) return undefined;
  const token = typeof body.token === 'string' && body.token !== '' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
  if (!token) return undefined;
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
  return { token, expiresIn };
}

/** The `last` value of a `Link: </v2/_catalog?last=x&n=100>; rel="next"` header, and the link itself. */
export function parseNextLink(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (match && /\brel\s*=\s*"?next"?/i.test(match[2]!)) return match[1];
  }
  return undefined;
}
