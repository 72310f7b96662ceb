// HTTP to the registry: its errors, TLS trust, User-Agent, throttle and deadlines, and anonymous, basic or
// bearer-token access (tokens cached per scope). The reads (client.ts) and deletes (manifest-deletes.ts) use it.
import { Agent, request, type Dispatcher } from 'undici';
import { parseChallenge, parseTokenResponse, scopeForPath, TokenCache, type AuthChallenge } from './auth.js';

/**
 * not-found: the registry says the repository, tag or blob does not exist; unauthorized: it refused our
 * credentials or asks for some we do not have; unavailable: unreachable, timed out or answering 5xx;
 * invalid: an answer that breaks the protocol (bad JSON, content not matching its digest).
 */
export type RegistryErrorKind = 'not-found' | 'unauthorized' | 'unavailable' | 'invalid';

function kindOfStatus(status: number | undefined): RegistryErrorKind {
  if (status === undefined || status >= 500 || status === 429) return 'unavailable';
  if (status === 404) return 'not-found';
  if (status === 401 || status === 403) return 'unauthorized';
  return 'invalid';
}

/** Never carries a credential: messages name the method, the path and what went wrong. */
export class RegistryError extends Error {
  readonly kind: RegistryErrorKind;
  constructor(
    message: string,
    readonly status?: number,
    kind?: RegistryErrorKind,
    /** The registry's error code (NAME_UNKNOWN, MANIFEST_UNKNOWN, ...), when it sent one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
    this.kind = kind ?? kindOfStatus(status);
  }
}

export type RegistryCredentials = { kind: 'anonymous' } | { kind: 'basic'; username: string; password: string };

export interface RegistryTlsOptions {
  /** PEM certificates trusted in addition to Node's bundled CAs. */
  ca?: string;
  /** Accept any certificate (opt-in, for test registries). */
  insecureSkipVerify?: boolean;
}

export interface RegistryClientOptions {
  /** e.g. http://registry:5000 or https://registry.example.com */
  baseUrl: string;
  userAgent: string;
  timeoutMs?: number;
  credentials?: RegistryCredentials;
  tls?: RegistryTlsOptions;
  /** Awaited before every HTTP request to the registry or its token service: the crawler's rate limit. */
  throttle?: () => Promise<void>;
  /** Connections kept to the registry (default 8). */
  connections?: number;
}

/**
 * STATICREG_REGISTRY_HOSTNAME as the guide writes it (`registry:5000`) or as a URL. A bare host means plain http,
 * as the guide's compose setup serves; name https:// explicitly for a TLS registry.
 */
export function registryBaseUrl(hostname: string): string {
  const withScheme = /^https?:\/\//i.test(hostname) ? hostname : `http://${hostname}`;
  const url = new URL(withScheme);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 3;
/** The largest list answer (catalog page, tags) read. */
export const MAX_LIST_BYTES = 64 * 1024 * 1024;

/** A response header's first value. */
export function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const parts = [typeof code === 'string' ? code : undefined, error.message, typeof cause?.code === 'string' ? cause.code : undefined];
  return [...new Set(parts.filter((part) => part))].join(': ');
}

/** A token service's 200 answer: its token and lifetime, or a RegistryError saying what it sent instead. */
export async function readTokenAnswer(response: Dispatcher.ResponseData, host: string): Promise<NonNullable<ReturnType<typeof parseTokenResponse>>> {
  let json: unknown;
  try {
    json = await response.body.json();
  } catch {
    throw new RegistryError(`token service ${host} sent no JSON`, undefined, 'invalid');
  }
  const parsed = parseTokenResponse(json);
  if (!parsed) throw new RegistryError(`token service ${host} sent no token`, undefined, 'invalid');
  return parsed;
}

/** Connections to the registry: its TLS trust (a CA bundle, or verification off when chosen), a connect timeout. */
export function registryDispatcher(tls: RegistryTlsOptions | undefined, timeoutMs: number, connections: number): Agent {
  return new Agent({
    connections,
    keepAliveTimeout: 10_000,
    connect: {
      ...(tls?.ca ? { ca: tls.ca } : {}),
      ...(tls?.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
      timeout: timeoutMs,
    },
  });
}

/** The registry's `{"errors": [{"code", "message"}]}` body, as one line. */
export async function errorOf(response: Dispatcher.ResponseData): Promise<{ code?: string; message?: string }> {
  try {
    const text = (await response.body.text()).slice(0, 4096);
    const json = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = json.errors?.[0];
    return {
      ...(typeof first?.code === 'string' ? { code: first.code } : {}),
      ...(typeof first?.message === 'string' ? { message: first.message } : {}),
    };
  } catch {
    return {};
  }
}

export type RegistryMethod = 'GET' | 'HEAD' | 'DELETE';

/** One registry's connections and credentials; requests answer its authentication challenge once. */
export class RegistryTransport {
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly timeoutMs: number;
  private readonly dispatcher: Agent;
  private readonly tokens = new TokenCache();
  private readonly pendingTokens = new Map<string, Promise<string>>();
  /** Learned from the first 401: basic credentials are then sent with every request, tokens looked up per scope. */
  private scheme: 'basic' | 'bearer' | undefined;

  constructor(private readonly options: RegistryClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.origin = new URL(this.baseUrl).origin;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.dispatcher = registryDispatcher(options.tls, this.timeoutMs, options.connections ?? 8);
  }

  /** Closes the connections to the registry. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private basicAuthorization(): string | undefined {
    const credentials = this.options.credentials;
    if (!credentials || credentials.kind !== 'basic') return undefined;
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  }

  /** One HTTP exchange, throttled, with a deadline; network failures become `unavailable` errors. */
  async exchange(method: RegistryMethod, url: string, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
    await this.options.throttle?.();
    try {
      return await request(url, {
        method,
        headers: { 'user-agent': this.options.userAgent, ...headers },
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs * 2),
      });
    } catch (error) {
      const path = url.startsWith(this.origin) ? url.slice(this.origin.length).split('?')[0] : new URL(url).host;
      throw new RegistryError(`${method} ${path}: ${describeNetworkError(error)}`, undefined, 'unavailable');
    }
  }

  private authorization(scope: string | undefined): string | undefined {
    if (this.scheme === 'basic') return this.basicAuthorization();
    if (this.scheme === 'bearer' && scope) {
      const token = this.tokens.get(scope);
      if (token) return `Bearer ${token}`;
    }
    return undefined;
  }

  /**
   * A request to the registry, answering its challenge once: basic credentials, or a bearer token for the scope
   * the registry names. Redirects (a blob store's signed URL) are followed without our Authorization header.
   */
  async fetch(path: string, method: RegistryMethod = 'GET', accept?: string): Promise<Dispatcher.ResponseData> {
    const scope = scopeForPath(path, method);
    // The token just obtained answers the retry even if it is too short-lived to be cached.
    let fresh: string | undefined;
    for (let attempt = 0; ; attempt += 1) {
      const authorization = fresh ? `Bearer ${fresh}` : this.authorization(scope);
      const headers: Record<string, string> = { ...(accept ? { accept } : {}), ...(authorization ? { authorization } : {}) };
      let response = await this.exchange(method, `${this.baseUrl}${path}`, headers);
      for (let hops = 0; REDIRECTS.has(response.statusCode) && hops < MAX_REDIRECTS; hops += 1) {
        const location = header(response, 'location');
        await response.body.dump();
        if (!location) throw new RegistryError(`${method} ${path}: redirect without a Location`, response.statusCode, 'invalid');
        const target = new URL(location, `${this.baseUrl}${path}`);
        const sameOrigin = target.origin === this.origin;
        response = await this.exchange(method, target.href, { ...(accept ? { accept } : {}), ...(sameOrigin && authorization ? { authorization } : {}) });
      }
      if (response.statusCode !== 401) return response;
      const challenge = parseChallenge(header(response, 'www-authenticate'));
      await response.body.dump();
      if (attempt > 0 || !challenge) {
        // insufficient_scope: the token service granted less than asked (a credential without delete rights).
        const refusal = challenge?.params.error ? ` ${challenge.params.error}` : '';
        throw new RegistryError(`${method} ${path}: the registry refused our credentials (401${refusal})`, 401, 'unauthorized');
      }
      fresh = await this.answer(challenge, scope, method, path);
    }
  }

  /** Answers a challenge: basic credentials from now on, or a bearer token for the scope (returned). */
  private async answer(challenge: AuthChallenge, scope: string | undefined, method: string, path: string): Promise<string | undefined> {
    if (challenge.scheme === 'basic') {
      if (!this.basicAuthorization()) {
        throw new RegistryError(`${method} ${path}: the registry asks for credentials (basic); set STATICREG_REGISTRY_USER and STATICREG_REGISTRY_PASSWORD`, 401, 'unauthorized');
      }
      if (this.scheme === 'basic') throw new RegistryError(`${method} ${path}: the registry refused our credentials (401)`, 401, 'unauthorized');
      this.scheme = 'basic';
      return undefined;
    }
    if (challenge.scheme === 'bearer') {
      this.scheme = 'bearer';
      return this.obtainToken(challenge, scope);
    }
    throw new RegistryError(`${method} ${path}: unsupported authentication scheme ${challenge.scheme}`, 401, 'unauthorized');
  }

  /** Asks the token service named by the challenge; concurrent requests for one scope share one token request. */
  private async obtainToken(challenge: AuthChallenge, scope: string | undefined): Promise<string> {
    const tokenScope = challenge.params.scope ?? scope ?? '';
    const key = `${challenge.params.realm ?? ''} ${challenge.params.service ?? ''} ${tokenScope}`;
    const pending = this.pendingTokens.get(key);
    if (pending) return pending;
    const work = this.requestToken(challenge, tokenScope, scope).finally(() => this.pendingTokens.delete(key));
    this.pendingTokens.set(key, work);
    return work;
  }

  private async requestToken(challenge: AuthChallenge, tokenScope: string, scope: string | undefined): Promise<string> {
    const realm = challenge.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new RegistryError('the registry asks for a bearer token but names no valid token realm', 401, 'unauthorized');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError(`token realm must be http(s), not ${url.protocol}`, 401, 'unauthorized');
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const part of tokenScope.split(' ').filter((value) => value !== '')) url.searchParams.append('scope', part);
    // Credentials go to a plain-http token service only when the registry itself is plain http.
    const basic = url.protocol === 'https:' || this.baseUrl.startsWith('http:') ? this.basicAuthorization() : undefined;
    const response = await this.exchange('GET', url.href, basic ? { authorization: basic } : {});
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new RegistryError(
        `token service ${url.host} answered ${response.statusCode} for scope ${tokenScope || '(none)'}`,
        response.statusCode === 401 || response.statusCode === 403 ? 401 : response.statusCode,
      );
    }
    const parsed = await readTokenAnswer(response, url.host);
    this.tokens.set(tokenScope, parsed.token, parsed.expiresIn);
    if (scope && scope !== tokenScope) this.tokens.set(scope, parsed.token, parsed.expiresIn);
    return parsed.token;
  }

  /** Fails with the registry's status and error code unless the answer is 200. */
  async ok(path: string, response: Dispatcher.ResponseData, method = 'GET'): Promise<Dispatcher.ResponseData> {
    if (response.statusCode === 200) return response;
    const { code, message } = method === 'HEAD' ? {} : await errorOf(response);
    if (method === 'HEAD') await response.body.dump();
    const detail = [code, message].filter((part) => part).join(' ');
    throw new RegistryError(`${method} ${path}: ${response.statusCode}${detail ? ` ${detail}` : ''}`, response.statusCode, undefined, code);
  }

  async readBody(path: string, response: Dispatcher.ResponseData, maxBytes: number): Promise<Buffer> {
    const length = Number(header(response, 'content-length') ?? 0);
    if (length > maxBytes) {
      await response.body.dump();
      throw new RegistryError(`GET ${path}: ${length} bytes is more than the ${maxBytes} allowed`, undefined, 'invalid');
    }
    const body = Buffer.from(await response.body.arrayBuffer());
    if (body.length > maxBytes) throw new RegistryError(`GET ${path}: more than the ${maxBytes} bytes allowed`, undefined, 'invalid');
    return body;
  }

  async getJson<T>(path: string, maxBytes = MAX_LIST_BYTES): Promise<{ json: T; response: Dispatcher.ResponseData }> {
    const response = await this.ok(path, await this.fetch(path));
    const body = await this.readBody(path, response, maxBytes);
    try {
      return { json: JSON.parse(body.toString('utf8')) as T, response };
    } catch {
      throw new RegistryError(`GET ${path}: the answer is not JSON`, undefined, 'invalid');
    }
  }
}
