// A person's registry credentials checked with the registry itself, and the repositories its token service lets them pull.
import { Agent, request, type Dispatcher } from 'undici';
import { isObject } from '@staticreg/events';
import { parseChallenge, type AuthChallenge } from './auth.js';
import { readTokenAnswer, registryDispatcher, RegistryError, type RegistryTlsOptions } from './transport.js';

export interface RegistryUserAccessOptions {
  /** e.g. http://registry:5000 */
  baseUrl: string;
  userAgent: string;
  timeoutMs?: number;
  tls?: RegistryTlsOptions;
}

/**
 * How the registry asks for credentials: `basic` (htpasswd: every valid user may pull everything), `bearer` (a token
 * service decides per repository), or `open` (no credentials asked: nothing to check a password against).
 */
export type RegistryAuthScheme = { kind: 'basic' } | { kind: 'bearer'; challenge: AuthChallenge } | { kind: 'open' };

export type CredentialVerdict = 'valid' | 'invalid';

/** Scopes per token request: 50 names of up to 255 characters keep the URL under the common 16 KB limit. */
export const SCOPES_PER_TOKEN_REQUEST = 50;

/**
 * The repositories a token's `access` claim grants `pull` (or `*`) on. The payload is decoded without checking the
 * signature: the token comes straight from the token service over a connection browse opened to the realm the
 * configured registry named, so nobody else could have written it, and browse only narrows what it shows with it —
 * it never presents the token as proof to anyone.
 */
export function pullableInToken(token: string): Set<string> {
  const granted = new Set<string>();
  const payload = token.split('.')[1];
  if (!payload) return granted;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return granted;
  }
  const access = isObject(claims) ? claims.access : undefined;
  if (!Array.isArray(access)) return granted;
  for (const entry of access) {
    if (!isObject(entry)) continue;
    const { type, name, actions } = entry;
    if (type !== 'repository' || typeof name !== 'string' || !Array.isArray(actions)) continue;
    if (actions.includes('pull') || actions.includes('*')) granted.add(name);
  }
  return granted;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export class RegistryUserAccess {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly dispatcher: Agent;
  private scheme: RegistryAuthScheme | undefined;

  constructor(private readonly options: RegistryUserAccessOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.dispatcher = registryDispatcher(options.tls, this.timeoutMs, 4);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async get(url: string, authorization: string | undefined): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, {
        method: 'GET',
        headers: { 'user-agent': this.options.userAgent, ...(authorization ? { authorization } : {}) },
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs * 2),
      });
    } catch (error) {
      throw new RegistryError(`GET ${new URL(url).host}: ${error instanceof Error ? error.message : String(error)}`, undefined, 'unavailable');
    }
  }

  /** Asks GET /v2/ without credentials once; the answer is kept (a registry does not change its auth while running). */
  async authScheme(): Promise<RegistryAuthScheme> {
    if (this.scheme) return this.scheme;
    const response = await this.get(`${this.baseUrl}/v2/`, undefined);
    const challenge = parseChallenge(response.headers['www-authenticate'] as string | undefined);
    await response.body.dump();
    if (response.statusCode === 200) this.scheme = { kind: 'open' };
    else if (response.statusCode === 401 && challenge?.scheme === 'basic') this.scheme = { kind: 'basic' };
    else if (response.statusCode === 401 && challenge?.scheme === 'bearer') this.scheme = { kind: 'bearer', challenge };
    else throw new RegistryError(`GET /v2/: ${response.statusCode}${challenge ? ` with an unsupported ${challenge.scheme} challenge` : ''}`, response.statusCode);
    return this.scheme;
  }

  private tokenUrl(challenge: AuthChallenge, scopes: readonly string[]): URL {
    let url: URL;
    try {
      url = new URL(challenge.params.realm ?? '');
    } catch {
      throw new RegistryError('the registry asks for a bearer token but names no valid token realm', undefined, 'invalid');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError(`token realm must be http(s), not ${url.protocol}`, undefined, 'invalid');
    // A person's password goes to a plain-http token service only when the registry itself is plain http.
    if (url.protocol === 'http:' && this.baseUrl.startsWith('https:')) {
      throw new RegistryError(`the token realm ${url.host} is plain http while the registry is https: no password is sent there`, undefined, 'invalid');
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    return url;
  }

  /** A token for these scopes, or undefined when the token service refuses the credentials (401/403). */
  private async token(challenge: AuthChallenge, username: string, password: string, scopes: readonly string[]): Promise<string | undefined> {
    const url = this.tokenUrl(challenge, scopes);
    const response = await this.get(url.href, basic(username, password));
    if (response.statusCode === 401 || response.statusCode === 403) {
      await response.body.dump();
      return undefined;
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new RegistryError(`token service ${url.host} answered ${response.statusCode}`, response.statusCode);
    }
    return (await readTokenAnswer(response, url.host)).token;
  }

  /**
   * Whether the registry accepts these credentials: GET /v2/ with them (basic), or a token request with them to the
   * service the registry's challenge names (bearer). An open registry checks nothing: that is an error, not a yes.
   */
  async verify(username: string, password: string): Promise<CredentialVerdict> {
    const scheme = await this.authScheme();
    if (scheme.kind === 'open') {
      throw new RegistryError('the registry asks for no credentials, so it cannot check a password (set STATICREG_BROWSE_AUTH=none: it is open anyway)', undefined, 'invalid');
    }
    if (scheme.kind === 'bearer') return (await this.token(scheme.challenge, username, password, [])) === undefined ? 'invalid' : 'valid';
    const response = await this.get(`${this.baseUrl}/v2/`, basic(username, password));
    await response.body.dump();
    if (response.statusCode === 200) return 'valid';
    if (response.statusCode === 401 || response.statusCode === 403) return 'invalid';
    throw new RegistryError(`GET /v2/: ${response.statusCode}`, response.statusCode);
  }

  /**
   * Which of `names` the token service lets this user pull: `repository:<name>:pull` scopes, many per request, read
   * from the `access` claim of the tokens it answers. 'all' for a basic-auth registry, which has no per-repository rules.
   */
  async pullable(username: string, password: string, names: readonly string[]): Promise<Set<string> | 'all'> {
    const scheme = await this.authScheme();
    if (scheme.kind !== 'bearer') return 'all';
    const granted = new Set<string>();
    for (let start = 0; start < names.length; start += SCOPES_PER_TOKEN_REQUEST) {
      const chunk = names.slice(start, start + SCOPES_PER_TOKEN_REQUEST);
      const token = await this.token(scheme.challenge, username, password, chunk.map((name) => `repository:${name}:pull`));
      if (token === undefined) throw new RegistryError('the token service refused the credentials it accepted before', 401, 'unauthorized');
      const asked = new Set(chunk);
      // Only names asked for count: a token service answering more than it was asked cannot widen the view.
      for (const name of pullableInToken(token)) if (asked.has(name)) granted.add(name);
    }
    return granted;
  }
}
