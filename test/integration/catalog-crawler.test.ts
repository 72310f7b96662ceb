// The crawler against a real docker-registry 2.8.2 filled by skopeo with every manifest kind browse must show.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { STATICREG_USER_AGENT } from '@staticreg/config';
import { Crawler, MemoryCatalogStore, platformLabel, type ImageDetails, type IndexDetails } from '@staticreg/catalog';
import { RegistryClient } from '@staticreg/registry';
import { writeOciLayout, type Platform } from '../support/oci-layout.js';
import { buildSpecImage, buildSpecIndex, type BuiltImage } from '../support/images.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';

const AMD64: Platform = { architecture: 'amd64', os: 'linux' };
const ARM64: Platform = { architecture: 'arm64', os: 'linux', variant: 'v8' };
const sizeOf = (image: BuiltImage): number => image.config.length + image.layerSizes.reduce((sum, size) => sum + size, 0);

describe('catalog crawler against docker-registry 2.8.2 (skopeo-filled)', function () {
  this.timeout(120_000);
  let dir: string;
  let registry: TestRegistry;
  let client: RegistryClient;
  let store: MemoryCatalogStore;
  let crawler: Crawler;
  const images: Record<string, BuiltImage> = {};
  let indexDigest: string;
  let listDigest: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-crawl-'));
    registry = await startTestRegistry({ dir: join(dir, 'registry') });
    const full = {
      created: '2026-04-01T12:00:00Z',
      labels: { 'org.opencontainers.image.source': 'https://example.test/app', maintainer: 'ops' },
      entrypoint: ['/app'],
      cmd: ['--port', '8080'],
      exposedPorts: ['8080/tcp'],
      history: [{ created: '2026-04-01T11:59:00Z', created_by: 'COPY app /app' }, { created_by: 'EXPOSE 8080', empty_layer: true }],
    };
    images.docker = buildSpecImage({ platform: AMD64, ...full, layers: [['app', 'docker image'], ['etc', 'config']] });
    images.oci = buildSpecImage({ platform: AMD64, ...full, created: '2026-04-02T12:00:00Z', layers: [['app', 'oci image']] });
    images.nodate = buildSpecImage({ platform: AMD64, layers: [['app', 'no created date']] });
    images.amd64 = buildSpecImage({ platform: AMD64, created: '2026-04-03T00:00:00Z', layers: [['app', 'index amd64']] });
    images.arm64 = buildSpecImage({ platform: ARM64, created: '2026-04-04T00:00:00Z', layers: [['app', 'index arm64'], ['lib', 'arm64 lib']] });
    const index = buildSpecIndex([images.amd64, images.arm64], [AMD64, ARM64]);
    indexDigest = index.root.digest;
    const layouts: Array<[string, Parameters<typeof writeOciLayout>[2]]> = [
      ['docker', images.docker],
      ['oci', images.oci],
      ['nodate', images.nodate],
      ['index', index],
    ];
    for (const [name, artifact] of layouts) await writeOciLayout(join(dir, name), 'x', artifact);
    const dest = '--dest-tls-verify=false';
    const to = (reference: string): string => `docker://${registry.host}/${reference}`;
    await skopeo('copy', dest, '--format', 'v2s2', `oci:${join(dir, 'docker')}:x`, to('kinds/docker:1.0'));
    await skopeo('copy', dest, `oci:${join(dir, 'oci')}:x`, to('kinds/oci:1.0'));
    await skopeo('copy', dest, `oci:${join(dir, 'oci')}:x`, to('kinds/oci:latest'));
    await skopeo('copy', dest, `oci:${join(dir, 'nodate')}:x`, to('kinds/nodate:1.0'));
    await skopeo('copy', '--all', dest, `oci:${join(dir, 'index')}:x`, to('kinds/index:1.0'));
    await skopeo('copy', '--all', dest, '--format', 'v2s2', `oci:${join(dir, 'index')}:x`, to('kinds/list:1.0'));
    await skopeo('copy', dest, `oci:${join(dir, 'oci')}:x`, to('deep/a/b/c:1'));
    const head = await fetch(`${registry.baseUrl}/v2/kinds/list/manifests/1.0`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.docker.distribution.manifest.list.v2+json' },
    });
    listDigest = head.headers.get('docker-content-digest')!;
    client = new RegistryClient({ baseUrl: registry.baseUrl, userAgent: STATICREG_USER_AGENT });
    store = new MemoryCatalogStore({ maxTags: 10_000 });
    crawler = new Crawler({ registry: client, store, log: pino({ level: 'silent' }), concurrency: 3, intervalMs: 60_000 });
    await crawler.runPass();
  });

  after(async () => {
    await crawler?.stop();
    await client?.close();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists every repository and tag, as a tree', async () => {
    expect(await store.stats()).to.include({ repositories: 6, tags: 7, neverRefreshed: 0 });
    const root = await store.listFolder('', 0, 50);
    expect(root.entries.map((entry) => [entry.path, entry.repositoriesBelow, entry.tags])).to.deep.equal([
      ['deep', 1, 1],
      ['kinds', 5, 6],
    ]);
    expect(crawler.status).to.include({ passTotal: 6, passDone: 6, refreshed: 6 });
  });

  it('describes a single-arch Docker image: created, platform, size, labels, entrypoint, ports, layers, history', async () => {
    const row = (await store.getTag('kinds/docker', '1.0', '2026-06-01'))!;
    expect(row.summary).to.deep.include({ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', kind: 'image', created: '2026-04-01T12:00:00.000Z', size: sizeOf(images.docker!) });
    expect(row.summary!.platforms.map(platformLabel)).to.deep.equal(['linux/amd64']);
    const details = (await store.getDetails(row.digest)) as ImageDetails;
    expect(details.config).to.deep.include({
      labels: { 'org.opencontainers.image.source': 'https://example.test/app', maintainer: 'ops' },
      entrypoint: ['/app'],
      cmd: ['--port', '8080'],
      exposedPorts: ['8080/tcp'],
    });
    expect(details.layers.map((layer) => layer.size)).to.deep.equal(images.docker!.layerSizes);
    expect(details.config!.history.map((entry) => [entry.createdBy, entry.emptyLayer])).to.deep.equal([['COPY app /app', false], ['EXPOSE 8080', true]]);
    expect(JSON.parse(details.raw).mediaType).to.equal('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('describes an OCI image, shared by two tags, once', async () => {
    const [first, second] = await Promise.all([store.getTag('kinds/oci', '1.0', '2026-06-01'), store.getTag('kinds/oci', 'latest', '2026-06-01')]);
    expect(first!.digest).to.equal(images.oci!.root.digest);
    expect(second!.digest).to.equal(first!.digest);
    expect(first!.summary).to.deep.include({ mediaType: 'application/vnd.oci.image.manifest.v1+json', created: '2026-04-02T12:00:00.000Z', size: sizeOf(images.oci!) });
  });

  it('describes an image with no created date as undated', async () => {
    const row = (await store.getTag('kinds/nodate', '1.0', '2026-06-01'))!;
    expect(row.summary!.created).to.equal(undefined);
    expect(row.summary!.platforms.map(platformLabel)).to.deep.equal(['linux/amd64']);
  });

  for (const [tagName, kind] of [['kinds/index', 'OCI index'], ['kinds/list', 'Docker manifest list']] as const) {
    it(`describes a tag holding an ${kind}: each platform with its digest, size and created, and the index size`, async () => {
      const row = (await store.getTag(tagName, '1.0', '2026-06-01'))!;
      expect(row.digest).to.equal(tagName === 'kinds/index' ? indexDigest : listDigest);
      expect(row.summary!.kind).to.equal('index');
      expect(row.summary!.mediaType).to.equal(tagName === 'kinds/index' ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.docker.distribution.manifest.list.v2+json');
      expect(row.summary!.created).to.equal('2026-04-04T00:00:00.000Z');
      expect(row.summary!.platforms.map((platform) => [platformLabel(platform), platform.size, platform.created])).to.deep.equal([
        ['linux/amd64', sizeOf(images.amd64!), '2026-04-03T00:00:00.000Z'],
        ['linux/arm64/v8', sizeOf(images.arm64!), '2026-04-04T00:00:00.000Z'],
      ]);
      expect(row.summary!.size).to.equal(sizeOf(images.amd64!) + sizeOf(images.arm64!));
      const details = (await store.getDetails(row.digest)) as IndexDetails;
      expect(details.images.map((image) => image.config?.architecture)).to.deep.equal(['amd64', 'arm64']);
    });
  }

  it('follows deletes: a manifest deleted from the registry disappears with its tags on the next refresh', async () => {
    const digest = (await store.getTag('kinds/nodate', '1.0', '2026-06-01'))!.digest;
    const response = await fetch(`${registry.baseUrl}/v2/kinds/nodate/manifests/${digest}`, { method: 'DELETE' });
    expect(response.status).to.equal(202);
    await crawler.refresh('kinds/nodate');
    expect(await store.getTag('kinds/nodate', '1.0', '2026-06-01')).to.equal(undefined);
    expect((await store.getRepository('kinds/nodate'))?.tagCount).to.equal(0);
    expect(await store.pruneManifests()).to.equal(1);
  });
});
