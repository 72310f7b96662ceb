// The ops dashboard feature: the metrics API (JSON, CSV) today; the page and pipeline health join it here.
import type { Router } from 'express';
import { createMetricsApiRouter, type MetricsApiDeps } from './api.js';

export type DashboardDeps = MetricsApiDeps;

export function createDashboardRouters(deps: DashboardDeps): Router[] {
  return [createMetricsApiRouter(deps)];
}
