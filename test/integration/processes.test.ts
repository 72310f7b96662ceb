// Each app as a process: health endpoints, refusal of bad configuration, clean exit on SIGTERM; the receiver's intake rules.
import { request } from 'node:http';
import { expect } from 'chai';
import { freePort, startApp, waitForHttp, type AppName, type AppProcess } from '../support/processes.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';
import { loadScenario } from '../support/fixtures.js';

const WEBHOOK_TOKEN = 'a-test-webhook-token-0123456789';

/** POSTs to the receiver from a chosen loopback source address (node:http, since fetch cannot bind one). */
function postFrom(localAddress: string, url: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    // The receiver may answer and close before the whole body is sent: that is what the 403 test wants.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    req.end(body);
  });
}

describe('app processes', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase({ migrate: false });
  });
  after(async () => database.drop());

  const ports: Record<AppName, string> = { receiver: 'STATICREG_RECEIVER_PORT', worker: 'STATICREG_WORKER_PORT', browse: 'STATICREG_BROWSE_PORT' };

  for (const app of ['receiver', 'worker', 'browse'] as const) {
    it(`${app}: answers /healthz and /readyz, and exits 0 on SIGTERM`, async () => {
      const port = await freePort();
      // Browse has no registry here to sign people in against: anonymous access is asked for explicitly.
      const proc = startApp(app, { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_DB_URL: database.url, STATICREG_WEBHOOK_TOKEN: WEBHOOK_TOKEN, [ports[app]]: String(port), ...(app === 'browse' ? { STATICREG_BROWSE_AUTH: 'none' } : {}) });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/readyz`, proc);
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(health.status).to.equal(200);
        const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { checks: Record<string, string> };
        expect(ready.checks.redis).to.equal('ok');
        if (app !== 'receiver') expect(ready.checks.postgres).to.equal('ok');
        else expect(ready.checks).to.not.have.property('postgres');
      } finally {
        expect(await proc.stop('SIGTERM')).to.equal(0);
      }
    });

    it(`${app}: refuses to start on a bad variable and names it`, async () => {
      const proc = startApp(app, { [ports[app]]: 'eighty', STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_WEBHOOK_TOKEN: WEBHOOK_TOKEN });
      expect(await proc.exited).to.equal(2);
      expect(proc.output()).to.match(new RegExp(`^Invalid configuration: ${ports[app]}="eighty": must be a port number`));
    });
  }

  it('worker: /readyz is 503 while Redis is unreachable', async () => {
    const port = await freePort();
    const deadRedis = await freePort();
    const proc = startApp('worker', { STATICREG_REDIS_URL: `redis://127.0.0.1:${deadRedis}`, STATICREG_WORKER_PORT: String(port) });
    try {
      let status = 0;
      for (let i = 0; i < 100 && status === 0; i += 1) {
        status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
        if (status === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).to.equal(503);
    } finally {
      await proc.stop('SIGKILL');
    }
  });

  describe('receiver intake', () => {
    let proc: AppProcess | undefined;
    afterEach(async () => {
      await proc?.stop('SIGKILL');
      proc = undefined;
    });

    it('refuses to start without STATICREG_WEBHOOK_TOKEN, naming both variables and how to make a token', async () => {
      proc = startApp('receiver', { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_RECEIVER_PORT: String(await freePort()) });
      expect(await proc.exited).to.equal(2);
      const output = proc.output();
      expect(output).to.match(/^Invalid configuration: STATICREG_WEBHOOK_TOKEN is required: generate one with `openssl rand -hex 32`/);
      expect(output).to.include('STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED=true');
    });

    it('refuses a token shorter than 16 characters without printing it', async () => {
      proc = startApp('receiver', { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_WEBHOOK_TOKEN: 'short-secret' });
      expect(await proc.exited).to.equal(2);
      expect(proc.output()).to.match(/^Invalid configuration: STATICREG_WEBHOOK_TOKEN is too short: use at least 16 characters/);
      expect(proc.output()).to.not.include('short-secret');
    });

    it('takes notifications without a token only when told to, and warns at start', async () => {
      const port = await freePort();
      proc = startApp('receiver', { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_RECEIVER_PORT: String(port), STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED: 'true' });
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, proc);
      const [warning] = proc.logLines('Webhook accepts notifications without a token: anyone who reaches this port can add pulls; set STATICREG_WEBHOOK_TOKEN');
      expect(warning).to.deep.include({ level: 40, variable: 'STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED' });
      const answer = await postFrom('127.0.0.1', `http://127.0.0.1:${port}/api/webhook/registry`, loadScenario('blob-pull')[0]!.raw, {});
      expect(answer.status).to.equal(200);
    });

    it('answers 403 to an address outside STATICREG_WEBHOOK_ALLOWED_NETWORKS before reading the body, whatever X-Forwarded-For says', async () => {
      const port = await freePort();
      proc = startApp('receiver', {
        STATICREG_REDIS_URL: TEST_REDIS_URL,
        STATICREG_RECEIVER_PORT: String(port),
        STATICREG_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
        STATICREG_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32, fd00::/8',
      });
      const url = `http://127.0.0.1:${port}/api/webhook/registry`;
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, proc);
      const event = loadScenario('blob-pull')[0]!.raw;
      const auth = { authorization: `Bearer ${WEBHOOK_TOKEN}` };

      expect((await postFrom('127.0.0.1', url, event, auth)).status).to.equal(200);
      const refused = await postFrom('127.0.0.2', url, event, { ...auth, 'x-forwarded-for': '127.0.0.1' });
      expect(refused).to.deep.equal({ status: 403, body: JSON.stringify({ error: 'this address may not send notifications' }) });
      // Checked before the token and before the body: no 401 without a token, no 413 for a body over the 1 MB limit.
      expect((await postFrom('127.0.0.2', url, event, {})).status).to.equal(403);
      expect((await postFrom('127.0.0.2', url, Buffer.alloc(2 * 1024 * 1024, 0x20), auth)).status).to.equal(403);
      expect((await postFrom('127.0.0.1', url, event, {})).status).to.equal(401);
    });

    it('on a dual-stack socket, matches an IPv4 peer (::ffff:127.0.0.1) against IPv4 networks and an IPv6 peer against IPv6 ones', async () => {
      const port = await freePort();
      proc = startApp('receiver', {
        STATICREG_REDIS_URL: TEST_REDIS_URL,
        STATICREG_RECEIVER_PORT: String(port),
        STATICREG_BIND: '::',
        STATICREG_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
        STATICREG_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32',
      });
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, proc);
      const event = loadScenario('blob-pull')[0]!.raw;
      const auth = { authorization: `Bearer ${WEBHOOK_TOKEN}` };
      expect((await postFrom('127.0.0.1', `http://127.0.0.1:${port}/api/webhook/registry`, event, auth)).status).to.equal(200);
      expect((await postFrom('127.0.0.2', `http://127.0.0.1:${port}/api/webhook/registry`, event, auth)).status).to.equal(403);
      expect((await postFrom('::1', `http://[::1]:${port}/api/webhook/registry`, event, auth)).status).to.equal(403);
    });

    it('accepts an IPv6 peer inside an IPv6 network of the allow-list', async () => {
      const port = await freePort();
      proc = startApp('receiver', {
        STATICREG_REDIS_URL: TEST_REDIS_URL,
        STATICREG_RECEIVER_PORT: String(port),
        STATICREG_BIND: '::1',
        STATICREG_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
        STATICREG_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/8, ::1/128',
      });
      await waitForHttp(`http://[::1]:${port}/readyz`, proc);
      const answer = await postFrom('::1', `http://[::1]:${port}/api/webhook/registry`, loadScenario('blob-pull')[0]!.raw, { authorization: `Bearer ${WEBHOOK_TOKEN}` });
      expect(answer.status).to.equal(200);
    });

    it('refuses a malformed allow-list entry at start', async () => {
      proc = startApp('receiver', { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_WEBHOOK_TOKEN: WEBHOOK_TOKEN, STATICREG_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/33' });
      expect(await proc.exited).to.equal(2);
      expect(proc.output()).to.match(/^Invalid configuration: STATICREG_WEBHOOK_ALLOWED_NETWORKS="10.0.0.0\/33": must be a list of IPv4 or IPv6 networks/);
    });
  });
});
