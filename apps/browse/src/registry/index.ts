// The registry feature of browse: home (repository tree), search, repository and tag pages, each also as JSON.
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { HttpError } from '@staticreg/http';
import { accessOf, accountOf } from '../auth/viewer.js';
import { databaseErrors } from '../database-errors.js';
import { homePage, registryNotConfiguredPage, repositoryHref, repositoryPage, searchPage, tagHref, tagPage } from './pages.js';
import { limitParam, pageParam, parseRepositoryPath, pathParam, searchParam, SEARCH_PAGE_SIZE, SUGGEST_LIMIT, tagListParams } from './params.js';
import { RegistryNotConfiguredError, type RegistryBrowser } from './service.js';

export { RegistryBrowser, type RegistryBrowserDeps } from './service.js';

/** Express 5 gives a `*name` wildcard as its segments. */
function segmentsOf(req: Request): string[] {
  const value = (req.params as Record<string, string | string[]>).path;
  return Array.isArray(value) ? value : String(value ?? '').split('/');
}

/** What a page shows depends on who asks (and it changes): only the browser's own cache may keep it, briefly. */
const CACHE_CONTROL = 'private, max-age=5';

/**
 * Every view reads the viewer's repository access from the response (set by the sign-in router mounted before this
 * one); without it a route answers 500 rather than showing everything.
 */
export function createRegistryRouter(browser: RegistryBrowser): Router {
  const access = (res: Response) => accessOf(res);
  const router = express.Router();

  // Browsers ask for it on every first visit; an empty answer keeps their consoles quiet.
  router.get('/favicon.ico', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').status(204).end();
  });

  router.get('/', async (req, res) => {
    const view = await browser.folder(pathParam(req.query), pageParam(req.query), access(res));
    res.set('Cache-Control', CACHE_CONTROL).type('html').send(homePage(view, browser.nowMs(), accountOf(res)));
  });

  router.get('/api/tree', async (req, res) => {
    const { listing, state, page, pageSize } = await browser.folder(pathParam(req.query), pageParam(req.query), access(res));
    res.set('Cache-Control', CACHE_CONTROL).json({
      path: listing.path,
      isRepository: listing.isRepository,
      page,
      pageSize,
      total: listing.total,
      entries: listing.entries.map((entry) => ({ ...entry, href: entry.isRepository ? repositoryHref(entry.path) : `/?path=${encodeURIComponent(entry.path)}` })),
      catalog: state,
    });
  });

  router.get('/search', async (req, res) => {
    const q = searchParam(req.query);
    const result = q === '' ? { total: 0, repositories: [], page: 1, pageSize: SEARCH_PAGE_SIZE } : await browser.search(q, pageParam(req.query), access(res));
    res.type('html').send(searchPage(q, result, await browser.state(access(res)), browser.nowMs(), accountOf(res)));
  });

  /** Autocomplete and search as JSON: ?q=part&limit=8 (default 8 for suggestions), &page=N. */
  router.get('/api/search', async (req, res) => {
    const q = searchParam(req.query);
    const limit = limitParam(req.query, SUGGEST_LIMIT, 100);
    const page = pageParam(req.query);
    const result = q === '' ? { total: 0, repositories: [] } : await browser.search(q, page, access(res), limit);
    res.set('Cache-Control', CACHE_CONTROL).json({
      query: q,
      page,
      limit,
      total: result.total,
      repositories: result.repositories.map((repository) => ({ ...repository, href: repositoryHref(repository.name) })),
    });
  });

  router.get('/r/*path', async (req, res) => {
    const { repository, tag } = parseRepositoryPath(segmentsOf(req));
    const state = await browser.state(access(res));
    if (tag === undefined) {
      const view = await browser.repository(repository, tagListParams(req.query, browser.usageAvailable), access(res));
      res.type('html').send(repositoryPage(view, state, browser.nowMs(), accountOf(res)));
      return;
    }
    res.type('html').send(tagPage(await browser.tag(repository, tag, access(res)), state, browser.nowMs(), accountOf(res)));
  });

  router.get('/api/r/*path', async (req, res) => {
    const { repository, tag } = parseRepositoryPath(segmentsOf(req));
    if (tag === undefined) {
      const view = await browser.repository(repository, tagListParams(req.query, browser.usageAvailable), access(res));
      res.json({
        ...view,
        tags: view.tags.map((row) => ({ ...row, href: tagHref(repository, row.tag) })),
        ...(view.usageAvailable ? {} : { note: 'pull counts need a database (STATICREG_DB_URL)' }),
      });
      return;
    }
    const view = await browser.tag(repository, tag, access(res));
    res.json({ ...view, ...(view.usageAvailable ? {} : { note: 'pull counts need a database (STATICREG_DB_URL)' }) });
  });

  router.get('/api/catalog', async (_req, res) => {
    res.json(await browser.state(access(res)));
  });

  router.all(['/api/r/*path', '/api/tree', '/api/search', '/api/catalog'], (req, _res, next) => {
    next(new HttpError(405, `${req.method} is not supported here`, { Allow: 'GET' }));
  });

  // No registry configured: the pages say what to set (the API's JSON error, from the app's handler, says the same).
  const notConfigured: ErrorRequestHandler = (error, req, res, next) => {
    if (!(error instanceof RegistryNotConfiguredError) || req.path.startsWith('/api/')) {
      next(error);
      return;
    }
    res.status(error.status).set(error.headers).type('html').send(registryNotConfiguredPage(accountOf(res)));
  };
  router.use(notConfigured);

  router.use(databaseErrors('the catalog database is unavailable, retry later'));

  return router;
}
