// The registry's notification envelope and the rules that decide what counts as a pull.
export * from './rules.js';
export * from './aggregate.js';
export * from './reference.js';
export * from './timestamp.js';
export * from './utc-day.js';
export * from './architecture.js';
export * from './sessions.js';
export * from './registry-changes.js';
export * from './envelope.js';
export * from './json.js';
