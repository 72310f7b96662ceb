// Records docker-registry 2.8.2's answers (anonymous, htpasswd, token auth) into libs/registry/src/testdata/,
// which the client's unit tests replay. Run: npx tsx --conditions=staticreg-source test/support/record-registry-answers.ts
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { REPO_ROOT } from './processes.js';
import { skopeo } from './registry.js';
import { startTestRegistry, startTokenService, type TestRegistry } from './registry-servers.js';
import { writeOciLayout } from './oci-layout.js';
import { buildSpecImage, buildSpecIndex } from './images.js';

export interface RecordedExchange {
  method: 'GET' | 'HEAD';
  /** Path and query, as sent. */
  path: string;
  /** Which Authorization the request carried. */
  auth: 'none' | 'basic' | 'bearer';
  /** user:password of a Basic Authorization (test credentials only). */
  credentials?: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

const KEPT_HEADERS = ['content-type', 'docker-content-digest', 'link', 'www-authenticate', 'location', 'docker-distribution-api-version'];
const ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

async function record(origin: string, exchanges: RecordedExchange[], path: string, authorization?: string, tokenOrigin?: string): Promise<RecordedExchange> {
  const response = await request(`${origin}${path}`, {
    headers: { accept: ACCEPT, 'user-agent': 'staticreg-recorder', ...(authorization ? { authorization } : {}) },
  });
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = response.headers[name];
    if (typeof value === 'string') headers[name] = tokenOrigin ? value.replaceAll(tokenOrigin, '{{origin}}') : value;
  }
  const body = await response.body.text();
  const exchange: RecordedExchange = {
    method: 'GET',
    path,
    auth: authorization?.startsWith('Basic') ? 'basic' : authorization?.startsWith('Bearer') ? 'bearer' : 'none',
    ...(authorization?.startsWith('Basic ') ? { credentials: Buffer.from(authorization.slice(6), 'base64').toString('utf8') } : {}),
    status: response.statusCode,
    headers,
    body,
  };
  exchanges.push(exchange);
  return exchange;
}

async function fill(registry: TestRegistry, dir: string, auth: string[] = []): Promise<{ indexDigest: string; amd64Digest: string; configDigest: string }> {
  const amd64 = buildSpecImage({
    platform: { architecture: 'amd64', os: 'linux' },
    created: '2026-03-01T10:00:00Z',
    labels: { 'org.opencontainers.image.title': 'recorded' },
    layers: [['a.txt', 'recorded amd64\n']],
  });
  const arm64 = buildSpecImage({
    platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
    created: '2026-03-01T10:00:00Z',
    layers: [['a.txt', 'recorded arm64\n']],
  });
  const index = buildSpecIndex([amd64, arm64], [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);
  await writeOciLayout(join(dir, 'index'), 'x', index);
  await writeOciLayout(join(dir, 'single'), 'x', amd64);
  const dest = ['--dest-tls-verify=false', ...auth];
  for (const repository of ['rec/alpha', 'rec/beta', 'rec/gamma/delta', 'zeta']) {
    await skopeo('copy', ...dest, `oci:${join(dir, 'single')}:x`, `docker://${registry.host}/${repository}:1.0`);
  }
  await skopeo('copy', '--all', ...dest, `oci:${join(dir, 'index')}:x`, `docker://${registry.host}/rec/alpha:multi`);
  return { indexDigest: index.root.digest, amd64Digest: amd64.root.digest, configDigest: amd64.configDigest };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'staticreg-record-'));
  const out = join(REPO_ROOT, 'libs/registry/src/testdata');
  const basic = `Basic ${Buffer.from('reader:reader-secret').toString('base64')}`;
  try {
    // Anonymous: catalog pages, tags, manifests of each kind, a config blob, errors.
    const anonymous = await startTestRegistry({ dir: join(dir, 'anonymous') });
    const digests = await fill(anonymous, dir);
    const exchanges: RecordedExchange[] = [];
    await record(anonymous.baseUrl, exchanges, '/v2/');
    await record(anonymous.baseUrl, exchanges, '/v2/_catalog?n=3');
    await record(anonymous.baseUrl, exchanges, '/v2/_catalog?n=3&last=rec%2Fgamma%2Fdelta');
    await record(anonymous.baseUrl, exchanges, '/v2/_catalog?n=1000');
    await record(anonymous.baseUrl, exchanges, '/v2/rec/alpha/tags/list?n=1000');
    await record(anonymous.baseUrl, exchanges, '/v2/missing/tags/list?n=1000');
    await record(anonymous.baseUrl, exchanges, '/v2/rec/alpha/manifests/multi');
    await record(anonymous.baseUrl, exchanges, '/v2/rec/alpha/manifests/1.0');
    await record(anonymous.baseUrl, exchanges, `/v2/rec/alpha/manifests/${digests.amd64Digest}`);
    await record(anonymous.baseUrl, exchanges, '/v2/rec/alpha/manifests/nope');
    await record(anonymous.baseUrl, exchanges, `/v2/rec/alpha/blobs/${digests.configDigest}`);
    await anonymous.stop();
    await writeFile(join(out, 'anonymous.json'), `${JSON.stringify({ recordedWith: 'docker-registry 2.8.2 (Debian), no auth', digests, exchanges }, null, 2)}\n`);

    // htpasswd: the Basic challenge, then the same request with credentials.
    const htpasswd = await startTestRegistry({ dir: join(dir, 'htpasswd'), auth: { kind: 'htpasswd', users: { reader: 'reader-secret' } } });
    await fill(htpasswd, join(dir, 'h'), ['--dest-creds', 'reader:reader-secret']);
    const basicExchanges: RecordedExchange[] = [];
    await record(htpasswd.baseUrl, basicExchanges, '/v2/_catalog?n=1000');
    await record(htpasswd.baseUrl, basicExchanges, '/v2/_catalog?n=1000', basic);
    await record(htpasswd.baseUrl, basicExchanges, '/v2/rec/alpha/tags/list?n=1000', basic);
    await htpasswd.stop();
    await writeFile(join(out, 'basic.json'), `${JSON.stringify({ recordedWith: 'docker-registry 2.8.2 (Debian), htpasswd', exchanges: basicExchanges }, null, 2)}\n`);

    // Token: the Bearer challenge with its scope, the token service's answer, the request with the token.
    const tokens = await startTokenService(join(dir, 'token-service'), { reader: { password: 'reader-secret', push: true } });
    const tokenOrigin = new URL(tokens.realm).origin;
    const token = await startTestRegistry({
      dir: join(dir, 'token'),
      auth: { kind: 'token', realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle },
    });
    await fill(token, join(dir, 't'), ['--dest-creds', 'reader:reader-secret']);
    const tokenExchanges: RecordedExchange[] = [];
    for (const [path, scope] of [
      ['/v2/_catalog?n=1000', 'registry:catalog:*'],
      ['/v2/rec/alpha/tags/list?n=1000', 'repository:rec/alpha:pull'],
      ['/v2/rec/beta/tags/list?n=1000', 'repository:rec/beta:pull'],
    ] as const) {
      await record(token.baseUrl, tokenExchanges, path, undefined, tokenOrigin);
      const tokenPath = `/token?service=${encodeURIComponent(tokens.service)}&scope=${encodeURIComponent(scope)}`;
      const answer = await record(tokenOrigin, tokenExchanges, tokenPath, basic, tokenOrigin);
      const issued = JSON.parse(answer.body) as { token: string };
      await record(token.baseUrl, tokenExchanges, path, `Bearer ${issued.token}`, tokenOrigin);
    }
    await record(tokenOrigin, tokenExchanges, `/token?service=${encodeURIComponent(tokens.service)}&scope=${encodeURIComponent('repository:rec/alpha:pull')}`, `Basic ${Buffer.from('reader:wrong').toString('base64')}`, tokenOrigin);
    await token.stop();
    await tokens.stop();
    await writeFile(join(out, 'token.json'), `${JSON.stringify({ recordedWith: 'docker-registry 2.8.2 (Debian), token auth', exchanges: tokenExchanges }, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
