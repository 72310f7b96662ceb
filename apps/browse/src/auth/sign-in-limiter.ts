// Failed sign-ins counted in Redis per user name and per client address: past the limit, 429 until the window ends.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HttpError } from '@staticreg/http';
import { orRedisUnavailable } from './redis-errors.js';

export interface SignInLimits {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowMs: number;
}

export const SIGN_IN_FAILURES_PREFIX = 'staticreg:browse:sign-in-failures:';

/** 429 with Retry-After: the seconds until the exhausted counter's window ends. */
export class TooManySignIns extends HttpError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, `too many failed sign-ins: try again in ${retryAfterSeconds} s`, { 'Retry-After': String(retryAfterSeconds) });
    this.name = 'TooManySignIns';
  }
}

export class SignInLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly limits: SignInLimits,
    private readonly prefix = SIGN_IN_FAILURES_PREFIX,
  ) {}

  /** User names are hashed: the counters do not list who tried to sign in. */
  private keys(user: string, address: string): { user: string; address: string } {
    return {
      user: `${this.prefix}user:${createHash('sha256').update(user.toLowerCase()).digest('hex')}`,
      address: `${this.prefix}address:${address}`,
    };
  }

  /**
   * Counts an attempt before the registry is asked, in one transaction with the check, so that attempts still in
   * flight count too: many parallel guesses get no more tries than sequential ones. Throws TooManySignIns past
   * either limit. The window starts at a counter's first attempt.
   */
  async begin(user: string, address: string): Promise<void> {
    const keys = this.keys(user, address);
    const transaction = this.redis.multi();
    for (const key of [keys.user, keys.address]) transaction.set(key, '0', 'PX', this.limits.windowMs, 'NX').incr(key).pttl(key);
    const replies = (await orRedisUnavailable(() => transaction.exec())) as Array<[Error | null, unknown]>;
    const [userCount, userTtl, addressCount, addressTtl] = [1, 2, 4, 5].map((i) => Number(replies[i]![1]));
    const waits: number[] = [];
    if (userCount! > this.limits.maxFailuresPerUser) waits.push(userTtl!);
    if (addressCount! > this.limits.maxFailuresPerAddress) waits.push(addressTtl!);
    if (waits.length === 0) return;
    // A refused attempt never reaches the registry: it is not counted, so refusals do not prolong or spread a lockout.
    await orRedisUnavailable(() => this.redis.multi().decr(keys.user).decr(keys.address).exec());
    throw new TooManySignIns(Math.max(1, Math.ceil(Math.max(...waits, 1000) / 1000)));
  }

  /**
   * The attempt was right: the user's counter is cleared and the address gets its attempt back (one right password
   * does not vouch for the address's other attempts, but is not held against it either).
   */
  async succeeded(user: string, address: string): Promise<void> {
    const keys = this.keys(user, address);
    await orRedisUnavailable(() => this.redis.multi().del(keys.user).decr(keys.address).exec());
  }

  /** The registry could not answer: not a failure, so both counters get the attempt back. */
  async undo(user: string, address: string): Promise<void> {
    const keys = this.keys(user, address);
    await orRedisUnavailable(() => this.redis.multi().decr(keys.user).decr(keys.address).exec());
  }
}
