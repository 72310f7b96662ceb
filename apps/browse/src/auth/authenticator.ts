// Checks a person's registry credentials with the registry, and works out which repositories they may see.
import { createHmac, randomBytes } from 'node:crypto';
import { orUnavailable, UnavailableError } from '@staticreg/http';
import { RegistryError, type RegistryUserAccess } from '@staticreg/registry';
import { ALL_REPOSITORIES, type RepositoryAccess } from './viewer.js';

export interface RegistryAuthenticatorDeps {
  registry: RegistryUserAccess;
  /** Every repository name the catalog holds; undefined while the catalog has never been listed. */
  catalogNames: () => Promise<string[] | undefined>;
  /** How long API clients' verified credentials and their access are reused. */
  accessTtlMs: number;
  /** STATICREG_BROWSE_ADMINS: these users see everything, whatever the registry grants them. */
  admins: readonly string[];
  now?: () => number;
  maxCachedCredentials?: number;
}

/**
 * A registry that cannot answer is not a wrong password: 503, and the attempt is not counted as a failure. The
 * answer goes to anonymous visitors, so it names no host or address; the registry error stays its cause.
 */
function registryUnavailable(error: unknown): UnavailableError {
  return new UnavailableError('the registry could not check the credentials right now: try again in a moment', {
    retryAfterSeconds: 10,
    cause: error instanceof RegistryError ? error : undefined,
  });
}

/** Who signed in: an admin, or someone who sees the repositories the registry lets them pull. */
export interface Identity {
  admin: boolean;
  access: RepositoryAccess;
}

export class RegistryAuthenticator {
  private readonly now: () => number;
  /** Keyed by an HMAC of user and password under a key that lives in this process only: no password is kept. */
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new Map<string, { identity: Identity; expiresAt: number }>();

  constructor(private readonly deps: RegistryAuthenticatorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Who these credentials are and what they may see, or undefined when the registry refuses them. */
  async authenticate(user: string, password: string): Promise<Identity | undefined> {
    return orUnavailable(async () => {
      if ((await this.deps.registry.verify(user, password)) === 'invalid') return undefined;
      if (this.deps.admins.includes(user)) return { admin: true, access: ALL_REPOSITORIES };
      const scheme = await this.deps.registry.authScheme();
      // htpasswd (basic) registries let every valid user pull everything: nothing to ask per repository.
      if (scheme.kind !== 'bearer') return { admin: false, access: ALL_REPOSITORIES };
      const names = await this.deps.catalogNames();
      if (names === undefined) throw new UnavailableError('the registry catalog is being read for the first time: sign in again in a moment', { retryAfterSeconds: 5 });
      const granted = await this.deps.registry.pullable(user, password, names);
      return { admin: false, access: granted === 'all' ? ALL_REPOSITORIES : { kind: 'some', names: granted } };
    }, registryUnavailable);
  }

  private keyOf(user: string, password: string): string {
    return createHmac('sha256', this.cacheKey).update(user).update('\0').update(password).digest('base64url');
  }

  /** Credentials verified within accessTtlMs: their identity, with no registry request (and no attempt counted). */
  cached(user: string, password: string): Identity | undefined {
    const key = this.keyOf(user, password);
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > this.now()) return cached.identity;
    this.cache.delete(key);
    return undefined;
  }

  /** authenticate(), reused for accessTtlMs: API clients send their credentials with every request. */
  async authenticateCached(user: string, password: string): Promise<Identity | undefined> {
    const cached = this.cached(user, password);
    if (cached) return cached;
    const key = this.keyOf(user, password);
    const identity = await this.authenticate(user, password);
    if (identity) {
      this.cache.set(key, { identity, expiresAt: this.now() + this.deps.accessTtlMs });
      const max = this.deps.maxCachedCredentials ?? 1000;
      while (this.cache.size > max) this.cache.delete(this.cache.keys().next().value!);
    }
    return identity;
  }
}
