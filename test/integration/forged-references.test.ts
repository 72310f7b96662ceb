// A notification can be forged: the platforms its references claim never replace what the registry itself says.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { ManifestInfo, PullEvent } from '@staticreg/events';
import { STATICREG_USER_AGENT } from '@staticreg/config';
import { ManifestResolver } from '@staticreg/ingest';
import { createLogger } from '@staticreg/log';
import { createRegistryClient, type RegistryClient } from '@staticreg/registry';
import { buildSpecImage, buildSpecIndex, type BuiltImage } from '../support/images.js';
import { OCI_INDEX, OCI_MANIFEST, writeOciLayout, type OciArtifact } from '../support/oci-layout.js';
import { makePull } from '../support/pulls.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

const REPOSITORY = 'team/app';
const log = createLogger('worker', 'silent');

describe('forged notifications cannot rewrite a stored platform (real docker-registry, real Postgres)', function () {
  this.timeout(120_000);
  let dir: string;
  let registry: TestRegistry;
  let client: RegistryClient;
  let amd64: BuiltImage;
  let arm: BuiltImage;
  let index: OciArtifact;
  let database: TestDatabase;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-forged-'));
    registry = await startTestRegistry({ dir: join(dir, 'registry') });
    amd64 = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, layers: [['a', 'amd64']] });
    arm = buildSpecImage({ platform: { architecture: 'arm', os: 'linux', variant: 'v7' }, layers: [['a', 'arm']] });
    index = buildSpecIndex([amd64, arm], [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm', os: 'linux', variant: 'v7' }]);
    await writeOciLayout(join(dir, 'index'), 'x', index);
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${join(dir, 'index')}:x`, `docker://${registry.host}/${REPOSITORY}:1.0`);
    client = createRegistryClient(
      { hostname: registry.host, caPem: undefined, insecureSkipVerify: false, username: undefined, password: undefined, timeoutMs: 10_000 },
      { userAgent: STATICREG_USER_AGENT },
    );
  });
  after(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => database.drop());

  /** A pull of the index as the registry reports it (2.8 sends its references without platforms). */
  const indexPull = (id: string, references?: PullEvent['references']): PullEvent =>
    makePull(id, { repository: REPOSITORY, digest: index.root.digest, mediaType: OCI_INDEX, ...(references ? { references } : {}) });
  const childPull = (id: string, image: BuiltImage): PullEvent => makePull(id, { repository: REPOSITORY, tag: '', digest: image.root.digest, mediaType: OCI_MANIFEST });
  /** Claims both children are other platforms than they are. */
  const forged = (id: string): PullEvent =>
    indexPull(id, [
      { digest: amd64.root.digest, platform: 's390x' },
      { digest: arm.root.digest, platform: 'ppc64le' },
    ]);
  const truth = (): Map<string, string> => new Map([[amd64.root.digest, 'amd64'], [arm.root.digest, 'arm/v7']]);

  async function stored(): Promise<Record<string, Pick<ManifestInfo, 'kind' | 'platform'> & { children?: Array<[string, string]> }>> {
    const rows = await database.db.selectFrom('manifest_descriptions').select(['digest', 'kind', 'platform', 'children']).orderBy('digest').execute();
    return Object.fromEntries(
      rows.map((row) => [row.digest, { kind: row.kind, ...(row.platform ? { platform: row.platform } : {}), ...(row.children ? { children: row.children as Array<[string, string]> } : {}) }]),
    );
  }

  it('keeps the platforms read from the registry when a later event claims others', async () => {
    const first = new ManifestResolver(client, log);
    await first.describe(database.db, [indexPull('real'), childPull('real-child', amd64)]);
    await first.whenIdle();
    const read = await stored();
    expect(read[index.root.digest]).to.deep.equal({ kind: 'index', children: [...truth()] });
    expect(read[amd64.root.digest]).to.deep.equal({ kind: 'image', platform: 'amd64' });

    // Another worker (nothing in memory) takes the forged event with a pull of each child.
    const second = new ManifestResolver(client, log);
    const found = await second.describe(database.db, [forged('forged'), childPull('c1', amd64), childPull('c2', arm)]);
    expect(found.get(index.root.digest)?.children).to.deep.equal(truth());
    expect(found.get(arm.root.digest)).to.deep.equal({ kind: 'image', platform: 'arm/v7' });
    await second.whenIdle();
    const after = await stored();
    expect(after[index.root.digest]).to.deep.equal(read[index.root.digest]);
    expect(after[amd64.root.digest]).to.deep.equal(read[amd64.root.digest]);
    expect(JSON.stringify(after)).to.not.match(/s390x|ppc64le/);
  });

  it('reads an index it has never described from the registry instead of keeping what the event claims', async () => {
    const resolver = new ManifestResolver(client, log);
    // The batch at hand has nothing better than the claim (the registry is read in the background) ...
    const claimed = await resolver.describe(database.db, [forged('forged'), childPull('c1', arm)]);
    expect(claimed.get(index.root.digest)?.children?.get(arm.root.digest)).to.equal('ppc64le');
    await resolver.whenIdle();
    // ... but what is stored, and what every later batch gets, is the registry's answer.
    const after = await stored();
    expect(after[index.root.digest]).to.deep.equal({ kind: 'index', children: [...truth()] });
    expect(after[arm.root.digest]).to.deep.equal({ kind: 'image', platform: 'arm/v7' });
    const later = await resolver.describe(database.db, [forged('forged-again'), childPull('c2', arm)]);
    expect(later.get(index.root.digest)?.children).to.deep.equal(truth());
    expect(later.get(arm.root.digest)).to.deep.equal({ kind: 'image', platform: 'arm/v7' });
  });

  it('without the registry, uses the claim for that batch only and stores nothing of it', async () => {
    const blind = await new ManifestResolver(undefined, log).describe(database.db, [forged('forged'), childPull('c1', arm)]);
    expect(blind.get(index.root.digest)?.children?.get(arm.root.digest)).to.equal('ppc64le');
    expect(await stored()).to.deep.equal({});

    // Once the registry can be asked, its answer is the one kept.
    const reading = new ManifestResolver(client, log);
    await reading.describe(database.db, [childPull('c2', arm)]);
    await reading.whenIdle();
    expect((await stored())[arm.root.digest]).to.deep.equal({ kind: 'image', platform: 'arm/v7' });
  });
});
