// A small client of the OCI distribution API: manifests and blobs by digest, verified, with staticreg's User-Agent.
import { createHash } from 'node:crypto';
import { isValidDigest, MANIFEST_MEDIA_TYPES } from '@staticreg/events';

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface RegistryClientOptions {
  /** e.g. http://registry:5000 */
  baseUrl: string;
  userAgent: string;
  timeoutMs?: number;
}

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
  json: Record<string, unknown>;
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

function verify(digest: string, body: Buffer): void {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return;
  const actual = createHash(algorithm).update(body).digest('hex');
  if (actual !== hex) throw new RegistryError(`content of ${digest} does not match its digest`);
}

export class RegistryClient {
  private readonly timeoutMs: number;

  constructor(private readonly options: RegistryClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  private async get(path: string, accept?: string): Promise<Response> {
    const response = await fetch(`${this.options.baseUrl}${path}`, {
      headers: { 'user-agent': this.options.userAgent, ...(accept ? { accept } : {}) },
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'follow',
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new RegistryError(`GET ${path}: ${response.status}`, response.status);
    }
    return response;
  }

  /** A manifest by digest; its bytes are checked against the digest. */
  async getManifest(repository: string, digest: string): Promise<FetchedManifest> {
    if (!isValidDigest(digest)) throw new RegistryError(`not a digest: ${digest}`);
    const response = await this.get(`/v2/${repository}/manifests/${digest}`, ACCEPT);
    const body = Buffer.from(await response.arrayBuffer());
    verify(digest, body);
    const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const mediaType = (typeof json.mediaType === 'string' ? json.mediaType : undefined) ?? response.headers.get('content-type') ?? '';
    return { mediaType, digest, body, json };
  }

  /** A blob by digest (small ones: image configs), checked against the digest. */
  async getBlob(repository: string, digest: string, maxBytes = 4 * 1024 * 1024): Promise<Buffer> {
    if (!isValidDigest(digest)) throw new RegistryError(`not a digest: ${digest}`);
    const response = await this.get(`/v2/${repository}/blobs/${digest}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > maxBytes) {
      await response.body?.cancel();
      throw new RegistryError(`blob ${digest} is larger than ${maxBytes} bytes`);
    }
    const body = Buffer.from(await response.arrayBuffer());
    verify(digest, body);
    return body;
  }
}
