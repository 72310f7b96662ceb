// A client of the OCI distribution API: catalog, tags, manifests and blobs, and deleting manifests, with
// staticreg's User-Agent, custom TLS trust, and anonymous, basic or bearer-token access (transport.ts).
import { createHash } from 'node:crypto';
import { isValidDigest, MANIFEST_MEDIA_TYPES } from '@staticreg/events';
import { parseNextLink } from './auth.js';
import { deleteManifest, probeDeleteRights, type DeleteRights, type ManifestDeletion } from './manifest-deletes.js';
import { header, RegistryError, RegistryTransport, type RegistryClientOptions } from './transport.js';

export {
  readTokenAnswer,
  registryBaseUrl,
  registryDispatcher,
  RegistryError,
  type RegistryClientOptions,
  type RegistryCredentials,
  type RegistryErrorKind,
  type RegistryTlsOptions,
} from './transport.js';

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

const ACCEPT = [...MANIFEST_MEDIA_TYPES].join(', ');
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function verify(digest: string, body: Buffer): void {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return;
  const actual = createHash(algorithm).update(body).digest('hex');
  if (actual !== hex) throw new RegistryError(`content of ${digest} does not match its digest`, undefined, 'invalid');
}

export class RegistryClient {
  readonly baseUrl: string;
  private readonly http: RegistryTransport;

  constructor(options: RegistryClientOptions) {
    this.http = new RegistryTransport(options);
    this.baseUrl = this.http.baseUrl;
  }

  /** Closes the connections to the registry. */
  async close(): Promise<void> {
    await this.http.close();
  }

  /** GET /v2/: resolves when the registry answers as a v2 registry (a 401 challenge counts: it is there). */
  async ping(): Promise<void> {
    const response = await this.http.exchange('GET', `${this.baseUrl}/v2/`, {});
    await response.body.dump();
    if (response.statusCode === 200 || response.statusCode === 401) return;
    throw new RegistryError(`GET /v2/: ${response.statusCode}`, response.statusCode);
  }

  /** One page of the catalog: at most `pageSize` names after `last` (registry 2.8+ caps pages at 1,000). */
  async listRepositories(options: { pageSize?: number; last?: string } = {}): Promise<RepositoryPage> {
    const params = new URLSearchParams({ n: String(options.pageSize ?? 1000) });
    if (options.last !== undefined) params.set('last', options.last);
    const path = `/v2/_catalog?${params}`;
    const { json, response } = await this.http.getJson<{ repositories?: unknown }>(path);
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
      const { json, response } = await this.http.getJson<{ tags?: unknown }>(`/v2/${repository}/tags/list?${params}`);
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
    const response = await this.http.ok(path, await this.http.fetch(path, 'GET', ACCEPT));
    const body = await this.http.readBody(path, response, MAX_MANIFEST_BYTES);
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
    const response = await this.http.ok(path, await this.http.fetch(path));
    const body = await this.http.readBody(path, response, maxBytes);
    verify(digest, body);
    return body;
  }

  /**
   * The digest a tag points to now (HEAD, Docker-Content-Digest), or undefined when the tag is gone: the re-check
   * before a delete, without reading the manifest.
   */
  async manifestDigest(repository: string, tag: string): Promise<string | undefined> {
    const path = `/v2/${repository}/manifests/${tag}`;
    const response = await this.http.fetch(path, 'HEAD', ACCEPT);
    if (response.statusCode === 404) {
      await response.body.dump();
      return undefined;
    }
    await this.http.ok(path, response, 'HEAD');
    await response.body.dump();
    const sent = header(response, 'docker-content-digest');
    if (!sent || !isValidDigest(sent)) throw new RegistryError(`HEAD ${path}: no valid Docker-Content-Digest`, undefined, 'invalid');
    return sent;
  }

  /** Deletes a manifest by digest (every tag on it goes with it); see manifest-deletes.ts for the answers. */
  async deleteManifest(repository: string, digest: string): Promise<ManifestDeletion> {
    return deleteManifest(this.http, repository, digest);
  }

  /** Whether our credential may delete in this repository, asked without deleting anything. */
  async probeDeleteRights(repository: string): Promise<DeleteRights> {
    return probeDeleteRights(this.http, repository);
  }
}
