import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadBrowseConfig, loadWorkerConfig } from './index.js';
import { configError } from '../../../test/support/config-errors.js';


describe('registry access and crawler configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'staticreg-config-'));

  it('has no registry without a hostname, and documented crawler defaults', () => {
    const config = loadBrowseConfig({ STATICREG_BROWSE_AUTH: 'none' });
    expect(config.registry).to.equal(undefined);
    expect(config.crawler).to.deep.equal({
      requestsPerSecond: 20,
      concurrency: 4,
      intervalMs: 300_000,
      memoryMaxTags: 2_000_000,
      changesStream: 'staticreg:registry-changes',
    });
  });

  it('reads credentials from a password file (one trailing newline dropped), a CA file and skip-verify', () => {
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 's3cret\n');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const env = {
      STATICREG_REGISTRY_HOSTNAME: 'https://registry.example:5000',
      STATICREG_REGISTRY_USER: 'ops',
      STATICREG_REGISTRY_PASSWORD_FILE: passwordFile,
      STATICREG_REGISTRY_CA_FILE: caFile,
      STATICREG_REGISTRY_INSECURE_SKIP_VERIFY: 'true',
    };
    const expected = {
      hostname: 'https://registry.example:5000',
      caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      insecureSkipVerify: true,
      username: 'ops',
      password: 's3cret',
      timeoutMs: 10_000,
    };
    expect(loadBrowseConfig(env).registry).to.deep.equal(expected);
    // The worker reads the registry the same way.
    expect(loadWorkerConfig(env).registry).to.deep.equal(expected);
  });

  it('names the variable that is wrong, without printing a password', () => {
    expect(configError(() => loadBrowseConfig({ STATICREG_REGISTRY_HOSTNAME: 'r:5000', STATICREG_REGISTRY_USER: 'ops' })).message).to.include(
      'STATICREG_REGISTRY_PASSWORD is required',
    );
    expect(configError(() => loadBrowseConfig({ STATICREG_REGISTRY_HOSTNAME: 'r:5000', STATICREG_REGISTRY_CA_FILE: join(dir, 'missing.pem') })).variable).to.equal(
      'STATICREG_REGISTRY_CA_FILE',
    );
    const flag = configError(() => loadBrowseConfig({ STATICREG_REGISTRY_HOSTNAME: 'r:5000', STATICREG_REGISTRY_INSECURE_SKIP_VERIFY: 'maybe' }));
    expect(flag.message).to.include('must be true or false');
    const rate = configError(() => loadBrowseConfig({ STATICREG_BROWSE_CRAWL_RATE: 'fast' }));
    expect(rate.variable).to.equal('STATICREG_BROWSE_CRAWL_RATE');
  });

  it('refuses credentials inside STATICREG_REGISTRY_HOSTNAME, naming the variables to use, without echoing them', () => {
    for (const hostname of ['https://ops:s3cret@registry.example:5000', 'ops:s3cret@registry.example', 'http://ops:p@ss/w0rd@registry.example', 'https://s3cret@registry.example']) {
      for (const load of [loadBrowseConfig, loadWorkerConfig]) {
        const error = configError(() => load({ STATICREG_REGISTRY_HOSTNAME: hostname }));
        expect(error.variable).to.equal('STATICREG_REGISTRY_HOSTNAME');
        expect(error.message).to.include('STATICREG_REGISTRY_USER and STATICREG_REGISTRY_PASSWORD');
        expect(error.message).to.not.match(/s3cret|w0rd|ops|ss/);
        expect(error.message).to.include('***@registry.example');
      }
    }
  });
});
