// The ops dashboard feature: the metrics API (JSON, CSV) and pipeline health; the page joins it here.
import express, { type Router } from 'express';
import { createMetricsApiRouter, METRICS_API, type MetricsApiDeps } from './api.js';
import { parameterErrors } from './params.js';
import { createPipelineRouter, type PipelineDeps } from './pipeline.js';

export type DashboardDeps = MetricsApiDeps & PipelineDeps;

export function createDashboardRouter(deps: DashboardDeps): Router {
  const router = express.Router();
  router.use(createMetricsApiRouter(deps));
  router.use(createPipelineRouter(deps));
  router.use(METRICS_API, parameterErrors);
  return router;
}
