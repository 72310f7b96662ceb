// The worker's ingestion logic: batching jobs and storing each batch idempotently.
export * from './pull-batcher.js';
export * from './count-per-event.js';
export * from './pull-consumer.js';
export * from './counting-pause.js';
export * from './poison-evidence.js';
export * from './count-per-session.js';
export * from './manifest-resolver.js';
export * from './maintenance-jobs.js';
