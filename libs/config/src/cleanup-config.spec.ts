import { expect } from 'chai';
import { configError as failure } from '../../../test/support/config-errors.js';
import { loadCleanupApplyConfig, loadCleanupConfig } from './index.js';

describe('cleanup configuration', () => {
  const base = { STATICREG_DB_URL: 'postgresql://db/staticreg', STATICREG_REGISTRY_HOSTNAME: 'registry:5000' };

  it('leaves cleanup unconfigured without a policy, paces deletes by 1 s, and refuses apply without sign-in by default', () => {
    expect(loadCleanupConfig({})).to.deep.equal({
      policyFile: undefined,
      deleteIntervalMs: 1000,
      allowApplyWithoutSignIn: false,
      retentionDays: undefined,
      pullBacklogMaxWaitMs: 70_000,
    });
    expect(
      loadCleanupConfig({ STATICREG_CLEANUP_POLICY: ' /etc/cleanup.yaml ', STATICREG_CLEANUP_DELETE_INTERVAL_MS: '0', STATICREG_RETENTION_DAYS: '90' }),
    ).to.deep.equal({
      policyFile: '/etc/cleanup.yaml',
      deleteIntervalMs: 0,
      allowApplyWithoutSignIn: false,
      retentionDays: 90,
      pullBacklogMaxWaitMs: 70_000,
    });
  });

  it('allows apply without sign-in only when told so, and names a bad value', () => {
    expect(loadCleanupConfig({ STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN: 'true' }).allowApplyWithoutSignIn).to.equal(true);
    expect(loadCleanupConfig({ STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN: 'false' }).allowApplyWithoutSignIn).to.equal(false);
    expect(failure(() => loadCleanupConfig({ STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN: 'sure' })).variable).to.equal('STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN');
  });

  it('names a bad delete interval', () => {
    expect(failure(() => loadCleanupConfig({ STATICREG_CLEANUP_DELETE_INTERVAL_MS: '-5' })).message).to.include('STATICREG_CLEANUP_DELETE_INTERVAL_MS="-5": must be 0 or more');
    expect(failure(() => loadCleanupConfig({ STATICREG_CLEANUP_DELETE_INTERVAL_MS: 'fast' })).variable).to.equal('STATICREG_CLEANUP_DELETE_INTERVAL_MS');
  });

  it('reads the CLI: confirmed only with --yes, the policy from --policy or the environment', () => {
    const plain = loadCleanupApplyConfig(['--policy', 'p.yaml'], base);
    expect(plain).to.include({ policyFile: 'p.yaml', confirmed: false, dbUrl: base.STATICREG_DB_URL, deleteIntervalMs: 1000 });
    expect(plain.registry.hostname).to.equal('registry:5000');
    expect(loadCleanupApplyConfig(['--apply', '--yes'], { ...base, STATICREG_CLEANUP_POLICY: 'env.yaml' })).to.include({ policyFile: 'env.yaml', confirmed: true });
    expect(loadCleanupApplyConfig(['--yes'], { ...base, STATICREG_CLEANUP_POLICY: 'env.yaml', STATICREG_RETENTION_DAYS: '30' }).retentionDays).to.equal(30);
    expect(plain).to.include({ redisUrl: 'redis://127.0.0.1:6379', pullBacklogMaxWaitMs: 70_000 });
    expect(loadCleanupApplyConfig([], { ...base, STATICREG_CLEANUP_POLICY: 'p.yaml', STATICREG_SESSION_WINDOW_SECONDS: '30' }).pullBacklogMaxWaitMs).to.equal(90_000);
  });

  it('refuses the CLI without a policy, a registry, or with an unknown option', () => {
    expect(failure(() => loadCleanupApplyConfig([], base)).variable).to.equal('--policy');
    expect(failure(() => loadCleanupApplyConfig(['--policy', 'p.yaml'], { STATICREG_DB_URL: base.STATICREG_DB_URL })).variable).to.equal('STATICREG_REGISTRY_HOSTNAME');
    expect(failure(() => loadCleanupApplyConfig(['--force'], base)).message).to.include("--force is not accepted");
  });
});
