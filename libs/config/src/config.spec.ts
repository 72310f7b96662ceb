import { expect } from 'chai';
import { loadBrowseConfig, loadReceiverConfig, loadReplayFailedConfig, loadWorkerConfig } from './index.js';
import { configError } from '../../../test/support/config-errors.js';


describe('configuration', () => {
  const TOKEN = '0123456789abcdef0123';

  it('has the documented defaults', () => {
    const receiver = loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: TOKEN });
    expect(receiver).to.include({ port: 8093, bind: '0.0.0.0', redisUrl: 'redis://127.0.0.1:6379', logLevel: 'info', bodyLimitBytes: 1024 * 1024 });
    expect(receiver).to.deep.include({ allowUnauthenticated: false, allowedNetworks: [], metricsToken: undefined });
    expect(receiver.ignoredUserAgents).to.deep.equal(['staticreg/']);
    expect(loadBrowseConfig({ STATICREG_BROWSE_AUTH: 'none' }).port).to.equal(8080);
    expect(loadWorkerConfig({}).dbUrl).to.equal(undefined);
  });

  it('reads every variable', () => {
    const receiver = loadReceiverConfig({
      STATICREG_RECEIVER_PORT: '9000',
      STATICREG_BIND: '127.0.0.1',
      STATICREG_REDIS_URL: 'redis://:secret@redis:6380/3',
      STATICREG_IGNORED_USER_AGENTS: 'staticreg/, Go-http-client ,',
      STATICREG_WEBHOOK_TOKEN: 's3cret-s3cret-s3cret',
      STATICREG_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/8, 192.168.1.7, fd00::/8,::1',
      STATICREG_METRICS_TOKEN: 'metrics-metrics-metrics',
      STATICREG_WEBHOOK_BODY_LIMIT: '256kb',
      STATICREG_LOG_LEVEL: 'debug',
    });
    expect(receiver).to.deep.include({
      port: 9000,
      bind: '127.0.0.1',
      redisUrl: 'redis://:secret@redis:6380/3',
      ignoredUserAgents: ['staticreg/', 'Go-http-client'],
      webhookToken: 's3cret-s3cret-s3cret',
      allowedNetworks: [
        { network: '10.0.0.0', prefix: 8, family: 'ipv4' },
        { network: '192.168.1.7', prefix: 32, family: 'ipv4' },
        { network: 'fd00::', prefix: 8, family: 'ipv6' },
        { network: '::1', prefix: 128, family: 'ipv6' },
      ],
      metricsToken: 'metrics-metrics-metrics',
      bodyLimitBytes: 256 * 1024,
      logLevel: 'debug',
    });
    const worker = loadWorkerConfig({ STATICREG_DB_URL: 'postgresql://u:p@db:5432/staticreg', STATICREG_BATCH_SIZE: '100', STATICREG_BATCHES_IN_FLIGHT: '3' });
    expect(worker).to.include({ dbUrl: 'postgresql://u:p@db:5432/staticreg', batchSize: 100, batchesInFlight: 3 });
    expect(loadWorkerConfig({}).batchesInFlight).to.equal(2);
  });

  it('treats an empty STATICREG_IGNORED_USER_AGENTS as "ignore nothing"', () => {
    expect(loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: TOKEN, STATICREG_IGNORED_USER_AGENTS: '' }).ignoredUserAgents).to.deep.equal([]);
  });

  it('requires a webhook token unless unauthenticated intake is enabled explicitly', () => {
    const error = configError(() => loadReceiverConfig({}));
    expect(error.variable).to.equal('STATICREG_WEBHOOK_TOKEN');
    expect(error.message).to.include('openssl rand -hex 32').and.to.include('STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED=true');
    const open = loadReceiverConfig({ STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED: 'true' });
    expect(open).to.include({ webhookToken: undefined, allowUnauthenticated: true });
    expect(configError(() => loadReceiverConfig({ STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED: 'false' })).variable).to.equal('STATICREG_WEBHOOK_TOKEN');
    expect(configError(() => loadReceiverConfig({ STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED: 'true', STATICREG_WEBHOOK_TOKEN: TOKEN })).variable).to.equal(
      'STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED',
    );
  });

  it('refuses tokens shorter than 16 characters, and never prints them', () => {
    for (const [variable, load] of [
      ['STATICREG_WEBHOOK_TOKEN', () => loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: 'fifteen-chars-x' })],
      ['STATICREG_METRICS_TOKEN', () => loadWorkerConfig({ STATICREG_METRICS_TOKEN: 'fifteen-chars-x' })],
    ] as const) {
      const error = configError(load);
      expect(error.variable).to.equal(variable);
      expect(error.message).to.include('at least 16 characters').and.not.include('fifteen-chars-x');
    }
    expect(loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: 'sixteen-chars-xx' }).webhookToken).to.equal('sixteen-chars-xx');
  });

  const bad: Array<[string, string, () => unknown]> = [
    ['STATICREG_WEBHOOK_ALLOWED_NETWORKS', '10.0.0.0/33', () => loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: TOKEN, STATICREG_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/33' })],
    ['STATICREG_WEBHOOK_ALLOWED_NETWORKS', 'fd00::/129', () => loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: TOKEN, STATICREG_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/8,fd00::/129' })],
    ['STATICREG_WEBHOOK_ALLOWED_NETWORKS', 'example.com', () => loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: TOKEN, STATICREG_WEBHOOK_ALLOWED_NETWORKS: 'example.com' })],
    ['STATICREG_WEBHOOK_ALLOWED_NETWORKS', '10.0.0.0/8/8', () => loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: TOKEN, STATICREG_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/8/8' })],
    ['STATICREG_RECEIVER_PORT', 'abc', () => loadReceiverConfig({ STATICREG_RECEIVER_PORT: 'abc' })],
    ['STATICREG_RECEIVER_PORT', '70000', () => loadReceiverConfig({ STATICREG_RECEIVER_PORT: '70000' })],
    ['STATICREG_BROWSE_PORT', '-1', () => loadBrowseConfig({ STATICREG_BROWSE_PORT: '-1' })],
    ['STATICREG_REDIS_URL', 'localhost:6379', () => loadReceiverConfig({ STATICREG_REDIS_URL: 'localhost:6379' })],
    ['STATICREG_REDIS_URL', 'redis://h/x', () => loadReceiverConfig({ STATICREG_REDIS_URL: 'redis://h/x' })],
    ['STATICREG_DB_URL', 'mysql://h/db', () => loadWorkerConfig({ STATICREG_DB_URL: 'mysql://h/db' })],
    ['STATICREG_LOG_LEVEL', 'loud', () => loadWorkerConfig({ STATICREG_LOG_LEVEL: 'loud' })],
    ['STATICREG_WEBHOOK_BODY_LIMIT', '1gb', () => loadReceiverConfig({ STATICREG_WEBHOOK_TOKEN: TOKEN, STATICREG_WEBHOOK_BODY_LIMIT: '1gb' })],
    ['STATICREG_BATCH_SIZE', '0', () => loadWorkerConfig({ STATICREG_BATCH_SIZE: '0' })],
    ['STATICREG_BATCHES_IN_FLIGHT', '0', () => loadWorkerConfig({ STATICREG_BATCHES_IN_FLIGHT: '0' })],
    ['STATICREG_BATCHES_IN_FLIGHT', '1.5', () => loadWorkerConfig({ STATICREG_BATCHES_IN_FLIGHT: '1.5' })],
    ['STATICREG_RETENTION_DAYS', '0', () => loadWorkerConfig({ STATICREG_RETENTION_DAYS: '0' })],
    ['STATICREG_RETENTION_DAYS', '90d', () => loadWorkerConfig({ STATICREG_RETENTION_DAYS: '90d' })],
    ['STATICREG_BROWSE_CSRF_SECRET', 'short', () => loadBrowseConfig({ STATICREG_BROWSE_CSRF_SECRET: 'short' })],
  ];
  for (const [variable, value, load] of bad) {
    it(`stops on ${variable}=${value} with a message naming the variable`, () => {
      expect(configError(load).message).to.match(new RegExp(`^Invalid configuration: ${variable}=`));
    });
  }

  it('keeps every day of counts unless STATICREG_RETENTION_DAYS is set', () => {
    expect(loadWorkerConfig({}).retentionDays).to.equal(undefined);
    expect(loadWorkerConfig({ STATICREG_RETENTION_DAYS: '' }).retentionDays).to.equal(undefined);
    expect(loadWorkerConfig({ STATICREG_RETENTION_DAYS: '90' }).retentionDays).to.equal(90);
  });

  it('reads STATICREG_COUNT_POLICY, with the deprecated `guide` as another name for `events`', () => {
    expect(loadWorkerConfig({}).countPolicy).to.equal('sessions');
    expect(loadWorkerConfig({ STATICREG_COUNT_POLICY: 'events' }).countPolicy).to.equal('events');
    expect(loadWorkerConfig({ STATICREG_COUNT_POLICY: 'guide' }).countPolicy).to.equal('events');
    const error = configError(() => loadWorkerConfig({ STATICREG_COUNT_POLICY: 'pulls' }));
    expect(error.variable).to.equal('STATICREG_COUNT_POLICY');
    expect(error.message).to.include('must be sessions or events');
  });

  it('never prints a secret in its message', () => {
    const error = configError(() => loadWorkerConfig({ STATICREG_DB_URL: 'ftp://admin:hunter2@db/x' }));
    expect(error.message).to.not.include('hunter2');
    expect(configError(() => loadBrowseConfig({ STATICREG_BROWSE_CSRF_SECRET: 'hunter2' })).message).to.not.include('hunter2');
  });
});

describe('replay-failed options', () => {
  it('reads dates as UTC, times with their zone, and the reason as substring or exact', () => {
    const config = loadReplayFailedConfig(['--since', '2026-12-01', '--until', '2026-12-01T09:30+01:00', '--reason', 'date', '--limit', '5', '--dry-run'], {});
    expect(config.failedSince!.toISOString()).to.equal('2026-12-01T00:00:00.000Z');
    expect(config.failedUntil!.toISOString()).to.equal('2026-12-01T08:30:00.000Z');
    expect(config).to.deep.include({ reason: { text: 'date', match: 'substring' }, limit: 5, dryRun: true });
    expect(loadReplayFailedConfig(['--reason-exact', 'x y'], {}).reason).to.deep.equal({ text: 'x y', match: 'exact' });
    expect(loadReplayFailedConfig([], {})).to.deep.include({ failedSince: undefined, failedUntil: undefined, reason: undefined, limit: undefined, dryRun: false });
  });

  it('refuses a time without its zone, naming the option', () => {
    expect(configError(() => loadReplayFailedConfig(['--since', '2026-12-01T08:00'], {})).message).to.match(/^Invalid configuration: --since="2026-12-01T08:00": must be/);
  });

  it('refuses a calendar day that does not exist, naming the option', () => {
    expect(configError(() => loadReplayFailedConfig(['--until', '2026-02-30'], {})).message).to.equal('Invalid configuration: --until="2026-02-30": is not a real date and time');
    expect(configError(() => loadReplayFailedConfig(['--since', '2026-04-31T08:00Z'], {})).message).to.equal('Invalid configuration: --since="2026-04-31T08:00Z": is not a real date and time');
  });

  it('refuses a time before 1970, whether given as a day or with a zone', () => {
    expect(configError(() => loadReplayFailedConfig(['--since', '1969-12-31'], {})).message).to.equal('Invalid configuration: --since="1969-12-31": must be from 1970 on');
    expect(configError(() => loadReplayFailedConfig(['--since', '1970-01-01T00:30+01:00'], {})).message).to.equal('Invalid configuration: --since="1970-01-01T00:30+01:00": must be from 1970 on');
    expect(loadReplayFailedConfig(['--since', '1970-01-01'], {}).failedSince?.toISOString()).to.equal('1970-01-01T00:00:00.000Z');
  });
});
