// The ops dashboard feature: the /dashboard page, the metrics API (JSON, CSV), pipeline health and the replay of failed jobs.
import { randomBytes } from 'node:crypto';
import express, { type Router } from 'express';
import { createMetricsApiRouter, METRICS_API, type MetricsApiDeps } from './api.js';
import { databaseErrors } from '../database-errors.js';
import { createDashboardPageRouter } from './page.js';
import { createPipelineRouter, type PipelineDeps } from './pipeline.js';
import { createReplayRouter } from './replay.js';
import { createCsrfProtection, type CsrfProtection } from '../csrf.js';

export type DashboardDeps = MetricsApiDeps &
  PipelineDeps & {
    /** Guards the replay button; without one, a secret of this process's own (tokens then hold only on this replica). */
    csrf?: CsrfProtection;
  };

export function createDashboardRouter(deps: DashboardDeps): Router {
  const router = express.Router();
  const csrf = deps.csrf ?? createCsrfProtection(randomBytes(32));
  router.use(createDashboardPageRouter({ now: deps.now, csrf }));
  router.use(createMetricsApiRouter(deps));
  router.use(createPipelineRouter(deps));
  router.use(createReplayRouter({ queue: deps.queue, csrf }));
  // A configured database that does not answer (down, restarting, out of connections): 503, not a 500.
  router.use(METRICS_API, databaseErrors('database unavailable, retry later'));
  return router;
}
