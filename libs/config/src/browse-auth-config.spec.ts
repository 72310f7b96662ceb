import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadBrowseConfig } from './index.js';
import { configError } from '../../../test/support/config-errors.js';


describe('browse sign-in configuration', () => {
  const registry = { STATICREG_REGISTRY_HOSTNAME: 'registry.example:5000' };

  it('signs people in with the registry by default, with documented session and attempt limits', () => {
    expect(loadBrowseConfig(registry).auth).to.deep.equal({
      mode: 'registry',
      admins: [],
      proxy: undefined,
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
    const error = configError(() => loadBrowseConfig({}));
    expect(error.variable).to.equal('STATICREG_BROWSE_AUTH');
    expect(error.message).to.include('STATICREG_REGISTRY_HOSTNAME').and.to.include('STATICREG_BROWSE_AUTH=none');
    expect(loadBrowseConfig({ STATICREG_BROWSE_AUTH: 'none' }).auth.mode).to.equal('none');
  });

  it('names a bad mode, flag or duration', () => {
    expect(configError(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_AUTH: 'open' })).message).to.include('must be registry, proxy or none');
    expect(configError(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_SECURE_COOKIES: 'sure' })).variable).to.equal('STATICREG_BROWSE_SECURE_COOKIES');
    expect(configError(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_ACCESS_TTL_SECONDS: '0' })).variable).to.equal('STATICREG_BROWSE_ACCESS_TTL_SECONDS');
    const longIdle = configError(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_SESSION_IDLE_MINUTES: '600', STATICREG_BROWSE_SESSION_MAX_MINUTES: '60' }));
    expect(longIdle.message).to.include('STATICREG_BROWSE_SESSION_MAX_MINUTES');
    expect(loadBrowseConfig({ ...registry, STATICREG_BROWSE_SECURE_COOKIES: 'true' }).auth.secureCookies).to.equal(true);
  });

  it('reads admins as a list of user names; a group needs a proxy to name it', () => {
    expect(loadBrowseConfig({ ...registry, STATICREG_BROWSE_ADMINS: ' root, ops ,' }).auth.admins).to.deep.equal(['root', 'ops']);
    const group = configError(() => loadBrowseConfig({ ...registry, STATICREG_BROWSE_ADMINS: 'root,group:platform' }));
    expect(group.variable).to.equal('STATICREG_BROWSE_ADMINS');
    expect(group.message).to.include('group:platform').and.include('proxy');
  });

  describe('proxy mode', () => {
    const dir = mkdtempSync(join(tmpdir(), 'staticreg-rules-'));
    const rulesFile = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const good = rulesFile('good.json', JSON.stringify({ rules: [{ users: ['alice'], repositories: ['team-a/*'] }, { groups: ['platform'], repositories: ['*'] }] }));
    const proxy = (extra: Record<string, string>) => ({ STATICREG_BROWSE_AUTH: 'proxy', STATICREG_BROWSE_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1, ::1', STATICREG_BROWSE_RULES_FILE: good, ...extra });

    it('reads the headers, the trusted proxies and the rules; admins may name groups', () => {
      const auth = loadBrowseConfig(proxy({ STATICREG_BROWSE_ADMINS: 'root,group:ops', STATICREG_BROWSE_PROXY_USER_HEADER: 'X-Auth-Request-User' })).auth;
      expect(auth.mode).to.equal('proxy');
      expect(auth.admins).to.deep.equal(['root', 'group:ops']);
      expect(auth.proxy).to.deep.equal({
        userHeader: 'x-auth-request-user',
        groupsHeader: 'x-forwarded-groups',
        trustedProxies: ['10.0.0.0/8', '127.0.0.1', '::1'],
        rules: [
          { users: ['alice'], groups: [], repositories: ['team-a/*'] },
          { users: [], groups: ['platform'], repositories: ['*'] },
        ],
      });
    });

    it('needs trusted proxies and a rules file, and names a bad address', () => {
      expect(configError(() => loadBrowseConfig(proxy({ STATICREG_BROWSE_TRUSTED_PROXIES: '' }))).variable).to.equal('STATICREG_BROWSE_TRUSTED_PROXIES');
      const bad = configError(() => loadBrowseConfig(proxy({ STATICREG_BROWSE_TRUSTED_PROXIES: '10.0.0.0/8,10.1.2.300/16' })));
      expect(bad.message).to.include('"10.1.2.300/16"');
      expect(configError(() => loadBrowseConfig(proxy({ STATICREG_BROWSE_TRUSTED_PROXIES: '10.0.0.0/33' }))).message).to.include('prefix length');
      expect(configError(() => loadBrowseConfig(proxy({ STATICREG_BROWSE_RULES_FILE: '' }))).message).to.include('STATICREG_BROWSE_RULES_FILE is required');
      expect(configError(() => loadBrowseConfig(proxy({ STATICREG_BROWSE_RULES_FILE: join(dir, 'missing.json') }))).message).to.include('cannot be read');
    });

    it('names the line of a JSON syntax error and the field of a bad rule', () => {
      const syntax = configError(() => loadBrowseConfig(proxy({ STATICREG_BROWSE_RULES_FILE: rulesFile('syntax.json', '{\n  "rules": [\n    { "users": ["a"] "repositories": ["x"] }\n  ]\n}') })));
      expect(syntax.variable).to.equal('STATICREG_BROWSE_RULES_FILE');
      expect(syntax.message).to.include('is not valid JSON at line 3');
      const cases: Array<[string, unknown, string]> = [
        ['no-repositories.json', { rules: [{ users: ['a'], repositories: [] }] }, 'rules[0].repositories: must name at least one repository pattern'],
        ['bad-pattern.json', { rules: [{ users: ['a'], repositories: ['ok'] }, { groups: ['g'], repositories: ['Team A/*'] }] }, 'rules[1].repositories[0]: may hold only'],
        ['nobody.json', { rules: [{ repositories: ['x'] }] }, 'rules[0]: must name at least one user or group'],
        ['typo.json', { rules: [{ user: ['a'], repositories: ['x'] }] }, 'rules[0]'],
        ['top.json', { rule: [] }, ''],
      ];
      for (const [file, content, expected] of cases) {
        const error = configError(() => loadBrowseConfig(proxy({ STATICREG_BROWSE_RULES_FILE: rulesFile(file, JSON.stringify(content)) })));
        expect(error.variable, file).to.equal('STATICREG_BROWSE_RULES_FILE');
        expect(error.message, file).to.include(expected);
      }
    });
  });
});
