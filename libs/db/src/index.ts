// Storage: schema types, the pool, the migrator and the repositories over Postgres.
export * from './schema.js';
export * from './connection.js';
export * from './migrator.js';
export * from './executor.js';
export * from './pull-metrics.repository.js';
export * from './sessions.repository.js';
export * from './metrics-queries.repository.js';
export * from './metrics-suggestions.repository.js';
export { coveringWeeks, splitRange, type MetricsFilter, type RangeSplit } from './metrics-sources.js';
export * from './retention.repository.js';
export * from './tag-usage.repository.js';
export * from './cleanup-usage.repository.js';
export * from './cleanup-catalog.repository.js';
export * from './cleanup-audit.repository.js';
export * from './cleanup-recheck.repository.js';
