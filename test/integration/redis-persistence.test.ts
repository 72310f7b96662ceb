// The Redis that `make deps` starts keeps what it acknowledged: scripts/start-redis.sh on a private port and directory.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { freePort, REPO_ROOT } from '../support/processes.js';
import { eventually } from '../support/services.js';

const run = promisify(execFile);

async function answers(port: number): Promise<boolean> {
  return run('redis-cli', ['-p', String(port), 'ping']).then(
    ({ stdout }) => stdout.trim() === 'PONG',
    () => false,
  );
}

describe('scripts/start-redis.sh', function () {
  this.timeout(60_000);
  let port: number;
  let dir: string;
  let redis: Redis | undefined;

  before(async () => {
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'staticreg-redis-'));
  });
  after(async () => {
    redis?.disconnect();
    if (await answers(port)) await run('redis-cli', ['-p', String(port), 'shutdown', 'nosave']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const startRedis = () => run('bash', ['scripts/start-redis.sh', String(port), dir], { cwd: REPO_ROOT });
  const serverPid = async (): Promise<number> => Number(/process_id:(\d+)/.exec(await redis!.info('server'))![1]);

  it('starts Redis with an fsynced append-only file that a restart after SIGKILL reads back', async () => {
    await startRedis();
    redis = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    expect(await redis.config('GET', 'appendfsync')).to.deep.equal(['appendfsync', 'always']);
    await redis.set('staticreg:acknowledged', 'kept');
    const first = await serverPid();

    // Already running: left alone, not restarted.
    await startRedis();
    expect(await serverPid()).to.equal(first);

    redis.disconnect();
    process.kill(first, 'SIGKILL');
    await eventually(async () => !(await answers(port)), 10_000, 'Redis gone');
    await startRedis();
    redis = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    expect(await serverPid()).to.not.equal(first);
    expect(await redis.get('staticreg:acknowledged')).to.equal('kept');
  });
});
