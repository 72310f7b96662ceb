// HTTP plumbing shared by the apps: error mapping, health endpoints, listen and shutdown.
export * from './errors.js';
export * from './server.js';
