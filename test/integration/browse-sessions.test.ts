// Browse's sign-in sessions and failure counters in a real Redis: expiry, no password stored, 503 when Redis is gone.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { HttpError } from '@staticreg/http';
import { createRedisConnection } from '@staticreg/queue';
import { SESSION_KEY_PREFIX, SessionStore } from '../../apps/browse/src/auth/sessions.js';
import { SignInLimiter } from '../../apps/browse/src/auth/sign-in-limiter.js';
import { freePort } from '../support/processes.js';
import { eventually, freshRedis } from '../support/services.js';

async function failure(work: Promise<unknown>): Promise<HttpError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError');
}

describe('browse sessions in Redis', () => {
  let redis: Redis;
  before(async () => {
    redis = await freshRedis();
  });
  after(() => redis.disconnect());

  it('keeps user, admin flag, visible repositories and token under a hash of the cookie value', async () => {
    const store = new SessionStore(redis, { idleMs: 60_000, maxMs: 600_000 });
    const { id, session } = await store.create('alice', false, { kind: 'some', names: new Set(['team-a/app']) });
    expect(id).to.match(/^[A-Za-z0-9_-]{43}$/);
    const keys = await redis.keys(`${SESSION_KEY_PREFIX}*`);
    expect(keys.some((key) => key.includes(id))).to.equal(false);
    const read = await store.get(id);
    expect(read).to.deep.include({ user: 'alice', admin: false, csrfToken: session.csrfToken });
    expect(read!.access.kind === 'some' ? [...read!.access.names] : 'all').to.deep.equal(['team-a/app']);
    expect(await store.get('x'.repeat(43))).to.equal(undefined);
    await store.destroy(id);
    expect(await store.get(id)).to.equal(undefined);
  });

  it('ends a session left idle, and one past its absolute expiry however busy', async () => {
    const idle = new SessionStore(redis, { idleMs: 300, maxMs: 600_000 });
    const quiet = await idle.create('bob', false, { kind: 'all' });
    expect(await idle.get(quiet.id)).to.not.equal(undefined);
    // Watched without reading it through the store, which would push its idle expiry back.
    const key = `${SESSION_KEY_PREFIX}${createHash('sha256').update(quiet.id).digest('hex')}`;
    expect(await redis.exists(key)).to.equal(1);
    await eventually(async () => (await redis.exists(key)) === 0, 10_000, 'the idle session to expire');
    expect(await idle.get(quiet.id)).to.equal(undefined);
    let now = 1_000_000;
    const absolute = new SessionStore(redis, { idleMs: 60_000, maxMs: 120_000, now: () => now });
    const busy = await absolute.create('carol', true, { kind: 'all' });
    now += 100_000;
    expect(await absolute.get(busy.id)).to.not.equal(undefined);
    now += 30_000;
    expect(await absolute.get(busy.id)).to.equal(undefined);
  });

  it('answers 503 when Redis does not answer', async () => {
    const gone = createRedisConnection(`redis://127.0.0.1:${await freePort()}`, 'reader');
    try {
      const sessions = new SessionStore(gone, { idleMs: 60_000, maxMs: 600_000 });
      expect((await failure(sessions.get('y'.repeat(43)))).status).to.equal(503);
      const limiter = new SignInLimiter(gone, { maxFailuresPerUser: 1, maxFailuresPerAddress: 1, windowMs: 1000 });
      expect((await failure(limiter.begin('alice', '127.0.0.1'))).status).to.equal(503);
    } finally {
      gone.disconnect();
    }
  });
});
