// The ops dashboard feature: the /dashboard page, the metrics API (JSON, CSV) and pipeline health.
import express, { type Router } from 'express';
import { createMetricsApiRouter, METRICS_API, type MetricsApiDeps } from './api.js';
import { databaseErrors, parameterErrors } from './params.js';
import { createDashboardPageRouter } from './page.js';
import { createPipelineRouter, type PipelineDeps } from './pipeline.js';

export type DashboardDeps = MetricsApiDeps & PipelineDeps;

export function createDashboardRouter(deps: DashboardDeps): Router {
  const router = express.Router();
  router.use(createDashboardPageRouter(deps));
  router.use(createMetricsApiRouter(deps));
  router.use(createPipelineRouter(deps));
  router.use(METRICS_API, parameterErrors);
  router.use(METRICS_API, databaseErrors);
  return router;
}
