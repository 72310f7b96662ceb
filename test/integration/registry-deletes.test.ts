// Manifest deletes and the delete-rights probe against real docker-registry 2.8.2: open, deletes disabled, token auth.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { RegistryClient, RegistryDeleteRefused, type RegistryCredentials } from '@staticreg/registry';
import { writeOciLayout } from '../support/oci-layout.js';
import { buildSpecImage } from '../support/images.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, startTokenService, type TestRegistry } from '../support/registry-servers.js';

describe('registry deletes against docker-registry 2.8.2', function () {
  this.timeout(120_000);
  let dir: string;
  const stops: Array<() => Promise<void>> = [];

  function client(registry: TestRegistry, credentials: RegistryCredentials = { kind: 'anonymous' }): RegistryClient {
    const created = new RegistryClient({ baseUrl: registry.baseUrl, userAgent: 'staticreg-test', credentials });
    stops.push(() => created.close());
    return created;
  }

  /** Pushes one image as repository:tag for each tag; returns its manifest digest. */
  async function push(registry: TestRegistry, repository: string, tags: string[], content: string, creds?: string): Promise<string> {
    const image = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-02-03T04:05:06Z', layers: [['f.txt', content]] });
    const layout = join(dir, `layout-${content}`);
    await writeOciLayout(layout, 'x', image);
    for (const tag of tags) {
      await skopeo('copy', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', creds] : []), `oci:${layout}:x`, `docker://${registry.host}/${repository}:${tag}`);
    }
    return image.root.digest;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-deletes-'));
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('deletes a manifest by digest (202), then finds it gone (404), keeping other images', async () => {
    const registry = await startTestRegistry({ dir: join(dir, 'open') });
    stops.push(() => registry.stop());
    const gone = await push(registry, 'team/app', ['old', 'old-alias'], 'old');
    const kept = await push(registry, 'team/app', ['new'], 'new');
    const registryClient = client(registry);
    expect(await registryClient.manifestDigest('team/app', 'old')).to.equal(gone);
    expect(await registryClient.probeDeleteRights('team/app')).to.deep.equal({ canDelete: true });

    expect(await registryClient.deleteManifest('team/app', gone)).to.equal('deleted');
    expect(await registryClient.deleteManifest('team/app', gone)).to.equal('already-gone');
    // Deleting the digest removed both tags on it; the other image is still served.
    expect(await registryClient.manifestDigest('team/app', 'old')).to.equal(undefined);
    expect(await registryClient.manifestDigest('team/app', 'old-alias')).to.equal(undefined);
    expect(await registryClient.manifestDigest('team/app', 'new')).to.equal(kept);
    expect((await registryClient.getManifest('team/app', kept)).digest).to.equal(kept);
    expect(await registryClient.listTags('team/app')).to.deep.equal(['new']);
  });

  it('refuses cleanly when the registry disables deletes, quoting its answer', async () => {
    const registry = await startTestRegistry({ dir: join(dir, 'no-deletes'), deletes: false });
    stops.push(() => registry.stop());
    const digest = await push(registry, 'team/app', ['v1'], 'v1');
    const registryClient = client(registry);
    const probe = await registryClient.probeDeleteRights('team/app');
    expect(probe).to.deep.include({ canDelete: false, refusal: 'deletes-disabled' });
    expect(probe.canDelete === false && probe.answer).to.match(/^405 UNSUPPORTED/);

    let refused: unknown;
    try {
      await registryClient.deleteManifest('team/app', digest);
    } catch (error) {
      refused = error;
    }
    expect(refused).to.be.instanceOf(RegistryDeleteRefused);
    expect((refused as RegistryDeleteRefused).message).to.match(/does not allow deletes \(it answered 405 UNSUPPORTED/);
    expect(await registryClient.manifestDigest('team/app', 'v1')).to.equal(digest);
  });

  it('asks the token service for the delete action, and tells a credential without it', async () => {
    const tokens = await startTokenService(join(dir, 'token'), { ops: { password: 'ops-pw', push: true }, reader: { password: 'reader-pw' } });
    stops.push(() => tokens.stop());
    const registry = await startTestRegistry({ dir: join(dir, 'token-registry'), auth: { kind: 'token', ...tokens } });
    stops.push(() => registry.stop());
    const digest = await push(registry, 'team/app', ['v1'], 'token', 'ops:ops-pw');

    const reader = client(registry, { kind: 'basic', username: 'reader', password: 'reader-pw' });
    expect(await reader.manifestDigest('team/app', 'v1')).to.equal(digest);
    const probe = await reader.probeDeleteRights('team/app');
    expect(probe).to.deep.include({ canDelete: false, refusal: 'no-delete-right' });
    expect(probe.canDelete === false && probe.answer).to.match(/401/);
    expect(tokens.requests.filter((request) => request.user === 'reader').flatMap((request) => request.scopes)).to.include('repository:team/app:delete');

    const ops = client(registry, { kind: 'basic', username: 'ops', password: 'ops-pw' });
    expect(await ops.probeDeleteRights('team/app')).to.deep.equal({ canDelete: true });
    expect(await ops.deleteManifest('team/app', digest)).to.equal('deleted');
    expect(await ops.manifestDigest('team/app', 'v1')).to.equal(undefined);
  });
});
