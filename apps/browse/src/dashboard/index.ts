// The ops dashboard feature: the /dashboard page, the metrics API (JSON, CSV) and pipeline health.
import express, { type Router } from 'express';
import { createMetricsApiRouter, METRICS_API, type MetricsApiDeps } from './api.js';
import { parameterErrors } from './params.js';
import { databaseErrors } from '../database-errors.js';
import { createDashboardPageRouter } from './page.js';
import { createPipelineRouter, type PipelineDeps } from './pipeline.js';

export type DashboardDeps = MetricsApiDeps & PipelineDeps;

export function createDashboardRouter(deps: DashboardDeps): Router {
  const router = express.Router();
  router.use(createDashboardPageRouter(deps));
  router.use(createMetricsApiRouter(deps));
  router.use(createPipelineRouter(deps));
  router.use(METRICS_API, parameterErrors);
  // A configured database that does not answer (down, restarting, out of connections): 503, not a 500.
  router.use(METRICS_API, databaseErrors('database unavailable, retry later'));
  return router;
}
