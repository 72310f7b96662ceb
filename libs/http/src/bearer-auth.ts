// Shared-secret bearer tokens (webhook, /metrics), compared so that neither the token nor its length leaks.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.js';

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Passes requests whose Authorization header is exactly `Bearer <token>`, and gives the rest a 401. The header and
 * the expected value are hashed first: timingSafeEqual then compares two buffers of one fixed length.
 */
export function requireBearerToken(token: string, realm: string): RequestHandler {
  const expected = sha256(`Bearer ${token}`);
  return (req, _res, next) => {
    const given = req.get('authorization') ?? '';
    if (!timingSafeEqual(sha256(given), expected)) {
      next(new HttpError(401, 'missing or wrong bearer token', { 'WWW-Authenticate': `Bearer realm="${realm}"` }));
      return;
    }
    next();
  };
}
