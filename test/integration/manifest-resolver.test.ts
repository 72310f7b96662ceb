// ManifestResolver against real Postgres and registries: bounded caches, and a batch that never waits for the registry.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { sql } from 'kysely';
import { pino } from 'pino';
import type { ManifestInfo, PullEvent } from '@staticreg/events';
import { saveManifestDescriptions } from '@staticreg/db';
import { ManifestResolver, countPerSession } from '@staticreg/ingest';
import { RegistryClient } from '@staticreg/registry';
import { buildImage, buildIndex, OCI_INDEX, writeOciLayout } from '../support/oci-layout.js';
import { makePull } from '../support/pulls.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { createTestDatabase, eventually, type TestDatabase } from '../support/services.js';

const silent = pino({ level: 'silent' });
const WINDOW_MS = 10_000;
const OCI_IMAGE = 'application/vnd.oci.image.manifest.v1+json';
// containerd sends no architecture: without the registry the pull is counted not-specified.
const CONTAINERD = { userAgent: 'containerd/v1.7.11', architecture: 'not-specified' };

const randomDigest = (): string => `sha256:${randomBytes(32).toString('hex')}`;

async function pullRows(database: TestDatabase): Promise<string[]> {
  const rows = await sql<{ line: string }>`
    select pull_date || ' ' || tag || ' ' || digest || ' ' || architecture || ' x' || pull_count as line from container_pull_metrics order by 1`.execute(database.db);
  return rows.rows.map((row) => row.line);
}

/** A TCP server that accepts connections, reads what it is sent, and never answers. */
interface BlackHole {
  port: number;
  /** What each still-open connection has sent so far. */
  openRequests(): string[];
  close(): Promise<void>;
}

async function startBlackHole(): Promise<BlackHole> {
  const sockets = new Map<Socket, string>();
  const server: Server = createServer((socket) => {
    sockets.set(socket, '');
    socket.on('data', (chunk: Buffer) => sockets.set(socket, sockets.get(socket)! + chunk.toString('latin1')));
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('black hole has no port');
  return {
    port: address.port,
    openRequests: () => [...sockets.values()],
    async close() {
      for (const socket of sockets.keys()) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('manifest resolver (real Postgres, real registries)', function () {
  let database: TestDatabase;
  let workDir: string;

  beforeEach(async () => {
    database = await createTestDatabase();
    workDir = await mkdtemp(join(tmpdir(), 'staticreg-resolver-'));
  });
  afterEach(async () => {
    await database.drop();
    await rm(workDir, { recursive: true, force: true });
  });

  describe('stays within its bounds', function () {
    let registry: TestRegistry;
    let client: RegistryClient;
    const limits = { descriptions: 50, childPlatforms: 60, unknown: 40, queued: 25, concurrency: 4 };

    beforeEach(async () => {
      registry = await startTestRegistry({ dir: join(workDir, 'registry') });
      client = new RegistryClient({ baseUrl: registry.baseUrl, userAgent: 'staticreg/test' });
    });
    afterEach(async () => {
      await client.close();
      await registry.stop();
    });

    it('forgets the oldest of many random digests the registry answers 404 for, and queues no more than its limit', async () => {
      const resolver = new ManifestResolver(client, silent, { limits });
      for (let batch = 0; batch < 8; batch += 1) {
        const events = Array.from({ length: 30 }, (_, i) => makePull(`r${batch}-${i}`, { repository: 'bounds/random', digest: randomDigest() }));
        const described = await resolver.describe(database.db, events);
        expect(described.size, 'nothing is known of random digests').to.equal(0);
        expect(resolver.sizes().queued, 'queued reads').to.be.at.most(limits.queued);
        await resolver.whenIdle();
        expect(resolver.sizes().unknown, 'digests waiting for their retry').to.be.at.most(limits.unknown);
      }
      // 240 digests named, more than the limit read and failed: the bound was reached, not just never approached.
      expect(resolver.sizes()).to.deep.include({ unknown: limits.unknown, queued: 0, running: 0 });
    });

    it('asks the registry again for a digest it could not describe after a minute, then after twice as long each time', async () => {
      let now = Date.parse('2026-11-27T09:00:00Z');
      const resolver = new ManifestResolver(client, silent, { now: () => now });
      const events = [makePull('missing', { repository: 'bounds/missing', digest: randomDigest() })];
      /** Whether naming the digest in a batch starts a registry read (it starts at once, or not at all). */
      const readsAgain = async (): Promise<boolean> => {
        await resolver.describe(database.db, events);
        const started = resolver.sizes().running === 1;
        await resolver.whenIdle();
        return started;
      };
      const reads: boolean[] = [];
      // Minutes after the first read (404): 0, 0.5, 1 (retry, fails), 2.5, 3 (retry after 2 min), 6.9, 7 (after 4).
      for (const minutes of [0, 0, 0.5, 1, 2.5, 3, 6.9, 7]) {
        now = Date.parse('2026-11-27T09:00:00Z') + minutes * 60_000;
        reads.push(await readsAgain());
      }
      expect(reads).to.deep.equal([true, false, false, true, false, true, false, true]);
      expect(resolver.sizes()).to.deep.include({ unknown: 1, descriptions: 0 });
    });

    it('keeps at most its limit of descriptions and children in memory, however many the table and the events hold', async () => {
      const resolver = new ManifestResolver(client, silent, { limits });
      const stored = new Map<string, ManifestInfo>(Array.from({ length: 200 }, () => [randomDigest(), { kind: 'image', platform: 'arm64' }]));
      await saveManifestDescriptions(database.db, stored);
      const named = [...stored.keys()].map((digest, i) => makePull(`d${i}`, { digest }));
      const described = await resolver.describe(database.db, named);
      expect(described.size, 'every stored description is answered').to.equal(200);

      // Indexes other workers read, each naming 20 children's platforms: remembered with their children.
      const indexes = new Map<string, ManifestInfo>(
        Array.from({ length: 10 }, () => [randomDigest(), { kind: 'index', children: new Map(Array.from({ length: 20 }, () => [randomDigest(), 'arm/v7'])) }]),
      );
      await saveManifestDescriptions(database.db, indexes);
      const withChildren = await resolver.describe(database.db, [...indexes.keys()].map((digest, i) => makePull(`i${i}`, { digest, mediaType: OCI_INDEX })));
      expect(withChildren.size).to.equal(10);
      const sizes = resolver.sizes();
      expect(sizes.descriptions).to.equal(limits.descriptions);
      expect(sizes.childPlatforms).to.equal(limits.childPlatforms);
      expect(sizes.queued + sizes.running, 'nothing to read from the registry').to.equal(0);
    });
  });

  describe('with a registry that accepts connections and never answers', function () {
    let blackHole: BlackHole;
    let client: RegistryClient;

    beforeEach(async () => {
      blackHole = await startBlackHole();
      // Timeouts far beyond the test's own: a batch that waited for the registry could not pass.
      client = new RegistryClient({ baseUrl: `http://127.0.0.1:${blackHole.port}`, userAgent: 'staticreg/test', timeoutMs: 3_600_000 });
    });
    afterEach(async () => {
      await blackHole.close();
      await client.close();
    });

    it('counts a batch with the User-Agent architecture while the registry still holds the read of its manifest', async () => {
      const resolver = new ManifestResolver(client, silent);
      const digest = randomDigest();
      const events: PullEvent[] = [makePull('hole-1', { ...CONTAINERD, repository: 'hole/app', digest, mediaType: OCI_IMAGE })];
      const result = await countPerSession(database.db, events, WINDOW_MS, await resolver.describe(database.db, events));
      expect(result.counted).to.equal(1);
      expect(await pullRows(database)).to.deep.equal([`2026-11-27 1.0 ${digest} not-specified x1`]);
      // The read the resolver started is at the registry, open and unanswered, after the batch was stored.
      const path = `GET /v2/hole/app/manifests/${digest} `;
      await eventually(async () => blackHole.openRequests().some((request) => request.startsWith(path)), 30_000, 'the manifest read at the registry');
      expect(resolver.sizes().running).to.equal(1);

      // A second batch naming the same digest starts no second read while the first is open.
      const again = [makePull('hole-2', { ...CONTAINERD, repository: 'hole/app', digest, mediaType: OCI_IMAGE, clientAddress: '10.9.9.9:1' })];
      await countPerSession(database.db, again, WINDOW_MS, await resolver.describe(database.db, again));
      expect(await pullRows(database)).to.deep.equal([`2026-11-27 1.0 ${digest} not-specified x2`]);
      expect(resolver.sizes()).to.deep.include({ running: 1, queued: 0 });
      expect(blackHole.openRequests().filter((request) => request.startsWith(path))).to.have.length(1);
      resolver.close();
    });
  });

  describe('with a registry that answers', function () {
    let registry: TestRegistry;
    let client: RegistryClient;

    beforeEach(async () => {
      registry = await startTestRegistry({ dir: join(workDir, 'registry') });
      client = new RegistryClient({ baseUrl: registry.baseUrl, userAgent: 'staticreg/test' });
    });
    afterEach(async () => {
      await client.close();
      await registry.stop();
    });

    it('describes an index in the background, with its children, for the batches after', async () => {
      const nonce = randomBytes(8).toString('hex');
      const amd64 = buildImage({ architecture: 'amd64', os: 'linux' }, 'a.txt', `amd64 ${nonce}`);
      const arm = buildImage({ architecture: 'arm', os: 'linux', variant: 'v7' }, 'a.txt', `arm ${nonce}`);
      const index = buildIndex([
        { platform: { architecture: 'amd64', os: 'linux' }, image: amd64 },
        { platform: { architecture: 'arm', os: 'linux', variant: 'v7' }, image: arm },
      ]);
      await writeOciLayout(join(workDir, 'layout'), '1.0', index);
      await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${join(workDir, 'layout')}:1.0`, `docker://${registry.host}/bg/app:1.0`);

      const resolver = new ManifestResolver(client, silent);
      const pull = (id: string, at: string, address: string): PullEvent[] => [
        makePull(`${id}-i`, { ...CONTAINERD, clientAddress: address, repository: 'bg/app', timestamp: at, digest: index.root.digest, mediaType: OCI_INDEX }),
        makePull(`${id}-c`, { ...CONTAINERD, clientAddress: address, repository: 'bg/app', timestamp: at, tag: '', digest: arm.root.digest, mediaType: OCI_IMAGE }),
      ];
      const first = pull('first', '2026-11-27T09:00:00.100Z', '10.0.0.1:1');
      await countPerSession(database.db, first, WINDOW_MS, await resolver.describe(database.db, first));
      const described = (await eventually(
        async () => {
          const rows = (await sql<{ digest: string; platform: string | null }>`select digest, platform from manifest_descriptions`.execute(database.db)).rows;
          return rows.length > 0 ? rows : undefined;
        },
        30_000,
        'the descriptions saved',
      ))!;
      await resolver.whenIdle();
      expect(Object.fromEntries(described.map((row) => [row.digest, row.platform]))).to.deep.equal({
        [index.root.digest]: null,
        [amd64.root.digest]: 'amd64',
        [arm.root.digest]: 'arm/v7',
      });

      // The next day, so its row is apart from the first batch's (counted before or after the read completed: either may be).
      const second = pull('second', '2026-11-28T09:00:00.200Z', '10.0.0.2:1');
      await countPerSession(database.db, second, WINDOW_MS, await resolver.describe(database.db, second));
      const rows = await pullRows(database);
      expect(rows, `the second client is counted with the platform the index names: ${rows.join(', ')}`).to.include(`2026-11-28 1.0 ${index.root.digest} arm/v7 x1`);
      expect(resolver.sizes()).to.deep.include({ queued: 0, running: 0, unknown: 0 });
    });
  });
});
