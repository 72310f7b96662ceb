import { expect } from 'chai';
import { ConfigError } from './index.js';
import { loadCleanupPlanConfig } from './cleanup-plan-config.js';

const env = { STATICREG_DB_URL: 'postgresql://postgres@127.0.0.1:5432/staticreg' };

function errorOf(argv: string[], environment: Record<string, string | undefined> = env): string {
  try {
    loadCleanupPlanConfig(argv, environment);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('the cleanup-plan options', () => {
  it('reads the policy file, the format in any of its spellings, and the database', () => {
    expect(loadCleanupPlanConfig(['--policy', 'p.yaml'], env)).to.deep.equal({ dbUrl: env.STATICREG_DB_URL, logLevel: 'info', policyFile: 'p.yaml', format: 'table', retentionDays: undefined });
    expect(loadCleanupPlanConfig(['--policy', 'p.yaml'], { ...env, STATICREG_RETENTION_DAYS: '90' }).retentionDays).to.equal(90);
    expect(loadCleanupPlanConfig(['--policy', 'p.yaml', '--json'], env).format).to.equal('json');
    expect(loadCleanupPlanConfig(['--policy', 'p.yaml', '--csv'], env).format).to.equal('csv');
    expect(loadCleanupPlanConfig(['--policy', 'p.yaml', '--format', 'csv', '--csv'], env).format).to.equal('csv');
    expect(loadCleanupPlanConfig(['--policy', 'p.yaml', '--format', ''], env).format).to.equal('table');
  });

  it('names what is wrong', () => {
    expect(errorOf([])).to.match(/^Invalid configuration: --policy is required/);
    expect(errorOf(['--policy', 'p.yaml', '--format', 'xml'])).to.equal('Invalid configuration: --format="xml": must be table, json or csv');
    expect(errorOf(['--policy', 'p.yaml', '--json', '--csv'])).to.match(/--format is given twice \(json, csv\)/);
    expect(errorOf(['--policy', 'p.yaml', '--dry-run'])).to.match(/^Invalid configuration: --dry-run is not accepted/);
    expect(errorOf(['--policy', 'p.yaml'], {})).to.equal('Invalid configuration: STATICREG_DB_URL is required');
    expect(errorOf(['--policy', 'p.yaml'], { ...env, STATICREG_RETENTION_DAYS: '0' })).to.match(/STATICREG_RETENTION_DAYS="0": must be at least 1/);
  });
});
