// Browse sign-in against real docker-registry 2.8.2 instances: token auth with the test token service granting
// alice pull on team-a/*, bob on team-b/*, admin on everything; htpasswd, where every valid user sees everything.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import { utcDayOf } from '@staticreg/events';
import { buildSpecImage } from '../support/images.js';
import { writeOciLayout } from '../support/oci-layout.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, startTokenService, type TestRegistry, type TokenService } from '../support/registry-servers.js';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL } from '../support/services.js';
import { basicAuth, BrowseSession } from '../support/browse-session.js';

const REPOSITORIES = ['team-a/app', 'team-a/tools/lint', 'team-b/app', 'team-b/web', 'other/secret'];

async function pushAll(dir: string, registry: TestRegistry, creds: string): Promise<void> {
  const image = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-02-03T04:05:06Z', layers: [['f.txt', `x ${dir}`]] });
  const layout = join(dir, 'layout');
  await writeOciLayout(layout, 'x', image);
  for (const repository of REPOSITORIES) {
    await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:x`, `docker://${registry.host}/${repository}:v1`);
  }
}

async function startBrowse(registry: TestRegistry, service: { user: string; password: string }, extra: Record<string, string> = {}): Promise<{ browse: AppProcess; base: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const browse = startApp('browse', {
    STATICREG_BROWSE_PORT: String(port),
    STATICREG_REDIS_URL: TEST_REDIS_URL,
    STATICREG_REGISTRY_HOSTNAME: registry.host,
    STATICREG_REGISTRY_USER: service.user,
    STATICREG_REGISTRY_PASSWORD: service.password,
    STATICREG_BROWSE_CRAWL_RATE: '0',
    ...extra,
  });
  try {
    await waitForHttp(`${base}/healthz`, browse);
    // Every repository listed and read, seen through the service account's eyes (basic credentials on the API).
    const admin = new BrowseSession(base);
    await eventually(async () => {
      const answer = await admin.get('/api/catalog', basicAuth(service.user, service.password));
      if (answer.status !== 200) return false;
      const catalog = JSON.parse(answer.body) as { repositories: number; neverRefreshed: number };
      return catalog.repositories === REPOSITORIES.length && catalog.neverRefreshed === 0;
    }, 30_000, 'the first crawl pass');
  } catch (error) {
    // Not yet in the suite's stop list: a browse that never got ready must not outlive the run.
    await browse.stop('SIGKILL');
    throw error;
  }
  return { browse, base };
}

function treeNames(tree: { entries: Array<{ path: string }> }): string[] {
  return tree.entries.map((entry) => entry.path);
}

describe('browse sign-in against the registry', function () {
  this.timeout(120_000);
  let dir: string;
  let redis: Redis;
  const stops: Array<() => Promise<unknown>> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-browse-auth-'));
    // The tests' own Redis db: no sessions or sign-in counters left from an earlier run.
    redis = await freshRedis();
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  describe('token auth: each person sees what the token service lets them pull', () => {
    let tokens: TokenService;
    let registry: TestRegistry;
    let base: string;
    let browse: AppProcess;

    before(async () => {
      tokens = await startTokenService(join(dir, 'tokens'), {
        admin: { password: 'admin-pw', push: true },
        alice: { password: 'alice-pw', pull: ['team-a/*'] },
        bob: { password: 'bob-pw', pull: ['team-b/*'] },
        carol: { password: 'carol-pw', pull: ['team-a/*'] },
        dave: { password: 'dave-pw', pull: ['team-a/*'] },
        erin: { password: 'erin-pw', pull: ['team-b/*'] },
        // An admin of browse whom the registry grants nothing: browse's admin role shows everything anyway.
        root: { password: 'root-pw', pull: ['nothing/*'] },
      });
      stops.push(() => tokens.stop());
      registry = await startTestRegistry({
        dir: join(dir, 'token-registry'),
        auth: { kind: 'token', realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle },
      });
      stops.push(() => registry.stop());
      await pushAll(dir, registry, 'admin:admin-pw');
      // The catalog in Postgres here (in memory for the htpasswd registry below): both stores filter the same way.
      const database = await createTestDatabase();
      stops.push(() => database.drop());
      // Today's pulls as the worker stores them (the rollups follow by trigger): one row per repository.
      const today = utcDayOf(Date.now());
      for (const [repository, architecture, count] of [['team-a/app', 'amd64', 5], ['team-b/app', 'arm64', 7], ['other/secret', 's390x', 11]] as const) {
        await sql`insert into container_pull_metrics (pull_date, repo_name, tag, digest, architecture, pull_count)
          values (${today}::date, ${repository}, 'v1', ${`sha256:${'0'.repeat(64)}`}, ${architecture}, ${count})`.execute(database.db);
      }
      ({ browse, base } = await startBrowse(registry, { user: 'admin', password: 'admin-pw' }, {
        STATICREG_DB_URL: database.url,
        STATICREG_BROWSE_ADMINS: 'root',
        STATICREG_BROWSE_SIGNIN_MAX_FAILURES: '3',
        STATICREG_BROWSE_SIGNIN_MAX_FAILURES_PER_ADDRESS: '1000',
      }));
      stops.push(() => browse.stop());
    });

    it('shows an anonymous visitor nothing but the sign-in page; the API answers 401', async () => {
      const anonymous = new BrowseSession(base);
      for (const path of ['/', '/r/team-a/app', '/search?q=app', '/dashboard', '/r/no/such/repo']) {
        const answer = await anonymous.get(path);
        expect(answer.status, path).to.equal(303);
        expect(answer.headers.get('location'), path).to.equal(`/sign-in?next=${encodeURIComponent(path)}`);
      }
      for (const path of ['/api/tree', '/api/search?q=app', '/api/r/team-a/app', '/api/catalog', '/api/metrics/daily', '/api/metrics/daily?format=csv']) {
        const answer = await anonymous.get(path);
        expect(answer.status, path).to.equal(401);
        expect(answer.headers.get('www-authenticate'), path).to.match(/^Basic realm="staticreg"/);
        expect(answer.body, path).to.not.match(/team-|secret/);
      }
      const signIn = await anonymous.get('/sign-in?next=%2F');
      expect(signIn.status).to.equal(200);
      expect(signIn.body).to.include('<form method="post" action="/sign-in">').and.not.match(/team-|secret/);
      // What stays open: probes, the metrics endpoint (its own token elsewhere), the static assets.
      for (const path of ['/healthz', '/readyz', '/metrics', '/assets/app.css']) expect((await anonymous.get(path)).status, path).to.equal(200);
    });

    it('gives alice team-a and bob team-b on every page and API, and answers 404 for the rest as for a missing one', async () => {
      for (const [user, own, others] of [
        ['alice', ['team-a/app', 'team-a/tools/lint'], ['team-b/app', 'team-b/web', 'other/secret']],
        ['bob', ['team-b/app', 'team-b/web'], ['team-a/app', 'team-a/tools/lint', 'other/secret']],
      ] as const) {
        const session = new BrowseSession(base);
        const signIn = await session.signIn(user, `${user}-pw`);
        expect(signIn.status, signIn.body).to.equal(303);
        const setCookie = signIn.headers.get('set-cookie')!;
        expect(setCookie).to.match(/HttpOnly/i).and.match(/SameSite=Lax/i).and.not.match(/Secure/i);

        const team = own[0].split('/')[0]!;
        expect(treeNames(await session.json('/api/tree'))).to.deep.equal([team]);
        expect((await session.json<{ total: number }>('/api/tree')).total).to.equal(1);
        const folder = await session.json<{ entries: Array<{ path: string }> }>(`/api/tree?path=${team}`);
        expect(treeNames(folder)).to.deep.equal([`${team}/app`, ...(team === 'team-a' ? [`${team}/tools`] : [`${team}/web`])]);
        const search = await session.json<{ total: number; repositories: Array<{ name: string }> }>('/api/search?q=app');
        expect(search.repositories.map((r) => r.name)).to.deep.equal([`${team}/app`]);
        expect(search.total).to.equal(1);
        const everything = await session.json<{ total: number; repositories: Array<{ name: string }> }>('/api/search?q=e&limit=100');
        expect(everything.repositories.map((r) => r.name).filter((name) => !own.includes(name as never))).to.deep.equal([]);
        const catalog = await session.json<{ repositories: number; crawler?: unknown }>('/api/catalog');
        expect(catalog.repositories).to.equal(own.length);
        expect(catalog).to.not.have.property('crawler');

        const home = await session.get('/');
        expect(home.status).to.equal(200);
        expect(home.body).to.include(`href="/?path=${team}"`).and.include(`<span class="user">${user}</span>`);
        for (const other of ['team-a', 'team-b', 'other'].filter((name) => name !== team)) expect(home.body).to.not.include(other);
        const searchPage = await session.get('/search?q=app');
        expect(searchPage.body).to.include(`${team}/app`);
        for (const name of others) expect(searchPage.body).to.not.include(name);

        for (const name of own) {
          expect((await session.get(`/r/${name}`)).status, name).to.equal(200);
          expect((await session.get(`/r/${name}/-/tags/v1`)).status, name).to.equal(200);
          expect((await session.json<{ tag: { tag: string } }>(`/api/r/${name}/-/tags/v1`)).tag.tag).to.equal('v1');
        }
        const missing = await session.get('/api/r/no-such/repository');
        for (const name of others) {
          for (const path of [`/r/${name}`, `/r/${name}/-/tags/v1`, `/api/r/${name}`, `/api/r/${name}/-/tags/v1`]) {
            const answer = await session.get(path);
            expect(answer.status, path).to.equal(404);
            expect(answer.body, path).to.not.include('v1"');
          }
          // The same answer as for a name that does not exist, but for the name itself.
          expect((await session.get(`/api/r/${name}`)).body).to.equal(missing.body.replace('no-such/repository', name));
        }
        expect((await session.get(`/api/tree?path=${others[2]!.split('/')[0]}`)).status).to.equal(404);
        // The dashboard's panels, totals, CSV and suggestions count their repositories only; the pipeline is for admins.
        const pulled = user === 'alice' ? { repository: 'team-a/app', architecture: 'amd64', pulls: 5 } : { repository: 'team-b/app', architecture: 'arm64', pulls: 7 };
        const dashboard = await session.get('/dashboard');
        expect(dashboard.status).to.equal(200);
        expect(dashboard.body).to.not.include('panel-pipeline');
        const daily = await session.json<{ rows: Array<{ pulls: number }>; filter: Record<string, unknown> }>('/api/metrics/daily');
        expect(daily.rows.reduce((sum, row) => sum + Number(row.pulls), 0)).to.equal(pulled.pulls);
        expect(daily.filter).to.not.have.property('repositories');
        const top = await session.json<{ rows: Array<{ repository: string; pulls: number }> }>('/api/metrics/top-repositories');
        expect(top.rows.map((row) => [row.repository, Number(row.pulls)])).to.deep.equal([[pulled.repository, pulled.pulls]]);
        const tags = await session.json<{ rows: Array<{ repository: string }> }>('/api/metrics/top-tags');
        expect(tags.rows.map((row) => row.repository)).to.deep.equal([pulled.repository]);
        const architectures = await session.json<{ rows: Array<{ architecture: string; repositories: number }> }>('/api/metrics/architectures');
        expect(architectures.rows.map((row) => [row.architecture, Number(row.repositories)])).to.deep.equal([[pulled.architecture, 1]]);
        const csv = await session.get('/api/metrics/top-repositories?format=csv');
        expect(csv.status).to.equal(200);
        expect(csv.body).to.include(pulled.repository).and.not.include('secret');
        for (const name of others) expect(csv.body).to.not.include(name);
        expect((await session.json<{ names: string[] }>('/api/metrics/suggest/repositories?q=')).names).to.deep.equal([...own].sort());
        expect((await session.json<{ names: string[] }>('/api/metrics/suggest/architectures')).names).to.deep.equal([pulled.architecture]);
        expect((await session.json<{ names: string[] }>('/api/metrics/suggest/tags?repository=other/secret')).names).to.deep.equal([]);
        expect((await session.json<{ rows: unknown[] }>('/api/metrics/tag-digests?repository=other/secret&tag=v1')).rows).to.deep.equal([]);
        expect((await session.json<{ rows: unknown[] }>('/api/metrics/image-architectures?repository=other/secret')).rows).to.deep.equal([]);
        const trend = await session.json<{ rows: Array<{ architecture: string }> }>('/api/metrics/daily-architectures');
        expect(trend.rows.map((row) => row.architecture)).to.deep.equal([pulled.architecture]);
        for (const path of ['/api/metrics/pipeline', '/api/metrics/intake', '/api/metrics/failed-jobs', '/api/metrics/pipeline?format=csv']) {
          expect((await session.get(path)).status, path).to.equal(403);
        }
      }
      // Many scopes per token request: one request for the sign-in check, one for the five repositories.
      const aliceRequests = tokens.requests.filter((request) => request.user === 'alice');
      expect(aliceRequests.map((request) => request.scopes.length)).to.deep.equal([0, REPOSITORIES.length]);
    });

    it('shows an admin every repository, the dashboard and pipeline health, whatever the registry grants them', async () => {
      const session = new BrowseSession(base);
      expect((await session.signIn('root', 'root-pw')).status).to.equal(303);
      expect(treeNames(await session.json('/api/tree'))).to.deep.equal(['other', 'team-a', 'team-b']);
      expect((await session.get('/r/other/secret/-/tags/v1')).status).to.equal(200);
      const dashboard = await session.get('/dashboard');
      expect(dashboard.status).to.equal(200);
      expect(dashboard.body).to.include('panel-pipeline');
      const top = await session.json<{ rows: Array<{ repository: string }> }>('/api/metrics/top-repositories');
      expect(top.rows.map((row) => row.repository)).to.deep.equal(['other/secret', 'team-b/app', 'team-a/app']);
      expect((await session.json<{ queue: unknown }>('/api/metrics/pipeline')).queue).to.not.equal(undefined);
      expect((await session.get('/api/metrics/top-repositories?format=csv')).status).to.equal(200);
      expect((await new BrowseSession(base).get('/api/metrics/failed-jobs', basicAuth('root', 'root-pw'))).status).to.equal(200);
    });

    it('lets an API client in with basic credentials, filtered the same way', async () => {
      const client = new BrowseSession(base);
      const tree = await client.get('/api/tree', basicAuth('bob', 'bob-pw'));
      expect(tree.status).to.equal(200);
      expect(treeNames(JSON.parse(tree.body) as { entries: Array<{ path: string }> })).to.deep.equal(['team-b']);
      expect((await client.get('/api/r/team-a/app', basicAuth('bob', 'bob-pw'))).status).to.equal(404);
      const admin = await client.get('/api/tree', basicAuth('admin', 'admin-pw'));
      expect(treeNames(JSON.parse(admin.body) as { entries: Array<{ path: string }> })).to.deep.equal(['other', 'team-a', 'team-b']);
      const wrong = await client.get('/api/tree', basicAuth('bob', 'not-bobs'));
      expect(wrong.status).to.equal(401);
      expect(wrong.headers.get('www-authenticate')).to.match(/^Basic/);
    });

    it('refuses a wrong password, then slows the user down with 429 and Retry-After, even with the right one', async () => {
      const session = new BrowseSession(base);
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const wrong = await session.signIn('carol', 'guess');
        expect(wrong.status).to.equal(401);
        expect(wrong.headers.get('set-cookie')).to.equal(null);
        expect(wrong.body).to.include('did not accept');
      }
      const limited = await session.signIn('carol', 'carol-pw');
      expect(limited.status).to.equal(429);
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).to.be.within(1, 900);
      expect(limited.body).to.include(`try again in ${retryAfter} seconds`);
      expect(session.cookie).to.equal(undefined);
      // The counter is per user: alice is not slowed down by carol's failures.
      expect((await new BrowseSession(base).signIn('alice', 'alice-pw')).status).to.equal(303);
      // Nor is a password ever written to the log.
      expect(browse.output()).to.not.include('carol-pw').and.not.include('alice-pw').and.not.include('guess');
    });

    it('counts sign-ins still in flight: parallel guesses get no more tries than the limit', async () => {
      const asked = () => tokens.requests.filter((request) => request.user === 'dave').length;
      const before = asked();
      const answers = await Promise.all(Array.from({ length: 20 }, () => new BrowseSession(base).signIn('dave', 'guess')));
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses.filter((status) => status === 401)).to.have.length(3);
      expect(statuses.filter((status) => status === 429)).to.have.length(17);
      expect(asked() - before, 'token service requests for dave').to.be.at.most(3);
    });

    it('never locks out an API client whose credentials were just verified', async () => {
      const client = new BrowseSession(base);
      expect((await client.get('/api/tree', basicAuth('erin', 'erin-pw'))).status).to.equal(200);
      const guesses = [];
      for (let i = 0; i < 4; i += 1) guesses.push((await client.get('/api/tree', basicAuth('erin', `guess-${i}`))).status);
      expect(guesses).to.deep.equal([401, 401, 401, 429]);
      expect((await client.get('/api/tree', basicAuth('erin', 'erin-pw'))).status).to.equal(200);
    });

    it('signs out only with a same-origin request carrying the session token', async () => {
      const session = new BrowseSession(base);
      await session.signIn('alice', 'alice-pw');
      expect((await session.get('/')).status).to.equal(200);
      const token = session.csrfToken!;
      expect(token).to.be.a('string');
      // Scripts read it from the page's meta tag and send it as a header.
      expect((await session.get('/')).body).to.include(`<meta name="staticreg-csrf-token" content="${token}">`);
      expect((await session.post('/sign-out', {}, { 'x-csrf-token': 'wrong' })).status).to.equal(403);
      expect((await session.post('/sign-out', { csrf: token }, { origin: 'http://evil.example', 'sec-fetch-site': '' })).status).to.equal(403);
      expect((await session.post('/sign-out', { csrf: token }, { 'sec-fetch-site': 'same-site' })).status).to.equal(403);
      expect((await session.post('/sign-out', {})).status).to.equal(403);
      expect((await session.post('/sign-out', { csrf: 'x'.repeat(token.length) })).status).to.equal(403);
      expect((await session.get('/')).status, 'still signed in').to.equal(200);
      // The header does what the form field does (the Chromium test signs out with the form).
      const out = await session.post('/sign-out', {}, { 'x-csrf-token': token });
      expect(out.status).to.equal(303);
      expect(out.headers.get('location')).to.equal('/sign-in');
      expect((await session.get('/')).status, 'the session is gone').to.equal(303);
    });

    it('refuses a sign-in form posted from another site', async () => {
      const forged = await new BrowseSession(base).post('/sign-in', { user: 'alice', password: 'alice-pw', next: '/' }, { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' });
      expect(forged.status).to.equal(403);
      expect(forged.headers.get('set-cookie')).to.equal(null);
    });

    it('answers a sign-in form over its 8 kB limit with 413 saying so, not a 500', async () => {
      const answer = await new BrowseSession(base).post('/sign-in', { user: 'alice', password: 'x'.repeat(9000), next: '/' });
      expect(answer.status).to.equal(413);
      expect(answer.body).to.include('request body is larger than the limit of 8192 bytes');
    });
  });

  describe('htpasswd: every valid user sees everything', () => {
    let base: string;

    before(async () => {
      const registry = await startTestRegistry({ dir: join(dir, 'htpasswd-registry'), auth: { kind: 'htpasswd', users: { ops: 'ops-pw', dev: 'dev-pw' } } });
      stops.push(() => registry.stop());
      await pushAll(dir, registry, 'ops:ops-pw');
      const started = await startBrowse(registry, { user: 'ops', password: 'ops-pw' }, { STATICREG_BROWSE_ADMINS: 'ops' });
      base = started.base;
      stops.push(() => started.browse.stop());
    });

    it('shows a signed-in user every repository (pipeline health only to admins), and refuses a wrong password', async () => {
      const session = new BrowseSession(base);
      expect((await session.signIn('dev', 'dev-pw')).status).to.equal(303);
      expect(treeNames(await session.json('/api/tree'))).to.deep.equal(['other', 'team-a', 'team-b']);
      expect((await session.get('/r/other/secret/-/tags/v1')).status).to.equal(200);
      // Seeing every repository does not make dev an admin: pipeline health is for STATICREG_BROWSE_ADMINS.
      expect((await session.get('/dashboard')).status).to.equal(200);
      expect((await session.get('/api/metrics/pipeline')).status).to.equal(403);
      expect((await new BrowseSession(base).get('/api/metrics/pipeline', basicAuth('ops', 'ops-pw'))).status).to.equal(200);
      const wrong = new BrowseSession(base);
      expect((await wrong.signIn('dev', 'ops-pw')).status).to.equal(401);
      expect(wrong.cookie).to.equal(undefined);
      expect((await wrong.get('/api/tree', basicAuth('dev', 'wrong'))).status).to.equal(401);
      expect((await wrong.get('/api/tree', basicAuth('dev', 'dev-pw'))).status).to.equal(200);
    });
  });
});
