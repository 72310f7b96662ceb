// Each app as a process: health endpoints, refusal of bad configuration, clean exit on SIGTERM.
import { expect } from 'chai';
import { freePort, startApp, waitForHttp, type AppName } from '../support/processes.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';

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
      const proc = startApp(app, { STATICREG_REDIS_URL: TEST_REDIS_URL, STATICREG_DB_URL: database.url, [ports[app]]: String(port) });
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
      const proc = startApp(app, { [ports[app]]: 'eighty', STATICREG_REDIS_URL: TEST_REDIS_URL });
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
});
