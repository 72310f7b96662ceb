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

  /** Throws TooManySignIns when either limit is reached. */
  async check(user: string, address: string): Promise<void> {
    return orRedisUnavailable(() => this.checkCounters(user, address));
  }

  private async checkCounters(user: string, address: string): Promise<void> {
    const keys = this.keys(user, address);
    const [[, userCount], [, userTtl], [, addressCount], [, addressTtl]] = (await this.redis
      .multi()
      .get(keys.user)
      .pttl(keys.user)
      .get(keys.address)
      .pttl(keys.address)
      .exec()) as Array<[Error | null, unknown]> as [[null, string | null], [null, number], [null, string | null], [null, number]];
    const waits: number[] = [];
    if (Number(userCount ?? 0) >= this.limits.maxFailuresPerUser) waits.push(userTtl);
    if (Number(addressCount ?? 0) >= this.limits.maxFailuresPerAddress) waits.push(addressTtl);
    if (waits.length === 0) return;
    throw new TooManySignIns(Math.max(1, Math.ceil(Math.max(...waits, 1000) / 1000)));
  }

  /** Counts a failure; the window starts at a counter's first failure. */
  async recordFailure(user: string, address: string): Promise<void> {
    const keys = this.keys(user, address);
    const transaction = this.redis.multi();
    for (const key of [keys.user, keys.address]) transaction.set(key, '0', 'PX', this.limits.windowMs, 'NX').incr(key);
    await orRedisUnavailable(() => transaction.exec());
  }

  /** A successful sign-in clears the user's counter (not the address's: one right password does not vouch for others). */
  async recordSuccess(user: string, address: string): Promise<void> {
    await orRedisUnavailable(() => this.redis.del(this.keys(user, address).user));
  }
}
