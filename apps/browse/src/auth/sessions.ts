// Sign-in sessions in Redis, shared by every browse replica: user name and visible repositories, never a password.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { orRedisUnavailable } from './redis-errors.js';
import { ALL_REPOSITORIES, type RepositoryAccess } from './viewer.js';

export interface Session {
  user: string;
  admin: boolean;
  access: RepositoryAccess;
  csrfToken: string;
  createdAt: number;
}

interface StoredSession {
  user: string;
  admin: boolean;
  /** 'all', or the repository names granted at sign-in. */
  access: 'all' | string[];
  csrfToken: string;
  createdAt: number;
}

export interface SessionStoreOptions {
  idleMs: number;
  maxMs: number;
  now?: () => number;
  prefix?: string;
}

export const SESSION_KEY_PREFIX = 'staticreg:browse:session:';

export class SessionStore {
  private readonly now: () => number;
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: SessionStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.prefix = options.prefix ?? SESSION_KEY_PREFIX;
  }

  /** Keyed by a hash of the cookie value: whoever reads Redis cannot hold up a key as someone's cookie. */
  private key(id: string): string {
    return `${this.prefix}${createHash('sha256').update(id).digest('hex')}`;
  }

  /** How long the session may live from now: the idle time, cut short by the absolute expiry. */
  private ttlMs(createdAt: number): number {
    return Math.min(this.options.idleMs, createdAt + this.options.maxMs - this.now());
  }

  /** A new session with a fresh id (never one the browser brought: no fixation); returns the cookie value. */
  async create(user: string, admin: boolean, access: RepositoryAccess): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString('base64url');
    const session: Session = { user, admin, access, csrfToken: randomBytes(32).toString('base64url'), createdAt: this.now() };
    const stored: StoredSession = {
      user,
      admin,
      access: access.kind === 'all' ? 'all' : [...access.names],
      csrfToken: session.csrfToken,
      createdAt: session.createdAt,
    };
    await orRedisUnavailable(() => this.redis.set(this.key(id), JSON.stringify(stored), 'PX', this.ttlMs(session.createdAt)));
    return { id, session };
  }

  /** The session, its idle expiry pushed back; undefined when unknown, idle too long or past its absolute expiry. */
  async get(id: string): Promise<Session | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    return orRedisUnavailable(() => this.read(id));
  }

  private async read(id: string): Promise<Session | undefined> {
    const key = this.key(id);
    const raw = await this.redis.get(key);
    if (raw === null) return undefined;
    const stored = JSON.parse(raw) as StoredSession;
    const ttl = this.ttlMs(stored.createdAt);
    if (ttl <= 0) {
      await this.redis.del(key);
      return undefined;
    }
    await this.redis.pexpire(key, ttl);
    return {
      user: stored.user,
      admin: stored.admin === true,
      access: stored.access === 'all' ? ALL_REPOSITORIES : { kind: 'some', names: new Set(stored.access) },
      csrfToken: stored.csrfToken,
      createdAt: stored.createdAt,
    };
  }

  async destroy(id: string): Promise<void> {
    await orRedisUnavailable(() => this.redis.del(this.key(id)));
  }
}
