// Sign-in in headless Chromium against a token-auth registry: sign in, browse and search what alice may pull, a forged
// cross-site POST refused, sign out.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { buildSpecImage } from '../support/images.js';
import { writeOciLayout } from '../support/oci-layout.js';
import { freePort, startApp, waitForHttp, type AppProcess } from '../support/processes.js';
import { skopeo } from '../support/registry.js';
import { startTestRegistry, startTokenService, type TestRegistry, type TokenService } from '../support/registry-servers.js';
import { eventually, freshRedis, TEST_REDIS_URL } from '../support/services.js';
import { basicAuth } from '../support/browse-session.js';

describe('sign-in in Chromium', function () {
  this.timeout(180_000);
  let dir: string;
  let tokens: TokenService;
  let registry: TestRegistry;
  let browse: AppProcess;
  let base: string;
  let chromium: TestBrowser;
  let attacker: Server;
  let attackerBase: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staticreg-sign-in-'));
    (await freshRedis()).disconnect();
    tokens = await startTokenService(join(dir, 'tokens'), {
      admin: { password: 'admin-pw', push: true },
      alice: { password: 'alice-pw', pull: ['team-a/*'] },
    });
    registry = await startTestRegistry({
      dir: join(dir, 'registry'),
      auth: { kind: 'token', realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle },
    });
    const image = buildSpecImage({ platform: { architecture: 'amd64', os: 'linux' }, created: '2026-02-03T04:05:06Z', layers: [['f.txt', 'x']] });
    await writeOciLayout(join(dir, 'layout'), 'x', image);
    for (const repository of ['team-a/app', 'team-a/api', 'team-b/app']) {
      await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'admin:admin-pw', `oci:${join(dir, 'layout')}:x`, `docker://${registry.host}/${repository}:v1`);
    }
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    browse = startApp('browse', {
      STATICREG_BROWSE_PORT: String(port),
      STATICREG_REDIS_URL: TEST_REDIS_URL,
      STATICREG_REGISTRY_HOSTNAME: registry.host,
      STATICREG_REGISTRY_USER: 'admin',
      STATICREG_REGISTRY_PASSWORD: 'admin-pw',
      STATICREG_BROWSE_CRAWL_RATE: '0',
    });
    await waitForHttp(`${base}/healthz`, browse);
    await eventually(async () => {
      const response = await fetch(`${base}/api/catalog`, { headers: basicAuth('admin', 'admin-pw') });
      return response.status === 200 && ((await response.json()) as { neverRefreshed: number; repositories: number }).repositories === 3;
    }, 60_000, 'the first crawl pass');

    // Another origin on the same host (same site, so the Lax cookie does go along): a page that posts to browse.
    const attackerPort = await freePort();
    attackerBase = `http://127.0.0.1:${attackerPort}`;
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(
        `<!doctype html><form id="f" method="post" action="${base}/sign-out"><input name="csrf" value="guessed"></form><script>document.getElementById('f').submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(attackerPort, '127.0.0.1', resolve));
    chromium = await launchBrowser('sign-in');
  });

  after(async () => {
    await chromium?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await browse?.stop();
    await registry?.stop();
    await tokens?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('signs in, shows only what alice may pull, refuses a forged cross-site POST, and signs out', async () => {
    const { page, problems } = await chromium.newPage();
    await page.goto(`${base}/r/team-a/app`);
    await page.waitForURL(`${base}/sign-in?next=%2Fr%2Fteam-a%2Fapp`);
    await chromium.screenshot(page, 'sign-in');
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.locator('[role="alert"]').textContent()).to.include('did not accept');
    // The refusal is a 401, which the browser logs; no other problem is expected.
    expect(problems.splice(0)).to.deep.equal(['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    await page.getByLabel('Password').fill('alice-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/r/team-a/app`);
    expect(await page.locator('h1').textContent()).to.equal('team-a/app');
    expect(await page.locator('header .user').textContent()).to.equal('alice');
    const cookies = await page.context().cookies(base);
    expect(cookies.find((cookie) => cookie.name === 'staticreg_session')).to.include({ httpOnly: true, sameSite: 'Lax' });

    await page.goto(`${base}/`);
    expect((await page.locator('td.name a').allTextContents()).map((text) => text.trim())).to.deep.equal(['team-a/']);
    await page.locator('#registry-search').pressSequentially('app');
    await page.waitForFunction(() => document.querySelectorAll('#registry-suggestions [role="option"]').length > 0);
    const suggestions = (await page.locator('#registry-suggestions [role="option"]').allTextContents()).map((text) => text.replace(/\s+\d+ tags?$/, ''));
    expect(suggestions).to.deep.equal(['team-a/app']);
    await chromium.screenshot(page, 'signed-in-home');

    // The forged form: refused, and alice is still signed in.
    expect(problems).to.deep.equal([]);
    const answer = page.waitForResponse(`${base}/sign-out`);
    await page.goto(`${attackerBase}/`);
    expect((await answer).status()).to.equal(403);
    await page.waitForURL(`${base}/sign-out`);
    expect(await page.locator('h1').textContent()).to.include('403');
    // The browser logs the 403 it was sent to; nothing else is expected from here on.
    problems.length = 0;
    await page.goto(`${base}/r/team-a/api`);
    expect(await page.locator('h1').textContent()).to.equal('team-a/api');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/sign-in`);
    await page.goto(`${base}/r/team-a/app`);
    await page.waitForURL(/\/sign-in\?next=/);
    expect(problems).to.deep.equal([]);
  });
});
