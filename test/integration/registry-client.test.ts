// The registry client against real docker-registry 2.8.2 instances: htpasswd, token auth with a token service
// the test runs, TLS from a test CA; configured through STATICREG_REGISTRY_* as an operator would.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadBrowseConfig, STATICREG_USER_AGENT } from '@staticreg/config';
import { createRegistryClient, RegistryError, type RegistryClient } from '@staticreg/registry';
import { writeOciLayout } from '../support/oci-layout.js';
import { buildSpecImage } from '../support/images.js';
import { skopeo } from '../support/registry.js';
import { makeTlsMaterial, startTestRegistry, startTokenService, type TestRegistry, type TokenService } from '../support/registry-servers.js';

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  throw new Error('expected a RegistryError');
}

describe('registry client against docker-registry 2.8.2 with auth and TLS', function () {
  this.timeout(120_000);
  let dir: string;
  const stops: Array<() => Promise<void>> = [];
  const clients: RegistryClient[] = [];

  function client(env: Record<string, string>): RegistryClient {
    const config = loadBrowseConfig(env);
    const created = createRegistryClient(config.registry!, { userAgent: STATICREG_USER_AGENT });
    clients.push(created);
    return created;
  }

  async function push(registry: TestRegistry, repositories: string[], creds?: string): Promise<void> {
    const image = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-02-03T04:05:06Z', layers: [['f.txt', `x ${dir}`]] });
    const layout = join(dir, 'layout');
    await writeOciLayout(layout, 'x', image);
    for (const repository of repositories) {
      await skopeo('copy', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', creds] : []), `oci:${layout}:x`, `docker://${registry.host}/${repository}:v1`);
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-client-'));
  });
  after(async () => {
    await Promise.all(clients.map((created) => created.close()));
    for (const stop of stops.reverse()) await stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('htpasswd', () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startTestRegistry({ dir: join(dir, 'htpasswd'), auth: { kind: 'htpasswd', users: { ops: 'pa55:word' } } });
      stops.push(() => registry.stop());
      await push(registry, ['team/a', 'team/b', 'team/c', 'solo', 'zz/last'], 'ops:pa55:word');
    });

    it('lists every page of the catalog with credentials read from a password file', async () => {
      const passwordFile = join(dir, 'password');
      await writeFile(passwordFile, 'pa55:word\n');
      const registryClient = client({ STATICREG_REGISTRY_HOSTNAME: registry.host, STATICREG_REGISTRY_USER: 'ops', STATICREG_REGISTRY_PASSWORD_FILE: passwordFile });
      const pages: string[][] = [];
      for await (const page of registryClient.repositories(2)) pages.push(page);
      expect(pages).to.deep.equal([['solo', 'team/a'], ['team/b', 'team/c'], ['zz/last']]);
      expect(await registryClient.listTags('team/b')).to.deep.equal(['v1']);
    });

    it('refuses wrong credentials and asks for missing ones, never echoing the password', async () => {
      const wrong = await failure(client({ STATICREG_REGISTRY_HOSTNAME: registry.host, STATICREG_REGISTRY_USER: 'ops', STATICREG_REGISTRY_PASSWORD: 'nope-nope' }).listTags('solo'));
      expect([wrong.kind, wrong.status]).to.deep.equal(['unauthorized', 401]);
      expect(wrong.message).to.not.include('nope-nope');
      const missing = await failure(client({ STATICREG_REGISTRY_HOSTNAME: registry.host }).listTags('solo'));
      expect(missing.message).to.include('STATICREG_REGISTRY_PASSWORD');
    });
  });

  describe('token auth', () => {
    let registry: TestRegistry;
    let tokens: TokenService;
    before(async () => {
      tokens = await startTokenService(join(dir, 'tokens'), { ops: { password: 'ops-secret', push: true }, viewer: { password: 'view-secret' } });
      stops.push(() => tokens.stop());
      registry = await startTestRegistry({
        dir: join(dir, 'token'),
        auth: { kind: 'token', realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle },
      });
      stops.push(() => registry.stop());
      await push(registry, ['app/api', 'app/web'], 'ops:ops-secret');
    });

    it('reads with a token per repository scope, asking the token service once per scope', async () => {
      tokens.requests.length = 0;
      const registryClient = client({ STATICREG_REGISTRY_HOSTNAME: registry.host, STATICREG_REGISTRY_USER: 'viewer', STATICREG_REGISTRY_PASSWORD: 'view-secret' });
      const names: string[] = [];
      for await (const page of registryClient.repositories()) names.push(...page);
      expect(names).to.deep.equal(['app/api', 'app/web']);
      for (const name of names) {
        const [tag] = await registryClient.listTags(name);
        const manifest = await registryClient.getManifest(name, tag!);
        const config = manifest.json.config as { digest: string };
        await registryClient.getBlob(name, config.digest);
        await registryClient.getManifest(name, manifest.digest);
      }
      expect(tokens.requests).to.deep.equal([
        { user: 'viewer', scopes: ['registry:catalog:*'] },
        { user: 'viewer', scopes: ['repository:app/api:pull'] },
        { user: 'viewer', scopes: ['repository:app/web:pull'] },
      ]);
    });

    it('fails as unauthorized when the token grants nothing (anonymous)', async () => {
      const error = await failure(client({ STATICREG_REGISTRY_HOSTNAME: registry.host }).listTags('app/api'));
      expect([error.kind, error.status]).to.deep.equal(['unauthorized', 401]);
    });
  });

  describe('TLS', () => {
    let registry: TestRegistry;
    let caFile: string;
    before(async () => {
      const tls = await makeTlsMaterial(join(dir, 'tls'));
      caFile = tls.caCertFile;
      registry = await startTestRegistry({ dir: join(dir, 'tls-registry'), tls });
      stops.push(() => registry.stop());
      await push(registry, ['secure/app']);
    });

    it('trusts the registry certificate through STATICREG_REGISTRY_CA_FILE', async () => {
      const registryClient = client({ STATICREG_REGISTRY_HOSTNAME: `https://${registry.host}`, STATICREG_REGISTRY_CA_FILE: caFile });
      expect(await registryClient.listTags('secure/app')).to.deep.equal(['v1']);
    });

    it('refuses an unknown CA, unless skip-verify is chosen explicitly', async () => {
      const error = await failure(client({ STATICREG_REGISTRY_HOSTNAME: `https://${registry.host}` }).listTags('secure/app'));
      expect(error.kind).to.equal('unavailable');
      expect(error.message).to.match(/certificate|self.signed|UNABLE_TO_VERIFY/i);
      const insecure = client({ STATICREG_REGISTRY_HOSTNAME: `https://${registry.host}`, STATICREG_REGISTRY_INSECURE_SKIP_VERIFY: 'true' });
      expect(await insecure.listTags('secure/app')).to.deep.equal(['v1']);
    });
  });
});
