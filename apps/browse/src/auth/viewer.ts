// Who is asking, and which repositories they may see: set by the sign-in middleware, read by every view.
import type { Response } from 'express';
import { HttpError } from '@staticreg/http';

/** Everything (htpasswd registries, admins, STATICREG_BROWSE_AUTH=none), or the names the token service granted pull on. */
export type RepositoryAccess = { kind: 'all' } | { kind: 'some'; names: ReadonlySet<string> };

export const ALL_REPOSITORIES: RepositoryAccess = { kind: 'all' };

export interface Viewer {
  /** Undefined with STATICREG_BROWSE_AUTH=none. */
  user: string | undefined;
  access: RepositoryAccess;
  /** Sees every repository, the dashboard, pipeline health and failed jobs. */
  admin: boolean;
  /** The session's anti-forgery token, for forms; undefined when the request carried no session. */
  csrfToken: string | undefined;
}

export function mayPull(access: RepositoryAccess, repository: string): boolean {
  return access.kind === 'all' || access.names.has(repository);
}

export function setViewer(res: Response, viewer: Viewer): void {
  res.locals.viewer = viewer;
}

/** The request's viewer. A route reached without one is a wiring mistake: refuse rather than show everything. */
export function viewerOf(res: Response): Viewer {
  const viewer = res.locals.viewer as Viewer | undefined;
  if (!viewer) throw new HttpError(500, 'no viewer on this request');
  return viewer;
}

export function accessOf(res: Response): RepositoryAccess {
  return viewerOf(res).access;
}

/**
 * What the page frame shows of the viewer: the signed-in user (no user with STATICREG_BROWSE_AUTH=none), whether they
 * are an admin (the Cleanup link), and the session's anti-forgery token for the sign-out form (none behind a proxy).
 * Undefined before sign-in.
 */
export function accountOf(res: Response): { user?: string; csrfToken?: string; admin: boolean } | undefined {
  const viewer = res.locals.viewer as Viewer | undefined;
  if (viewer === undefined) return undefined;
  return {
    ...(viewer.user !== undefined ? { user: viewer.user } : {}),
    admin: viewer.admin,
    ...(viewer.csrfToken !== undefined ? { csrfToken: viewer.csrfToken } : {}),
  };
}
