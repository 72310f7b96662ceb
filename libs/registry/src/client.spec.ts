import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { MANIFEST_MEDIA_TYPES } from '@staticreg/events';
import { RegistryClient, RegistryError, type RegistryClientOptions } from './client.js';

// Answers docker-registry 2.8.2 gave, recorded by test/support/record-registry-answers.ts.
interface Exchange {
  method: string;
  path: string;
  auth: 'none' | 'basic' | 'bearer';
  credentials?: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}
interface Recording {
  exchanges: Exchange[];
  digests?: { indexDigest: string; amd64Digest: string; configDigest: string };
}
const load = (name: string): Recording => JSON.parse(readFileSync(new URL(`./testdata/${name}.json`, import.meta.url), 'utf8')) as Recording;

interface Received {
  method: string;
  path: string;
  auth: string;
  userAgent: string | undefined;
  accept: string | undefined;
  authorization: string | undefined;
}

function authKind(req: IncomingMessage): string {
  const value = req.headers.authorization ?? '';
  return value.startsWith('Basic ') ? 'basic' : value.startsWith('Bearer ') ? 'bearer' : 'none';
}

/** Serves recorded exchanges by (method, path, kind of Authorization); anything unrecorded is a 599. */
async function replay(exchanges: Exchange[]): Promise<{ origin: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  let origin = '';
  const server: Server = createServer((req, res) => {
    const auth = authKind(req);
    received.push({
      method: req.method ?? '',
      path: req.url ?? '',
      auth,
      userAgent: req.headers['user-agent'],
      accept: req.headers.accept,
      authorization: req.headers.authorization,
    });
    const credentials = auth === 'basic' ? Buffer.from(req.headers.authorization!.slice(6), 'base64').toString('utf8') : undefined;
    const exchange = exchanges.find(
      (candidate) =>
        candidate.method === req.method &&
        candidate.path === req.url &&
        candidate.auth === auth &&
        (candidate.credentials === undefined || candidate.credentials === credentials),
    );
    if (!exchange) {
      res.writeHead(599).end(`not recorded: ${req.method} ${req.url} (${auth})`);
      return;
    }
    const headers = Object.fromEntries(Object.entries(exchange.headers).map(([name, value]) => [name, value.replaceAll('{{origin}}', origin)]));
    res.writeHead(exchange.status, headers).end(exchange.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const USER_AGENT = 'staticreg/0.1.0 (+https://github.com/staticreg/staticreg)';

async function expectError(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  throw new Error('expected a RegistryError');
}

describe('RegistryClient against recorded docker-registry 2.8.2 answers', () => {
  const clients: RegistryClient[] = [];
  const servers: Array<{ close(): Promise<void> }> = [];
  async function setUp(recording: string, options: Partial<RegistryClientOptions> = {}, edit?: (exchanges: Exchange[]) => void) {
    const exchanges = structuredClone(load(recording).exchanges);
    edit?.(exchanges);
    const server = await replay(exchanges);
    servers.push(server);
    const client = new RegistryClient({ baseUrl: server.origin, userAgent: USER_AGENT, timeoutMs: 2000, ...options });
    clients.push(client);
    return { server, client };
  }
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  describe('anonymous', () => {
    const { digests } = load('anonymous');

    it('follows the catalog Link header page by page', async () => {
      const { client } = await setUp('anonymous');
      expect(await client.listRepositories({ pageSize: 3 })).to.deep.equal({
        repositories: ['rec/alpha', 'rec/beta', 'rec/gamma/delta'],
        next: 'rec/gamma/delta',
      });
      const pages: string[][] = [];
      for await (const page of client.repositories(3)) pages.push(page);
      expect(pages).to.deep.equal([['rec/alpha', 'rec/beta', 'rec/gamma/delta'], ['zeta']]);
    });

    it('lists tags, and reports an unknown repository as not-found with the registry code', async () => {
      const { client } = await setUp('anonymous');
      expect(await client.listTags('rec/alpha')).to.deep.equal(['multi', '1.0']);
      const error = await expectError(client.listTags('missing'));
      expect({ kind: error.kind, status: error.status, code: error.code }).to.deep.equal({ kind: 'not-found', status: 404, code: 'NAME_UNKNOWN' });
    });

    it('fetches manifests by tag and by digest with all four media types accepted, checking the digest', async () => {
      const { client, server } = await setUp('anonymous');
      const index = await client.getManifest('rec/alpha', 'multi');
      expect(index.mediaType).to.equal('application/vnd.oci.image.index.v1+json');
      expect(index.digest).to.equal(digests!.indexDigest);
      const byTag = await client.getManifest('rec/alpha', '1.0');
      const byDigest = await client.getManifest('rec/alpha', digests!.amd64Digest);
      expect(byTag.digest).to.equal(digests!.amd64Digest);
      expect(byDigest.body.equals(byTag.body)).to.equal(true);
      const accepted = server.received.filter((request) => request.path.includes('/manifests/')).map((request) => request.accept?.split(', ').sort());
      expect(accepted).to.deep.equal(Array(3).fill([...MANIFEST_MEDIA_TYPES].sort()));
      const unknown = await expectError(client.getManifest('rec/alpha', 'nope'));
      expect([unknown.kind, unknown.code]).to.deep.equal(['not-found', 'MANIFEST_UNKNOWN']);
    });

    it('refuses a manifest whose bytes do not match the Docker-Content-Digest', async () => {
      const { client } = await setUp('anonymous', {}, (exchanges) => {
        const exchange = exchanges.find((candidate) => candidate.path === '/v2/rec/alpha/manifests/1.0')!;
        exchange.body = exchange.body.replace('"schemaVersion":2', '"schemaVersion": 2');
      });
      const error = await expectError(client.getManifest('rec/alpha', '1.0'));
      expect(error.kind).to.equal('invalid');
      expect(error.message).to.match(/does not match/);
    });

    it('reads a config blob and checks it against its digest', async () => {
      const { client } = await setUp('anonymous');
      const config = JSON.parse((await client.getBlob('rec/alpha', digests!.configDigest)).toString('utf8')) as Record<string, unknown>;
      expect(config).to.include({ created: '2026-03-01T10:00:00Z', architecture: 'amd64', os: 'linux' });
    });

    it('sends staticreg User-Agent with every request', async () => {
      const { client, server } = await setUp('anonymous');
      await client.ping();
      await client.listTags('rec/alpha');
      await client.getManifest('rec/alpha', 'multi');
      await client.getBlob('rec/alpha', digests!.configDigest);
      expect(server.received.map((request) => request.userAgent)).to.deep.equal(Array(4).fill(USER_AGENT));
    });
  });

  describe('basic auth (htpasswd)', () => {
    it('answers the Basic challenge once, then sends the credentials with every request', async () => {
      const { client, server } = await setUp('basic', { credentials: { kind: 'basic', username: 'reader', password: 'reader-secret' } });
      expect(await client.listRepositories()).to.deep.equal({ repositories: ['rec/alpha', 'rec/beta', 'rec/gamma/delta', 'zeta'], next: undefined });
      expect(await client.listTags('rec/alpha')).to.deep.equal(['multi', '1.0']);
      expect(server.received.map((request) => [request.path, request.auth])).to.deep.equal([
        ['/v2/_catalog?n=1000', 'none'],
        ['/v2/_catalog?n=1000', 'basic'],
        ['/v2/rec/alpha/tags/list?n=1000', 'basic'],
      ]);
    });

    it('says which variables to set when the registry wants credentials it was not given', async () => {
      const { client } = await setUp('basic');
      const error = await expectError(client.listRepositories());
      expect(error.kind).to.equal('unauthorized');
      expect(error.message).to.include('STATICREG_REGISTRY_USER');
    });
  });

  describe('bearer token flow', () => {
    const credentials = { kind: 'basic' as const, username: 'reader', password: 'reader-secret' };

    it('gets a token per scope from the realm, caches it, and asks again for another repository', async () => {
      const { client, server } = await setUp('token', { credentials });
      expect((await client.listRepositories()).repositories).to.have.length(4);
      expect(await client.listTags('rec/alpha')).to.deep.equal(['multi', '1.0']);
      expect(await client.listTags('rec/alpha')).to.deep.equal(['multi', '1.0']);
      expect(await client.listTags('rec/beta')).to.deep.equal(['1.0']);
      expect(server.received.map((request) => `${request.auth} ${decodeURIComponent(request.path)}`)).to.deep.equal([
        'none /v2/_catalog?n=1000',
        'basic /token?service=staticreg-test-registry&scope=registry:catalog:*',
        'bearer /v2/_catalog?n=1000',
        'none /v2/rec/alpha/tags/list?n=1000',
        'basic /token?service=staticreg-test-registry&scope=repository:rec/alpha:pull',
        'bearer /v2/rec/alpha/tags/list?n=1000',
        'bearer /v2/rec/alpha/tags/list?n=1000',
        'none /v2/rec/beta/tags/list?n=1000',
        'basic /token?service=staticreg-test-registry&scope=repository:rec/beta:pull',
        'bearer /v2/rec/beta/tags/list?n=1000',
      ]);
      // The token of one repository is not sent for another.
      const alphaToken = server.received[5]!.authorization;
      expect(server.received[9]!.authorization).to.not.equal(alphaToken);
    });

    it('reports refused credentials without the password in the message', async () => {
      const { client } = await setUp('token', { credentials: { kind: 'basic', username: 'reader', password: 'wrong' } });
      const error = await expectError(client.listTags('rec/alpha'));
      expect(error.kind).to.equal('unauthorized');
      expect(error.message).to.match(/token service .* answered 401/);
      expect(error.message).to.not.include('wrong');
    });
  });

  it('reports an unreachable registry as unavailable', async () => {
    const server = await replay([]);
    await server.close();
    const client = new RegistryClient({ baseUrl: server.origin, userAgent: USER_AGENT, timeoutMs: 2000 });
    clients.push(client);
    const error = await expectError(client.listRepositories());
    expect(error.kind).to.equal('unavailable');
    expect(error.message).to.match(/ECONNREFUSED/);
  });

  it('follows a blob redirect to another origin without sending our credentials there', async () => {
    const { digests } = load('anonymous');
    const config = load('anonymous').exchanges.find((exchange) => exchange.path.includes('/blobs/'))!;
    const store = await replay([{ ...config, path: '/signed/config?sig=1' }]);
    servers.push(store);
    const { client } = await setUp('basic', { credentials: { kind: 'basic', username: 'reader', password: 'reader-secret' } }, (exchanges) => {
      exchanges.push({ method: 'GET', path: `/v2/rec/alpha/blobs/${digests!.configDigest}`, auth: 'basic', status: 307, headers: { location: `${store.origin}/signed/config?sig=1` }, body: '' });
    });
    await client.listRepositories();
    await client.getBlob('rec/alpha', digests!.configDigest);
    expect(store.received.map((request) => [request.path, request.authorization])).to.deep.equal([['/signed/config?sig=1', undefined]]);
  });
});
