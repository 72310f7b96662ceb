// The registry's catalog as browse shows it: the model of manifests, the stores, the crawler that fills them.
export * from './model.js';
export * from './describe.js';
export * from './store.js';
export * from './memory-store.js';
export * from './limits.js';
export * from './crawler.js';
export * from './postgres-store.js';
export * from './visible.js';
