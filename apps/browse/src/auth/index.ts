// Sign-in for everything browse serves: sessions for people, HTTP basic credentials for API clients, CSRF checks.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { HttpError } from '@staticreg/http';
import { isStateChanging, requireCsrfToken, requireSameOrigin } from './csrf.js';
import { safeNext, signInPage } from './pages.js';
import type { Identity, RegistryAuthenticator } from './authenticator.js';
import { proxyAuth, type ProxyAuthDeps } from './proxy.js';
import type { SessionStore } from './sessions.js';
import { TooManySignIns, type SignInLimiter } from './sign-in-limiter.js';
import { ALL_REPOSITORIES, setViewer, viewerOf, type Viewer } from './viewer.js';

export { ALL_REPOSITORIES, accessOf, accountOf, mayPull, viewerOf, type RepositoryAccess, type Viewer } from './viewer.js';

export const SESSION_COOKIE = 'staticreg_session';

export type AuthDeps =
  | { mode: 'none' }
  | ({ mode: 'proxy' } & ProxyAuthDeps)
  | {
      mode: 'registry';
      log: Logger;
      sessions: SessionStore;
      limiter: SignInLimiter;
      authenticator: RegistryAuthenticator;
      /** Secure cookies even over plain HTTP (TLS ends at a proxy in front). */
      secureCookies: boolean;
      sessionMaxMs: number;
    };

/** The parser for browse's own small forms (sign-in, sign-out, cleanup apply): a few short fields, nothing more. */
export const formBody = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 });

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

/** `Authorization: Basic` credentials, for API clients (`curl -u user:password`). */
function basicCredentials(req: Request): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.get('authorization') ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function clientAddress(req: Request): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Pages (GET) are sent to the sign-in page; the API and everything else get 401 with a Basic challenge. */
function unauthenticated(req: Request, res: Response): void {
  if (!req.path.startsWith('/api/') && (req.method === 'GET' || req.method === 'HEAD')) {
    res.set('Cache-Control', 'no-store').redirect(303, `/sign-in?next=${encodeURIComponent(req.originalUrl)}`);
    return;
  }
  throw new HttpError(401, 'sign in first: a session cookie, or HTTP basic credentials of the registry', {
    'WWW-Authenticate': 'Basic realm="staticreg", charset="UTF-8"',
    'Cache-Control': 'no-store',
  });
}

export function createAuthRouter(deps: AuthDeps): Router {
  const router = express.Router();

  if (deps.mode === 'none') {
    router.get('/sign-in', (_req, res) => res.redirect(303, '/'));
    router.use((req, res, next) => {
      setViewer(res, { user: undefined, admin: true, access: ALL_REPOSITORIES, csrfToken: undefined });
      // Nobody signs in, but a page elsewhere still must not make a visitor's browser change anything here.
      if (isStateChanging(req.method)) requireSameOrigin(req);
      next();
    });
    return router;
  }

  if (deps.mode === 'proxy') {
    // The proxy signs people in and out.
    router.get('/sign-in', (_req, res) => res.redirect(303, '/'));
    router.use(proxyAuth(deps));
    return router;
  }

  const { sessions, limiter, authenticator, log } = deps;
  /** Asks the registry for an attempt limiter.begin() counted: a right password or an unanswered one gives it back. */
  const authenticateCounted = async (user: string, address: string, ask: () => Promise<Identity | undefined>): Promise<Identity | undefined> => {
    let identity: Identity | undefined;
    try {
      identity = await ask();
    } catch (error) {
      await limiter.undo(user, address);
      throw error;
    }
    if (identity) await limiter.succeeded(user, address);
    return identity;
  };
  const setSessionCookie = (req: Request, res: Response, id: string): void => {
    res.cookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies || req.secure, path: '/', maxAge: deps.sessionMaxMs });
  };
  const clearSessionCookie = (req: Request, res: Response): void => {
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies || req.secure, path: '/' });
  };

  router.get('/sign-in', async (req, res) => {
    const next = safeNext(req.query.next);
    const id = cookieValue(req, SESSION_COOKIE);
    if (id !== undefined && (await sessions.get(id))) {
      res.redirect(303, next);
      return;
    }
    res.set('Cache-Control', 'no-store').type('html').send(signInPage({ next }));
  });

  router.post('/sign-in', formBody, async (req, res) => {
    requireSameOrigin(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const user = typeof body.user === 'string' ? body.user.trim() : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const next = safeNext(body.next);
    const address = clientAddress(req);
    const refuse = (status: number, error: string, headers: Record<string, string> = {}): void => {
      res.status(status).set({ 'Cache-Control': 'no-store', ...headers }).type('html').send(signInPage({ next, user, error }));
    };
    if (user === '' || password === '' || user.length > 256 || password.length > 1024) {
      refuse(400, 'Enter your registry user name and password.');
      return;
    }
    try {
      await limiter.begin(user, address);
    } catch (error) {
      if (!(error instanceof TooManySignIns)) throw error;
      refuse(429, `Too many failed sign-ins: try again in ${error.retryAfterSeconds} seconds.`, error.headers);
      return;
    }
    const identity = await authenticateCounted(user, address, () => authenticator.authenticate(user, password));
    if (!identity) {
      // No user name on a failure: people type their password into that field.
      log.info({ address }, 'Sign-in refused by the registry');
      refuse(401, 'The registry did not accept this user name and password.');
      return;
    }
    const { id } = await sessions.create(user, identity.admin, identity.access);
    log.info({ user, address, admin: identity.admin, repositories: identity.access.kind === 'all' ? 'all' : identity.access.names.size }, 'Signed in');
    setSessionCookie(req, res, id);
    res.set('Cache-Control', 'no-store').redirect(303, next);
  });

  router.post('/sign-out', formBody, async (req, res) => {
    requireSameOrigin(req);
    const id = cookieValue(req, SESSION_COOKIE);
    const session = id === undefined ? undefined : await sessions.get(id);
    if (session) {
      requireCsrfToken(req, session.csrfToken);
      await sessions.destroy(id!);
    }
    clearSessionCookie(req, res);
    res.set('Cache-Control', 'no-store').redirect(303, '/sign-in');
  });

  /** Every other route: a session, or basic credentials; state-changing requests also pass the CSRF checks. */
  router.use(formBody, async (req: Request, res: Response, next: NextFunction) => {
    const id = cookieValue(req, SESSION_COOKIE);
    const session = id === undefined ? undefined : await sessions.get(id);
    let viewer: Viewer | undefined;
    if (session) {
      viewer = { user: session.user, admin: session.admin, access: session.access, csrfToken: session.csrfToken };
    } else {
      const credentials = basicCredentials(req);
      if (credentials) {
        const address = clientAddress(req);
        // Credentials verified a moment ago are not an attempt: nobody can lock out a client whose password is right.
        let identity = authenticator.cached(credentials.user, credentials.password);
        if (!identity) {
          await limiter.begin(credentials.user, address);
          identity = await authenticateCounted(credentials.user, address, () =>
            authenticator.authenticateCached(credentials.user, credentials.password),
          );
        }
        if (!identity) {
          throw new HttpError(401, 'the registry did not accept these credentials', { 'WWW-Authenticate': 'Basic realm="staticreg", charset="UTF-8"', 'Cache-Control': 'no-store' });
        }
        viewer = { user: credentials.user, admin: identity.admin, access: identity.access, csrfToken: undefined };
      }
    }
    if (!viewer) {
      unauthenticated(req, res);
      return;
    }
    if (isStateChanging(req.method)) {
      requireSameOrigin(req);
      if (session) requireCsrfToken(req, session.csrfToken);
    }
    // What one person sees is not for a shared cache; routes may only narrow this (no-store, a short max-age).
    res.set('Vary', 'Cookie, Authorization');
    res.set('Cache-Control', 'private');
    setViewer(res, viewer);
    next();
  });

  return router;
}

/** Pipeline health, intake and failed jobs carry event data of every repository: admins only. */
export const ADMIN_ONLY_PATHS = ['/api/metrics/pipeline', '/api/metrics/intake', '/api/metrics/failed-jobs'];

/**
 * The dashboard and its metrics API: everyone signed in gets the panels, computed over the repositories they may see
 * (visibleRepositories); pipeline health, intake and failed jobs are for admins (STATICREG_BROWSE_ADMINS; everyone with
 * STATICREG_BROWSE_AUTH=none). Others get 403 there.
 */
export function dashboardAccess(): Router {
  const router = express.Router();
  router.use(ADMIN_ONLY_PATHS, (_req, res, next) => {
    if (!viewerOf(res).admin) throw new HttpError(403, 'pipeline health and failed jobs are for admins (STATICREG_BROWSE_ADMINS)');
    next();
  });
  return router;
}

/** For the metrics API: undefined when the viewer sees every repository, else the names they may see. */
export function visibleRepositories(res: Response): readonly string[] | undefined {
  const access = viewerOf(res).access;
  return access.kind === 'all' ? undefined : [...access.names];
}
