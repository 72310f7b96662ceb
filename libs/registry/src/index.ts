// Access to the registry's OCI distribution API.
export * from './client.js';
export * from './manifest-deletes.js';
export * from './auth.js';
export * from './factory.js';
export * from './user-access.js';
