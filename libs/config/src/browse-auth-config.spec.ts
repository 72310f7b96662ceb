import { expect } from 'chai';
import { ConfigError, loadBrowseConfig } from './index.js';

function failure(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('browse sign-in configuration', () => {
  const registry = { STATICREG_REGISTRY_HOSTNAME: 'registry.example:5000' };

  it('signs people in with the registry by default, with documented session and attempt limits', () => {
    expect(loadBrowseConfig(registry).auth).to.deep.equal({
      mode: 'registry',
      admins: [],
      secureCookies: false,
      sessionIdleMs: 30 * 60_000,
      sessionMaxMs: 480 * 60_000,
      accessTtlMs: 60_000,
      signInMaxFailuresPerUser: 5,
      signInMaxFailuresPerAddress: 20,
      signInWindowMs: 900_000,
    });
  });

  it('refuses the default without a registry to sign in against, naming the explicit opt-out', () => {
    const error = failure(() => loadBrowseConfig({}));
    expect(error.variable).to.equal('STATICREG_BROWSE_AUTH');
    expect(error.message).to.include('STATICREG_REGISTRY_HOSTNAME').and.to.include('STATICREG_BROWSE_AUTH=none');
    expect(loadBrowseConfig({ STATICREG_BROWSE_AUTH: 'none' }).auth.mode).to.equal('none');
  });

  it('names a bad mode, flag or duration', () => {
    expect(failure(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_AUTH: 'open' })).message).to.include('must be registry or none');
    expect(failure(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_SECURE_COOKIES: 'sure' })).variable).to.equal('STATICREG_BROWSE_SECURE_COOKIES');
    expect(failure(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_ACCESS_TTL_SECONDS: '0' })).variable).to.equal('STATICREG_BROWSE_ACCESS_TTL_SECONDS');
    const longIdle = failure(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_SESSION_IDLE_MINUTES: '600', STATICREG_BROWSE_SESSION_MAX_MINUTES: '60' }));
    expect(longIdle.message).to.include('STATICREG_BROWSE_SESSION_MAX_MINUTES');
    expect(loadBrowseConfig({ ...registry, STATICREG_BROWSE_SECURE_COOKIES: 'true' }).auth.secureCookies).to.equal(true);
  });

  it('reads admins as a list of user names; a group needs a proxy to name it', () => {
    expect(loadBrowseConfig({ ...registry, STATICREG_BROWSE_ADMINS: ' root, ops ,' }).auth.admins).to.deep.equal(['root', 'ops']);
    const group = failure(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_ADMINS: 'root,group:platform' }));
    expect(group.variable).to.equal('STATICREG_BROWSE_ADMINS');
    expect(group.message).to.include('group:platform').and.include('proxy');
  });
});
