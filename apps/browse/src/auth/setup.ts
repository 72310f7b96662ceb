// Wires sign-in from configuration: registry credentials (sessions in Redis), an authenticating proxy, or none.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CatalogStore } from '@staticreg/catalog';
import { STATICREG_USER_AGENT, type BrowseConfig } from '@staticreg/config';
import { createRegistryUserAccess, type RegistryUserAccess } from '@staticreg/registry';
import { RegistryAuthenticator } from './authenticator.js';
import type { AuthDeps } from './index.js';
import { SessionStore } from './sessions.js';
import { SignInLimiter } from './sign-in-limiter.js';

export interface AuthSetup {
  deps: AuthDeps;
  /** Logs now, rather than at the first sign-in, a registry that asks for no credentials. */
  checkRegistry(): void;
  close(): Promise<void>;
}

export function setUpAuth(config: BrowseConfig, log: Logger, redis: Redis, store: CatalogStore): AuthSetup {
  const catalogNames = async (): Promise<string[] | undefined> => {
    const stats = await store.stats();
    return stats.catalogListedAt === undefined && stats.repositories === 0 ? undefined : store.repositoriesForRefresh();
  };
  const { auth } = config;
  if (auth.mode === 'proxy') {
    log.info({ trustedProxies: auth.proxy!.trustedProxies, userHeader: auth.proxy!.userHeader, rules: auth.proxy!.rules.length }, 'Browse trusts its authenticating proxy');
    return {
      deps: { mode: 'proxy', proxy: auth.proxy!, admins: auth.admins, catalogNames, accessTtlMs: auth.accessTtlMs },
      checkRegistry: () => undefined,
      close: async () => undefined,
    };
  }
  if (auth.mode === 'none' || !config.registry) {
    log.warn('STATICREG_BROWSE_AUTH=none: anyone who can reach browse sees every repository, manifest and the dashboard');
    return { deps: { mode: 'none' }, checkRegistry: () => undefined, close: async () => undefined };
  }
  const registry: RegistryUserAccess = createRegistryUserAccess(config.registry, STATICREG_USER_AGENT);
  return {
    deps: {
      mode: 'registry',
      log,
      sessions: new SessionStore(redis, { idleMs: auth.sessionIdleMs, maxMs: auth.sessionMaxMs }),
      limiter: new SignInLimiter(redis, {
        maxFailuresPerUser: auth.signInMaxFailuresPerUser,
        maxFailuresPerAddress: auth.signInMaxFailuresPerAddress,
        windowMs: auth.signInWindowMs,
      }),
      authenticator: new RegistryAuthenticator({ registry, catalogNames, accessTtlMs: auth.accessTtlMs, admins: auth.admins }),
      secureCookies: auth.secureCookies,
      sessionMaxMs: auth.sessionMaxMs,
    },
    checkRegistry() {
      registry.authScheme().then(
        (scheme) => {
          if (scheme.kind === 'open') log.error('The registry asks for no credentials, so nobody can sign in: set STATICREG_BROWSE_AUTH=none (the registry is open anyway)');
        },
        () => undefined,
      );
    },
    close: () => registry.close(),
  };
}
