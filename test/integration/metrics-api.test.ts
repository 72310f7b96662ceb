// The metrics API against a real Postgres seeded with known rows: exact numbers, filters, CSV, and refusals.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { sql } from 'kysely';
import { createDb } from '@staticreg/db';
import { createLogger } from '@staticreg/log';
import { closeServer, listen } from '@staticreg/http';
import { createBrowseApp } from '../../apps/browse/src/app.js';
import { createDashboardRouter } from '../../apps/browse/src/dashboard/index.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { digestOf } from '../support/pulls.js';
import { freePort } from '../support/processes.js';

const NOW = new Date('2026-03-15T12:00:00Z');
const A = digestOf('nginx-a');
const B = digestOf('nginx-b');
const C = digestOf('nginx-c');
const D = digestOf('redis-d');
const E = digestOf('app-e');

// [date, repository, tag, digest, architecture, count]; latest moved from A to B on 03-12.
type Seed = [string, string, string, string, string, number];
const PULLS: Seed[] = [
  ['2026-03-10', 'library/nginx', 'latest', A, 'amd64', 5],
  ['2026-03-10', 'library/nginx', 'latest', A, 'arm64', 2],
  ['2026-03-12', 'library/nginx', 'latest', A, 'amd64', 1],
  ['2026-03-12', 'library/nginx', 'latest', B, 'amd64', 4],
  ['2026-03-14', 'library/nginx', 'latest', B, 'arm64', 3],
  ['2026-03-15', 'library/nginx', 'latest', B, 'amd64', 6],
  ['2026-03-13', 'library/nginx', '1.25', C, 'amd64', 7],
  ['2026-03-15', 'library/nginx', '1.25', C, 'arm/v7', 1],
  ['2026-03-11', 'library/redis', '7', D, 'amd64', 10],
  ['2026-03-15', 'library/redis', '7', D, 'not-specified', 2],
  ['2026-03-01', 'team/app', 'v1', E, 'amd64', 100],
  ['2026-03-14', 'team/app', 'v1', E, 'arm64', 1],
  // Far from the rest, as a hand-edited row could be: the CSV must not hand it to a spreadsheet as a formula.
  ['2025-01-01', 'evil/repo', 'x', E, '=HYPERLINK("http://evil")', 1],
];
const CHECKS: Seed[] = [
  ['2026-03-15', 'library/nginx', 'latest', B, 'amd64', 3],
  ['2026-03-11', 'library/redis', '7', D, 'amd64', 2],
  ['2026-03-14', 'library/nginx', 'latest', A, 'amd64', 1],
];

describe('metrics API (real Postgres)', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let server: Server;
  let base: string;

  const get = async (path: string): Promise<{ status: number; body: any; response: Response }> => {
    const response = await fetch(`${base}${path}`);
    const text = await response.text();
    const json = (response.headers.get('content-type') ?? '').includes('json');
    return { status: response.status, body: json ? JSON.parse(text) : text, response };
  };
  const rows = async (path: string): Promise<unknown[]> => {
    const { status, body } = await get(path);
    expect(status, JSON.stringify(body)).to.equal(200);
    return body.rows;
  };

  before(async () => {
    database = await createTestDatabase();
    for (const [table, column, seeds] of [
      ['container_pull_metrics', 'pull_count', PULLS],
      ['container_pull_checks', 'check_count', CHECKS],
    ] as const) {
      for (const [date, repository, tag, digest, architecture, count] of seeds) {
        // updated_at: noon of the row's day, so "last seen" is predictable.
        await sql`
          insert into ${sql.table(table)} (pull_date, repo_name, tag, digest, architecture, ${sql.ref(column)}, updated_at)
          values (${date}::date, ${repository}, ${tag}, ${digest}, ${architecture}, ${count}, ${date}::date + time '12:00')`.execute(database.db);
      }
    }
    const app = createBrowseApp({
      log: createLogger('browse', 'silent'),
      probes: () => ({}),
      isShuttingDown: () => false,
      routers: [createDashboardRouter({ db: database.db, queue: undefined, redis: undefined, now: () => NOW })],
    });
    server = await listen(app, 0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    if (server) await closeServer(server);
    await database?.drop();
  });

  it('daily: pulls and checks of every day of the last 7 days, zeros included', async () => {
    const { body } = await get('/api/metrics/daily?days=7');
    expect(body.panel).to.equal('daily');
    expect(body.filter).to.deep.equal({ from: '2026-03-09', to: '2026-03-15' });
    expect(body.rows).to.deep.equal([
      { date: '2026-03-09', pulls: 0, checks: 0 },
      { date: '2026-03-10', pulls: 7, checks: 0 },
      { date: '2026-03-11', pulls: 10, checks: 2 },
      { date: '2026-03-12', pulls: 5, checks: 0 },
      { date: '2026-03-13', pulls: 7, checks: 0 },
      { date: '2026-03-14', pulls: 4, checks: 1 },
      { date: '2026-03-15', pulls: 9, checks: 3 },
    ]);
  });

  it('daily: the default range is the last 30 days', async () => {
    const daily = (await rows('/api/metrics/daily')) as Array<{ date: string; pulls: number }>;
    expect(daily).to.have.length(30);
    expect(daily[0]!.date).to.equal('2026-02-14');
    expect(daily.reduce((sum, row) => sum + row.pulls, 0)).to.equal(142);
  });

  it('top repositories and top tags, with checks beside, and a limit', async () => {
    expect(await rows('/api/metrics/top-repositories?days=7')).to.deep.equal([
      { repository: 'library/nginx', pulls: 29, checks: 4 },
      { repository: 'library/redis', pulls: 12, checks: 2 },
      { repository: 'team/app', pulls: 1, checks: 0 },
    ]);
    expect(await rows('/api/metrics/top-repositories?days=30&limit=1')).to.deep.equal([{ repository: 'team/app', pulls: 101, checks: 0 }]);
    expect(await rows('/api/metrics/top-tags?days=7')).to.deep.equal([
      { repository: 'library/nginx', tag: 'latest', pulls: 21, checks: 4 },
      { repository: 'library/redis', tag: '7', pulls: 12, checks: 2 },
      { repository: 'library/nginx', tag: '1.25', pulls: 8, checks: 0 },
      { repository: 'team/app', tag: 'v1', pulls: 1, checks: 0 },
    ]);
  });

  it('architectures: pulls, checks and repositories per architecture', async () => {
    expect(await rows('/api/metrics/architectures?days=7')).to.deep.equal([
      { architecture: 'amd64', pulls: 33, checks: 6, repositories: 2 },
      { architecture: 'arm64', pulls: 6, checks: 0, repositories: 2 },
      { architecture: 'not-specified', pulls: 2, checks: 0, repositories: 1 },
      { architecture: 'arm/v7', pulls: 1, checks: 0, repositories: 1 },
    ]);
  });

  it("image architectures: one repository's tags by architecture", async () => {
    expect(await rows('/api/metrics/image-architectures?days=7&repository=library/nginx')).to.deep.equal([
      { tag: '1.25', architecture: 'amd64', pulls: 7 },
      { tag: '1.25', architecture: 'arm/v7', pulls: 1 },
      { tag: 'latest', architecture: 'amd64', pulls: 16 },
      { tag: 'latest', architecture: 'arm64', pulls: 5 },
    ]);
    // limit counts tags: the most pulled one only.
    expect(await rows('/api/metrics/image-architectures?days=7&repository=library/nginx&limit=1')).to.deep.equal([
      { tag: 'latest', architecture: 'amd64', pulls: 16 },
      { tag: 'latest', architecture: 'arm64', pulls: 5 },
    ]);
  });

  it('daily trend by architecture', async () => {
    expect(await rows('/api/metrics/daily-architectures?days=7')).to.deep.equal([
      { date: '2026-03-10', architecture: 'amd64', pulls: 5 },
      { date: '2026-03-10', architecture: 'arm64', pulls: 2 },
      { date: '2026-03-11', architecture: 'amd64', pulls: 10 },
      { date: '2026-03-12', architecture: 'amd64', pulls: 5 },
      { date: '2026-03-13', architecture: 'amd64', pulls: 7 },
      { date: '2026-03-14', architecture: 'arm64', pulls: 4 },
      { date: '2026-03-15', architecture: 'amd64', pulls: 6 },
      { date: '2026-03-15', architecture: 'arm/v7', pulls: 1 },
      { date: '2026-03-15', architecture: 'not-specified', pulls: 2 },
    ]);
  });

  it("a tag's digests: when latest moved, and which digest is still pulled", async () => {
    expect(await rows('/api/metrics/tag-digests?days=7&repository=library/nginx&tag=latest')).to.deep.equal([
      { digest: B, pulls: 13, checks: 3, firstPulled: '2026-03-12', lastPulled: '2026-03-15', lastSeenAt: '2026-03-15T12:00:00Z' },
      { digest: A, pulls: 8, checks: 1, firstPulled: '2026-03-10', lastPulled: '2026-03-12', lastSeenAt: '2026-03-14T12:00:00Z' },
    ]);
    expect(await rows('/api/metrics/tag-digests/daily?days=7&repository=library/nginx&tag=latest')).to.deep.equal([
      { date: '2026-03-10', digest: A, pulls: 7 },
      // Same day: ordered by digest.
      ...[
        { date: '2026-03-12', digest: A, pulls: 1 },
        { date: '2026-03-12', digest: B, pulls: 4 },
      ].sort((x, y) => x.digest.localeCompare(y.digest)),
      { date: '2026-03-14', digest: B, pulls: 3 },
      { date: '2026-03-15', digest: B, pulls: 6 },
    ]);
  });

  it('every panel honours the repository, tag and architecture filters and an explicit range', async () => {
    const arm = (await rows('/api/metrics/daily?days=7&architecture=arm64')) as Array<{ date: string; pulls: number }>;
    expect(arm.filter((row) => row.pulls > 0)).to.deep.equal([
      { date: '2026-03-10', pulls: 2, checks: 0 },
      { date: '2026-03-14', pulls: 4, checks: 0 },
    ]);
    expect(await rows('/api/metrics/top-repositories?days=7&architecture=arm64')).to.deep.equal([
      { repository: 'library/nginx', pulls: 5, checks: 0 },
      { repository: 'team/app', pulls: 1, checks: 0 },
    ]);
    expect(await rows('/api/metrics/top-tags?from=2026-03-12&to=2026-03-14&repository=library/nginx')).to.deep.equal([
      { repository: 'library/nginx', tag: 'latest', pulls: 8, checks: 1 },
      { repository: 'library/nginx', tag: '1.25', pulls: 7, checks: 0 },
    ]);
    expect(await rows('/api/metrics/architectures?days=7&tag=latest')).to.deep.equal([
      { architecture: 'amd64', pulls: 16, checks: 4, repositories: 1 },
      { architecture: 'arm64', pulls: 5, checks: 0, repositories: 1 },
    ]);
    expect(await rows('/api/metrics/daily-architectures?days=7&repository=library/redis&tag=7')).to.deep.equal([
      { date: '2026-03-11', architecture: 'amd64', pulls: 10 },
      { date: '2026-03-15', architecture: 'not-specified', pulls: 2 },
    ]);
    expect(await rows('/api/metrics/image-architectures?days=7&repository=library/nginx&architecture=arm/v7')).to.deep.equal([
      { tag: '1.25', architecture: 'arm/v7', pulls: 1 },
    ]);
    expect(await rows('/api/metrics/tag-digests?from=2026-03-13&to=2026-03-15&repository=library/nginx&tag=latest&architecture=amd64')).to.deep.equal([
      { digest: B, pulls: 6, checks: 3, firstPulled: '2026-03-15', lastPulled: '2026-03-15', lastSeenAt: '2026-03-15T12:00:00Z' },
      { digest: A, pulls: 0, checks: 1, firstPulled: null, lastPulled: null, lastSeenAt: '2026-03-14T12:00:00Z' },
    ]);
  });

  it('answers CSV with a file name, and neutralises formulas', async () => {
    const { status, body, response } = await get('/api/metrics/top-tags?days=7&limit=2&format=csv');
    expect(status).to.equal(200);
    expect(response.headers.get('content-type')).to.equal('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).to.equal('attachment; filename="staticreg-top-tags-2026-03-09-to-2026-03-15.csv"');
    expect(body).to.equal('repository,tag,pulls,checks\r\nlibrary/nginx,latest,21,4\r\nlibrary/redis,7,12,2\r\n');
    const evil = await get('/api/metrics/architectures?from=2025-01-01&to=2025-01-01&format=csv');
    expect(evil.body).to.equal(`architecture,pulls,checks,repositories\r\n"'=HYPERLINK(""http://evil"")",1,0,1\r\n`);
    const digests = await get('/api/metrics/tag-digests/daily?days=7&repository=library/nginx&tag=latest&format=csv');
    expect(digests.response.headers.get('content-disposition')).to.include('staticreg-tag-digests-daily-');
    expect(digests.body.split('\r\n')[1]).to.equal(`2026-03-10,${A},7`);
  });

  it('suggests repository names, tags and architectures', async () => {
    expect((await get('/api/metrics/suggest/repositories?q=library/')).body).to.deep.equal({ names: ['library/nginx', 'library/redis'] });
    expect((await get('/api/metrics/suggest/repositories?q=t')).body).to.deep.equal({ names: ['team/app'] });
    expect((await get('/api/metrics/suggest/repositories?q=_')).body).to.deep.equal({ names: [] });
    expect((await get('/api/metrics/suggest/tags?repository=library/nginx')).body).to.deep.equal({ names: ['1.25', 'latest'] });
    expect((await get('/api/metrics/suggest/architectures')).body.names).to.include.members(['amd64', 'arm/v7', 'arm64', 'not-specified']);
  });

  it('refuses bad parameters with a 400 that names the parameter', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/api/metrics/daily?from=2026-13-01&to=2026-03-15', /^from: must be a date as YYYY-MM-DD/],
      ['/api/metrics/daily?from=2026-03-15&to=2026-03-01', /^from: must not be after to/],
      ['/api/metrics/daily?from=2024-01-01&to=2026-03-15', /^to: the range .* is longer than 366 days/],
      ['/api/metrics/daily?days=abc', /^days: must be a whole number/],
      ['/api/metrics/top-tags?repository=UPPER/case', /^repository: not a valid repository name/],
      ['/api/metrics/top-tags?tag=.hidden', /^tag: not a valid tag/],
      ['/api/metrics/top-tags?limit=0', /^limit: must be a whole number from 1 to 500/],
      ['/api/metrics/daily?limit=5', /^limit: unknown parameter/],
      ['/api/metrics/daily?repo=library/nginx', /^repo: unknown parameter/],
      ['/api/metrics/daily?format=xlsx', /^format: must be json or csv/],
      ['/api/metrics/image-architectures?days=7', /^repository: is required by this endpoint/],
      ['/api/metrics/tag-digests?repository=library/nginx', /^tag: is required by this endpoint/],
      ['/api/metrics/daily?tag=a&tag=b', /^tag: given more than once/],
      ['/api/metrics/suggest/repositories?q=%25', /^q: may hold only/],
      ['/api/metrics/suggest/tags', /^repository: is required/],
    ];
    for (const [path, message] of cases) {
      const { status, body } = await get(path);
      expect(status, path).to.equal(400);
      expect(body.error, path).to.match(message);
    }
    expect((await get('/api/metrics/nope')).status).to.equal(404);
  });

  it('answers 501, not to be cached, without a database', async () => {
    const app = createBrowseApp({
      log: createLogger('browse', 'silent'),
      probes: () => ({}),
      isShuttingDown: () => false,
      routers: [createDashboardRouter({ db: undefined, queue: undefined, redis: undefined })],
    });
    const bare = await listen(app, 0, '127.0.0.1');
    try {
      const response = await fetch(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/api/metrics/daily`);
      expect(response.status).to.equal(501);
      expect(response.headers.get('cache-control')).to.equal('no-store');
      expect(await response.json()).to.deep.equal({ error: 'no database configured (STATICREG_DB_URL is not set)' });
    } finally {
      await closeServer(bare);
    }
  });

  it('answers 503 with Retry-After when its database does not answer', async () => {
    // Nothing listens on this port: every query fails to connect, as with Postgres down.
    const unreachable = createDb({ url: `postgresql://postgres@127.0.0.1:${await freePort()}/staticreg`, applicationName: 'staticreg-test' });
    const app = createBrowseApp({
      log: createLogger('browse', 'silent'),
      probes: () => ({}),
      isShuttingDown: () => false,
      routers: [createDashboardRouter({ db: unreachable, queue: undefined, redis: undefined })],
    });
    const bare = await listen(app, 0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
      for (const path of ['/api/metrics/daily', '/api/metrics/suggest/repositories?q=a']) {
        const response = await fetch(`${base}${path}`);
        expect(response.status, path).to.equal(503);
        expect(response.headers.get('retry-after'), path).to.equal('5');
        expect(await response.json(), path).to.deep.equal({ error: 'database unavailable, retry later' });
      }
    } finally {
      await closeServer(bare);
      await unreachable.destroy();
    }
  });
});
