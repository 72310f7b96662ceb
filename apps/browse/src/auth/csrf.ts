// Cross-site request forgery: a state-changing request must come from this origin and carry the session's token.
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { HttpError } from '@staticreg/http';

/**
 * The form field and the header that carry the per-session token. Pages carry it in the sign-out form and in
 * `<meta name="staticreg-csrf-token">`, for scripts that POST (fetch with an X-CSRF-Token header).
 */
export const CSRF_FIELD = 'csrf';
export const CSRF_HEADER = 'x-csrf-token';

export function isStateChanging(method: string): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(method);
}

/**
 * Browsers say where a request comes from: Sec-Fetch-Site (same-origin for our own pages) or else Origin (whose host
 * must be the one asked). A client that sends neither is not a browser acting for a page elsewhere (curl, scripts).
 */
export function requireSameOrigin(req: Request): void {
  const site = req.get('sec-fetch-site');
  if (site !== undefined) {
    if (site !== 'same-origin') throw new HttpError(403, `cross-site request refused (Sec-Fetch-Site: ${site})`);
    return;
  }
  const origin = req.get('origin');
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = origin === 'null' ? undefined : new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host === undefined || host !== req.get('host')) throw new HttpError(403, 'cross-site request refused (Origin is another site)');
}

/** The token from the form field or the header, compared in constant time with the session's. */
export function requireCsrfToken(req: Request, expected: string): void {
  const body = req.body as Record<string, unknown> | undefined;
  const fromBody = typeof body?.[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : undefined;
  const sent = req.get(CSRF_HEADER) ?? fromBody ?? '';
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new HttpError(403, 'missing or wrong anti-forgery token: reload the page and try again');
}
