// A client of the OCI distribution API: catalog, tags, manifests and blobs, with staticreg's User-Agent,
// custom TLS trust, and anonymous, basic or bearer-token access (tokens cached per repository scope).
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { isValidDigest, MANIFEST_MEDIA_TYPES } from '@staticreg/events';
import { parseChallenge, parseNextLink, parseTokenResponse, scopeForPath, TokenCache, type AuthChallenge } from './auth.js';

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

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
  json: Record<string, unknown>;
}

export interface RepositoryPage {
  repositories: string[];
  /** The `last` of the next page, from the Link header; undefined on the last page. */
  next: string | undefined;
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

const ACCEPT = [...MANIFEST_MEDIA_TYPES].join(', ');
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 3;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_LIST_BYTES = 64 * 1024 * 1024;

function verify(digest: string, body: Buffer): void {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return;
  const actual = createHash(algorithm).update(body).digest('hex');
  if (actual !== hex) throw new RegistryError(`content of ${digest} does not match its digest`, undefined, 'invalid');
}

function header(response: Dispatcher.ResponseData, name: string): string | undefined {
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
async function errorOf(response: Dispatcher.ResponseData): Promise<{ code?: string; message?: string }> {
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

export class RegistryClient {
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
  private async exchange(method: 'GET' | 'HEAD', url: string, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
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
  private async fetch(path: string, method: 'GET' | 'HEAD' = 'GET', accept?: string): Promise<Dispatcher.ResponseData> {
    const scope = scopeForPath(path);
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
        throw new RegistryError(`${method} ${path}: the registry refused our credentials (401)`, 401, 'unauthorized');
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
  private async ok(path: string, response: Dispatcher.ResponseData, method = 'GET'): Promise<Dispatcher.ResponseData> {
    if (response.statusCode === 200) return response;
    const { code, message } = method === 'HEAD' ? {} : await errorOf(response);
    if (method === 'HEAD') await response.body.dump();
    const detail = [code, message].filter((part) => part).join(' ');
    throw new RegistryError(`${method} ${path}: ${response.statusCode}${detail ? ` ${detail}` : ''}`, response.statusCode, undefined, code);
  }

  private async readBody(path: string, response: Dispatcher.ResponseData, maxBytes: number): Promise<Buffer> {
    const length = Number(header(response, 'content-length') ?? 0);
    if (length > maxBytes) {
      await response.body.dump();
      throw new RegistryError(`GET ${path}: ${length} bytes is more than the ${maxBytes} allowed`, undefined, 'invalid');
    }
    const body = Buffer.from(await response.body.arrayBuffer());
    if (body.length > maxBytes) throw new RegistryError(`GET ${path}: more than the ${maxBytes} bytes allowed`, undefined, 'invalid');
    return body;
  }

  private async getJson<T>(path: string, maxBytes = MAX_LIST_BYTES): Promise<{ json: T; response: Dispatcher.ResponseData }> {
    const response = await this.ok(path, await this.fetch(path));
    const body = await this.readBody(path, response, maxBytes);
    try {
      return { json: JSON.parse(body.toString('utf8')) as T, response };
    } catch {
      throw new RegistryError(`GET ${path}: the answer is not JSON`, undefined, 'invalid');
    }
  }

  /** GET /v2/: resolves when the registry answers as a v2 registry (a 401 challenge counts: it is there). */
  async ping(): Promise<void> {
    const response = await this.exchange('GET', `${this.baseUrl}/v2/`, {});
    await response.body.dump();
    if (response.statusCode === 200 || response.statusCode === 401) return;
    throw new RegistryError(`GET /v2/: ${response.statusCode}`, response.statusCode);
  }

  /** One page of the catalog: at most `pageSize` names after `last` (registry 2.8+ caps pages at 1,000). */
  async listRepositories(options: { pageSize?: number; last?: string } = {}): Promise<RepositoryPage> {
    const params = new URLSearchParams({ n: String(options.pageSize ?? 1000) });
    if (options.last !== undefined) params.set('last', options.last);
    const path = `/v2/_catalog?${params}`;
    const { json, response } = await this.getJson<{ repositories?: unknown }>(path);
    const repositories = Array.isArray(json.repositories) ? json.repositories.filter((name): name is string => typeof name === 'string') : [];
    const link = parseNextLink(header(response, 'link'));
    const next = link === undefined ? undefined : (new URL(link, this.baseUrl).searchParams.get('last') ?? repositories.at(-1));
    // A registry that sends a Link back to the same page would loop forever.
    return { repositories, next: next !== undefined && next !== options.last && repositories.length > 0 ? next : undefined };
  }

  /** Every repository name, page by page, following the Link header. */
  async *repositories(pageSize = 1000): AsyncGenerator<string[]> {
    let last: string | undefined;
    for (;;) {
      const page = await this.listRepositories({ pageSize, ...(last !== undefined ? { last } : {}) });
      if (page.repositories.length > 0) yield page.repositories;
      if (page.next === undefined) return;
      last = page.next;
    }
  }

  /** Every tag of a repository (registry 3 pages them with n/last and Link; 2.8 sends them all at once). */
  async listTags(repository: string, pageSize = 1000): Promise<string[]> {
    const tags: string[] = [];
    let last: string | undefined;
    for (let pages = 0; pages < 100_000; pages += 1) {
      const params = new URLSearchParams({ n: String(pageSize) });
      if (last !== undefined) params.set('last', last);
      const { json, response } = await this.getJson<{ tags?: unknown }>(`/v2/${repository}/tags/list?${params}`);
      const page = Array.isArray(json.tags) ? json.tags.filter((tag): tag is string => typeof tag === 'string') : [];
      tags.push(...page);
      const link = parseNextLink(header(response, 'link'));
      const next = link === undefined ? undefined : (new URL(link, this.baseUrl).searchParams.get('last') ?? page.at(-1));
      if (next === undefined || next === last || page.length === 0) break;
      last = next;
    }
    return [...new Set(tags)];
  }

  /**
   * A manifest by tag or digest, with all four manifest types accepted. The bytes are checked against the digest
   * asked for, or against the Docker-Content-Digest the registry sent for a tag.
   */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const byDigest = reference.includes(':');
    if (byDigest && !isValidDigest(reference)) throw new RegistryError(`not a digest: ${reference}`, undefined, 'invalid');
    const path = `/v2/${repository}/manifests/${reference}`;
    const response = await this.ok(path, await this.fetch(path, 'GET', ACCEPT));
    const body = await this.readBody(path, response, MAX_MANIFEST_BYTES);
    const sent = header(response, 'docker-content-digest');
    let digest: string;
    if (byDigest) {
      digest = reference;
    } else if (sent && isValidDigest(sent) && !sent.startsWith('sha256:')) {
      digest = sent;
    } else {
      digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      if (sent && sent !== digest) throw new RegistryError(`GET ${path}: content does not match Docker-Content-Digest ${sent}`, undefined, 'invalid');
    }
    verify(digest, body);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new RegistryError(`GET ${path}: the manifest is not JSON`, undefined, 'invalid');
    }
    const contentType = header(response, 'content-type')?.split(';')[0]?.trim();
    const mediaType = (typeof json.mediaType === 'string' ? json.mediaType : undefined) ?? contentType ?? '';
    return { mediaType, digest, body, json };
  }

  /** A blob by digest (small ones: image configs), checked against the digest. */
  async getBlob(repository: string, digest: string, maxBytes = 4 * 1024 * 1024): Promise<Buffer> {
    if (!isValidDigest(digest)) throw new RegistryError(`not a digest: ${digest}`, undefined, 'invalid');
    const path = `/v2/${repository}/blobs/${digest}`;
    const response = await this.ok(path, await this.fetch(path));
    const body = await this.readBody(path, response, maxBytes);
    verify(digest, body);
    return body;
  }
}
