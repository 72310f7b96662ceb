// HTTP plumbing shared by the apps: error mapping, bearer tokens, health endpoints, listen and shutdown.
export * from './bearer-auth.js';
export * from './errors.js';
export * from './server.js';
