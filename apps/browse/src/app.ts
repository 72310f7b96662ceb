// The browse app: security headers, static assets, the page and API routers, and error pages.
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express, type Router } from 'express';
import type { Logger } from 'pino';
import { addHealthRoutes, HttpError, toHttpError, type ReadinessProbes } from '@staticreg/http';
import { accountOf } from './auth/viewer.js';
import { html, page } from './html.js';

export const ASSETS_DIR = fileURLToPath(new URL('../assets/', import.meta.url));

/** No inline script or style anywhere: whatever a registry string contains, it cannot run. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface BrowseAppOptions {
  log: Logger;
  probes: () => ReadinessProbes;
  isShuttingDown: () => boolean;
  /** Feature routers (registry pages, dashboard), mounted in order at the root. */
  routers: Router[];
}

/** Renders toHttpError's answer: JSON under /api, an HTML page elsewhere, never a stack. */
function browseErrorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const { status, message, headers } = toHttpError(error);
    if (status >= 500) log.error({ err: error, path: req.path }, 'Request failed');
    res.set(headers);
    if (req.path.startsWith('/api/')) {
      res.status(status).json({ error: message });
      return;
    }
    const title =
      status === 404 ? 'Not found' : status === 403 ? 'Forbidden' : status === 401 ? 'Sign in' : status === 429 ? 'Too many requests' : status === 503 ? 'Registry unavailable' : status >= 500 ? 'Error' : 'Bad request';
    res
      .status(status)
      .type('html')
      .send(page({ account: accountOf(res), title, body: html`<section class="error"><h1>${status} · ${title}</h1><p>${message}</p><p><a href="/">Back to the repositories</a></p></section>` }));
  };
}

export function createBrowseApp(options: BrowseAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
    });
    next();
  });
  addHealthRoutes(app, options.probes, options.isShuttingDown);
  app.use('/assets', express.static(ASSETS_DIR, { maxAge: '1h', fallthrough: false }));
  for (const router of options.routers) app.use(router);
  app.use((req, _res, next) => next(new HttpError(404, `no page at ${req.path}`)));
  app.use(browseErrorHandler(options.log));
  return app;
}
