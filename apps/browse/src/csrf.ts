// Cross-site request forgery protection for browse's state-changing requests: same origin, and a signed double-submit token.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { HttpError } from '@staticreg/http';

export const CSRF_COOKIE = 'staticreg_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';

export interface CsrfProtection {
  /** The token to put in the page; sets the cookie that holds the same token when the request has no valid one. */
  issueToken(req: Request, res: Response): string;
  /** Refuses (403) a request that is not from a page of this site or does not carry the page's token. */
  requireSameOrigin: RequestHandler;
}

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Why a request is not same-origin, or undefined when it is. */
function crossSiteProblem(req: Request): string | undefined {
  const fetchSite = req.get('Sec-Fetch-Site');
  const origin = req.get('Origin');
  if (fetchSite === undefined && origin === undefined) return 'the request names no origin (Origin or Sec-Fetch-Site header)';
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return `the request comes from another site (Sec-Fetch-Site: ${fetchSite})`;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    // The host, not the scheme: behind a TLS-terminating proxy browse sees http while the page is https.
    if (host === undefined || host !== req.get('Host')) return `the request comes from another origin (${origin})`;
  }
  return undefined;
}

/**
 * A token is a random nonce and its HMAC under `secret`, so only this server (or a replica sharing the
 * secret) can make one: a sibling site that plants a cookie cannot plant a valid token. The page sends it
 * back in a header, which a cross-site form cannot set and a cross-site fetch cannot send without a CORS
 * preflight browse never allows; the header must equal the cookie, binding it to this browser.
 */
export function createCsrfProtection(secret: string | Buffer, options: { secureCookies?: boolean } = {}): CsrfProtection {
  const sign = (nonce: string) => createHmac('sha256', secret).update(nonce).digest('base64url');
  const isValid = (token: string | undefined): token is string => {
    const [nonce, signature, extra] = (token ?? '').split('.');
    return !!nonce && !!signature && extra === undefined && sameText(signature, sign(nonce));
  };

  return {
    issueToken(req, res) {
      const existing = cookieValue(req, CSRF_COOKIE);
      if (isValid(existing)) return existing;
      const nonce = randomBytes(18).toString('base64url');
      const token = `${nonce}.${sign(nonce)}`;
      res.cookie(CSRF_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: options.secureCookies === true || req.secure, path: '/' });
      return token;
    },
    requireSameOrigin(req, _res, next) {
      const crossSite = crossSiteProblem(req);
      if (crossSite) return next(new HttpError(403, `refused: ${crossSite}; this action is only accepted from browse's own pages`));
      const cookie = cookieValue(req, CSRF_COOKIE);
      const header = req.get(CSRF_HEADER);
      if (header === undefined) return next(new HttpError(403, `refused: no ${CSRF_HEADER} header; reload the page and try again`));
      if (!isValid(cookie) || !sameText(header, cookie)) return next(new HttpError(403, `refused: the ${CSRF_HEADER} header does not match this browser's token; reload the page and try again`));
      next();
    },
  };
}
