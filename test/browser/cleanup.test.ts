// The /cleanup page in headless Chromium against an htpasswd registry and the Postgres catalog: hidden and refused
// for a non-admin; for an admin the plan, the delete-rights check, the confirmed apply and the audit it leaves;
// the same apply behind an authenticating proxy, and with no sign-in only when a setting allows it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { buildSpecImage } from '../support/images.js';
import { writeOciLayout } from '../support/oci-layout.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, type TestRegistry } from '../support/registry-servers.js';
import { createTestDatabase, eventually, freshRedis, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';
import { BrowseSession } from '../support/browse-session.js';

const REPOSITORY = 'shop/web';
// Never pulled and created long ago: past the grace period, so planned unless a tag is kept.
const POLICY = `rules:
  - name: unused
    repositories: ["shop/**"]
    keepUsedWithinDays: 30
    # The images are pushed by the test: without this their 30-day grace from first sighting would keep them.
    unusedGraceDays: 0
    keepTags: ["stable"]
`;

describe('the cleanup page in Chromium', function () {
  this.timeout(180_000);
  let dir: string;
  let database: TestDatabase;
  let registry: TestRegistry;
  let browse: AppProcess;
  let base: string;
  let chromium: TestBrowser;
  let policyFile: string;
  const digests = new Map<string, string>();

  async function signIn(page: Page, user: string, password: string): Promise<void> {
    await page.goto(`${base}/sign-in`);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/`);
  }

  async function manifestStatus(digest: string): Promise<number> {
    const response = await fetch(`${registry.baseUrl}/v2/${REPOSITORY}/manifests/${digest}`, {
      method: 'HEAD',
      headers: { authorization: `Basic ${Buffer.from('admin:admin-pw').toString('base64')}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    return response.status;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-cleanup-page-'));
    (await freshRedis()).disconnect();
    database = await createTestDatabase();
    registry = await startTestRegistry({ dir: join(dir, 'registry'), auth: { kind: 'htpasswd', users: { admin: 'admin-pw', bob: 'bob-pw' } } });
    for (const tag of ['1.0', '1.1', 'stable']) {
      const image = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2025-01-01T00:00:00Z', layers: [['f.txt', `web ${tag} ${dir}`]] });
      digests.set(tag, image.root.digest);
      await writeOciLayout(join(dir, tag), 'x', image);
      await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'admin:admin-pw', `oci:${join(dir, tag)}:x`, `docker://${registry.host}/${REPOSITORY}:${tag}`);
    }
    policyFile = join(dir, 'cleanup.yaml');
    await writeFile(policyFile, POLICY);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    browse = startApp('browse', {
      STATICREG_BROWSE_PORT: String(port),
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_REGISTRY_HOSTNAME: registry.host,
      STATICREG_REGISTRY_USER: 'admin',
      STATICREG_REGISTRY_PASSWORD: 'admin-pw',
      STATICREG_BROWSE_ADMINS: 'admin',
      STATICREG_BROWSE_CRAWL_RATE: '0',
      STATICREG_CLEANUP_POLICY: policyFile,
      STATICREG_CLEANUP_DELETE_INTERVAL_MS: '0',
    });
    await waitForHttp(`${base}/healthz`, browse);
    await eventually(async () => {
      const rows = await database.db.selectFrom('registry_tags').select('tag').where('repository', '=', REPOSITORY).execute();
      return rows.length === 3;
    }, 60_000, 'the catalog to hold the three tags');
    chromium = await launchBrowser('cleanup');
  });

  after(async () => {
    await chromium?.close();
    await browse?.stop();
    await registry?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is hidden from and refused to a non-admin', async () => {
    const { page, problems } = await chromium.newPage();
    await signIn(page, 'bob', 'bob-pw');
    expect(await page.locator('header nav a').allTextContents()).to.deep.equal(['Repositories', 'Dashboard']);
    const answer = await page.goto(`${base}/cleanup`);
    expect(answer?.status()).to.equal(403);
    expect(await page.locator('h1').textContent()).to.include('403');
    expect(problems.filter((problem) => !problem.includes('403'))).to.deep.equal([]);
    await page.close();
  });

  it('shows an admin the plan and the delete rights, applies it once confirmed, and lists the audit', async () => {
    const { page, problems } = await chromium.newPage();
    await signIn(page, 'admin', 'admin-pw');
    await page.getByRole('link', { name: 'Cleanup' }).click();
    await page.waitForURL(`${base}/cleanup`);
    expect(await page.locator('h1').textContent()).to.equal('Cleanup by use');
    expect(await page.locator('#delete-rights').textContent()).to.include('can delete manifests');
    const planned = await page.locator('#plan tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-digest')));
    expect(planned).to.have.members([digests.get('1.0'), digests.get('1.1')]);
    const firstRow = (await page.locator('#plan tbody tr').first().locator('td').allTextContents()).map((text) => text.trim());
    expect(firstRow[0]).to.equal(REPOSITORY);
    expect(firstRow[3]).to.equal('unused');
    expect(firstRow[4]).to.equal('never');
    expect(firstRow[6]).to.equal('2025-01-01 00:00 UTC');
    expect(await page.locator('#plan-summary').textContent()).to.include('2 manifests to delete');
    // Nothing was ever counted here: the page warns that "never used" then means only "no counts yet".
    expect(await page.locator('#plan-warnings').textContent()).to.include('rule unused: the count tables are empty');
    expect(await page.locator('#reclaim').textContent()).to.include('garbage-collect');
    // An index's figure counts platform blobs that only garbage-collect --delete-untagged removes: the page says so.
    expect(await page.locator('#plan thead th').nth(7).textContent()).to.equal('Frees *');
    expect(await page.locator('#frees-note').textContent()).to.match(/For an index this counts its platforms' blobs too, which stay on disk unless\s+garbage-collect runs with --delete-untagged/);
    expect(await page.locator('#plan-summary').textContent()).to.include("an index's platforms only with --delete-untagged");
    expect(await page.locator('#audit-empty').count()).to.equal(1);
    await chromium.screenshot(page, 'plan');

    await page.getByLabel('Delete 2 manifests from the registry').check();
    await page.getByRole('button', { name: 'Apply the plan' }).click();
    await page.waitForURL(`${base}/cleanup?apply=started`);
    expect(await page.locator('#notice').textContent()).to.include('Apply started');
    await eventually(async () => {
      await page.reload();
      return (await page.locator('#audit tbody tr.result-deleted').count()) === 2;
    }, 30_000, 'two deletions in the audit');
    const audit = await page.locator('#audit tbody tr').evaluateAll((rows) =>
      rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent?.trim() ?? '')),
    );
    expect(audit.map((cells) => [cells[1], cells[2], cells[5], cells[6], cells[7]])).to.deep.equal([
      ['admin', REPOSITORY, 'unused', 'delete', 'deleted'],
      ['admin', REPOSITORY, 'unused', 'delete', 'deleted'],
    ]);
    await chromium.screenshot(page, 'applied');

    expect(await manifestStatus(digests.get('1.0')!)).to.equal(404);
    expect(await manifestStatus(digests.get('1.1')!)).to.equal(404);
    expect(await manifestStatus(digests.get('stable')!)).to.equal(200);
    expect(problems).to.deep.equal([]);
    await page.close();
  });

  it('refuses an apply posted without the page (no token)', async () => {
    const response = await fetch(`${base}/cleanup/apply`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('admin:admin-pw').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'confirm=yes&plannedAt=2026-01-01T00:00:00Z&plan=x',
    });
    expect(response.status).to.equal(403);
  });

  it('refuses an apply whose plan changed since the page was shown, and one without the confirmation', async () => {
    const session = new BrowseSession(base);
    expect((await session.signIn('admin', 'admin-pw')).status).to.equal(303);
    const shown = await session.get('/cleanup');
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(shown.body)?.[1] ?? '';
    const form = { csrf: session.csrfToken!, plannedAt: field('plannedAt'), plan: field('plan') };
    expect(form.plan).to.match(/^[0-9a-f]{64}$/);

    const unconfirmed = await session.post('/cleanup/apply', form);
    expect(unconfirmed.status).to.equal(400);
    expect(unconfirmed.body).to.include('tick the confirmation box');

    // The policy now keeps 1.0 too: the plan differs from the one shown, so nothing is applied.
    await writeFile(policyFile, POLICY.replace('keepTags: ["stable"]', 'keepTags: ["stable", "1.0"]'));
    const before = await database.db.selectFrom('cleanup_audit').select('id').execute();
    const changed = await session.post('/cleanup/apply', { ...form, confirm: 'yes' });
    expect(changed.status).to.equal(409);
    expect(changed.body).to.include('the plan changed since the page was shown');
    expect(await database.db.selectFrom('cleanup_audit').select('id').execute()).to.have.length(before.length);
  });
});

describe('the cleanup apply without browse sessions (behind a proxy, and with no sign-in)', function () {
  this.timeout(180_000);
  let dir: string;
  let database: TestDatabase;
  let registry: TestRegistry;
  let chromium: TestBrowser;
  const browses: AppProcess[] = [];
  const digests = new Map<string, string>();

  /** A browse over the shared catalog planning only `area/**`, under the given sign-in settings. */
  async function startBrowse(area: string, env: Record<string, string>): Promise<string> {
    const policyFile = join(dir, `${area}.yaml`);
    await writeFile(policyFile, POLICY.replace('shop/**', `${area}/**`));
    const port = await freePort();
    const browse = startApp('browse', {
      STATICREG_BROWSE_PORT: String(port),
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_DB_URL: database.url,
      STATICREG_REGISTRY_HOSTNAME: registry.host,
      STATICREG_BROWSE_CRAWL_RATE: '0',
      STATICREG_CLEANUP_POLICY: policyFile,
      STATICREG_CLEANUP_DELETE_INTERVAL_MS: '0',
      ...env,
    });
    browses.push(browse);
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, browse);
    return base;
  }

  async function manifestStatus(repository: string, digest: string): Promise<number> {
    const response = await fetch(`${registry.baseUrl}/v2/${repository}/manifests/${digest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    return response.status;
  }

  /** The apply form's hidden fields on a /cleanup page. */
  function formOf(body: string): Record<string, string> {
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(body)?.[1] ?? '';
    return { plannedAt: field('plannedAt'), plan: field('plan') };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-cleanup-modes-'));
    (await freshRedis()).disconnect();
    database = await createTestDatabase();
    registry = await startTestRegistry({ dir: join(dir, 'registry') });
    for (const repository of ['proxied/app', 'open/app']) {
      for (const tag of ['1.0', 'stable']) {
        const image = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2025-01-01T00:00:00Z', layers: [['f.txt', `${repository} ${tag} ${dir}`]] });
        digests.set(`${repository}:${tag}`, image.root.digest);
        await writeOciLayout(join(dir, `${repository.replace('/', '-')}-${tag}`), 'x', image);
        await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, `${repository.replace('/', '-')}-${tag}`)}:x`, `docker://${registry.host}/${repository}:${tag}`);
      }
    }
    chromium = await launchBrowser('cleanup-modes');
  });

  after(async () => {
    await chromium?.close();
    for (const browse of browses) await browse.stop();
    await registry?.stop();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function catalogHolds(repository: string): Promise<void> {
    await eventually(async () => {
      const rows = await database.db.selectFrom('registry_tags').select('tag').where('repository', '=', repository).execute();
      return rows.length === 2;
    }, 60_000, `the catalog to hold ${repository}'s two tags`);
  }

  it('applies a plan posted from the page behind an authenticating proxy', async () => {
    const rules = join(dir, 'rules.json');
    await writeFile(rules, JSON.stringify({ rules: [{ groups: ['ops'], repositories: ['*'] }] }));
    const base = await startBrowse('proxied', {
      STATICREG_BROWSE_AUTH: 'proxy',
      STATICREG_BROWSE_RULES_FILE: rules,
      STATICREG_BROWSE_TRUSTED_PROXIES: '127.0.0.1/32',
      STATICREG_BROWSE_ADMINS: 'group:ops',
    });
    await catalogHolds('proxied/app');
    const proxied = { 'x-forwarded-user': 'root', 'x-forwarded-groups': 'ops' };
    const session = new BrowseSession(base);
    const shown = await session.get('/cleanup', proxied);
    expect(shown.status, shown.body).to.equal(200);
    expect(shown.body).to.include('<a href="/cleanup">Cleanup</a>');
    const form = formOf(shown.body);
    expect(form.plan).to.match(/^[0-9a-f]{64}$/);

    // A plan time in the future would hide every use since the page was shown: refused, nothing deleted.
    const future = await session.post('/cleanup/apply', { ...form, plannedAt: '2999-01-01T00:00:00.000Z', confirm: 'yes' }, proxied);
    expect(future.status, future.body).to.equal(400);
    expect(future.body).to.include('the plan time is later than now');
    expect(await database.db.selectFrom('cleanup_audit').select('id').execute()).to.deep.equal([]);

    const applied = await session.post('/cleanup/apply', { ...form, confirm: 'yes' }, proxied);
    expect(applied.status, applied.body).to.equal(303);
    expect(applied.headers.get('location')).to.equal('/cleanup?apply=started');
    await eventually(async () => (await manifestStatus('proxied/app', digests.get('proxied/app:1.0')!)) === 404, 30_000, 'the planned manifest to be deleted');
    expect(await manifestStatus('proxied/app', digests.get('proxied/app:stable')!)).to.equal(200);
    const audit = await database.db.selectFrom('cleanup_audit').select(['actor', 'repository', 'result']).where('repository', '=', 'proxied/app').execute();
    expect(audit).to.deep.equal([{ actor: 'root', repository: 'proxied/app', result: 'deleted' }]);
  });

  it('with no sign-in, shows the plan read-only and refuses apply unless the setting allows it', async () => {
    const base = await startBrowse('open', { STATICREG_BROWSE_AUTH: 'none' });
    await catalogHolds('open/app');
    const session = new BrowseSession(base);
    const shown = await session.get('/cleanup');
    expect(shown.status, shown.body).to.equal(200);
    expect(shown.body).to.include(`data-digest="${digests.get('open/app:1.0')}"`).and.not.include('id="apply-form"');
    expect(shown.body).to.match(/id="apply-refused">Apply is off: [^<]*STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN=true/);
    // Everyone may see the plan here, so every page's header links to it (and shows no account: nobody signs in).
    const home = await session.get('/');
    expect(home.body).to.include('<nav><a href="/">Repositories</a><a href="/dashboard">Dashboard</a><a href="/cleanup">Cleanup</a></nav>');
    expect(home.body).to.not.include('class="account"');

    // What the page would have posted, sent by a client that sets the browser's headers itself.
    const forged = await session.post('/cleanup/apply', { ...formOf(shown.body), plannedAt: new Date().toISOString(), confirm: 'yes' });
    expect(forged.status).to.equal(403);
    expect(forged.body).to.include('STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN');
    expect(await database.db.selectFrom('cleanup_audit').select('id').where('repository', '=', 'open/app').execute()).to.deep.equal([]);
    expect(await manifestStatus('open/app', digests.get('open/app:1.0')!)).to.equal(200);
  });

  it('applies a plan from the page in Chromium with no sign-in when STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN=true', async () => {
    const base = await startBrowse('open', { STATICREG_BROWSE_AUTH: 'none', STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN: 'true' });
    await catalogHolds('open/app');
    const { page, problems } = await chromium.newPage();
    await page.goto(`${base}/cleanup`);
    expect(await page.locator('#plan tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-digest')))).to.deep.equal([digests.get('open/app:1.0')]);
    await page.getByLabel('Delete 1 manifest from the registry').check();
    await page.getByRole('button', { name: 'Apply the plan' }).click();
    await page.waitForURL(`${base}/cleanup?apply=started`);
    await eventually(async () => {
      await page.reload();
      return (await page.locator('#audit tbody tr.result-deleted', { hasText: 'open/app' }).count()) === 1;
    }, 30_000, 'the deletion in the audit');
    await chromium.screenshot(page, 'applied-without-sign-in');
    expect(await manifestStatus('open/app', digests.get('open/app:1.0')!)).to.equal(404);
    expect(await manifestStatus('open/app', digests.get('open/app:stable')!)).to.equal(200);
    expect(problems).to.deep.equal([]);
    await page.close();
  });
});
