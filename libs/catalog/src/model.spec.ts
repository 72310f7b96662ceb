import { expect } from 'chai';
import { describeImage, describeIndex, indexChildren, normaliseCreated, parseImageConfig, platformLabel, summarize } from './model.js';

const sha = (n: number): string => `sha256:${String(n).padStart(64, '0')}`;

function imageManifest(configDigest: string, layers: number[], mediaType = 'application/vnd.oci.image.manifest.v1+json') {
  const json = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 100 },
    layers: layers.map((size, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(1000 + size + i), size })),
  };
  return { json, raw: JSON.stringify(json) };
}

describe('catalog model', () => {
  it('reads an image config: platform, created, labels, entrypoint, cmd, ports, history', () => {
    const config = parseImageConfig(
      {
        created: '2026-05-06T07:08:09.123456789Z',
        author: 'ops',
        architecture: 'arm',
        os: 'linux',
        variant: 'v7',
        config: {
          Labels: { 'org.opencontainers.image.title': '<b>x</b>', bad: 42 },
          Entrypoint: ['/bin/app'],
          Cmd: ['--serve'],
          ExposedPorts: { '8080/tcp': {}, '53/udp': {} },
          WorkingDir: '/srv',
          Env: ['SECRET=do-not-show'],
        },
        history: [{ created: '2026-05-06T07:00:00Z', created_by: 'RUN make', empty_layer: false }, { created_by: 'CMD ["--serve"]', empty_layer: true }, 'junk'],
      },
      { digest: sha(1), size: 100, mediaType: 'application/vnd.oci.image.config.v1+json' },
    );
    expect(config).to.deep.equal({
      digest: sha(1),
      size: 100,
      mediaType: 'application/vnd.oci.image.config.v1+json',
      created: '2026-05-06T07:08:09.123Z',
      author: 'ops',
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
      labels: { 'org.opencontainers.image.title': '<b>x</b>' },
      entrypoint: ['/bin/app'],
      cmd: ['--serve'],
      workingDir: '/srv',
      exposedPorts: ['53/udp', '8080/tcp'],
      history: [
        { created: '2026-05-06T07:00:00.000Z', createdBy: 'RUN make', emptyLayer: false },
        { createdBy: 'CMD ["--serve"]', emptyLayer: true },
      ],
    });
    expect(JSON.stringify(config)).to.not.include('do-not-show');
  });

  it('treats a missing, unparsable or zero created time as unknown', () => {
    expect(normaliseCreated(undefined)).to.equal(undefined);
    expect(normaliseCreated('yesterday')).to.equal(undefined);
    expect(normaliseCreated('0001-01-01T00:00:00Z')).to.equal(undefined);
    expect(normaliseCreated('1970-01-01T00:00:00Z')).to.equal(undefined);
    expect(normaliseCreated('2024-02-29T23:59:59+01:00')).to.equal('2024-02-29T22:59:59.000Z');
  });

  it('sizes an image as config plus layers, and summarizes it with its platform', () => {
    const { json, raw } = imageManifest(sha(1), [1000, 2000]);
    const config = parseImageConfig({ architecture: 'amd64', os: 'linux' }, { digest: sha(1), size: 100, mediaType: 'application/vnd.oci.image.config.v1+json' });
    const image = describeImage(sha(10), json.mediaType, raw, json, config);
    expect([image.size, image.manifestSize, image.layers.length]).to.deep.equal([3100, raw.length, 2]);
    expect(summarize(image)).to.deep.equal({
      digest: sha(10),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      kind: 'image',
      size: 3100,
      platforms: [{ digest: sha(10), os: 'linux', architecture: 'amd64', size: 3100 }],
    });
  });

  it('summarizes an index: platforms from configs, attestations left out, shared blobs counted once, newest created', () => {
    const amd = imageManifest(sha(1), [1000]);
    const arm = imageManifest(sha(2), [1000, 500]);
    const amdImage = describeImage(sha(11), amd.json.mediaType, amd.raw, amd.json, parseImageConfig({ architecture: 'amd64', os: 'linux', created: '2026-01-01T00:00:00Z' }, { digest: sha(1), size: 100, mediaType: '' }));
    const armImage = describeImage(sha(12), arm.json.mediaType, arm.raw, arm.json, parseImageConfig({ architecture: 'arm64', os: 'linux', variant: 'v8', created: '2026-02-01T00:00:00Z' }, { digest: sha(2), size: 100, mediaType: '' }));
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: amd.json.mediaType, digest: sha(11), size: amd.raw.length, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: arm.json.mediaType, digest: sha(12), size: arm.raw.length, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        { mediaType: amd.json.mediaType, digest: sha(13), size: 300, platform: { architecture: 'unknown', os: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
      ],
    };
    const children = indexChildren(index);
    expect(children.map((child) => [child.digest, child.attestation])).to.deep.equal([[sha(11), false], [sha(12), false], [sha(13), true]]);
    const details = describeIndex(sha(20), index.mediaType, JSON.stringify(index), index, [amdImage, armImage]);
    // Both platforms start with the same 1000-byte layer (same digest): the index size counts it once.
    expect(amdImage.layers[0]!.digest).to.equal(armImage.layers[0]!.digest);
    expect(details.size).to.equal(100 + 100 + 1000 + 500);
    const summary = summarize(details);
    expect(summary.created).to.equal('2026-02-01T00:00:00.000Z');
    expect(summary.platforms.map(platformLabel)).to.deep.equal(['linux/amd64', 'linux/arm64/v8']);
  });

  it('lists a platform of a sparse index (child not pushed) with no size', () => {
    const index = { mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [{ digest: sha(5), size: 10, platform: { os: 'linux', architecture: 's390x' } }] };
    const summary = summarize(describeIndex(sha(6), index.mediaType, JSON.stringify(index), index, []));
    expect(summary.platforms).to.deep.equal([{ digest: sha(5), os: 'linux', architecture: 's390x', size: 0 }]);
    expect(summary.created).to.equal(undefined);
  });
});
